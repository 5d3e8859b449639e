"""The ``abm`` command: exit codes, messages, and what it writes (or does not)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import abm
from abm.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
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


def test_cli_bench_book_without_sortedcontainers_says_what_to_install(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without sortedcontainers (a dev-extra package) the book bench exits 2 and names it."""
    monkeypatch.delitem(sys.modules, "abm.bench.book", raising=False)
    monkeypatch.setitem(sys.modules, "sortedcontainers", None)  # import raises ModuleNotFoundError
    assert main(["bench", "book", "--ops", "3000", "--repeats", "1", "--no-memory"]) == 2
    captured = capsys.readouterr()
    assert "sortedcontainers" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_cli_bench_model_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The model benchmark runs a few steps and reports steps per second."""
    assert main(["bench", "model", "--steps", "20", "--no-memory"]) == 0
    assert "steps/s" in capsys.readouterr().out


def test_cli_study_rejects_zero_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    """`abm study` needs at least one seed."""
    assert main(["study", "avellaneda-stoikov", "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err


# ----- version, python -m abm, closed pipes -------------------------------------------------


def test_cli_version_is_the_package_metadata_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`abm --version` prints "abm <version>" with the installed distribution's version."""
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"abm {importlib.metadata.version('abm-microstructure')}\n"


def test_abm_version_attribute_is_the_package_metadata_version() -> None:
    """abm.__version__ is read from the package metadata, not written a second time."""
    assert abm.__version__ == importlib.metadata.version("abm-microstructure")


