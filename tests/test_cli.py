"""The ``abm`` command: exit codes, messages, and what it writes (or does not)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abm.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "baseline.yaml")


def test_cli_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    """A shipped scenario validates with exit code 0 and names its groups."""
    assert main(["validate", BASELINE]) == 0
    assert "mm (market_maker x4)" in capsys.readouterr().out


def test_cli_validate_bad_file_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A NaN dt gives one message naming the file and the field, exit code 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: 10\ndt: .nan\n", encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml: dt:" in err and "Traceback" not in err


def test_cli_run_writes_a_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`abm run` saves every table and prints a summary with the conservation check."""
    out = tmp_path / "run"
    assert main(["run", BASELINE, "--out", str(out), "--steps", "50", "--seed", "3"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"market.parquet", "trades.parquet", "summary.json", "meta.json"} <= names
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["steps"] == 50 and summary["seed"] == 3
    assert "conserved: cash yes, inventory yes" in capsys.readouterr().out


def test_cli_run_bad_override_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An invalid --set value is a clean error (exit 2) and no run directory appears."""
    out = tmp_path / "run"
    code = main(["run", BASELINE, "--out", str(out), "--set", "agents.mm.policy.gamma=-1"])
    assert code == 2
    assert "agents.mm.policy.gamma" in capsys.readouterr().err
    assert not out.exists()


def test_cli_run_unknown_agent_kind_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown agent kind names the group and the known kinds."""
    code = main(["run", BASELINE, "--out", str(tmp_path / "r"), "--set", "agents.mm.kind=oracle"])
    assert code == 2
    assert "unknown agent kind 'oracle'" in capsys.readouterr().err


def test_cli_run_refuses_to_overwrite_a_foreign_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out pointing at a non-run directory with files is refused, and the files stay."""
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    assert main(["run", BASELINE, "--out", str(tmp_path), "--steps", "5"]) == 2
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_cli_negative_steps_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A non-positive --steps is a user error."""
    assert main(["run", BASELINE, "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err


def test_cli_report_missing_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`abm report` on a directory that is not a run is a clean error."""
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_cli_schema_is_the_scenario_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`abm schema` prints the pydantic JSON schema of a scenario."""
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"agents", "fundamental", "steps", "dt"} <= set(schema["properties"])


def test_cli_bench_book_prints_a_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    """The book benchmark runs on a small stream and reports its ratio to the baseline."""
    assert main(["bench", "book", "--ops", "3000", "--repeats", "1", "--no-memory"]) == 0
    assert "ratio (ours / baseline)" in capsys.readouterr().out


def test_cli_bench_model_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The model benchmark runs a few steps and reports steps per second."""
    assert main(["bench", "model", "--steps", "20", "--no-memory"]) == 0
    assert "steps/s" in capsys.readouterr().out


def test_cli_study_rejects_zero_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    """`abm study` needs at least one seed."""
    assert main(["study", "avellaneda-stoikov", "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err
