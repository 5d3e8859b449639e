"""Tests for abm.market.hedge: the hedging strategies' trades and the hedge venue's exact account.

Expected trades follow the `hedge_trade` contract (net delta = inventory + hedge): ``full``
to zero net delta, ``band`` back to the band's edge only when outside it, ``partial`` to
``hedge = -round(fraction * inventory)``, ``none`` never. Venue prices follow
`HedgeInstrumentSpec`: price plus (buy) or minus (sell) ``fee + impact * |q|``, rounded to the
tick grid against the trader; the venue's account makes cash (in ticks) and hedge positions
sum to zero with the traders'. A plain account object stands in for a trader: the venue only
touches ``cash_ticks`` and ``hedge``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import get_args

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.market.hedge import HedgeInstrumentSpec, HedgeVenue
from abm.risk.hedging import (
    HEDGERS,
    BandHedge,
    FullHedge,
    HedgeSpec,
    NoHedge,
    PartialHedge,
    hedge_trade,
)

TICK = 0.01
Z = 5.0
# The venue rounds with a 1e-9-tick tolerance so that float noise on grid prices does not move
# them a tick; a cost may therefore be below zero by at most that much per lot.
COST_TOLERANCE = 1e-9 * TICK


@dataclass
class _Account:
    """The two fields of a trader's account that the venue moves."""

    cash_ticks: int = 0
    hedge: int = 0


def _venue(fee: float = 0.0, impact: float = 0.0, price: float = 100.0) -> HedgeVenue:
    spec = HedgeInstrumentSpec(basis_sd=0.0, fee=fee, impact=impact)
    venue = HedgeVenue(spec, TICK, np.random.default_rng(0))
    venue.update_price(price)
    return venue


# --- hedge_trade --------------------------------------------------------------------------


def test_hedge_trade_none_never_trades() -> None:
    """``none`` carries inventory unhedged: no trade whatever the positions."""
    spec = NoHedge(kind="none")
    assert [hedge_trade(spec, inv, h) for inv, h in ((10, 0), (-7, 3), (0, -5))] == [0, 0, 0]


@pytest.mark.parametrize(("inventory", "hedge"), [(10, 0), (-7, 0), (12, -5), (-4, 9), (0, 6)])
def test_hedge_trade_full_makes_net_delta_zero(inventory: int, hedge: int) -> None:
    """``full``: after the trade, inventory + hedge = 0 (delta neutral)."""
    qty = hedge_trade(FullHedge(kind="full"), inventory, hedge)
    assert inventory + hedge + qty == 0


def test_hedge_trade_full_no_trade_when_neutral() -> None:
    """``full`` does not trade when already delta neutral."""
    assert hedge_trade(FullHedge(kind="full"), 8, -8) == 0


@pytest.mark.parametrize(
    ("inventory", "hedge", "expected"),
    [
        (12, 0, -5),  # target hedge -round(4.8) = -5
        (12, -2, -3),
        (-7, 0, 3),  # -round(-2.8) = 3
        (-7, 4, -1),
        (2, 0, -1),  # -round(0.8)
        (1, 0, 0),  # -round(0.4)
    ],
)
def test_hedge_trade_partial_hedges_rounded_fraction(
    inventory: int, hedge: int, expected: int
) -> None:
    """``partial`` (fraction 0.4): trade to hedge = -round(0.4 * inventory), hand-computed."""
    assert hedge_trade(PartialHedge(kind="partial", fraction=0.4), inventory, hedge) == expected


@pytest.mark.parametrize(("inventory", "hedge"), [(5, 0), (-5, 0), (9, -4), (0, 3), (2, -7)])
def test_hedge_trade_band_no_trade_inside_band(inventory: int, hedge: int) -> None:
    """``band`` (5): no trade while |net delta| <= band, the edge included."""
    assert hedge_trade(BandHedge(kind="band", band=5.0), inventory, hedge) == 0


