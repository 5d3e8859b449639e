"""What the ``abm`` sub-commands share: exit codes, `CliError`, scenario loading, argument checks.

And how an ``abm`` process ends (`exit_process`), which `abm.cli.main` and the benchmarks'
whole-process runs (``python -m abm.bench.day``) share.

Every sub-command module (``abm.cli.run``, ``abm.cli.sweep``, ...) imports this module and no
other module of ``abm.cli``; `abm.cli.main` assembles them into one parser. A user error is
raised as an `abm.errors.AbmError` (`CliError` for the command line's own checks) and printed
by `abm.cli.main.main` as one line, with exit code `EXIT_USAGE` and no traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from abm.errors import AbmError

if TYPE_CHECKING:
    from abm.scenario.schema import Scenario

EXIT_USAGE = 2
"""Exit code of a user error (a bad scenario, a bad flag value, a missing file), as argparse's."""
EXIT_BROKEN_PIPE = 128 + 13
"""Exit code when stdout's reader has gone: what a shell reports for a tool killed by SIGPIPE."""
EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT)."""


class CliError(AbmError):
    """A user error found by the command line itself (a flag value, a path); exit code 2."""


def exit_process(code: int) -> None:
    """End the process now with exit status ``code``, without the interpreter's teardown.

    What a normal exit does that matters is done first: every `atexit` handler (logging,
    multiprocessing, temporary directories' finalizers) and a flush of stdout and stderr.
    What is skipped is freeing every object and module one by one: with numpy, pandas,
    pyarrow, pydantic, networkx and Mesa loaded that took 0.2-0.25 s of each ``abm run`` on
    this project's machine, about a tenth of the ZI benchmark's process (numpy alone: 0.02 s).
    The same as Instagram's ``atexit.register(os._exit, 0)`` (Instagram Engineering, "Dismissing
    Python Garbage Collection at Instagram", 2017). A process that still runs a non-daemon
    thread exits the usual way, which waits for it (this returns).
    """
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing to write
            stream.flush()
    os._exit(code)


def fail(message: str) -> NoReturn:
    """Raise `CliError` with ``message`` (for commands that check several things in a row)."""
    raise CliError(message)


def load(
    path: str,
    sets: Sequence[str],
    *,
    changes: Mapping[str, Any] | None = None,
    no_limits: bool = False,
) -> Scenario:
    """Load the scenario ``path`` (a file or a bundled name), apply overrides, check its cost.

    ``sets`` are ``--set PATH=VALUE`` texts and ``changes`` the values of other flags
    (``{"steps": 100}``), applied after them. The result must fit its ``limits``
    (`abm.scenario.budget.check_limits`, for a run streamed as ``abm run`` streams it) unless
    ``no_limits`` (``--no-limits``) lifts them.

    Raises:
        ScenarioError: If the scenario cannot be loaded, or an override is malformed or makes
            it invalid (the message names ``path (--set)`` as its source), or its estimated
            work or memory passes its limits (`abm.scenario.budget.ScenarioTooLargeError`).
    """
    # imported here, not at the top: `abm --help` builds every sub-command's parser
    from abm.scenario.budget import NO_LIMITS, STREAM_FLUSH_STEPS, check_limits
    from abm.scenario.schema import ScenarioError, load_scenario, parse_set_option

    scenario = load_scenario(path)
    try:
        overrides = dict(parse_set_option(text) for text in sets)
        overrides.update(changes or {})
        if no_limits:
            overrides["limits"] = NO_LIMITS.model_dump()
        if overrides:
            scenario = scenario.override(overrides)
    except ScenarioError as exc:
        raise ScenarioError(str(exc).replace("<scenario>", f"{path} (--set)")) from exc
    check_limits(scenario, source=path, flush_steps=STREAM_FLUSH_STEPS)
    return scenario


def add_no_limits(parser: Any) -> None:
    """Add ``--no-limits`` (lift the scenario's cost limits) to a sub-command's ``parser``."""
    parser.add_argument(
        "--no-limits",
        action="store_true",
        help="run however large the estimated work and memory (lifts the scenario's limits)",
    )


def positive(name: str, value: int | None) -> None:
    """Refuse a given (not None) integer flag ``name`` that is not positive.

    Raises:
        CliError: ``name: must be a positive integer, got value``.
    """
    if value is not None and value <= 0:
        raise CliError(f"{name}: must be a positive integer, got {value}")


def check_out(out: Path, *, force: bool) -> None:
    """Refuse an ``--out`` that a save would not accept, before any step is run.

    A missing or empty directory and a run directory (one holding ``meta.json``) are fine; a
    run replaces only the run's own files (`abm.results.recorder.RUN_FILES`) and keeps the rest.
    Any other non-empty directory needs ``--force``; a file or a symbolic link is always refused.

    Raises:
        CliError: Naming ``--out`` and what to do instead, or the system's reason when it
            cannot even look at the path (a name too long for the file system, say).
    """
    try:
        _check_out(out, force=force)
    except OSError as exc:
        raise CliError(f"--out: {out}: cannot use this path: {exc.strerror or exc}") from exc


def _check_out(out: Path, *, force: bool) -> None:
    if out.is_symlink():
        raise CliError(f"--out: {out} is a symbolic link; pass the directory it points to")
    if not out.exists():
        return
    if not out.is_dir():
        raise CliError(f"--out: {out} exists and is not a directory; choose another path")
    if force or (out / "meta.json").is_file() or not any(out.iterdir()):
        return
    raise CliError(
        f"--out: {out} exists, is not empty and is not a run directory (no meta.json); "
        "choose another path, or pass --force to write the run into it (files already "
        "there are kept; only files named like the run's own, e.g. summary.json, are replaced)"
    )
