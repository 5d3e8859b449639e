"""What a run produced, by concept.

`recorder` (the columnar Recorder and the table schema), `events` (the labels and typed event
fields of the results contract), `run_result` (`RunResult`, saving and loading),
`run_files` (the run directory's files, their checks and the results-format version),
`run_directory` (replacing a run directory in place, recovering an interrupted replacement)
and `atomic` (atomic file writes, the writer lock).
"""
