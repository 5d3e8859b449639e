"""Scale benchmark: the cost of one step as the traders and the market makers grow.

``abm bench scale`` builds variants of ``scenarios/baseline.yaml`` programmatically and times
``MarketModel.step()`` alone (a warm-up, then the timed steps; building the model is timed
apart). Each row runs in a fresh Python process, so its peak resident memory is its own and
no earlier model is kept alive (Mesa 3.3 never frees a model: PITFALLS.md).

How the rows are built (`scale_scenario`):

* **Traders** are the baseline's takers, 90% noise traders (Poisson arrivals) and 10% informed
  traders (Bernoulli arrivals), with the baseline's rules.
* **The same total order flow at every size**: each taker arrives at rate
  ``TOTAL_ARRIVALS_PER_STEP / traders`` a step, so about 20 takers act in a step whether there
  are a thousand traders or a million (the baseline's 990 takers at 0.02 bring 19.8). A row
  with more traders is then the same market with more idle traders: the growth of its cost per
  step is what idle traders cost.
* **Market makers** are the baseline's three groups (Avellaneda-Stoikov, GLFT, symmetric) in
  its proportions 4:3:3; every one requotes every step, so their cost grows with their number.
* **Recording**: the market and depth tables as in the baseline, each market maker's row
  every step, the other traders' rows at step 0 and at the end only (outside the timed steps),
  except on the recording row, which records them every `RECORDING_STRIDE` steps
  (``record.other_agents_stride``).
* **Limits**: every row is checked against the scenario's cost limits
  (`abm.scenario.budget.check_limits`) before any process starts. The rows fit under the
  default ceilings (the million-trader row estimates about 2 GiB and 2.5e6 messages of work
  at the default steps), and `BENCH_LIMITS` sets those ceilings explicitly, so that a change
  of the defaults does not change what the bench runs, and a ``--steps`` that takes a row
  past them (the recording row's snapshots grow with the steps) is refused with the
  estimate rather than run out of memory.

The table reports, per row: traders, market makers, the build time, the median microseconds
per timed step over the repeats, that per thousand agents, and the process's peak resident
memory above what it held once abm was imported.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from abm.bench.child import peak_mib, run_child

TOTAL_ARRIVALS_PER_STEP = 20.0
"""Expected taker arrivals per step in every row, whatever the number of traders."""
NOISE_SHARE = 0.9
"""The share of the takers that are noise traders (the rest are informed), as in the baseline."""
MAKER_SHARES = (("mm", 4), ("mm_glft", 3), ("mm_symmetric", 3))
"""The baseline's market-maker groups and their proportions."""
RECORDING_STRIDE = 100
"""``record.other_agents_stride`` of the recording row."""
BENCH_LIMITS = {"max_memory_gib": 16.0, "max_work": 1e9}
"""The cost limits of the bench's scenarios (see the module docstring)."""
DEFAULT_STEPS = 200
"""Timed steps per row unless ``--steps`` says otherwise."""
DEFAULT_WARMUP = 50
"""Steps run before the timed ones (the book fills, the volatility estimates settle)."""


@dataclass(frozen=True, slots=True)
class ScaleRow:
    """One row of the scale table: what to build.

    Attributes:
        traders: Takers (noise and informed traders).
        makers: Market makers.
        stride: ``record.other_agents_stride`` (None: the other traders at the ends only).
    """

    traders: int
    makers: int
    stride: int | None = None

    @property
    def label(self) -> str:
        """What the row varies, for the table."""
        return "recording" if self.stride is not None else "scale"


DEFAULT_ROWS = (
    ScaleRow(1_000, 10),
    ScaleRow(10_000, 10),
    ScaleRow(100_000, 10),
    ScaleRow(1_000_000, 10),
    ScaleRow(1_000, 100),
    ScaleRow(1_000, 1_000),
    ScaleRow(100_000, 10, stride=RECORDING_STRIDE),
)
"""The rows of ``abm bench scale``: traders 1k to 1M with 10 market makers, market makers 10 to
1,000 with 1k traders (the 1k/10 row serves both), and 100k traders recorded at a stride."""
QUICK_ROWS = tuple(r for r in DEFAULT_ROWS if r.traders <= 100_000 and r.makers <= 100)
"""``abm bench scale --quick``: the rows without the million traders and the 1,000 makers."""


