"""Crisis benchmark: the contagion layer at scale, against the same market without it.

``abm bench crisis`` runs ``scenarios/crisis/scale.yaml`` (100 market makers in a
core-periphery credit network, 200 informed and 1,800 noise traders, every contagion
channel on, one shock of each kind) for a fixed number of steps on one core and reports
steps per second, the wall time of 5,000 steps, and the crisis it produced (defaults,
deepest default wave, forced-sale and inter-dealer volume). Beside it, measured in the
same call, stands the reference: the same scenario with its ``network`` section removed,
so no links and no channels but defaults (shocks still apply; a failed dealer's
inventory goes to the outside world). The two runs are stepped in alternating timed
chunks, and the ratio of their CPU-time speeds is the contagion layer's overhead; CPU
time is also what a run would take on an idle core when other processes share it.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from pathlib import Path

from abm.model import MarketModel
from abm.scenario.schema import Scenario, load_scenario

DEFAULT_SCENARIO = "crisis/scale"
"""The bundled scenario timed unless another is given (``scenarios/crisis/scale.yaml``)."""
REFERENCE_STEPS = 5000  # the yardstick: wall time is always also given for 5,000 steps


@dataclass(frozen=True, slots=True)
class CrisisRun:
    """Figures of one timed run (model construction excluded from the times)."""

    steps: int
    wall_s: float
    cpu_s: float
    build_s: float
    defaults: int
    cascade_waves: int
    forced_sale_volume: int
    interdealer_volume: int
    conserved: bool

    @property
    def steps_per_s(self) -> float:
        """Steps per second of wall time."""
        return self.steps / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def cpu_steps_per_s(self) -> float:
        """Steps per second of this process's CPU time (what an idle core would give)."""
        return self.steps / self.cpu_s if self.cpu_s > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class CrisisBenchResult:
    """Figures of one crisis benchmark: the full run and its no-network reference."""

    scenario: str
    seed: int
    market_makers: int
    other_traders: int
    links: int
    crisis: CrisisRun
    reference: CrisisRun | None

    @property
    def wall_5000_s(self) -> float:
        """Wall time of 5,000 steps at the measured speed (the measured time if steps = 5,000)."""
        return REFERENCE_STEPS / self.crisis.steps_per_s

    @property
    def overhead(self) -> float | None:
        """Reference CPU speed over crisis CPU speed: how many times slower contagion runs."""
        if self.reference is None:
            return None
        return self.reference.cpu_steps_per_s / self.crisis.cpu_steps_per_s


@dataclass
class _Timed:
    """A model being timed chunk by chunk."""

    model: MarketModel
    build_s: float
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def advance(self, steps: int) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            self.model.step()
        self.wall_s += time.perf_counter() - wall
        self.cpu_s += time.process_time() - cpu

    def figures(self) -> CrisisRun:
        model = self.model
        stats = model.contagion.stats
        return CrisisRun(
            steps=model.step_index,
            wall_s=self.wall_s,
            cpu_s=self.cpu_s,
            build_s=self.build_s,
            defaults=stats.defaults,
            cascade_waves=stats.cascade_waves,
            forced_sale_volume=stats.forced_sale_volume,
            interdealer_volume=model.exchange.interdealer_volume,
            conserved=model.totals() == model.initial_totals,
        )


def _build(scenario: Scenario) -> _Timed:
    gc.collect()
    start = time.perf_counter()
    model = MarketModel(scenario)
    return _Timed(model, time.perf_counter() - start)


def run_crisis_bench(
    steps: int = REFERENCE_STEPS,
    seed: int | None = None,
    *,
    scenario_path: str | Path | None = None,
    reference: bool = True,
    chunk_steps: int = 100,
) -> CrisisBenchResult:
    """Time ``steps`` steps of the crisis scale scenario and of its no-network reference.

    The two models are built first, then stepped in alternating chunks of ``chunk_steps``
    steps, each chunk timed on its own: a change in machine load (other processes) then
    hits both runs alike, and the overhead ratio, taken on CPU time, stays comparable.

    Args:
        steps: Steps to run (>= 1); both runs use the same number, so the shocks that fall
            within it hit both.
        seed: Overrides the scenario's seed.
        scenario_path: Another scenario to time (default ``scenarios/crisis/scale.yaml``).
        reference: Also time the same scenario without its ``network`` section.
        chunk_steps: Steps per timed chunk (>= 1).

    Returns:
        The figures of both runs.

    Raises:
        ValueError: If ``steps`` or ``chunk_steps`` is below 1.
        ScenarioError: If the scenario file is missing or invalid.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if chunk_steps < 1:
        raise ValueError(f"chunk_steps must be at least 1, got {chunk_steps}")
    scenario = load_scenario(scenario_path or DEFAULT_SCENARIO)
    changes: dict[str, object] = {"steps": steps}
    if seed is not None:
        changes["seed"] = seed
    scenario = scenario.override(changes)
    crisis = _build(scenario)
    ref = _build(scenario.override({"network": None})) if reference else None
    done = 0
    while done < steps:
        chunk = min(chunk_steps, steps - done)
        crisis.advance(chunk)
        if ref is not None:
            ref.advance(chunk)
        done += chunk
    model = crisis.model
    market_makers = len(model.market_makers)
    return CrisisBenchResult(
        scenario=scenario.name,
        seed=scenario.seed,
        market_makers=market_makers,
        other_traders=len(model.exchange.traders) - market_makers,
        links=model.network.number_of_edges(),
        crisis=crisis.figures(),
        reference=None if ref is None else ref.figures(),
    )


def format_crisis_bench(result: CrisisBenchResult) -> str:
    """A short human-readable report."""
    c = result.crisis
    lines = [
        f"crisis benchmark: scenario {result.scenario!r} (seed {result.seed}), "
        f"{result.market_makers:,} market makers ({result.links:,} credit links), "
        f"{result.other_traders:,} other traders, {c.steps:,} steps",
        f"  with contagion layer      : {c.steps_per_s:10,.0f} steps/s, {c.wall_s:.1f} s wall "
        f"(build {c.build_s:.1f} s); 5,000 steps in {result.wall_5000_s:.1f} s",
        f"                              {c.cpu_steps_per_s:10,.0f} steps/s of CPU time "
        f"({c.cpu_s:.1f} s; the figure for an idle core)",
        f"  crisis                    : {c.defaults} defaults, deepest wave {c.cascade_waves}, "
        f"forced sales {c.forced_sale_volume:,} lots, inter-dealer {c.interdealer_volume:,} lots",
        f"  cash and inventory        : {'conserved' if c.conserved else 'NOT CONSERVED'}",
    ]
    ref = result.reference
    if ref is not None and result.overhead is not None:
        lines += [
            f"  without network (ref.)    : {ref.cpu_steps_per_s:10,.0f} steps/s of CPU time "
            f"({ref.cpu_s:.1f} s; {ref.wall_s:.1f} s wall), {ref.defaults} defaults",
            f"  overhead (ref. / crisis)  : {result.overhead:.2f}x CPU time per step "
            "(interleaved runs)",
        ]
    return "\n".join(lines)
