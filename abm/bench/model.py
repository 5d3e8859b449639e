"""Model benchmark: the baseline market against the same market with naive activation.

``abm bench model`` runs a scenario (``scenarios/baseline.yaml``: 10 market makers,
90 informed and 900 noise traders) for a fixed number of steps and reports steps per
second, trader activations per second and peak traced memory. Beside it, measured in
the same run on the same scenario, stands the usual Mesa idiom this model avoids:
every trader woken every step (``AgentSet.shuffle_do``) to draw its own arrival. The
ratio of the two is the gain from drawing arrivals once per group.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass

from abm.agents.base import Trader
from abm.mesa_import import mesa
from abm.model import TAKER_KIND_ORDER, MarketModel
from abm.scenario.schema import Scenario, load_scenario

DEFAULT_SCENARIO = "baseline"
"""The bundled scenario timed unless another is given (``scenarios/baseline.yaml``)."""


class NaiveActivationModel(MarketModel):
    """The benchmark's reference: wakes every taker every step, each drawing its arrival.

    Same traders, same decisions; only the activation differs (and therefore the
    random stream, so its market is a different sample path of the same law).
    """

    def __init__(self, scenario: Scenario, *, seed: int | None = None) -> None:
        super().__init__(scenario, seed=seed)
        self._all_takers = {
            kind: mesa.agent.AgentSet(
                [a for g in self.takers if g.kind == kind for a in g.agents], random=self.random
            )
            for kind in TAKER_KIND_ORDER
        }
        self._group_of = {id(a): g for g in self.takers for a in g.agents}

    def _activate_takers(self, kind: str) -> None:
        self._all_takers[kind].shuffle_do(self._wake)

    def _wake(self, trader: Trader) -> None:
        group = self._group_of[id(trader)]
        spec = group.arrivals
        rng = group.rng
        if spec.kind == "bernoulli":
            arrivals = 1 if rng.random() < spec.rate else 0
        else:
            arrivals = int(rng.poisson(spec.rate))
        self.activations += 1
        for _ in range(arrivals):
            trader.act(rng, None)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ModelBenchResult:
    """Figures of one model benchmark."""

    scenario: str
    agents: int
    steps: int
    steps_per_s: float
    activations_per_s: float
    fills: int
    naive_steps_per_s: float
    peak_mib: float | None

    @property
    def ratio(self) -> float:
        """Steps per second over the naive-activation model's, measured in the same run."""
        return self.steps_per_s / self.naive_steps_per_s


def _time_run(
    model_cls: type[MarketModel], scenario: Scenario, steps: int
) -> tuple[float, int, int]:
    gc.collect()
    model = model_cls(scenario)
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    elapsed = time.perf_counter() - start
    return elapsed, model.exchange.fills, model.activations


def run_model_bench(
    scenario_path: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    memory: bool = True,
) -> ModelBenchResult:
    """Time ``steps`` steps of the scenario, then of the naive-activation reference."""
    scenario = load_scenario(scenario_path or DEFAULT_SCENARIO)
    n_steps = steps if steps is not None else 5000
    scenario = scenario.override({"steps": n_steps, **({"seed": seed} if seed is not None else {})})
    elapsed, fills, activations = _time_run(MarketModel, scenario, n_steps)
    naive_steps = max(1, n_steps // 5)
    naive_elapsed, _, _ = _time_run(NaiveActivationModel, scenario, naive_steps)
    peak = None
    if memory:
        gc.collect()
        tracemalloc.start()
        try:
            model = MarketModel(scenario.override({"steps": naive_steps}))
            for _ in range(naive_steps):
                model.step()
            peak = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
    n_agents = sum(group.count for group in scenario.agents.values())
    return ModelBenchResult(
        scenario=scenario.name,
        agents=n_agents,
        steps=n_steps,
        steps_per_s=n_steps / elapsed,
        activations_per_s=activations / elapsed,
        fills=fills,
        naive_steps_per_s=naive_steps / naive_elapsed,
        peak_mib=peak,
    )


def format_model_bench(r: ModelBenchResult) -> str:
    """A short human-readable report."""
    peak = "n/a" if r.peak_mib is None else f"{r.peak_mib:.1f} MiB (traced, {r.steps // 5} steps)"
    return "\n".join(
        [
            f"model benchmark: scenario {r.scenario!r}, {r.agents:,} traders, {r.steps:,} steps, "
            f"{r.fills:,} fills",
            f"  abm (group arrivals)      : {r.steps_per_s:10,.0f} steps/s "
            f"({r.steps_per_s * 60:,.0f} steps/min), {r.activations_per_s:,.0f} activations/s",
            f"  naive Mesa activation     : {r.naive_steps_per_s:10,.0f} steps/s",
            f"  ratio (abm / naive)       : {r.ratio:.2f}x",
            f"  peak memory               : {peak}",
        ]
    )
