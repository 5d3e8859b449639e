"""Whole-process benchmarks against peers: ABIDES's RMSC04 day and PyMarketSim's headline run.

``abm bench day`` runs ``scenarios/bench/rmsc04_like.yaml`` (1,000 noise, 102 value and 12
momentum traders and 2 market makers over 23,400 one-second steps)
in fresh Python processes, one per repeat, as ``abm run`` runs it (its tables streamed into a
run directory, `abm.streamed.run_to`), and reports what a user of either simulator waits
for: the whole process's wall time (interpreter start, imports, loading the scenario, the
run and writing its tables), the time in the simulation loop, the process's peak
resident memory, and the order messages and fills it produced, per second. Beside them
stand ABIDES's figures for its RMSC04 day, measured on the project's machine (issue 17):
43,466 order messages, 18,730 fills, 20.35 s whole process, 17.7 s in its loop, 213 MiB.

A fresh process per repeat is what makes the wall time and the peak memory a whole
process's, as they are for ABIDES; the medians over the repeats are reported. CPU times are
given beside the wall times: on a shared machine they are what an idle core would take.

``abm bench zi`` is the same measurement of ``scenarios/bench/zero_intelligence_500.yaml``
(500 zero-intelligence traders, Bernoulli arrivals 0.01, 50,000 steps) beside PyMarketSim's
figures for its 500-agent, 50,000-step run (`PYMARKETSIM_ZI`: 2.29 s whole process, 1.69 s
loop, 113 MiB, about 125,000 orders).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from abm.bench.child import peak_mib, run_child
from abm.startup import engine_imports

DEFAULT_SCENARIO = "bench/rmsc04_like"
"""The bundled scenario timed unless another is given (``scenarios/bench/rmsc04_like.yaml``)."""
ZI_SCENARIO = "bench/zero_intelligence_500"
"""The scenario of ``abm bench zi`` (``scenarios/bench/zero_intelligence_500.yaml``)."""


@dataclass(frozen=True, slots=True)
class PeerDay:
    """A peer simulator's figures for the same run (measured on the project's machine).

    A count the peer's run did not report is None and is not compared.
    """

    name: str
    steps: int
    messages: int | None
    fills: int | None
    process_s: float
    loop_s: float
    peak_mib: float
    orders: int | None = None


ABIDES_RMSC04 = PeerDay("ABIDES RMSC04", 23_400, 43_466, 18_730, 20.35, 17.7, 213.0)
"""ABIDES's RMSC04 day as issue 17 measured it here (medians of 3-5 runs)."""
PYMARKETSIM_ZI = PeerDay("PyMarketSim", 50_000, None, None, 2.29, 1.69, 113.0, orders=125_000)
"""PyMarketSim's 500-trader, 50,000-step headline run as issue 17 measured it here (medians of
3-5 runs; about 125,000 orders submitted: 500 traders x 0.01 x 50,000 steps, half orders)."""


@dataclass(frozen=True, slots=True)
class DayRun:
    """Figures of one whole-process run of the day.

    Attributes:
        process_s: Wall time of the whole process, from its start to its exit.
        loop_s: Wall time of the model's construction and its steps (``summary.wall_time_s``).
        run_s: Wall time of the run (`abm.streamed.run_to`: the loop, writing its tables and
            summary).
        peak_mib: Peak resident memory of the process, MiB.
        orders, cancels, fills: The run's counts (cancels that removed a resting order).
        process_cpu_s: CPU time (user + system) of the whole process (NaN if unknown).
        loop_cpu_s: CPU time of the model's construction and its steps.
    """

    process_s: float
    loop_s: float
    run_s: float
    peak_mib: float
    orders: int
    cancels: int
    fills: int
    process_cpu_s: float = float("nan")
    loop_cpu_s: float = float("nan")

    @property
    def messages(self) -> int:
        """Order messages: orders sent plus cancels that removed an order."""
        return self.orders + self.cancels


@dataclass(frozen=True, slots=True)
class DayBenchResult:
    """The repeats of one day benchmark, with the medians that are reported."""

    scenario: str
    steps: int
    seed: int | None
    runs: tuple[DayRun, ...]
    peer: PeerDay = ABIDES_RMSC04

    def median(self, field: str) -> float:
        """The median of one `DayRun` figure over the repeats."""
        return statistics.median(getattr(run, field) for run in self.runs)


def run_day_bench(
    *,
    scenario: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    repeats: int = 3,
    peer: PeerDay = ABIDES_RMSC04,
) -> DayBenchResult:
    """Run the day ``repeats`` times, each in a fresh process, and gather the figures.

    Args:
        scenario: A scenario path or bundled name (default `DEFAULT_SCENARIO`).
        steps: Overrides the scenario's steps.
        seed: Overrides the scenario's seed.
        repeats: Whole-process runs (>= 1).
        peer: The peer's figures for the same run, printed beside abm's.

    Returns:
        The figures of every run.

    Raises:
        ValueError: If ``repeats`` is below 1.
        RuntimeError: If a run's process fails (its last line of output is in the message).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    name = scenario or DEFAULT_SCENARIO
    command = [sys.executable, "-m", "abm.bench.day", name]
    if steps is not None:
        command += ["--steps", str(steps)]
    if seed is not None:
        command += ["--seed", str(seed)]
    runs = []
    for _ in range(repeats):
        cpu = _children_cpu_s()
        start = time.perf_counter()
        figures = run_child(command, "the day's process")
        process_s = time.perf_counter() - start
        process_cpu_s = _children_cpu_s() - cpu
        runs.append(DayRun(process_s=process_s, process_cpu_s=process_cpu_s, **figures))
    resolved_steps = steps if steps is not None else _scenario_steps(name)
    return DayBenchResult(name, resolved_steps, seed, tuple(runs), peer)


def _children_cpu_s() -> float:
    """User + system CPU time of this process's finished children (NaN off POSIX)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _scenario_steps(name: str) -> int:
    from abm.scenario.schema import load_scenario

    return load_scenario(name).steps