@pytest.mark.parametrize(
    ("inventory", "hedge", "band", "expected"),
    [
        (9, 0, 5.0, -4),  # net 9 -> 5
        (-9, 0, 5.0, 4),  # net -9 -> -5
        (20, -14, 5.0, -1),  # net 6 -> 5
        (4, 0, 2.5, -2),  # the edge of a fractional band is floor(2.5) = 2
        (-1, 0, 0.5, 1),  # band 0.5: edge 0
    ],
)
def test_hedge_trade_band_trades_back_to_edge(
    inventory: int, hedge: int, band: float, expected: int
) -> None:
    """``band``: outside the band, trade back to its edge (floor(band) lots of net delta)."""
    assert hedge_trade(BandHedge(kind="band", band=band), inventory, hedge) == expected


@settings(max_examples=300, deadline=None)
@given(
    inventory=st.integers(-200, 200),
    hedge=st.integers(-200, 200),
    band=st.floats(0.1, 50.0, allow_nan=False),
)
def test_hedge_trade_band_leaves_net_delta_within_band(inventory: int, hedge: int, band: float):
    """``band``: trade iff |net delta| > band; afterwards |net delta| <= band, same side or 0."""
    delta = inventory + hedge
    qty = hedge_trade(BandHedge(kind="band", band=band), inventory, hedge)
    after = delta + qty
    assert (qty != 0) == (abs(delta) > band)
    assert abs(after) <= band
    assert after * delta >= 0  # never hedged past neutral


# --- HedgeVenue: prices -------------------------------------------------------------------


def test_hedge_venue_buy_pays_price_plus_fee_and_impact() -> None:
    """Buying 3 at 100 with fee 0.02 and impact 0.01: 100 + 0.02 + 0.01 * 3 = 100.05."""
    price, _ = _venue(fee=0.02, impact=0.01).trade(_Account(), 3)
    assert price == pytest.approx(100.05, abs=1e-12)


def test_hedge_venue_sell_receives_price_minus_fee_and_impact() -> None:
    """Selling 3 at 100 with fee 0.02 and impact 0.01: 100 - 0.05 = 99.95."""
    price, _ = _venue(fee=0.02, impact=0.01).trade(_Account(), -3)
    assert price == pytest.approx(99.95, abs=1e-12)


def test_hedge_venue_rounds_against_the_trader() -> None:
    """Off-grid 100.003 (no fee): a buy pays 100.01 (up), a sell receives 100.00 (down)."""
    assert _venue(price=100.003).trade(_Account(), 2)[0] == pytest.approx(100.01, abs=1e-12)
    assert _venue(price=100.003).trade(_Account(), -2)[0] == pytest.approx(100.00, abs=1e-12)


def test_hedge_venue_rounds_markup_against_the_trader() -> None:
    """A fee of 0.004 on a grid price still costs a whole tick each way: 100.01 / 99.99."""
    assert _venue(fee=0.004).trade(_Account(), 1)[0] == pytest.approx(100.01, abs=1e-12)
    assert _venue(fee=0.004).trade(_Account(), -1)[0] == pytest.approx(99.99, abs=1e-12)