@dataclass(frozen=True, slots=True)
class ScaleResult:
    """The figures of one row.

    Attributes:
        row: What was built.
        steps: Timed steps per repeat.
        warmup: Steps run before the timed ones.
        build_s: Median wall time of building the model (step 0 recorded).
        step_us: Median wall time per timed step, microseconds, over the repeats.
        step_cpu_us: Median CPU time per timed step, microseconds (on a shared machine, what
            an idle core would take).
        activations: Trader actions in the timed steps of the first repeat (requotes plus
            arrivals), so the table says what ran.
        rss_mib: Median peak resident memory above the process's after importing abm, MiB
            (NaN where the OS does not say).
        repeats: Fresh processes run for the row.
    """

    row: ScaleRow
    steps: int
    warmup: int
    build_s: float
    step_us: float
    step_cpu_us: float
    activations: int
    rss_mib: float
    repeats: int

    @property
    def agents(self) -> int:
        """Traders plus market makers."""
        return self.row.traders + self.row.makers

    @property
    def step_us_per_1k(self) -> float:
        """Microseconds per step per thousand agents."""
        return self.step_us / (self.agents / 1000)

    @property
    def snapshots(self) -> int:
        """Snapshots of the other traders (every row of them) within the timed steps."""
        stride = self.row.stride
        if stride is None:
            return 0
        end = self.warmup + self.steps
        return end // stride - self.warmup // stride


def scale_scenario(row: ScaleRow, *, steps: int, seed: int | None = None) -> Any:
    """The baseline re-populated as ``row`` says (see the module docstring), ``steps`` long.

    Raises:
        ScenarioError: If the scenario is invalid or (`ScenarioTooLargeError`) passes
            `BENCH_LIMITS`.
    """
    from abm.scenario.budget import ScenarioTooLargeError, check_limits
    from abm.scenario.schema import load_scenario

    base = load_scenario("baseline")
    if row.traders < 1 or row.makers < 1:
        raise ValueError(f"a row needs traders and market makers, got {row}")
    rate = TOTAL_ARRIVALS_PER_STEP / row.traders
    noise = round(row.traders * NOISE_SHARE)
    changes: dict[str, object] = {
        "name": f"scale_{row.traders}_{row.makers}",
        "steps": steps,
        "limits": dict(BENCH_LIMITS),
        "record.other_agents_stride": row.stride,
        "agents.noise.count": noise,
        "agents.noise.arrival.rate": min(rate, 1.0),
        "agents.informed.count": row.traders - noise,
        "agents.informed.arrival.rate": min(rate, 1.0),
    }
    total = sum(share for _, share in MAKER_SHARES)
    placed = 0
    for i, (group, share) in enumerate(MAKER_SHARES):
        count = row.makers - placed if i == len(MAKER_SHARES) - 1 else row.makers * share // total
        changes[f"agents.{group}.count"] = count
        placed += count
    if seed is not None:
        changes["seed"] = seed
    scenario = base.override(changes)
    source = f"abm bench scale ({row.traders:,} traders, {row.makers:,} mm)"
    try:
        check_limits(scenario, source=source)
    except ScenarioTooLargeError as exc:  # the first limit passed; the cure here is the steps
        first = str(exc).splitlines()[0]
        raise ScenarioTooLargeError(f"{first}; ask for fewer --steps") from exc
    return scenario


def run_scale_row(
    row: ScaleRow, *, steps: int, warmup: int, seed: int | None = None
) -> dict[str, float]:
    """Build one row's model, step it ``warmup`` times, time ``steps`` more steps.

    Runs in the calling process (`run_scale_bench` calls it in a fresh one per row).

    Returns:
        ``build_s``, ``loop_s`` and ``loop_cpu_s`` (wall and CPU time of the timed steps),
        ``activations`` (in the timed steps) and ``rss_mib``.
    """
    from abm.model import MarketModel

    # one step more than run: the final step records every trader, and is not timed
    scenario = scale_scenario(row, steps=warmup + steps + 1, seed=seed)
    before = peak_mib()
    gc.collect()
    start = time.perf_counter()
    model = MarketModel(scenario)
    build_s = time.perf_counter() - start
    for _ in range(warmup):
        model.step()
    activations = model.activations
    cpu, start = time.process_time(), time.perf_counter()
    for _ in range(steps):
        model.step()
    loop_s, loop_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return {
        "build_s": build_s,
        "loop_s": loop_s,
        "loop_cpu_s": loop_cpu_s,
        "activations": model.activations - activations,
        "rss_mib": peak_mib() - before,
    }


