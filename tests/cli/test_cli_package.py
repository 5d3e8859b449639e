"""The shape of the ``abm.cli`` package: one module per command, sharing only abm.cli.common.

And the one place user errors are handled: `abm.cli.main.main` turns any `abm.AbmError`
raised by a command into one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

import pytest

import abm
from abm.cli import main as cli_main_function
from abm.cli.common import EXIT_USAGE
from abm.cli.main import COMMANDS, build_parser, main

CLI = Path(__file__).resolve().parents[2] / "abm" / "cli"
COMMAND_FILES = sorted(p for p in CLI.glob("*.py") if p.stem not in {"__init__", "main", "common"})


def _cli_imports(path: Path) -> set[str]:
    """The ``abm.cli`` modules that ``path`` imports anywhere (function bodies included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module.startswith("abm.cli."):
                found.add(node.module)
            elif node.module == "abm.cli":
                found.update(f"abm.cli.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("abm.cli."))
    return found


@pytest.mark.parametrize("path", COMMAND_FILES, ids=lambda p: p.stem)
def test_cli_command_module_imports_only_common(path: Path) -> None:
    """A sub-command module imports abm.cli.common, never another command or abm.cli.main."""
    assert _cli_imports(path) <= {"abm.cli.common"}


def test_cli_every_command_module_is_assembled() -> None:
    """Main registers every module of abm.cli that defines a command, each once."""
    assert sorted(module.__name__.rsplit(".", 1)[-1] for module in COMMANDS) == sorted(
        p.stem for p in COMMAND_FILES
    )


def test_cli_parser_lists_the_commands_in_order() -> None:
    """``abm --help`` lists the commands in their usual order."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == [
        *["run", "validate", "schema", "report", "study", "compare", "dashboard", "sweep"],
        *["bench", "calibrate"],
    ]


def test_cli_console_script_entry_point_is_abm_cli_main() -> None:
    """``abm.cli:main`` (the console script) is the same function as abm.cli.main.main."""
    assert cli_main_function is main


def test_cli_main_prints_any_abm_error_as_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An AbmError of any class from a command: ``abm: error: <message>``, exit 2, no traceback."""

    class LibraryError(abm.AbmError, ValueError):
        pass

    def failing(_args: Any) -> int:
        raise LibraryError("scenario.yaml: agents.mm.count: must be positive")

    from abm.cli import validate

    monkeypatch.setattr(validate, "cmd_validate", failing)
    assert main(["validate", "whatever.yaml"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == "abm: error: scenario.yaml: agents.mm.count: must be positive\n"


def test_cli_main_lets_other_exceptions_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception that is not an AbmError is a bug: it is not turned into exit code 2."""

    def failing(_args: Any) -> int:
        raise ValueError("a bug")

    from abm.cli import validate

    monkeypatch.setattr(validate, "cmd_validate", failing)
    with pytest.raises(ValueError, match="a bug"):
        main(["validate", "whatever.yaml"])


_EXIT_PROBE = """
import atexit, sys, threading
from abm.cli.common import exit_process
atexit.register(lambda: sys.stderr.write("handler ran"))
sys.stdout.write("buffered, unflushed")
exit_process(int(sys.argv[1]))
print("returned")
"""


def test_cli_exit_process_runs_exit_handlers_flushes_and_ends_with_the_code() -> None:
    """exit_process: atexit handlers run, buffered output is written, the status is the code."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _EXIT_PROBE, "3"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 3
    assert (done.stdout, done.stderr) == ("buffered, unflushed", "handler ran")


def test_cli_exit_process_waits_for_a_running_thread() -> None:
    """With a non-daemon thread still running, exit_process returns: the usual exit joins it."""
    import subprocess
    import sys

    probe = _EXIT_PROBE.replace(
        "exit_process(",
        "threading.Thread(target=threading.Event().wait, args=(0.2,)).start()\nexit_process(",
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "3"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert (done.stdout, done.stderr) == ("buffered, unflushedreturned\n", "handler ran")


def test_cli_main_returns_to_any_other_caller() -> None:
    """main() called from a program's own code (here python -c) returns its code to it."""
    import subprocess
    import sys

    code = "import sys\nfrom abm.cli import main\nprint('code', main())\nprint('after')\n"
    done = subprocess.run(
        [sys.executable, "-c", code, "validate", "/nonexistent.yaml"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout == "code 2\nafter\n"


@pytest.mark.parametrize("how", ["module", "script"])
def test_cli_program_exits_with_the_command_code(how: str, tmp_path: Path) -> None:
    """``python -m abm`` and the console script end with the command's code and full output."""
    import shutil
    import subprocess
    import sys

    if how == "module":
        program = [sys.executable, "-m", "abm"]
    else:
        script = shutil.which("abm", path=str(Path(sys.executable).parent))
        if script is None:
            pytest.skip("the abm console script is not installed beside this interpreter")
        program = [script]
    bad = subprocess.run(
        [*program, "validate", "/nonexistent.yaml"], capture_output=True, text=True
    )
    assert bad.returncode == EXIT_USAGE and bad.stderr.startswith("abm: error: ")
    out = tmp_path / "run"
    run = [*program, "run", "baseline", "--steps", "20", "--out", str(out)]
    good = subprocess.run(run, capture_output=True, text=True)
    assert good.returncode == 0, good.stderr
    assert good.stdout.splitlines()[-1] == f"results: {out}"
    assert abm.RunResult.load(out).summary["steps"] == 20
