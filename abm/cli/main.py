"""The ``abm`` command: one parser assembled from the sub-command modules (also ``python -m abm``).

Each sub-command lives in its own module of ``abm.cli`` (``run``, ``validate``, ``schema``,
``report``, ``study``, ``compare``, ``dashboard``, ``sweep``, ``bench``, ``calibrate``) with a
``register`` function that adds it to the parser; those modules share `abm.cli.common` and
never import each other or this module.

Every user error is an `abm.errors.AbmError` (a bad scenario, a bad flag value, a missing
file), printed here as one line on stderr with exit code 2 and no traceback; abm's own
warnings (`UserWarning`s: a run restored after an interrupted replacement) are one
``abm: warning:`` line each. Output piped into
a reader that stops early (``abm schema | head``) ends the command quietly with exit code 141,
as for any Unix tool killed by SIGPIPE.

Start-up stays small: building the parser imports only the command modules, which import
their heavy dependencies (pydantic schemas, Mesa, pandas) inside the command that needs them,
and the version is read from the package metadata only for ``--version``.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from abm.cli import (
    bench,
    calibrate,
    compare,
    dashboard,
    report,
    run,
    schema,
    study,
    sweep,
    validate,
)
from abm.cli.common import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE, exit_process
from abm.errors import AbmError

COMMANDS = (run, validate, schema, report, study, compare, dashboard, sweep, bench, calibrate)
"""The sub-command modules, in the order ``abm --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="abm", description="Agent-based market microstructure simulator."
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


class _VersionAction(argparse.Action):
    """``--version``: argparse's ``version`` action, with `abm.__version__` read only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(
            option_strings,
            dest=dest,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show program's version number and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        import abm

        parser._print_message(f"abm {abm.__version__}\n", sys.stdout)  # as argparse's does
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abm`` console script and of ``python -m abm``; returns the exit code.

    Output into a pipe whose reader has gone (``abm schema | head``) ends quietly with
    `EXIT_BROKEN_PIPE`, including output still buffered when the command (or ``--help``)
    finishes: stdout is flushed here, where the error can be caught, rather than at exit.
    (argparse's own ``--help`` and ``--version`` ignore a closed stdout and exit 0.)

    Unless the environment says otherwise, numpy's OpenBLAS is asked for one thread
    (``OPENBLAS_NUM_THREADS=1``) before any command imports numpy: a simulation makes no
    BLAS call large enough to share out, and the thread pool numpy's import starts and
    polls cost a ZI benchmark run 4% of its CPU and 7% of its wall time on a 2-core machine
    (alternated pairs). Sweep workers inherit the setting. An in-process caller that
    imported numpy already keeps its pool.

    Called by the ``abm`` console script or ``python -m abm``, it ends the process itself
    once the command is done (`abm.cli.common.exit_process`: no interpreter teardown); any
    other caller gets the exit code back.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        try:
            code = _run_command(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise  # some other pipe or socket broke: a real error
        _silence_stdout()
        code = EXIT_BROKEN_PIPE
    if argv is None and _called_by_abm_program(sys._getframe(1)):
        exit_process(code)  # the program's next step was sys.exit(code)
    return code


def _called_by_abm_program(caller: FrameType) -> bool:
    """Whether ``caller`` is the top level of the ``abm`` console script or ``python -m abm``.

    Both are ``sys.exit(main())`` and nothing else (``abm/__main__.py``, and the script pip
    writes for the ``abm = "abm.cli:main"`` entry point), so the process may end as soon as
    `main` is done. Any other caller (a test, a user's program) gets the code returned.
    """
    program = sys.modules.get("__main__")
    if program is None or caller.f_globals is not vars(program):
        return False
    if caller.f_code.co_name != "<module>":
        return False
    spec = getattr(program, "__spec__", None)
    if spec is not None:  # python -m abm
        return bool(spec.name == "abm.__main__")
    return Path(caller.f_code.co_filename).stem == "abm"  # the console script


def _run_command(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 on a malformed command line
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _print_warning
            return func(args)
    except AbmError as exc:
        print(f"abm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("abm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print abm's own warnings (`UserWarning` and its kinds) as one ``abm: warning:`` line.

    They speak to the user (a run restored after an interrupted replacement, a sweep record
    set aside); the source line Python would print under them says nothing to that reader.
    Other warnings (a library's ``RuntimeWarning``) keep Python's format, which says where.
    """
    if issubclass(category, UserWarning):
        print(f"abm: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reading end has been closed."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured in tests)
        return False
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the output still buffered is dropped at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
