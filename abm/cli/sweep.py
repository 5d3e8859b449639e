"""Command-line wiring of ``abm sweep`` and ``abm bench sweep``, and the sweep benchmark.

``abm.cli.main`` calls `register` with its sub-parsers to add ``abm sweep``, and dispatches
``abm bench sweep`` to `bench_sweep` (its options come from `add_bench_sweep_arguments`). User
errors are raised as ``abm.cli.main.CliError`` (imported when needed: ``abm.cli.main`` imports this
module), which the command prints as one message with exit code 2.

``abm sweep`` exits 0 when every run is ``ok``, 1 when some failed or are missing (the sweep
itself went through: the summary says what to do), 2 on a user error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import pandas as pd

    from abm.experiments.sweep import SweepOutcome

DEFAULT_BENCH_STEPS = 3000
DEFAULT_BENCH_RUNS = 8
DEFAULT_BENCH_SEED = 2026
_BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"


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
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run ``abm sweep`` from parsed arguments; return the exit code (see the module docstring).

    Raises:
        abm.cli.main.CliError: On a bad sweep file, a bad flag value, a directory holding another
            sweep or that cannot be written, or an unreachable Dask scheduler.
    """
    from abm.experiments.sweep import dask_executor, run_sweep
    from abm.experiments.sweep_spec import SweepError, load_sweep

    for flag, value in (("--workers", args.workers), ("--dask-local", args.dask_local)):
        if value is not None and value < 1:
            _fail(f"{flag}: must be a positive integer, got {value}")
    dask = args.scheduler is not None or args.dask_local is not None
    if dask and args.fresh_process:
        _fail("--fresh-process applies to local workers only, not to --scheduler/--dask-local")
    try:
        plan = load_sweep(args.sweep)
        options: dict[str, Any] = {
            "keep_tables": args.keep_tables,
            "retry_failed": args.retry_failed,
            "progress": not args.quiet,
        }
        if dask:
            with dask_executor(args.scheduler, args.dask_local) as (executor, _):
                outcome = run_sweep(plan, args.out, executor=executor, **options)
        else:
            options["fresh_process"] = args.fresh_process
            outcome = run_sweep(plan, args.out, workers=args.workers, **options)
    except SweepError as exc:
        _fail(str(exc))
    except OSError as exc:  # e.g. --out on a read-only or full file system
        _fail(f"--out {args.out}: {exc}")
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
    if outcome.missing:
        first = f" (first error: {outcome.errors[0]})" if outcome.errors else ""
        lines.append(
            f"{outcome.missing} runs did not complete{first}; run the same command again "
            "to finish them"
        )
    return lines


def _fail(message: str) -> NoReturn:
    from abm.cli.main import CliError

    raise CliError(message)


# --- abm bench sweep ---


