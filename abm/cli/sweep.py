"""``abm sweep``: run a parameter sweep, resumably, on local processes or a Dask cluster.

`abm.cli.main` calls `register` with its sub-parsers. User errors are raised as
`abm.cli.common.CliError` (or the library's own `abm.errors.AbmError`), which the command prints
as one message with exit code 2. The sweep benchmark is ``abm bench sweep`` (`abm.cli.bench`).

``abm sweep`` exits 0 when every run is ``ok``, 1 when some failed or are missing (the sweep
itself went through: the summary says what to do), 2 on a user error, 130 on Ctrl-C. A plan of
more runs than `abm.experiments.sweep_spec.MAX_RUNS` is a user error unless ``--max-runs`` (or
the sweep file's ``max_runs``) allows it. A record file of DIR that fails verification is
reported on stderr as ``abm: warning: ...``, moved aside and its run done again.
"""

from __future__ import annotations

import argparse
import warnings
from typing import TYPE_CHECKING, Any

from abm.cli.common import fail

if TYPE_CHECKING:
    from abm.experiments.sweep import SweepOutcome


def register(subparsers: Any) -> None:
    """Add the ``sweep`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser = subparsers.add_parser(
        "sweep",
        help="run a parameter sweep (resumable; local processes or a Dask cluster)",
        description="Run every run of a sweep file that DIR does not hold yet; re-run the same "
        "command to resume after an interruption.",
    )
    parser.add_argument("sweep", help="sweep YAML file")
    parser.add_argument("--out", required=True, metavar="DIR", help="sweep directory")
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument(
        "--workers", type=int, metavar="N", help="local worker processes (default: all CPUs)"
    )
    backend.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler's workers"
    )
    backend.add_argument(
        "--dask-local", type=int, metavar="N", help="run on a local Dask cluster of N workers"
    )
    parser.add_argument(
        "--keep-tables",
        action="store_true",
        help="also save every run's tables in DIR/tables/<run_id>, and as one Hive-partitioned "
        "dataset per table, DIR/<table>/point=P/replicate=R (pandas.read_parquet(DIR/agents))",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="run again the runs recorded as failed"
    )
    parser.add_argument(
        "--fresh-process",
        action="store_true",
        help="local workers: a new process for every run (slower; for leaky models)",
    )
    parser.add_argument(
        "--max-runs",
        type=int,
        metavar="N",
        help="refuse a plan of more than N runs (default: the sweep file's max_runs, else 100000)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run ``abm sweep`` from parsed arguments; return the exit code (see the module docstring).

    Raises:
        AbmError: On a bad sweep file (`SweepError`), a bad flag value (`CliError`), a directory
            holding another sweep or that cannot be written, or an unreachable Dask scheduler.
    """
    from abm.experiments.sweep import dask_executor, run_sweep
    from abm.experiments.sweep_spec import load_sweep
    from abm.experiments.sweep_store import SweepWarning

    flags = (("--workers", args.workers), ("--dask-local", args.dask_local))
    for flag, value in (*flags, ("--max-runs", args.max_runs)):
        if value is not None and value < 1:
            fail(f"{flag}: must be a positive integer, got {value}")
    dask = args.scheduler is not None or args.dask_local is not None
    if dask and args.fresh_process:
        fail("--fresh-process applies to local workers only, not to --scheduler/--dask-local")
    try:
        plan = load_sweep(args.sweep, max_runs=args.max_runs)
        options: dict[str, Any] = {
            "keep_tables": args.keep_tables,
            "retry_failed": args.retry_failed,
            "progress": not args.quiet,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("always", SweepWarning)  # printed by abm.cli.main
            if dask:
                with dask_executor(args.scheduler, args.dask_local) as (executor, _):
                    outcome = run_sweep(plan, args.out, executor=executor, **options)
            else:
                options["fresh_process"] = args.fresh_process
                outcome = run_sweep(plan, args.out, workers=args.workers, **options)
    except OSError as exc:  # e.g. --out on a read-only or full file system
        fail(f"--out {args.out}: {exc}")
    if not args.quiet:
        for line in outcome_lines(outcome):
            print(line)
    return 0 if outcome.complete else 1


def outcome_lines(outcome: SweepOutcome) -> list[str]:
    """The lines ``abm sweep`` prints at the end: counts, where the results are, what next."""
    lines = [
        f"sweep: {outcome.total} runs: {outcome.ok} ok, {outcome.failed} failed, "
        f"{outcome.missing} missing ({outcome.ran} run now)",
        f"results: {outcome.results}",
    ]
    if outcome.failed:
        lines.append(
            f"{outcome.failed} runs failed: see the status and error columns of "
            "results.parquet; fix the cause and re-run with --retry-failed"
        )
    if outcome.rejected:
        lines.append(
            f"{len(outcome.rejected)} record files failed verification and were moved to "
            "rejected/ (not merged); their runs, if the plan has them, were run again"
        )
    if outcome.missing:
        first = f" (first error: {outcome.errors[0]})" if outcome.errors else ""
        lines.append(
            f"{outcome.missing} runs did not complete{first}; run the same command again "
            "to finish them"
        )
    return lines
