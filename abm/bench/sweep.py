"""Sweep benchmark: what running a sweep on worker processes costs and gains.

``abm bench sweep`` (`abm.cli.bench`) times the same runs of a scenario three ways: one after
another in this process, on one warm worker process and on several, plus once with a new process
per run, all through `abm.experiments.sweep.run_sweep`, and checks that every way gives the same
results. `format_sweep_bench` is its report.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from abm.experiments.sweep import SweepOutcome

DEFAULT_BENCH_STEPS = 3000
"""Steps per run of ``abm bench sweep`` unless ``--steps`` says otherwise."""
DEFAULT_BENCH_RUNS = 8
"""Runs per configuration unless ``--runs`` says otherwise."""
DEFAULT_BENCH_SEED = 2026
"""Root seed of the benchmark sweep unless ``--seed`` says otherwise."""


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