def add_bench_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``abm bench sweep`` to the ``bench`` parser.

    Adds ``--runs`` and ``--workers``; ``--steps``, ``--scenario``, ``--seed`` and ``--repeats``
    are added only if the parser lacks them (``abm bench`` shares them between its targets).
    """
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_BENCH_RUNS, help="sweep: runs per configuration"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="sweep: worker processes to compare with one"
    )
    shared: tuple[tuple[str, type, str], ...] = (
        ("--steps", int, f"steps per run (sweep default {DEFAULT_BENCH_STEPS})"),
        ("--scenario", str, "scenario file (default baseline)"),
        ("--seed", int, "root seed"),
        ("--repeats", int, "timed repeats, best kept (sweep default 1)"),
    )
    for flag, kind, help_text in shared:
        with contextlib.suppress(argparse.ArgumentError):  # already there: shared, fine
            parser.add_argument(flag, type=kind, default=None, help=help_text)


def bench_sweep(args: argparse.Namespace) -> int:
    """Run ``abm bench sweep`` from parsed arguments, print the report, return 0.

    Raises:
        abm.cli.main.CliError: On a bad scenario, a non-positive count, or a benchmark sweep that
            did not complete.
    """
    from abm.experiments.sweep_spec import SweepError
    from abm.scenario.schema import ScenarioError, load_scenario

    steps = getattr(args, "steps", None) or DEFAULT_BENCH_STEPS
    runs = getattr(args, "runs", DEFAULT_BENCH_RUNS)
    workers = getattr(args, "workers", 2)
    for flag, value in (("--steps", steps), ("--runs", runs), ("--workers", workers)):
        if value < 1:
            _fail(f"{flag}: must be a positive integer, got {value}")
    if workers < 2:
        _fail(f"--workers: the benchmark compares one worker with several; got {workers}")
    try:
        scenario = load_scenario(getattr(args, "scenario", None) or _BASELINE)
    except ScenarioError as exc:
        _fail(str(exc))
    seed = getattr(args, "seed", None)
    try:
        result = run_sweep_bench(
            scenario.override({"steps": steps}),
            runs=runs,
            workers=workers,
            seed=DEFAULT_BENCH_SEED if seed is None else seed,
            repeats=getattr(args, "repeats", None) or 1,
        )
    except SweepError as exc:
        _fail(str(exc))
    print(format_sweep_bench(result))
    return 0


@dataclass(frozen=True, slots=True)
class SweepBenchResult:
    """Timings of `run_sweep_bench`, in seconds.

    Attributes:
        scenario, steps, runs, workers: What was run.
        in_process_s: Sum of the runs' times when executed one after another in this process.
        startup_s: Time to start ``workers`` worker processes (spawn and imports), once per sweep.
        one_worker_s: Sweep wall time on one warm worker process.
        many_workers_s: Sweep wall time on ``workers`` warm worker processes.
        fresh_process_s: Sweep wall time on ``workers`` workers, one new process per run.
        identical: Whether the three sweeps gave identical results (timings aside).
        cpus: CPUs available to this process.
        load_before: One-minute load average before the benchmark (NaN where unknown): other
            processes competing for the CPUs lower the speed-up.
        repeats: Measurements of each configuration; the times are the best of them.
        machine_speedup: The same ratio for a plain CPU-bound loop (no abm, no I/O): what the
            machine allows at that moment; a shared or throttled machine gives less than
            ``workers``.
    """

    scenario: str
    steps: int
    runs: int
    workers: int
    in_process_s: float
    startup_s: float
    one_worker_s: float
    many_workers_s: float
    fresh_process_s: float
    identical: bool
    cpus: int = 0
    load_before: float = math.nan
    repeats: int = 1
    machine_speedup: float = math.nan

    @property
    def speedup(self) -> float:
        """Warm one-worker wall time over warm many-worker wall time."""
        return self.one_worker_s / self.many_workers_s

    @property
    def overhead_per_run_s(self) -> float:
        """Per-run cost of going through a worker process: (one worker - in process) / runs."""
        return (self.one_worker_s - self.in_process_s) / self.runs

    @property
    def fresh_overhead_per_run_s(self) -> float:
        """Per-run cost with a new process per run, against the in-process time per worker."""
        return (self.fresh_process_s * self.workers - self.in_process_s) / self.runs


def run_sweep_bench(
    scenario: Any, *, runs: int, workers: int, seed: int, repeats: int = 1
) -> SweepBenchResult:
    """Time ``runs`` runs of ``scenario`` in process, on 1 worker, on ``workers`` workers.

    Pools are started (and timed) before the sweeps, so the sweep times are those of a warm
    pool, as in a long sweep where start-up is paid once. The three measurements are repeated
    ``repeats`` times, interleaved, and the best of each is kept (other load on the machine
    only ever slows a measurement down). A last sweep uses a new process per run
    (``fresh_process``) to show what that costs. Each sweep writes to a temporary directory
    through `abm.experiments.sweep.run_sweep`, record files included.

    Raises:
        SweepError: If a sweep did not complete (its first error is in the message).
    """
    from abm.experiments.sweep import RunTask, _available_cpus, _local_pool, execute_run, run_sweep
    from abm.experiments.sweep_spec import SweepPlan

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    plan = SweepPlan(scenario, (), ((),), runs, seed, source="<bench>")
    yaml_text = plan.scenario.to_yaml()
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(seconds, best.get(name, math.inf))

    tables = []
    with tempfile.TemporaryDirectory(prefix="abm-bench-sweep-") as tmp:
        for repeat in range(max(1, repeats)):
            start = time.perf_counter()
            for key in plan.runs():
                execute_run(RunTask(key.run_id, key.point, key.replicate, key.seed, yaml_text, ()))
            keep("in_process", time.perf_counter() - start)
            for n in (1, workers):
                with _warm_pool(_local_pool(n, fresh_process=False), n) as (pool, up):
                    start = time.perf_counter()
                    out = Path(tmp) / f"w{n}-{repeat}"
                    tables.append(_complete(run_sweep(plan, out, executor=pool)))
                    keep(f"w{n}", time.perf_counter() - start)
                    keep(f"up{n}", up)
                    start = time.perf_counter()
                    cf.wait([pool.submit(_spin, _SPIN_LOOPS) for _ in range(workers)])
                    keep(f"spin{n}", time.perf_counter() - start)
        start = time.perf_counter()
        out = Path(tmp) / "fresh"
        tables.append(_complete(run_sweep(plan, out, workers=workers, fresh_process=True)))
        fresh = time.perf_counter() - start
    volatile = ["wall_time_s", "worker", "steps_per_s"]
    kept = [t.drop(columns=[c for c in t.columns if c in volatile]) for t in tables]
    return SweepBenchResult(
        scenario=scenario.name,
        steps=scenario.steps,
        runs=runs,
        workers=workers,
        in_process_s=best["in_process"],
        startup_s=best[f"up{workers}"],
        one_worker_s=best["w1"],
        many_workers_s=best[f"w{workers}"],
        fresh_process_s=fresh,
        identical=all(k.equals(kept[0]) for k in kept[1:]),
        cpus=_available_cpus(),
        load_before=load,
        repeats=max(1, repeats),
        machine_speedup=best["spin1"] / best[f"spin{workers}"],
    )


def _complete(outcome: SweepOutcome) -> pd.DataFrame:
    """Return the outcome's results table, or raise if a run is not ``ok``."""
    from abm.experiments.sweep_spec import SweepError
    from abm.experiments.sweep_store import read_results

    if not outcome.complete:
        raise SweepError(
            f"benchmark sweep incomplete ({outcome.ok} of {outcome.total} runs ok): "
            f"{'; '.join(outcome.errors) or 'see the run errors in ' + str(outcome.results)}"
        )
    return read_results(outcome.out_dir)