def test_python_m_abm_runs_the_command() -> None:
    """`python -m abm validate` is the `abm` command: same output, exit code 0."""
    done = subprocess.run(
        [sys.executable, "-m", "abm", "validate", BASELINE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ok: {BASELINE}: scenario 'baseline'")


def _into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m abm ARGS` with stdout a pipe whose reading end is already closed."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write of the child meets a closed pipe: no timing involved
    try:
        return subprocess.run(
            [sys.executable, "-m", "abm", *args], stdout=write_end, stderr=subprocess.PIPE
        )
    finally:
        os.close(write_end)


def test_cli_closed_pipe_ends_quietly() -> None:
    """Output into a closed pipe (`abm schema | head`) exits 141 with nothing on stderr."""
    done = _into_closed_pipe(["schema"])
    assert done.stderr.decode() == ""
    assert done.returncode == 141


@pytest.mark.parametrize("args", [["run", "--help"], ["--version"]])
def test_cli_help_into_closed_pipe_ends_quietly(args: list[str]) -> None:
    """Output of --help and --version (argparse's own) into a closed pipe: exit 0, no stderr."""
    done = _into_closed_pipe(args)
    assert (done.returncode, done.stderr.decode()) == (0, "")


# ----- abm study: gammas without a published row -----------------------------------------------


def test_cli_study_unpublished_gamma_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """--gamma 0.5 names the published gammas instead of printing nan in the paper columns."""
    assert main(["study", "avellaneda-stoikov", "--seeds", "2", "--gamma", "0.5"]) == 0
    captured = capsys.readouterr()
    assert "no row for gamma 0.5" in captured.err and "gamma 0.01, 0.1, 1" in captured.err
    assert "nan" not in captured.out.lower()
    assert "no row for gamma 0.5" in captured.out


# ----- abm run --out: foreign directories, --force, replacing a run ------------------------


def _run_into(out: Path, *extra: str) -> int:
    return main(["run", BASELINE, "--out", str(out), "--steps", "5", "--quiet", *extra])


def test_cli_run_foreign_directory_refusal_names_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The refusal of a non-run directory exits 2, says why and names --force."""
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    assert _run_into(tmp_path) == 2
    err = capsys.readouterr().err
    assert "is not a run directory (no meta.json)" in err and "--force" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_cli_run_force_writes_into_a_foreign_directory_keeping_its_files(tmp_path: Path) -> None:
    """--force writes the run into a non-run directory; the files already there stay."""
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    assert _run_into(tmp_path, "--force") == 0
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep me"
    assert abm.RunResult.load(tmp_path).summary["steps"] == 5


def test_cli_run_out_is_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out naming a file is refused even with --force, and the file is untouched."""
    target = tmp_path / "results.txt"
    target.write_text("mine", encoding="utf-8")
    assert _run_into(target, "--force") == 2
    assert "is not a directory" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "mine"


def test_cli_run_replacing_a_run_keeps_user_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-running into a run directory replaces the run and keeps a file the user added."""
    out = tmp_path / "run"
    assert _run_into(out) == 0
    (out / "notes.md").write_text("my notes", encoding="utf-8")
    assert main(["run", BASELINE, "--out", str(out), "--steps", "7", "--quiet"]) == 0
    assert (out / "notes.md").read_text(encoding="utf-8") == "my notes"
    assert abm.RunResult.load(out).summary["steps"] == 7


def test_cli_run_replacing_a_run_with_a_report_warns_it_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report left from the previous run is kept, and the command says to rewrite it."""
    out = tmp_path / "run"
    assert _run_into(out) == 0
    (out / "report.md").write_text("old report", encoding="utf-8")
    capsys.readouterr()
    assert _run_into(out) == 0
    assert "report.md" in capsys.readouterr().err
    assert (out / "report.md").read_text(encoding="utf-8") == "old report"


def test_cli_run_takes_a_bundled_name_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``abm run baseline`` in a directory without scenarios runs the bundled baseline."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "baseline", "--steps", "20", "--out", "r", "--quiet"]) == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["steps"] == 20
    assert main(["validate", "crisis/fire_sale_spiral"]) == 0
    assert "ok: crisis/fire_sale_spiral: scenario 'fire_sale_spiral'" in capsys.readouterr().out


def test_cli_unknown_bundled_name_suggests_close_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt name is one line naming it and the closest bundled scenarios, exit code 2."""
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "crisis/fire_sale"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("abm: error: crisis/fire_sale: file not found")
    assert "crisis/fire_sale_spiral" in err and "Traceback" not in err


def test_cli_prints_abm_warnings_as_one_line_and_library_warnings_as_python_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A UserWarning (abm's: a run restored) is one 'abm: warning:' line, no source line."""
    import warnings

    import abm.cli.validate

    def warn_twice(_args: object) -> int:
        warnings.warn("the previous run is restored", UserWarning, stacklevel=1)
        warnings.warn("overflow encountered", RuntimeWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(abm.cli.validate, "cmd_validate", warn_twice)
    assert main(["validate", BASELINE]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "abm: warning: the previous run is restored"
    assert "RuntimeWarning: overflow encountered" in err[1] and "test_cli.py" in err[1]


def test_cli_run_imports_no_plotting_library(tmp_path: Path) -> None:
    """``abm run`` prints its summary without matplotlib or seaborn (issue 17: start-up).

    In a fresh process: the test process itself has imported both for other tests.
    """
    args = ["run", "baseline", "--steps", "20", "--quiet", "--out", str(tmp_path / "r")]
    code = (
        "import sys\n"
        "from abm.cli.main import main\n"
        f"assert main({args!r}) == 0\n"
        "print(sorted(m for m in ('matplotlib', 'seaborn') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_cli_run_quiet_leaves_no_process_behind(tmp_path: Path) -> None:
    """`abm run --quiet` makes no progress bar, so no resource tracker outlives it (issue 17).

    A disabled tqdm still took multiprocessing's lock, which starts the resource tracker;
    the process group is read the moment the command has been reaped.
    """
    import shutil

    if shutil.which("pgrep") is None:
        pytest.skip("pgrep is not installed")
    command = [sys.executable, "-m", "abm", "run", "baseline", "--steps", "5", "--quiet"]
    child = subprocess.Popen([*command, "--out", str(tmp_path / "run")], start_new_session=True)
    assert child.wait(timeout=120) == 0
    left = subprocess.run(["pgrep", "-s", str(child.pid)], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout


def test_cli_run_with_a_progress_bar_leaves_no_process_behind(tmp_path: Path) -> None:
    """`abm run` of 5,000 steps draws a bar, whose lock starts no resource tracker either.

    tqdm's default write lock includes a multiprocessing lock, which starts multiprocessing's
    resource tracker (a process, 35 ms of the run): the bar gets a thread lock instead.
    """
    import shutil

    if shutil.which("pgrep") is None:
        pytest.skip("pgrep is not installed")
    scenario = "bench/zero_intelligence_500"
    command = [sys.executable, "-m", "abm", "run", scenario, "--steps", "5000"]
    child = subprocess.Popen(
        [*command, "--out", str(tmp_path / "run")],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = child.communicate(timeout=300)
    assert child.returncode == 0
    assert "5000/5000" in err  # the bar was drawn
    left = subprocess.run(["pgrep", "-s", str(child.pid)], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout


_FREEZE_PROBE = """
import gc, sys
from abm.cli.main import main
args = ["run", "baseline", "--steps", "5", "--quiet", "--out"]
assert main([*args, sys.argv[1]]) == 0
first = gc.get_freeze_count()
assert main([*args, sys.argv[1]]) == 0
print(gc.isenabled(), first > 50_000, gc.get_freeze_count() == first)
"""


def test_cli_run_freezes_the_engine_imports_once(tmp_path: Path) -> None:
    """The first `abm run` of a process imports the engine with the collector off.

    It then freezes what the imports made (gc.get_freeze_count) and turns the collector on
    again; a second run in the process freezes nothing more.
    """
    done = subprocess.run(
        [sys.executable, "-c", _FREEZE_PROBE, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["True", "True", "True"]