def test_hedge_venue_cost_is_fee_plus_impact_on_grid() -> None:
    """On the grid, cost = fee * |q| + impact * q**2: 0.02 * 4 + 0.01 * 16 = 0.24."""
    _, cost_buy = _venue(fee=0.02, impact=0.01).trade(_Account(), 4)
    _, cost_sell = _venue(fee=0.02, impact=0.01).trade(_Account(), -4)
    assert cost_buy == pytest.approx(0.24, abs=1e-9)
    assert cost_sell == pytest.approx(0.24, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(
    price=st.floats(1.0, 500.0, allow_nan=False),
    qty=st.integers(-50, 50).filter(bool),
    fee=st.floats(0.0, 0.05, allow_nan=False),
    impact=st.floats(0.0, 0.01, allow_nan=False),
)
def test_hedge_venue_cost_is_non_negative(price: float, qty: int, fee: float, impact: float):
    """Rounding against the trader: the cost over the hedge price is >= 0 (float tolerance)."""
    venue = _venue(fee=fee, impact=impact, price=price)
    exec_price, cost = venue.trade(_Account(), qty)
    assert cost >= -COST_TOLERANCE * abs(qty)
    assert cost == pytest.approx((exec_price - price) * qty, abs=1e-9)
    assert cost >= (fee + impact * abs(qty)) * abs(qty) - COST_TOLERANCE * abs(qty)


def test_hedge_venue_on_grid_price_executes_at_grid_value() -> None:
    """No fee, no impact, grid price 127.46: a sell executes at 127.46 at zero cost."""
    price, cost = _venue(price=127.46).trade(_Account(), -9)
    assert price == 127.46
    assert cost == 0.0


def test_hedge_venue_zero_quantity_is_no_trade() -> None:
    """A zero trade moves nothing and is not counted."""
    venue, account = _venue(fee=0.02), _Account()
    assert venue.trade(account, 0) == (100.0, 0.0)
    assert (account.cash_ticks, account.hedge, venue.trades, venue.cash_ticks) == (0, 0, 0, 0)


# --- HedgeVenue: account --------------------------------------------------------------------


def test_hedge_venue_conserves_cash_and_positions_exactly() -> None:
    """Trader and venue cash ticks and hedge positions sum to their start (zero) exactly."""
    spec = HedgeInstrumentSpec(basis_sd=0.37, fee=0.003, impact=0.0007)
    venue = HedgeVenue(spec, TICK, np.random.default_rng(42))
    rng = np.random.default_rng(7)
    accounts = [_Account(cash_ticks=1_000_000), _Account(), _Account(cash_ticks=-55)]
    start_cash = sum(a.cash_ticks for a in accounts)
    for _ in range(500):
        venue.update_price(100.0 + float(rng.normal()))
        account = accounts[int(rng.integers(len(accounts)))]
        venue.trade(account, int(rng.integers(-20, 21)))
        assert sum(a.cash_ticks for a in accounts) + venue.cash_ticks == start_cash
        assert sum(a.hedge for a in accounts) + venue.position == 0


def test_hedge_venue_settles_whole_ticks() -> None:
    """The trader pays exactly price_ticks * qty cash ticks: 10005 * 3 for 3 at 100.05."""
    account = _Account()
    _venue(fee=0.02, impact=0.01).trade(account, 3)
    assert account.cash_ticks == -10_005 * 3
    assert account.hedge == 3


def test_hedge_venue_accumulates_costs_as_fees() -> None:
    """``fees`` is the sum of the costs returned; ``trades`` counts nonzero trades."""
    venue = _venue(fee=0.01, impact=0.002)
    costs = [venue.trade(_Account(), q)[1] for q in (5, -2, 0, 7)]
    assert venue.fees == pytest.approx(sum(costs), abs=1e-12)
    assert venue.trades == 3


# --- HedgeVenue: price ------------------------------------------------------------------------


def test_hedge_venue_price_is_fundamental_without_basis() -> None:
    """With ``basis_sd`` 0 the hedge price equals the fundamental exactly."""
    venue = _venue()
    assert venue.update_price(101.37) == 101.37
    assert venue.price == 101.37


def test_hedge_venue_basis_noise_has_given_sd() -> None:
    """Basis noise is N(0, basis_sd): sample mean and sd within Z standard errors (n = 4000)."""
    n, sd = 4000, 0.25
    venue = HedgeVenue(HedgeInstrumentSpec(basis_sd=sd), TICK, np.random.default_rng(3))
    basis = np.array([venue.update_price(50.0) - 50.0 for _ in range(n)])
    assert abs(basis.mean()) < Z * sd / math.sqrt(n)
    assert abs(basis.std(ddof=1) - sd) < Z * sd / math.sqrt(2 * n)


def test_hedgers_registry_covers_every_hedge_kind() -> None:
    """Each hedge kind the schema accepts has exactly one rule in HEDGERS."""
    kinds = {
        get_args(spec.model_fields["kind"].annotation)[0]
        for spec in get_args(get_args(HedgeSpec)[0])
    }
    assert set(HEDGERS) == kinds