@contextlib.contextmanager
def _warm_pool(pool: cf.ProcessPoolExecutor, n: int) -> Iterator[tuple[cf.Executor, float]]:
    """Start ``n`` worker processes and wait until each has imported abm; yield the time taken."""
    start = time.perf_counter()
    try:
        # Pauses long enough that each of the n submissions gets a process of its own.
        cf.wait([pool.submit(_pause, 0.5) for _ in range(n)])
        yield pool, time.perf_counter() - start - 0.5
    finally:
        pool.shutdown(wait=True)


_SPIN_LOOPS = 5_000_000


def _spin(loops: int) -> int:
    """A fixed amount of pure-Python work: the machine's parallel capacity, without abm."""
    total = 0
    for i in range(loops):
        total += i
    return total


def _pause(seconds: float) -> None:
    import abm.experiments.sweep  # noqa: F401  (what a worker imports to run a task)

    time.sleep(seconds)


def format_sweep_bench(r: SweepBenchResult) -> str:
    """A short human-readable report of `run_sweep_bench`."""
    per_run = r.in_process_s / r.runs
    return "\n".join(
        [
            f"sweep benchmark: scenario {r.scenario!r}, {r.runs} runs of {r.steps:,} steps "
            f"({per_run:.2f} s each in process); best of {r.repeats}",
            f"  in process, one after another : {r.in_process_s:8.2f} s",
            f"  worker start-up ({r.workers} processes)  : {r.startup_s:8.2f} s (once per sweep)",
            f"  1 worker                      : {r.one_worker_s:8.2f} s",
            f"  {r.workers} workers                     : {r.many_workers_s:8.2f} s",
            f"  speed-up ({r.workers} vs 1 worker)        : {r.speedup:8.2f}x "
            f"(a plain CPU loop: {r.machine_speedup:.2f}x on this machine now)",
            f"  overhead per run (1 worker)   : {r.overhead_per_run_s * 1000:8.1f} ms",
            f"  new process per run ({r.workers} w.)   : {r.fresh_process_s:8.2f} s "
            f"({r.fresh_overhead_per_run_s * 1000:,.0f} ms overhead per run)",
            f"  identical results             : {'yes' if r.identical else 'NO'}",
            f"  machine                       : {r.cpus} CPUs, load average {r.load_before:.2f} "
            "before the benchmark",
        ]
    )
