"""What a scenario will cost before it is built: an estimate of its work and memory, and limits.

A scenario that type-checks can still ask for 10^9 traders or 10^12 steps; built as written it
would hang or exhaust memory long after ``abm validate`` said ok. `estimate` reads the
scenario alone (no model is built) and `check_limits` refuses one whose estimate passes its
`LimitsSpec` (the scenario's ``limits`` field), with the estimate, the limit and the part of
the scenario that costs most. ``abm validate`` and ``abm run`` check it before anything is
built, as does `abm.run.run`; ``--no-limits`` (or ``limits: {max_memory_gib: null,
max_work: null}``) lifts both limits.

The model of cost, calibrated on the shipped baseline on the reference machine (2 cores):

* **Work** is counted in order messages: each trader arrival sends one (a Paddrik trader
  cancels and re-quotes: two), each market maker may cancel and replace both quotes every
  step (four), and an idle trader still costs about a hundredth of a message per step
  (measured: ~0.2 us per idle trader-step against ~30 us per message with its requotes),
  so ``work = messages + trader_steps / 100``, counting the trader-steps of groups drawn
  slot by slot only (a large or rarely arriving group draws how many arrive, then which:
  `ArrivalSpec.draws_sparsely`; its idle traders are free). The default ceiling, 10^9
  units, is about eight hours of simulation at the measured rate: far beyond any shipped
  study, well short of a run that never ends.
* **Memory** is the interpreter and libraries (~150 MiB), each trader (~1 KiB; a market
  maker ~3.5 KiB) and the recorder's rows: one market row per step, each market maker's row
  per step, the other traders' rows every ``record.other_agents_stride`` steps (else twice),
  the depth snapshots and about one fill for every two non-market-maker arrivals, at ~512
  bytes a row while the run is held and its tables are built. A streamed run (``abm run``,
  `abm.streamed.run_to`) holds only the rows of ``flush_steps`` steps at a time, and reads
  the market table back for its summary (~`MARKET_READ_BYTES` a step). The default ceiling is
  16 GiB (two thirds of the reference machine).

Both are estimates for refusing absurd sizes, not predictions: on the shipped scenarios the
memory estimate is within a factor of about two of the measured peak
(``tests/scenario/test_budget.py`` checks it against a measured run).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import Field

from abm.scenario.errors import ScenarioError
from abm.scenario.specs import ArrivalSpec, HawkesArrivalSpec, RecordSpec
from abm.scenario.types import PosFloat, Spec

DEFAULT_MAX_MEMORY_GIB = 16.0
"""Default ceiling on a run's estimated peak memory, GiB."""
DEFAULT_MAX_WORK = 1e9
"""Default ceiling on a run's estimated work, in order messages (see the module docstring)."""

BASE_BYTES = 150 * 2**20
"""The interpreter, numpy, pandas, pyarrow and mesa, imported: measured ~150 MiB."""
TRADER_BYTES = 1024
"""One trader of a kind other than market maker (measured 850-970 bytes)."""
MARKET_MAKER_BYTES = 3584
"""One market maker with its policy, volatility estimate and risk tools (measured ~3.3 KB)."""
ROW_BYTES = 512
"""One recorded row while the run is held and its tables are built (measured ~500 bytes)."""
IDLE_STEP_WORK = 0.01
"""Work of one trader-step without an arrival, in order messages (measured ~1/170).

Only in groups drawn slot by slot: a group that draws sparsely (`ArrivalSpec.draws_sparsely`)
draws how many arrive and then which, so its idle traders cost nothing a step (``abm bench
scale``: a step of a million idle traders costs what a thousand do)."""
MAKER_MESSAGES_PER_STEP = 4.0
"""A market maker's messages per step at most: cancel and replace of both quotes."""
STREAM_FLUSH_STEPS = 2_000
"""Steps between flushes of a streamed run (``abm run``): ~25 MB of baseline rows held at most."""
MARKET_READ_BYTES = 100
"""One step of the market table read back for a streamed run's summary (6 columns + masks)."""
FILLS_PER_ARRIVAL = 0.5
"""Fills recorded per arrival of a non-market-maker trader (baseline: 0.50)."""