def format_day_bench(result: DayBenchResult) -> str:
    """A short human-readable report: medians, rates, and the ratios to the peer's day."""
    peer = result.peer
    process, loop, run = (result.median(f) for f in ("process_s", "loop_s", "run_s"))
    process_cpu, loop_cpu = result.median("process_cpu_s"), result.median("loop_cpu_s")
    peak = result.median("peak_mib")
    first = result.runs[0]
    messages, fills = first.messages, first.fills

    whole_day = result.steps == peer.steps  # else the peer's figures are for another length

    def versus(count: int, reference: int | None) -> str:
        if reference is None:
            return f"{count:,}"
        return f"{count:,} ({count / reference - 1:+.1%} vs {peer.name}'s {reference:,})"

    def faster(seconds: float, reference: float) -> str:
        if not whole_day:
            return f"{peer.name}'s whole day: {reference:.2f} s"
        if seconds <= reference:
            return f"{peer.name} {reference:.2f} s: {reference / seconds:.1f}x faster"
        return f"{peer.name} {reference:.2f} s: {seconds / reference:.1f}x slower"

    lines = [
        f"benchmark against {peer.name}: scenario {result.scenario!r}, {result.steps:,} steps, "
        f"medians of {len(result.runs)} whole-process runs",
        f"  orders / cancels / fills : {first.orders:,} / {first.cancels:,} / {fills:,}",
        f"  orders                   : {versus(first.orders, peer.orders)}",
        f"  order messages           : {versus(messages, peer.messages)}",
        f"  fills                    : {versus(fills, peer.fills)}",
        f"  whole process            : {process:6.2f} s wall  "
        f"({faster(process, peer.process_s)}); {process_cpu:.2f} s CPU",
        f"  loop (build + steps)     : {loop:6.2f} s wall  "
        f"({faster(loop, peer.loop_s)}); {loop_cpu:.2f} s CPU; "
        f"run with its tables {run:.2f} s wall",
        f"  peak resident memory     : {peak:6.1f} MiB  ({peer.name} {peer.peak_mib:.0f} MiB)",
        f"  throughput, whole process: {messages / process:,.0f} messages/s, "
        f"{fills / process:,.0f} fills/s",
        f"  throughput, loop         : {messages / loop:,.0f} messages/s, "
        f"{fills / loop:,.0f} fills/s",
        f"  {peer.name}'s figures are fixed, measured once on a 2-core machine like this one "
        "and not timed in this sitting:",
        "  on a busy machine the ratios drift with the load; alternate the two programs for a "
        "same-sitting ratio (README, Benchmarks)",
    ]
    return "\n".join(lines)


def _run_one_day(scenario: str, steps: int | None, seed: int | None) -> dict[str, float]:
    """The body of one whole-process run: the day as ``abm run`` runs it, and its figures.

    The run streams its tables into a run directory (`abm.streamed.run_to`, what ``abm run``
    calls) in a temporary directory removed afterwards, so the process's time and memory
    include writing every table, ``summary.json`` and the rest, as a user's run does.
    """
    import tempfile

    with engine_imports():  # as `abm run` imports the engine
        from abm.scenario.schema import load_scenario
        from abm.streamed import run_to

    loaded = load_scenario(scenario)
    loop_cpu: list[float] = []

    def at_end_of_loop(done: int, total: int) -> None:
        if done == total:
            loop_cpu.append(time.process_time() - cpu)

    with tempfile.TemporaryDirectory(prefix="abm-bench-") as parent:
        cpu, start = time.process_time(), time.perf_counter()
        saved = run_to(
            loaded, Path(parent) / "run", steps=steps, seed=seed, progress=at_end_of_loop
        )
        run_s = time.perf_counter() - start
    summary = saved.summary
    return {
        "loop_s": float(summary["wall_time_s"]),
        "loop_cpu_s": loop_cpu[-1],
        "run_s": run_s,
        "peak_mib": peak_mib(),
        "orders": int(summary["orders"]),
        "cancels": int(summary["cancels"]),
        "fills": int(summary["fills"]),
    }


def main(argv: list[str] | None = None) -> None:
    """One whole-process run, for `run_day_bench`: prints its figures as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m abm.bench.day")
    parser.add_argument("scenario")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(_run_one_day(args.scenario, args.steps, args.seed)))


__all__ = [
    "ABIDES_RMSC04",
    "DEFAULT_SCENARIO",
    "PYMARKETSIM_ZI",
    "ZI_SCENARIO",
    "DayBenchResult",
    "DayRun",
    "PeerDay",
    "format_day_bench",
    "run_day_bench",
]


if __name__ == "__main__":
    main()
    from abm.cli.common import exit_process

    exit_process(0)  # as ``abm run`` ends: without the interpreter's teardown
