"""What a run produced: the recorder, `RunResult`, and atomic writes of run directories."""