class LimitsSpec(Spec):
    """Ceilings on a run's estimated cost (`abm.scenario.budget`); null lifts one."""

    max_memory_gib: PosFloat | None = Field(
        default=DEFAULT_MAX_MEMORY_GIB,
        description="Largest estimated peak memory of the run, GiB (null: no limit).",
    )
    max_work: PosFloat | None = Field(
        default=DEFAULT_MAX_WORK,
        description="Largest estimated work of the run, in order messages: arrivals, market "
        "makers' requotes and a hundredth per idle trader-step (null: no limit).",
    )


NO_LIMITS = LimitsSpec(max_memory_gib=None, max_work=None)
"""Limits that refuse nothing (``--no-limits``)."""


class Costed(Protocol):
    """What the estimate reads of a scenario.

    `abm.scenario.schema.Scenario` has it; this module cannot import that one, which imports
    it for `LimitsSpec`.
    """

    @property
    def steps(self) -> int:
        """Number of steps."""

    @property
    def dt(self) -> float:
        """Model time per step."""

    @property
    def record(self) -> RecordSpec:
        """Recording options."""

    @property
    def agents(self) -> Mapping[str, Any]:
        """Group name -> group."""

    @property
    def limits(self) -> LimitsSpec:
        """Ceilings on the estimated cost."""


class ScenarioTooLargeError(ScenarioError):
    """A scenario whose estimated work or memory passes its limits."""


@dataclass(frozen=True)
class CostEstimate:
    """A scenario's estimated cost, with the part of it that costs most.

    Attributes:
        traders: Traders of every group, market makers included.
        messages: Expected order messages over the run.
        trader_steps: Traders times steps, in groups whose arrivals are drawn slot by slot
            (a sparsely drawn group's idle traders cost nothing a step).
        memory_bytes: Estimated peak memory of the run, bytes.
        heaviest_work: The group (``agents.<name>``) sending most messages.
        heaviest_memory: What holds most memory: a group (``agents.<name>``: its traders and
            the rows recorded about them) or ``recording`` (the market and depth tables).
    """

    traders: int
    messages: float
    trader_steps: float
    memory_bytes: float
    heaviest_work: str
    heaviest_memory: str

    @property
    def work(self) -> float:
        """Order messages plus `IDLE_STEP_WORK` per trader-step."""
        return self.messages + IDLE_STEP_WORK * self.trader_steps

    @property
    def memory_gib(self) -> float:
        """`memory_bytes` in GiB."""
        return self.memory_bytes / 2**30

    def describe(self) -> str:
        """One line: traders, work and memory, e.g. ``1,010 traders, work 1.2e+05, ~190 MiB``."""
        return f"{self.traders:,} traders, work {self.work:.3g} messages, memory {_size(self)}"


def _size(cost: CostEstimate) -> str:
    if cost.memory_bytes >= 2**30:
        return f"~{cost.memory_gib:.3g} GiB"
    return f"~{cost.memory_bytes / 2**20:.0f} MiB"


def _arrivals_per_step(group: Any, dt: float) -> float:
    """Expected arrivals of one group per step (each one order message)."""
    if group.kind == "paddrik":
        return 2.0 * group.count * min(1.0, dt / group.mean_interarrival_s)
    if group.kind == "pov":
        return 1.0 / group.interval_steps if group.count else 0.0
    arrival = getattr(group, "arrival", None)
    if isinstance(arrival, ArrivalSpec):
        return group.count * arrival.rate * (2.0 if arrival.per_side else 1.0)
    if isinstance(arrival, HawkesArrivalSpec):
        return arrival.mu / (1.0 - arrival.branching) * dt if group.count else 0.0
    return 0.0


