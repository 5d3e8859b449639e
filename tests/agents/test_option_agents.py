"""Option market makers and end users, and the dealers' P&L attribution.

Validated against: the accounting identity (the five attribution terms sum to the change of
the dealer's equity, recomputed here from its cash, inventory and option marks), Black-Scholes
theory (a delta-hedged option's P&L over a short step is theta * dt + 0.5 * gamma * dS**2 to
higher order, so on a simulated geometric Brownian path with hedging every step the residual
is small, and it is not without hedging), the hedge rules' definitions (when a hedge order may
be sent), the informed end users' rule (they buy options priced below Black-Scholes at the true
volatility and sell those priced above), and `heston_price` for the Heston quoting model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from abm.agents.option_market_maker import OptionMarketMaker
from abm.agents.option_pnl import BookGreeks, OptionPricer, PnLAttribution
from abm.derivatives.black_scholes import bsm_delta
from abm.derivatives.heston import HestonParams, heston_price
from abm.market.options import OptionSeries
from abm.model import MarketModel
from abm.scenario.option_groups import FixedOptionVolatility, HestonOptionModel
from abm.scenario.schema import Scenario

SIGMA = 0.05  # fundamental, price units per sqrt(step): a lognormal 0.0005 at 100


def _scenario(steps: int, dealer: dict[str, Any] | None = None, **agents: Any) -> Scenario:
    dealers = {
        "kind": "option_market_maker",
        "count": 2,
        "volatility": {"kind": "fixed", "sigma": SIGMA / 100.0},
        "quote_size": 3,
        **(dealer or {}),
    }
    users = {
        "kind": "option_end_user",
        "count": 20,
        "arrival": {"kind": "bernoulli", "rate": 0.2},
        "size": {"kind": "uniform", "low": 1, "high": 3},
    }
    body: dict[str, Any] = {
        "name": "option_agents",
        "seed": 5,
        "steps": steps,
        "tick_size": 0.01,
        "mark": "mid",
        "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": SIGMA},
        "options": {"strikes": [99.5, 100.0, 100.5], "expiries": [40, 300]},
        "agents": {
            "mm": {
                "kind": "market_maker",
                "count": 2,
                "policy": {"kind": "symmetric", "spread": 0.04},
                "quote_size": 20,
                "max_inventory": 400,
                "reference": "mid",
            },
            "noise": {
                "kind": "noise",
                "count": 60,
                "arrival": {"kind": "poisson", "rate": 0.1},
                "mix": {"market": 0.3, "limit": 0.35, "cancel": 0.35},
                "reference": "mid",
                "placement": "passive",
                "distance": {"kind": "exponential", "mean_ticks": 4.0},
                "size": {"kind": "uniform", "low": 1, "high": 4},
            },
            "dealers": dealers,
            "users": users,
            **agents,
        },
    }
    return Scenario.from_dict(body)


def _dealers(model: MarketModel) -> list[OptionMarketMaker]:
    return [t for t in model.exchange.traders.values() if isinstance(t, OptionMarketMaker)]


def _run(scenario: Scenario) -> MarketModel:
    model = MarketModel(scenario)
    for _ in range(scenario.steps):
        model.step()
    return model


# ----- the attribution identity and its residual -------------------------------------------------


def test_attribution_terms_sum_to_each_steps_equity_change() -> None:
    """The five terms (theta, gamma, vega, hedging, residual) sum to the dealer's equity change.

    Equity is recomputed here after each step (cash + inventory at the mark + options at their
    marks); the run includes an expiry (step 40), trading and hedging.
    """
    scenario = _scenario(60, {"volatility": {"kind": "realized", "initial_sigma": 0.0005}})
    model = MarketModel(scenario)
    dealers = _dealers(model)
    equity = {d.unique_id: [d.equity(mark=model.mark_price(), hedge_mark=0.0)] for d in dealers}
    for _ in range(60):
        model.step()
        for d in dealers:
            equity[d.unique_id].append(d.equity(mark=model.mark_price(), hedge_mark=0.0))
    greeks = model.exchange.recorder.table("greeks")
    terms = ["pnl_theta", "pnl_gamma", "pnl_vega", "pnl_hedging", "pnl_residual"]
    moved = 0.0
    for d in dealers:
        rows = greeks[greeks["agent_id"] == d.unique_id].sort_values("step")
        assert list(rows["step"]) == list(range(61))
        change = np.diff(equity[d.unique_id])
        total = rows[terms].to_numpy()[1:].sum(axis=1)
        np.testing.assert_allclose(total, change, rtol=0, atol=1e-9)
        moved += float(np.abs(change).sum())
        assert (rows["pnl_vega"] != 0).any()  # the realised estimate moves
        assert (rows["pnl_hedging"] < 0).any()  # hedges pay the spread
    assert moved > 1.0


def _hedged_gbm_residuals(hedge: bool, seed: int = 3) -> tuple[float, float, float]:
    """Short 10,000 calls on a GBM path, optionally delta hedged (whole lots) every step.

    Returns sum |residual|, sum |gamma term| and sum |equity change| over the path.
    """
    sigma, dt, steps, expiry = 0.2, 1.0 / 2520.0, 600, 1260
    rng = np.random.default_rng(seed)
    series = OptionSeries.of(True, 100.0, expiry)
    pricer = OptionPricer(FixedOptionVolatility(kind="fixed", sigma=sigma), 0.0, dt)
    attribution = PnLAttribution(dt)
    q = -10_000.0
    spot, cash, inventory = 100.0, 0.0, 0
    residual = gamma = change = 0.0
    last_equity = None
    for step in range(steps + 1):
        if step:
            spot *= math.exp(-0.5 * sigma**2 * dt + sigma * math.sqrt(dt) * rng.standard_normal())
        tau = np.array([(expiry - step) * dt])
        greeks = pricer.greeks([series], spot, tau)
        if hedge:
            target = -round(q * float(greeks.delta[0]))
            cash -= (target - inventory) * spot
            inventory = target
        equity = cash + inventory * spot + q * float(greeks.price[0])
        book = BookGreeks.of([series], np.array([q]), greeks)
        terms = attribution.record(equity, spot, book, 0.0, {series.name: sigma})
        assert terms.total == pytest.approx(0.0 if last_equity is None else equity - last_equity)
        residual += abs(terms.residual)
        gamma += abs(terms.gamma)
        change += 0.0 if last_equity is None else abs(equity - last_equity)
        last_equity = equity
    return residual, gamma, change


def test_attribution_residual_is_small_with_black_scholes_and_hedging_every_step() -> None:
    """Hedged every step on a GBM path, the residual is a few % of the gamma term (theory).

    Without hedging the residual carries delta * dS and dwarfs the gamma term: the check can
    fail. Measured (seed 3, 600 steps): hedged sum|residual| / sum|gamma| = 0.0096;
    unhedged 100.
    """
    residual, gamma, _ = _hedged_gbm_residuals(hedge=True)
    assert residual < 0.1 * gamma
    residual_unhedged, gamma_unhedged, _ = _hedged_gbm_residuals(hedge=False)
    assert residual_unhedged > 10.0 * gamma_unhedged


# ----- hedging ---------------------------------------------------------------------------


def _hedge_steps(model: MarketModel) -> dict[int, list[int]]:
    trades = model.exchange.recorder.table("trades")
    hedges = trades[trades["purpose"] == "hedge"]
    ids = {d.unique_id for d in _dealers(model)}
    out: dict[int, list[int]] = {}
    for row in hedges.itertuples():
        owner = row.buyer if row.buyer in ids else row.seller
        out.setdefault(int(owner), []).append(int(row.step))
    return out


def test_full_hedging_keeps_the_net_delta_within_a_lot_or_two() -> None:
    """``full``: after each step the dealer's net delta (options + spot) is near zero.

    Its options delta grows to many lots; the net stays within rounding plus what one IOC
    hedge could not fill (checked on the median).
    """
    model = _run(_scenario(120, {"hedge": {"rule": "full"}}))
    greeks = model.exchange.recorder.table("greeks")
    inventory = {d.unique_id: d.inventory for d in _dealers(model)}
    assert max(abs(v) for v in inventory.values()) >= 3  # it did hedge something
    assert float(np.median(np.abs(greeks["delta"]))) <= 1.0


def test_no_hedging_never_trades_the_spot() -> None:
    """``none``: no hedge trades; the net delta is the options delta and drifts."""
    model = _run(_scenario(120, {"hedge": {"rule": "none"}}))
    assert _hedge_steps(model) == {}
    assert all(d.inventory == 0 for d in _dealers(model))
    greeks = model.exchange.recorder.table("greeks")
    assert float(np.abs(greeks["delta"]).max()) > 3.0


def test_time_hedging_trades_only_every_nth_step() -> None:
    """``time`` with every 10: hedge trades happen only at steps that are multiples of 10."""
    model = _run(_scenario(120, {"hedge": {"rule": "time", "every": 10}}))
    steps = [s for values in _hedge_steps(model).values() for s in values]
    assert steps and all(s % 10 == 0 for s in steps)


def test_band_hedging_waits_until_the_net_delta_leaves_the_band() -> None:
    """``band`` 5: fewer hedge trades than ``full``; the net delta stays near the band."""
    full = _run(_scenario(120, {"hedge": {"rule": "full"}}))
    band = _run(_scenario(120, {"hedge": {"rule": "band", "band": 5}}))
    count = {
        name: sum(map(len, _hedge_steps(m).values())) for name, m in (("f", full), ("b", band))
    }
    assert 0 < count["b"] < count["f"]
    greeks = band.exchange.recorder.table("greeks")
    assert float(np.median(np.abs(greeks["delta"]))) <= 5.5


# ----- quoting -----------------------------------------------------------------------------


def test_spread_widens_with_gamma_usage() -> None:
    """With a gamma limit, ``widen: 4`` quotes wider (ask - bid) than ``widen: 0``."""

    def mean_spread(widen: float) -> float:
        dealer = {"gamma_limit": 20.0, "widen": widen, "count": 1}
        options = _run(_scenario(80, dealer)).exchange.recorder.table("options")
        width = (options["best_ask"] - options["best_bid"]).dropna()
        return float(width[options["step"] > 20].mean())

    assert mean_spread(4.0) > 1.2 * mean_spread(0.0)


def test_heston_dealer_quotes_around_heston_prices() -> None:
    """The Heston quoting model prices at `heston_price`; its Greeks use the implied vol."""
    spec = HestonOptionModel(kind="heston", kappa=2.0, theta=0.04, sigma=0.3, rho=-0.6, v0=0.05)
    pricer = OptionPricer(spec, 0.01, 1.0 / 252.0)
    series = [OptionSeries.of(True, 95.0, 126), OptionSeries.of(False, 105.0, 126)]
    taus = np.array([0.5, 0.5])
    greeks = pricer.greeks(series, 100.0, taus)
    params = HestonParams(2.0, 0.04, 0.3, -0.6, 0.05)
    reference = heston_price(
        100.0, np.array([95.0, 105.0]), taus, 0.01, 0.0, params, np.array([True, False])
    )
    np.testing.assert_allclose(greeks.price, reference, rtol=1e-12)
    delta = bsm_delta(
        100.0, np.array([95.0, 105.0]), taus, 0.01, 0.0, greeks.vol, np.array([True, False])
    )
    np.testing.assert_allclose(greeks.delta, delta, rtol=1e-12)
    assert np.all((greeks.vol > 0.15) & (greeks.vol < 0.3))


# ----- end users ---------------------------------------------------------------------------


@pytest.mark.parametrize(("dealer_vol", "sign"), [(0.5, 1), (2.0, -1)])
def test_informed_end_users_buy_cheap_and_sell_dear_volatility(
    dealer_vol: float, sign: int
) -> None:
    """Dealers quoting at half the true volatility are bought from; at twice it, sold to.

    The informed traders know the true (lognormal) volatility SIGMA / fundamental; their net
    position over all series has the sign of (true - quoted) volatility.
    """
    dealer = {"volatility": {"kind": "fixed", "sigma": dealer_vol * SIGMA / 100.0}}
    informed = {
        "kind": "option_end_user",
        "count": 10,
        "arrival": {"kind": "bernoulli", "rate": 0.3},
        "style": "informed",
        "threshold": 0.01,
    }
    model = _run(_scenario(60, dealer, users={**informed}))
    held = sum(
        sum(t.holdings.values())
        for t in model.exchange.traders.values()
        if t.kind == "option_end_user"
    )
    assert sign * held > 20
