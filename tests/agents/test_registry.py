"""The agent-group registry: every scenario group kind is built through one entry."""

from __future__ import annotations

import math
import typing
from typing import Any

import pytest

from abm.agents.chartist import ChartistFundamentalist
from abm.agents.groups import GroupRole
from abm.agents.registry import GROUP_KINDS, TAKER_KIND_ORDER, group_kind
from abm.model import MarketModel
from abm.scenario.groups import AgentGroup
from abm.scenario.schema import Scenario

IDLE = {"kind": "bernoulli", "rate": 0.0}


def _schema_kinds() -> set[str]:
    union = typing.get_args(AgentGroup)[0]
    return {
        typing.get_args(spec.model_fields["kind"].annotation)[0] for spec in typing.get_args(union)
    }


def test_group_registry_covers_every_schema_kind() -> None:
    """Each kind an ``agents:`` group may have in the schema has exactly one registry entry."""
    assert set(GROUP_KINDS) == _schema_kinds()


def test_group_registry_taker_order_is_the_activation_order() -> None:
    """Takers act kind by kind: informed, chartist-fundamentalist, noise, Paddrik, option users."""
    assert TAKER_KIND_ORDER == (
        "informed",
        "chartist_fundamentalist",
        "noise",
        "paddrik",
        "option_end_user",
    )


def test_group_registry_roles() -> None:
    """Market makers and executors (programs, AMM, option and lending agents); others take."""
    roles = {kind: entry.role for kind, entry in GROUP_KINDS.items()}
    assert roles.pop("market_maker") is GroupRole.MARKET_MAKER
    assert roles.pop("pov") is GroupRole.EXECUTOR
    assert roles.pop("liquidity_provider") is GroupRole.EXECUTOR
    assert roles.pop("arbitrageur") is GroupRole.EXECUTOR
    assert roles.pop("option_market_maker") is GroupRole.EXECUTOR
    assert roles.pop("borrower") is GroupRole.EXECUTOR
    assert roles.pop("liquidator") is GroupRole.EXECUTOR
    assert set(roles.values()) == {GroupRole.TAKER}
    assert all(GROUP_KINDS[kind].arrival is not None for kind in TAKER_KIND_ORDER)


def test_group_registry_unknown_kind_names_the_known_ones() -> None:
    """Looking up a kind no module registers fails with the list of known kinds."""
    known = "'oracle' is registered; known: \\['arbitrageur', 'borrower', 'chartist"
    with pytest.raises(KeyError, match=known):
        group_kind("oracle")


def _chartists(steps: int, **agents: Any) -> MarketModel:
    chartist = {
        "kind": "chartist_fundamentalist",
        "count": 3,
        "arrival": {"kind": "bernoulli", "rate": 0.5},
        "size": {"kind": "fixed", "qty": 1},
    }
    scenario = Scenario.from_dict(
        {
            "name": "chartists",
            "seed": 8,
            "steps": steps,
            "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.05},
            "agents": {"c": chartist, "n": {"kind": "noise", "count": 5, "arrival": IDLE}},
        }
    )
    model = MarketModel(scenario)
    for _ in range(steps):
        model.step()
    return model


def test_chartist_history_is_log_last_price_of_every_step() -> None:
    """The chartists' feed has one entry per recorded step (step 0 first): log of the last price."""
    model = _chartists(6)
    traders = [t for t in model.exchange.traders.values() if isinstance(t, ChartistFundamentalist)]
    history = traders[0].history
    assert all(t.history is history for t in traders)  # one feed per group
    assert len(history.values) == 7
    assert history.values[-1] == math.log(model.reference_price("last"))
    model.release()