def run_scale_bench(
    rows: Sequence[ScaleRow] = DEFAULT_ROWS,
    *,
    steps: int = DEFAULT_STEPS,
    warmup: int = DEFAULT_WARMUP,
    seed: int | None = None,
    repeats: int = 1,
) -> list[ScaleResult]:
    """Run every row ``repeats`` times, each in a fresh process, and gather the medians.

    Every row's scenario is built and checked here first, so a bad seed or a row past the
    limits is a `ScenarioError` before any process starts.

    Raises:
        ValueError: If ``steps`` or ``repeats`` is below 1 or ``warmup`` below 0.
        ScenarioError: If a row's scenario is invalid or passes `BENCH_LIMITS`.
        RuntimeError: If a row's process fails (its last line of output is in the message).
    """
    if steps < 1 or repeats < 1 or warmup < 0:
        raise ValueError(
            f"steps and repeats must be at least 1 and warmup at least 0, got steps {steps}, "
            f"repeats {repeats}, warmup {warmup}"
        )
    for row in rows:
        scale_scenario(row, steps=warmup + steps + 1, seed=seed)
    results = []
    for row in rows:
        runs = [_run_in_child(row, steps, warmup, seed) for _ in range(repeats)]
        results.append(
            ScaleResult(
                row=row,
                steps=steps,
                warmup=warmup,
                build_s=statistics.median(r["build_s"] for r in runs),
                step_us=statistics.median(r["loop_s"] for r in runs) / steps * 1e6,
                step_cpu_us=statistics.median(r["loop_cpu_s"] for r in runs) / steps * 1e6,
                activations=int(runs[0]["activations"]),
                rss_mib=statistics.median(r["rss_mib"] for r in runs),
                repeats=repeats,
            )
        )
    return results


def _run_in_child(row: ScaleRow, steps: int, warmup: int, seed: int | None) -> dict[str, float]:
    command = [sys.executable, "-m", "abm.bench.scale", str(row.traders), str(row.makers)]
    command += ["--steps", str(steps), "--warmup", str(warmup)]
    if row.stride is not None:
        command += ["--stride", str(row.stride)]
    if seed is not None:
        command += ["--seed", str(seed)]
    return run_child(
        command, f"the scale row ({row.traders:,} traders, {row.makers:,} market makers)"
    )


TABLE_COLUMNS = (
    "row",
    "traders",
    "mm",
    "stride",
    "snapshots",
    "build s",
    "us/step",
    "cpu us/step",
    "us/step/1k agents",
    "actions/step",
    "peak RSS +MiB",
)
"""The columns of the printed table, in order."""


def format_scale_bench(results: Sequence[ScaleResult]) -> str:
    """The scale table: a header saying how the rows were built, then one line per row."""
    if not results:
        return "scale benchmark: no rows"
    first = results[0]
    widths = (9, 10, 6, 6, 9, 8, 9, 11, 17, 12, 13)
    lines = [
        f"scale benchmark: baseline market, {TOTAL_ARRIVALS_PER_STEP:g} taker arrivals a step "
        f"at every size (each taker at {TOTAL_ARRIVALS_PER_STEP:g}/traders a step; "
        f"{NOISE_SHARE:.0%} noise, the rest informed), market makers 4:3:3 AS/GLFT/symmetric",
        f"  MarketModel.step() only: {first.warmup} warm-up steps, then {first.steps} timed; "
        f"medians of {first.repeats} fresh process(es) per row; other traders recorded at "
        "the ends only unless a stride is shown (snapshots: how many fell in the timed steps)",
        "  " + " ".join(f"{name:>{w}}" for name, w in zip(TABLE_COLUMNS, widths, strict=True)),
    ]
    for r in results:
        cells = (
            r.row.label,
            f"{r.row.traders:,}",
            f"{r.row.makers:,}",
            "-" if r.row.stride is None else str(r.row.stride),
            str(r.snapshots),
            f"{r.build_s:.2f}",
            f"{r.step_us:,.0f}",
            f"{r.step_cpu_us:,.0f}",
            f"{r.step_us_per_1k:,.1f}",
            f"{r.activations / r.steps:,.1f}",
            f"{r.rss_mib:,.0f}",
        )
        lines.append("  " + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """One row in this process, for `run_scale_bench`: prints its figures as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m abm.bench.scale")
    parser.add_argument("traders", type=int)
    parser.add_argument("makers", type=int)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--warmup", type=int, default=DEFAULT_WARMUP)
    parser.add_argument("--stride", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    row = ScaleRow(args.traders, args.makers, args.stride)
    figures = run_scale_row(row, steps=args.steps, warmup=args.warmup, seed=args.seed)
    print(json.dumps(figures))


__all__ = [
    "DEFAULT_ROWS",
    "DEFAULT_STEPS",
    "DEFAULT_WARMUP",
    "QUICK_ROWS",
    "ScaleResult",
    "ScaleRow",
    "format_scale_bench",
    "run_scale_bench",
    "run_scale_row",
    "scale_scenario",
]


if __name__ == "__main__":
    main()
