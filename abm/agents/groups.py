"""Agent-group kinds: how each scenario ``agents:`` kind is built and activated.

Each agent module declares its kind as a `GroupKind` (``GROUP_KIND``): the ``kind`` written in
scenarios, its `GroupRole` in the step (market makers requote every step in random order;
executors work their schedules in scenario order; takers act when they arrive), the builder
of a group's traders and, for takers, the arrival law. `abm.agents.registry.GROUP_KINDS` lists
them; `abm.model.MarketModel` builds every group through it, with no per-kind code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from abm.agents.base import Market, Trader
    from abm.scenario.specs import ArrivalLaw


class GroupRole(StrEnum):
    """When a group's traders act in a step (`abm.model.MarketModel` documents the order)."""

    MARKET_MAKER = "market_maker"  # every step, first, all market makers in random order
    EXECUTOR = "executor"  # every step, after the market makers, in scenario order
    TAKER = "taker"  # when they arrive, kind by kind in registry order, random within a kind


@dataclass(frozen=True, slots=True)
class BuiltGroup:
    """A built group: its traders, in creation order, and an optional end-of-step hook.

    Attributes:
        agents: The traders (their ``step`` or ``act`` is what the role calls).
        on_record: Called once a step when the step is recorded (and once at construction,
            for step 0), after the mark is committed; a feed only this kind reads (the
            chartists' log-price history) is kept here. None for none.
    """

    agents: Sequence[Trader]
    on_record: Callable[[], None] | None = None


GroupBuilder = Callable[["Market", str, Any, "np.random.Generator"], BuiltGroup]
"""``build(market, group_name, spec, rng) -> BuiltGroup``; ``rng`` is the group's own stream."""


@dataclass(frozen=True, slots=True)
class GroupKind:
    """One agent-group kind of the scenario schema.

    Attributes:
        kind: The ``kind`` of the scenario group spec it builds.
        role: When its traders act.
        build: Builds one group's traders (in the order they are created and registered).
        arrival: Takers only: ``arrival(spec, dt)`` gives the group's arrival law.
        arrival_shock: Takers only: the windowed shock (``"toxic_flow"``) whose multiplier
            scales the group's arrival intensity each step, or None.
    """

    kind: str
    role: GroupRole
    build: GroupBuilder
    arrival: Callable[[Any, float], ArrivalLaw] | None = None
    arrival_shock: str | None = None
