"""Borrowers and liquidators of the lending pool, in short runs of the cascade scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import abm
from abm.agents.borrower import Borrower
from abm.agents.liquidator import Liquidator
from abm.market.lending.venue import LendingVenue
from abm.model import MarketModel

ROOT = Path(__file__).resolve().parents[2]
CASCADE = ROOT / "scenarios" / "defi" / "liquidation_cascade.yaml"


def model_of(changes: dict[str, Any]) -> MarketModel:
    model = MarketModel(abm.load_scenario(CASCADE).override(changes))
    while model.running:
        model.step()
    return model


def leverage(venue: LendingVenue, trader: Borrower) -> float:
    """Collateral value over equity in the pool, at the oracle price: C P / (C P - D)."""
    value = venue.collateral_lots(trader) * float(venue.oracle_price_ticks)
    return value / (value - venue.debt_ticks(trader))


def test_borrowers_lever_up_to_their_target() -> None:
    """Closed form: each borrower stops within a lot of C P (1 - 1/L*), at leverage L*."""
    model = model_of({"steps": 400, "shocks": []})
    venue = model.exchange.venues["lending"]
    assert isinstance(venue, LendingVenue)
    borrowers = [t for t in model.exchange.traders.values() if isinstance(t, Borrower)]
    assert len(borrowers) == 30
    for trader in borrowers:
        target = trader.spec.target_leverage
        assert leverage(venue, trader) == pytest.approx(target, rel=0.03), trader.group
        assert leverage(venue, trader) <= target * 1.005
        assert trader.inventory == 0  # every lot bought is deposited


def test_cautious_borrowers_delever_and_escape_liquidation() -> None:
    """A 25% gap: borrowers who de-lever sell and repay; those who do not are liquidated."""
    gap = {"kind": "price_gap", "step": 250, "size": -0.29, "relative": True, "announced": False}
    model = model_of({"steps": 450, "shocks": [gap]})
    venue = model.exchange.venues["lending"]
    assert isinstance(venue, LendingVenue)
    liquidated = set(model.recorder.table("liquidations")["borrower"])
    groups = {t.unique_id: t.group for t in model.exchange.traders.values()}
    assert {groups[b] for b in liquidated} <= {"levered", "degens"}
    assert any(groups[b] == "degens" for b in liquidated)
    cautious = [t for t in model.exchange.traders.values() if t.group == "cautious"]
    assert all(isinstance(t, Borrower) and t.repaid_ticks > 0 for t in cautious)
    assert all(venue.health_factor(t) >= 1 for t in cautious)


def test_liquidators_sell_what_they_seize() -> None:
    """Conservation of lots: what liquidators seized is what they sold plus what they still hold."""
    model = model_of({})
    liquidations = model.recorder.table("liquidations")
    trades = model.recorder.table("trades")
    liquidators = [t for t in model.exchange.traders.values() if isinstance(t, Liquidator)]
    assert len(liquidations) > 0
    seized = int(liquidations["collateral_seized"].sum())
    ids = {t.unique_id for t in liquidators}
    sold = int(trades.loc[trades["seller"].isin(ids), "qty"].sum())
    bought = int(trades.loc[trades["buyer"].isin(ids), "qty"].sum())
    held = sum(t.inventory - t.spec.inventory for t in liquidators)
    assert seized == sold - bought + held
    assert held < seized  # most of it went to the venues
    assert set(trades.loc[trades["seller"].isin(ids), "purpose"]) == {"liquidation"}
