"""The agent-group registry: scenario group kind -> `abm.agents.groups.GroupKind`.

`GROUP_KINDS` lists every kind an ``agents:`` group may have. The order of the taker kinds
here is the order in which their arrivals act within a step (`TAKER_KIND_ORDER`). Adding an
agent kind is a new module declaring its ``GROUP_KIND`` (and its group spec in the schema)
plus an entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from abm.agents import (
    arbitrageur,
    borrower,
    chartist,
    informed,
    liquidator,
    liquidity_provider,
    market_maker,
    noise,
    option_end_user,
    option_market_maker,
    paddrik,
    pov,
)
from abm.agents.groups import GroupKind, GroupRole

GROUP_KINDS: Mapping[str, GroupKind] = MappingProxyType(
    {
        group.kind: group
        for group in (
            market_maker.GROUP_KIND,
            pov.GROUP_KIND,
            informed.GROUP_KIND,
            chartist.GROUP_KIND,
            noise.GROUP_KIND,
            paddrik.GROUP_KIND,
            liquidity_provider.GROUP_KIND,
            arbitrageur.GROUP_KIND,
            option_market_maker.GROUP_KIND,
            option_end_user.GROUP_KIND,
            borrower.GROUP_KIND,
            liquidator.GROUP_KIND,
        )
    }
)
"""Group kind -> how it is built and activated."""

TAKER_KIND_ORDER: tuple[str, ...] = tuple(
    kind for kind, group in GROUP_KINDS.items() if group.role is GroupRole.TAKER
)
"""Taker kinds in the order they are activated within a step (market makers go first)."""


def group_kind(kind: str) -> GroupKind:
    """The registered `GroupKind` of ``kind``.

    Raises:
        KeyError: If no agent module registers ``kind`` (naming the known kinds).
    """
    try:
        return GROUP_KINDS[kind]
    except KeyError:
        raise KeyError(
            f"no agent group kind {kind!r} is registered; known: {sorted(GROUP_KINDS)}"
        ) from None