def _draws_sparsely(group: Any) -> bool:
    """Whether a group's arrivals are drawn sparsely (`ArrivalSpec.draws_sparsely`)."""
    arrival = getattr(group, "arrival", None)
    if not isinstance(arrival, ArrivalSpec):
        return False
    return arrival.draws_sparsely(group.count)


def estimate(scenario: Costed, *, flush_steps: int | None = None) -> CostEstimate:
    """Estimate what running ``scenario`` costs, without building it (see the module docstring).

    With ``flush_steps``, for a run streamed to disk every that many steps (`abm.streamed`);
    without, for one held in memory to the end (`abm.run.run`).
    """
    steps = float(scenario.steps)
    record = scenario.record
    messages: dict[str, float] = {}
    # a row's bytes, times the share of the run's rows held at once
    row = ROW_BYTES * (1.0 if flush_steps is None else min(1.0, flush_steps / steps))
    read_back = 0.0 if flush_steps is None else MARKET_READ_BYTES * steps
    # each group's memory: its traders and the rows recorded about them (their fills too)
    holding: dict[str, float] = {
        "recording": row * steps * (1.0 + 2.0 * record.depth_levels / record.depth_stride)
        + read_back
    }
    traders = 0
    sparse_trader_steps = 0.0
    for name, group in scenario.agents.items():
        key = f"agents.{name}"
        count = int(group.count)
        traders += count
        if group.kind == "market_maker":
            messages[key] = MAKER_MESSAGES_PER_STEP * count * steps
            holding[key] = MARKET_MAKER_BYTES * count + row * count * steps
            continue
        arrivals = _arrivals_per_step(group, scenario.dt)
        messages[key] = arrivals * steps
        if _draws_sparsely(group):
            sparse_trader_steps += count * steps
        stride = record.other_agents_stride
        snapshots = 2.0 if stride is None else steps / stride + 1.0
        rows = FILLS_PER_ARRIVAL * arrivals * steps + count * snapshots
        holding[key] = TRADER_BYTES * count + row * rows
    return CostEstimate(
        traders=traders,
        messages=sum(messages.values()),
        trader_steps=traders * steps - sparse_trader_steps,
        memory_bytes=BASE_BYTES + sum(holding.values()),
        heaviest_work=max(messages, key=messages.__getitem__),
        heaviest_memory=max(holding, key=holding.__getitem__),
    )


def check_limits(
    scenario: Costed,
    *,
    source: str,
    limits: LimitsSpec | None = None,
    flush_steps: int | None = None,
) -> CostEstimate:
    """Return ``scenario``'s `estimate`, or refuse it past ``limits`` (default: its own).

    ``flush_steps`` as for `estimate`: the limits of a streamed run.

    Raises:
        ScenarioTooLargeError: One line per limit passed, ``source: limits.<field>: ...``,
            with the estimate, the limit, the part that costs most and how to raise it.
    """
    limits = scenario.limits if limits is None else limits
    cost = estimate(scenario, flush_steps=flush_steps)
    problems = []
    if limits.max_work is not None and cost.work > limits.max_work:
        problems.append(
            f"{source}: limits.max_work: the run needs an estimated {cost.work:.3g} order "
            f"messages of work ({cost.traders:,} traders over {scenario.steps:,} steps; most "
            f"from {cost.heaviest_work}), above the limit of {limits.max_work:.3g}"
        )
    if limits.max_memory_gib is not None and cost.memory_gib > limits.max_memory_gib:
        problems.append(
            f"{source}: limits.max_memory_gib: the run needs an estimated {_size(cost)} of "
            f"memory (most held by {cost.heaviest_memory}), above the limit of "
            f"{limits.max_memory_gib:.3g} GiB"
        )
    if problems:
        problems.append(
            f"{source}: limits: if the run is meant to be this large, raise the limit in the "
            "scenario's `limits` (null lifts it) or pass --no-limits"
        )
        raise ScenarioTooLargeError("\n".join(problems))
    return cost
