"""Tests for the trader agents (noise, informed, market maker) inside small hand-built markets.

Each market is a `MarketModel` built from a dict scenario with a flat fundamental (``sigma``
0 unless a test needs motion) and ``mark: fundamental``; groups arrive at rate 0, so nothing
happens unless a test calls ``act``/``step`` itself. A passive "liquidity provider" (a noise
trader that never arrives) rests orders through ``model.exchange`` where a test needs a book.
Statistical checks allow ``Z`` standard errors (or a KS bound) with fixed seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import abm.agents.noise as noise_module
from abm.agents.base import Trader
from abm.agents.informed import InformedTrader
from abm.agents.market_maker import MarketMaker, VolatilityEstimate
from abm.agents.noise import NoiseTrader, draw_distance_ticks, draw_size
from abm.market.orderbook import OrderResult
from abm.model import MarketModel
from abm.results.events import TradePurpose
from abm.scenario.schema import (
    ExponentialDistance,
    FixedSize,
    PowerLawDistance,
    Scenario,
    UniformDistance,
    UniformSize,
)

TICK = 0.01
Z = 5.0
KS_CRITICAL = 1.95  # Kolmogorov distribution, P(sqrt(n) D > 1.95) ~ 0.001
IDLE = {"kind": "bernoulli", "rate": 0.0}
LP: dict[str, Any] = {"kind": "noise", "count": 1, "arrival": IDLE}


def _model(
    agents: dict[str, Any], *, s0: float = 100.0, sigma: float = 0.0, dt: float = 1.0
) -> MarketModel:
    scenario = Scenario.from_dict(
        {
            "name": "unit",
            "seed": 3,
            "steps": 100_000,
            "dt": dt,
            "tick_size": TICK,
            "mark": "fundamental",
            "fundamental": {"kind": "arithmetic", "s0": s0, "sigma": sigma},
            "agents": agents,
        }
    )
    return MarketModel(scenario)


def _member(model: MarketModel, group: str) -> Trader:
    return next(t for t in model.exchange.traders.values() if t.group == group)


def _ks_distance(samples: np.ndarray, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    x = np.sort(samples)
    n = len(x)
    f = cdf(x)
    upper = np.arange(1, n + 1) / n - f
    lower = f - np.arange(n) / n
    return float(max(upper.max(), lower.max()))


# ----- noise trader: distance and size laws ----------------------------------------------


def test_draw_distance_exponential_mean_is_mean_ticks() -> None:
    """Exp(mean_ticks): non-negative, sample mean within Z * mean / sqrt(n) of mean_ticks."""
    spec = ExponentialDistance(kind="exponential", mean_ticks=5.0)
    rng = np.random.default_rng(20)
    d = np.array([draw_distance_ticks(spec, rng) for _ in range(20_000)])
    assert d.min() >= 0.0
    assert abs(d.mean() - 5.0) < Z * 5.0 / math.sqrt(len(d))


def test_draw_distance_exponential_matches_cdf() -> None:
    """Exp(mean_ticks): KS distance to F(x) = 1 - exp(-x / mean) below the 0.1% critical value."""
    spec = ExponentialDistance(kind="exponential", mean_ticks=2.5)
    rng = np.random.default_rng(21)
    d = np.array([draw_distance_ticks(spec, rng) for _ in range(10_000)])
    distance = _ks_distance(d, lambda x: 1.0 - np.exp(-x / 2.5))
    assert distance < KS_CRITICAL / math.sqrt(len(d))


def test_draw_distance_uniform_support_is_the_integer_range() -> None:
    """Uniform low..high: integer values, every one of them drawn, nothing outside."""
    spec = UniformDistance(kind="uniform", low_ticks=2, high_ticks=7)
    rng = np.random.default_rng(22)
    d = np.array([draw_distance_ticks(spec, rng) for _ in range(5_000)])
    assert np.all(d == np.round(d))
    assert set(d.astype(int)) == set(range(2, 8))


def test_draw_distance_uniform_mean_is_midpoint() -> None:
    """Discrete uniform on k integers: mean (low + high) / 2, variance (k^2 - 1) / 12."""
    spec = UniformDistance(kind="uniform", low_ticks=0, high_ticks=9)
    rng = np.random.default_rng(23)
    d = np.array([draw_distance_ticks(spec, rng) for _ in range(20_000)])
    sd = math.sqrt((10**2 - 1) / 12)
    assert abs(d.mean() - 4.5) < Z * sd / math.sqrt(len(d))


def test_draw_distance_uniform_degenerate_range() -> None:
    """low_ticks == high_ticks: the distance is that constant."""
    spec = UniformDistance(kind="uniform", low_ticks=3, high_ticks=3)
    rng = np.random.default_rng(24)
    assert {draw_distance_ticks(spec, rng) for _ in range(50)} == {3.0}


@pytest.mark.parametrize(("alpha", "lo", "hi"), [(2.5, 1, 100), (1.5, 2, 40), (3.0, 5, 6)])
def test_draw_distance_power_law_support(alpha: float, lo: int, hi: int) -> None:
    """Truncated power law: every draw lies in [min_ticks, max_ticks]."""
    spec = PowerLawDistance(kind="power_law", alpha=alpha, min_ticks=lo, max_ticks=hi)
    rng = np.random.default_rng(25)
    d = np.array([draw_distance_ticks(spec, rng) for _ in range(5_000)])
    assert d.min() >= lo
    assert d.max() <= hi


@pytest.mark.parametrize(("alpha", "lo", "hi"), [(2.5, 1, 100), (1.5, 2, 40), (3.0, 5, 6)])
def test_draw_distance_power_law_matches_truncated_pareto_cdf(
    alpha: float, lo: int, hi: int
) -> None:
    """Density ~ x^-alpha on [lo, hi]: F(x) = (1 - (lo/x)^(a-1)) / (1 - (lo/hi)^(a-1)); KS bound."""
    spec = PowerLawDistance(kind="power_law", alpha=alpha, min_ticks=lo, max_ticks=hi)
    rng = np.random.default_rng(26)
    d = np.array([draw_distance_ticks(spec, rng) for _ in range(10_000)])
    a = alpha - 1.0

    def cdf(x: np.ndarray) -> np.ndarray:
        return (1.0 - (lo / x) ** a) / (1.0 - (lo / hi) ** a)

    assert _ks_distance(d, cdf) < KS_CRITICAL / math.sqrt(len(d))


def test_draw_size_fixed_is_qty() -> None:
    """Fixed size: every order is ``qty`` lots."""
    spec = FixedSize(kind="fixed", qty=7)
    rng = np.random.default_rng(27)
    assert {draw_size(spec, rng) for _ in range(50)} == {7}


def test_draw_size_uniform_support_and_mean() -> None:
    """Uniform size low..high: integers in range, all drawn, mean (low + high) / 2."""
    spec = UniformSize(kind="uniform", low=1, high=5)
    rng = np.random.default_rng(28)
    sizes = np.array([draw_size(spec, rng) for _ in range(20_000)])
    assert set(sizes.tolist()) == {1, 2, 3, 4, 5}
    assert all(isinstance(s, int) for s in (draw_size(spec, rng) for _ in range(10)))
    assert abs(sizes.mean() - 3.0) < Z * math.sqrt((5**2 - 1) / 12) / math.sqrt(len(sizes))


# ----- noise trader: order placement and the action mix -----------------------------------


def _noise(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "noise",
        "count": 1,
        "arrival": IDLE,
        "reference": "fundamental",
        "mix": {"market": 0.0, "limit": 1.0, "cancel": 0.0},
    }
    spec.update(overrides)
    return spec


def _spy_limits(
    monkeypatch: pytest.MonkeyPatch, model: MarketModel
) -> list[tuple[bool, int, bool]]:
    """Record ``(is_buy, price_ticks, ioc)`` of every limit order sent to the book venue."""
    placed: list[tuple[bool, int, bool]] = []
    original = model.book_venue.limit

    def limit(
        trader: Trader,
        is_buy: bool,
        price_ticks: int,
        qty: int,
        *,
        purpose: TradePurpose,
        ioc: bool = False,
    ) -> OrderResult:
        placed.append((is_buy, price_ticks, ioc))
        return original(trader, is_buy, price_ticks, qty, purpose=purpose, ioc=ioc)

    monkeypatch.setattr(model.book_venue, "limit", limit)
    return placed


def _spy_distances(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every distance the noise trader draws."""
    drawn: list[float] = []
    original = noise_module.draw_distance_ticks

    def draw(spec: Any, rng: np.random.Generator) -> float:
        value = original(spec, rng)
        drawn.append(value)
        return value

    monkeypatch.setattr(noise_module, "draw_distance_ticks", draw)
    return drawn


def _placements(
    monkeypatch: pytest.MonkeyPatch, s0: float, n: int, **spec: Any
) -> tuple[float, list[tuple[bool, int, bool]], list[float]]:
    model = _model({"noise": _noise(**spec)}, s0=s0)
    trader = _member(model, "noise")
    assert isinstance(trader, NoiseTrader)
    placed = _spy_limits(monkeypatch, model)
    drawn = _spy_distances(monkeypatch)
    rng = np.random.default_rng(30)
    for _ in range(n):
        trader.act(rng, None)
    assert len(placed) == len(drawn) == n
    return model.reference_price("fundamental") / TICK, placed, drawn


@pytest.mark.parametrize("placement", ["passive", "aggressive"])
def test_noise_limit_on_grid_reference_is_reference_plus_minus_distance(
    monkeypatch: pytest.MonkeyPatch, placement: str
) -> None:
    """On-grid ref, integer d: passive buy at ref - d, sell at ref + d (aggressive: flipped)."""
    uniform = {"kind": "uniform", "low_ticks": 0, "high_ticks": 8}
    ref, placed, drawn = _placements(monkeypatch, 100.0, 300, placement=placement, distance=uniform)
    assert ref == 10_000
    sign = -1 if placement == "passive" else 1
    for (is_buy, price_ticks, _), d in zip(placed, drawn, strict=True):
        expected = ref + sign * d if is_buy else ref - sign * d
        assert price_ticks == expected


def test_noise_passive_limit_rounds_away_from_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passive: a buy at or below ref - d, a sell at or above ref + d, within one tick."""
    ref, placed, drawn = _placements(
        monkeypatch, 100.005, 400, distance={"kind": "exponential", "mean_ticks": 3.0}
    )
    for (is_buy, price_ticks, _), d in zip(placed, drawn, strict=True):
        if is_buy:
            assert ref - d - 1 < price_ticks <= ref - d + 1e-9
        else:
            assert ref + d - 1e-9 <= price_ticks < ref + d + 1


def test_noise_aggressive_limit_rounds_towards_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """Aggressive: a buy never above ref + d, a sell never below ref - d, within one tick."""
    ref, placed, drawn = _placements(
        monkeypatch,
        100.005,
        400,
        placement="aggressive",
        distance={"kind": "exponential", "mean_ticks": 3.0},
    )
    for (is_buy, price_ticks, _), d in zip(placed, drawn, strict=True):
        if is_buy:
            assert ref + d - 1 < price_ticks <= ref + d + 1e-9
        else:
            assert ref - d - 1e-9 <= price_ticks < ref - d + 1


def test_noise_ioc_fraction_is_ioc_prob(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each limit order is immediate-or-cancel with probability ioc_prob (binomial SE)."""
    _, placed, _ = _placements(monkeypatch, 100.0, 4_000, ioc_prob=0.25)
    share = np.mean([ioc for _, _, ioc in placed])
    assert abs(share - 0.25) < Z * math.sqrt(0.25 * 0.75 / len(placed))


def test_noise_buy_fraction_is_buy_prob(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a per-side arrival the side is a buy with probability buy_prob (binomial SE)."""
    _, placed, _ = _placements(monkeypatch, 100.0, 4_000, buy_prob=0.7)
    share = np.mean([is_buy for is_buy, _, _ in placed])
    assert abs(share - 0.7) < Z * math.sqrt(0.7 * 0.3 / len(placed))


def test_noise_per_side_arrival_fixes_the_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """A per-side arrival's side overrides buy_prob."""
    model = _model({"noise": _noise(buy_prob=1.0)})
    trader = _member(model, "noise")
    assert isinstance(trader, NoiseTrader)
    placed = _spy_limits(monkeypatch, model)
    rng = np.random.default_rng(31)
    for _ in range(50):
        trader.act(rng, False)
    assert not any(is_buy for is_buy, _, _ in placed)


def test_noise_action_mix_matches_mix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over many arrivals, market / limit / other (cancel) shares match ``mix`` (binomial SE)."""
    mix = {"market": 0.2, "limit": 0.5, "cancel": 0.3}
    model = _model({"noise": _noise(mix=mix, placement="passive")})
    trader = _member(model, "noise")
    assert isinstance(trader, NoiseTrader)
    placed = _spy_limits(monkeypatch, model)
    markets: list[bool] = []
    original_market = model.book_venue.market

    def market(trader: Trader, is_buy: bool, qty: int, *, purpose: TradePurpose) -> OrderResult:
        markets.append(is_buy)
        return original_market(trader, is_buy, qty, purpose=purpose)

    monkeypatch.setattr(model.book_venue, "market", market)
    n = 6_000
    rng = np.random.default_rng(32)
    for _ in range(n):
        trader.act(rng, None)
    counts = {"market": len(markets), "limit": len(placed)}
    counts["cancel"] = n - counts["market"] - counts["limit"]
    for action, p in mix.items():
        assert abs(counts[action] / n - p) < Z * math.sqrt(p * (1 - p) / n), action


def test_noise_cancel_removes_one_of_its_own_resting_orders() -> None:
    """A cancel arrival removes exactly one of the trader's own resting orders, nobody else's."""
    spec = _noise(
        mix={"market": 0.0, "limit": 0.5, "cancel": 0.5},
        distance={"kind": "uniform", "low_ticks": 1, "high_ticks": 20},
    )
    model = _model({"noise": spec, "lp": LP})
    trader, lp = _member(model, "noise"), _member(model, "lp")
    assert isinstance(trader, NoiseTrader)
    book = model.book
    for is_buy, ticks in ((True, 9_000), (False, 11_000), (True, 9_500)):
        model.exchange.limit(lp, is_buy, ticks, 4, purpose=TradePurpose.TAKER)
    lp_orders = book.owner_orders(lp.unique_id)
    rng = np.random.default_rng(33)
    cancels = 0
    for _ in range(600):
        before = {o.order_id for o in book.owner_orders(trader.unique_id)}
        trader.act(rng, None)
        after = {o.order_id for o in book.owner_orders(trader.unique_id)}
        assert book.owner_orders(lp.unique_id) == lp_orders
        if after <= before and after != before:
            assert len(before - after) == 1
            cancels += 1
        else:
            assert before <= after  # a limit order only adds (passive orders never cross)
    assert cancels > 200


# ----- informed trader ---------------------------------------------------------------------


def _informed(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "informed",
        "count": 1,
        "arrival": IDLE,
        "threshold": 0.05,
        "base_size": 1,
        "size_per_edge": 0.0,
        "max_size": 10,
        "position_limit": 100,
    }
    spec.update(overrides)
    return spec


def _informed_market(
    asks: Sequence[tuple[int, int]] = (),
    bids: Sequence[tuple[int, int]] = (),
    **spec: Any,
) -> tuple[MarketModel, InformedTrader, Trader]:
    """A flat fundamental at 100.00, one informed trader, and the given resting LP orders."""
    model = _model({"informed": _informed(**spec), "lp": LP})
    informed, lp = _member(model, "informed"), _member(model, "lp")
    assert isinstance(informed, InformedTrader)
    for ticks, qty in asks:
        model.exchange.limit(lp, False, ticks, qty, purpose=TradePurpose.TAKER)
    for ticks, qty in bids:
        model.exchange.limit(lp, True, ticks, qty, purpose=TradePurpose.TAKER)
    return model, informed, lp


def test_informed_does_not_trade_below_threshold() -> None:
    """Edges of 3 ticks (buy) and 2 ticks (sell) against a 5-tick threshold: no order at all."""
    model, informed, _ = _informed_market(asks=[(9_997, 50)], bids=[(10_002, 50)])
    orders = model.exchange.orders
    informed.act(np.random.default_rng(40), None)
    assert model.exchange.orders == orders
    assert informed.inventory == 0


def test_informed_buys_when_value_exceeds_ask_by_threshold() -> None:
    """Fundamental 100.00, ask 99.90, threshold 0.05: buys base_size lots at the ask."""
    _, informed, _ = _informed_market(asks=[(9_990, 50)], base_size=3)
    informed.act(np.random.default_rng(41), None)
    assert informed.inventory == 3
    assert informed.cash_ticks == -3 * 9_990


def test_informed_sells_when_bid_exceeds_value_by_threshold() -> None:
    """Fundamental 100.00, bid 100.10, threshold 0.05: sells base_size lots at the bid."""
    _, informed, _ = _informed_market(bids=[(10_010, 50)], base_size=2)
    informed.act(np.random.default_rng(42), None)
    assert informed.inventory == -2
    assert informed.cash_ticks == 2 * 10_010


def test_informed_per_side_arrival_trades_only_that_side() -> None:
    """A sell-side arrival does not buy, however large the buy edge."""
    _, informed, _ = _informed_market(asks=[(9_900, 50)], bids=[(9_800, 50)])
    informed.act(np.random.default_rng(43), False)
    assert informed.inventory == 0


@pytest.mark.parametrize(
    ("ask_ticks", "expected"),
    [(9_973, 1 + 5), (9_983, 1 + 3), (9_900, 10), (9_000, 10)],
)
def test_informed_size_grows_with_edge_up_to_max_size(ask_ticks: int, expected: int) -> None:
    """Size = min(max_size, base_size + floor(size_per_edge * edge)); edges 0.27, 0.17, 1, 10."""
    _, informed, _ = _informed_market(
        asks=[(ask_ticks, 100)], base_size=1, size_per_edge=20.0, max_size=10
    )
    informed.act(np.random.default_rng(44), None)
    assert informed.inventory == expected


def test_informed_size_on_exact_grid_edge() -> None:
    """Edge exactly 10 ticks (0.10), size_per_edge 50: size = 1 + floor(5) = 6."""
    _, informed, _ = _informed_market(
        asks=[(9_990, 100)], base_size=1, size_per_edge=50.0, max_size=10
    )
    informed.act(np.random.default_rng(45), None)
    assert informed.inventory == 6


def test_informed_edge_equal_to_threshold_does_not_trade() -> None:
    """The rule is edge > threshold: an ask exactly 3 ticks under the value, threshold 0.03."""
    _, informed, _ = _informed_market(asks=[(9_997, 100)], threshold=0.03)
    informed.act(np.random.default_rng(46), None)
    assert informed.inventory == 0


@pytest.mark.parametrize(("inventory", "expected"), [(195, 200), (200, 200), (0, 10)])
def test_informed_buy_respects_position_limit(inventory: int, expected: int) -> None:
    """A buy is cut so that inventory never exceeds position_limit (200)."""
    _, informed, _ = _informed_market(
        asks=[(9_900, 100)], base_size=10, position_limit=200, inventory=inventory
    )
    informed.act(np.random.default_rng(47), None)
    assert informed.inventory == expected


def test_informed_sell_respects_position_limit() -> None:
    """A sell is cut so that inventory never goes below -position_limit."""
    _, informed, _ = _informed_market(
        bids=[(10_100, 100)], base_size=10, position_limit=200, inventory=-195
    )
    informed.act(np.random.default_rng(48), None)
    assert informed.inventory == -200


def test_informed_marketable_limit_never_pays_beyond_touch_plus_offset() -> None:
    """IOC buy at best ask + 1 tick: fills 9990 and 9991 only; the rest is dropped, not rested."""
    model, informed, _ = _informed_market(
        asks=[(9_990, 2), (9_991, 2), (9_995, 10)],
        order_type="marketable_limit",
        limit_offset_ticks=1,
        base_size=10,
    )
    informed.act(np.random.default_rng(49), None)
    assert informed.inventory == 4
    assert informed.cash_ticks == -(2 * 9_990 + 2 * 9_991)
    assert model.book.owner_orders(informed.unique_id) == []
    assert model.book.depth("sell") == [(99.95, 10)]


def test_informed_marketable_limit_sell_at_touch_minus_offset() -> None:
    """IOC sell at best bid - 0 ticks: only the touch trades; nothing rests."""
    model, informed, _ = _informed_market(
        bids=[(10_010, 3), (10_008, 5)], order_type="marketable_limit", base_size=10
    )
    informed.act(np.random.default_rng(50), None)
    assert informed.inventory == -3
    assert model.book.owner_orders(informed.unique_id) == []


def test_informed_market_order_walks_the_book() -> None:
    """order_type market: the full size trades through successive ask levels."""
    _, informed, _ = _informed_market(asks=[(9_990, 2), (9_991, 2), (9_995, 10)], base_size=10)
    informed.act(np.random.default_rng(51), None)
    assert informed.inventory == 10
    assert informed.cash_ticks == -(2 * 9_990 + 2 * 9_991 + 6 * 9_995)


def test_informed_estimate_is_lagged_fundamental() -> None:
    """Without noise the estimate is the fundamental lag_steps steps ago (step 0 before that)."""
    model = _model({"informed": _informed(lag_steps=3)}, sigma=0.5)
    informed = _member(model, "informed")
    assert isinstance(informed, InformedTrader)
    rng = np.random.default_rng(52)
    history = model.fundamental_history
    for step in range(1, 8):
        model.step()
        assert informed.estimate(rng) == history[max(0, step - 3)]


def test_informed_estimate_noise_has_sd_noise_sd() -> None:
    """Estimate = value + noise_sd * N(0, 1): sample sd within Z SE (sd / sqrt(2n)) of noise_sd."""
    model = _model({"informed": _informed(noise_sd=0.2)})
    informed = _member(model, "informed")
    assert isinstance(informed, InformedTrader)
    rng = np.random.default_rng(53)
    errors = np.array([informed.estimate(rng) - 100.0 for _ in range(10_000)])
    assert abs(errors.mean()) < Z * 0.2 / math.sqrt(len(errors))
    assert abs(errors.std(ddof=1) - 0.2) < Z * 0.2 / math.sqrt(2 * len(errors))


# ----- market maker ------------------------------------------------------------------------


def _mm(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": "market_maker",
        "count": 1,
        "policy": {"kind": "symmetric", "spread": 0.04},
        "quote_size": 10,
        "reference": "fundamental",
        "volatility": {"kind": "given", "sigma": 0.0},
    }
    spec.update(overrides)
    return spec


def _mm_market(s0: float = 100.0, **spec: Any) -> tuple[MarketModel, MarketMaker]:
    model = _model({"mm": _mm(**spec), "lp": LP}, s0=s0)
    mm = _member(model, "mm")
    assert isinstance(mm, MarketMaker)
    return model, mm


@pytest.mark.parametrize(
    ("s0", "spread"),
    [("100.00", "0.04"), ("100.004", "0.013"), ("100.005", "0.02"), ("99.99", "0.06")],
)
def test_market_maker_quotes_round_outward_to_tick_grid(s0: str, spread: str) -> None:
    """Bid = floor((ref - spread/2) / tick), ask = ceil((ref + spread/2) / tick), exact."""
    model, mm = _mm_market(float(s0), policy={"kind": "symmetric", "spread": float(spread)})
    model.step()
    half, tick = Fraction(spread) / 2, Fraction("0.01")
    bid_t = math.floor((Fraction(s0) - half) / tick)
    ask_t = math.ceil((Fraction(s0) + half) / tick)
    assert (model.book.best_bid_ticks(), model.book.best_ask_ticks()) == (bid_t, ask_t)
    assert mm.quotes() == (model.book.to_price(bid_t), model.book.to_price(ask_t))
    assert model.book.depth("buy") == [(model.book.to_price(bid_t), 10)]


def test_market_maker_zero_width_quote_keeps_one_tick() -> None:
    """A zero spread on the grid becomes bid = ref, ask = ref + 1 tick (never a crossed quote)."""
    model, mm = _mm_market(policy={"kind": "symmetric", "spread": 0.0})
    model.step()
    assert (mm.bid_ticks, mm.ask_ticks) == (10_000, 10_001)


def test_market_maker_keeps_unchanged_quotes() -> None:
    """Unchanged price and size: the same order ids, no new order, no cancel (queue priority)."""
    model, mm = _mm_market()
    model.step()
    ids, orders, cancels = (mm.bid_id, mm.ask_id), model.exchange.orders, model.exchange.cancels
    model.step()
    assert (mm.bid_id, mm.ask_id) == ids
    assert (model.exchange.orders, model.exchange.cancels) == (orders, cancels)


def test_market_maker_without_risk_layer_still_honours_a_withdrawal() -> None:
    """No regimes, gap controls or confidence: a contagion withdrawal still pulls both quotes."""
    model, mm = _mm_market()
    model.step()
    quoted = mm.quotes()
    assert None not in quoted
    mm.withdrawn_until = model.step_index + 2  # as the confidence channel sets it
    model.step()
    assert mm.quotes() == (None, None)
    assert model.book.best_bid_ticks() is None
    model.step()
    model.step()
    assert mm.quotes() == quoted


def test_market_maker_replaces_only_the_changed_side() -> None:
    """A partly filled ask is replaced at full size; the untouched bid keeps its order id."""
    model, mm = _mm_market()
    lp = _member(model, "lp")
    model.step()
    bid_id, ask_id = mm.bid_id, mm.ask_id
    model.exchange.market(lp, True, 3, purpose=TradePurpose.TAKER)
    assert mm.inventory == -3
    model.step()
    assert mm.bid_id == bid_id
    assert mm.ask_id not in (None, ask_id)
    assert mm.ask_ticks == 10_002
    assert model.book.depth("sell") == [(100.02, 10)]


@pytest.mark.parametrize(
    ("inventory", "bid_quoted", "ask_quoted"),
    [(95, False, True), (-95, True, False), (90, True, True), (-90, True, True)],
)
def test_market_maker_drops_side_that_would_breach_max_inventory(
    inventory: int, bid_quoted: bool, ask_quoted: bool
) -> None:
    """With max_inventory 100 and quote_size 10, a side is quoted only if a full fill stays in."""
    model, mm = _mm_market(inventory=inventory, max_inventory=100)
    model.step()
    bid, ask = mm.quotes()
    assert (bid is not None, ask is not None) == (bid_quoted, ask_quoted)
    assert (model.book.best_bid_ticks() is not None) == bid_quoted
    assert (model.book.best_ask_ticks() is not None) == ask_quoted


def test_market_maker_withdraws_bid_after_fills_reach_the_limit() -> None:
    """Once fills take inventory to the limit, the next requote cancels the bid it had."""
    model, mm = _mm_market(max_inventory=15)
    lp = _member(model, "lp")
    model.step()
    model.exchange.market(
        lp, False, 10, purpose=TradePurpose.TAKER
    )  # hits the 10-lot bid: inventory +10
    model.step()
    assert mm.inventory == 10
    assert mm.quotes()[0] is None
    assert model.book.best_bid_ticks() is None


def test_market_maker_skips_quotes_below_one_tick() -> None:
    """Ho-Stoll at ref 1.00, inventory 100, skew 0.02: both quotes < 0, so none may be sent."""
    policy = {"kind": "ho_stoll", "spread": 0.02, "skew": 0.02}
    model, mm = _mm_market(1.0, policy=policy, inventory=100)
    model.step()
    assert mm.quotes() == (None, None)


def test_volatility_estimate_weight_halves_every_halflife() -> None:
    """EWMA with lam = 0.5 ** (1 / h): h zero changes multiply the variance by exactly 1/2."""
    vol = VolatilityEstimate(given=None, halflife_steps=10, initial=0.2, dt=1.0)
    for _ in range(11):  # the first observation only sets the anchor
        vol.update(100.0)
    assert vol.sigma == pytest.approx(0.2 / math.sqrt(2), rel=1e-12)


def test_volatility_estimate_given_is_constant() -> None:
    """A given volatility ignores the prices fed to it."""
    vol = VolatilityEstimate(given=0.7, halflife_steps=1.0, initial=0.0, dt=1.0)
    for price in (100.0, 90.0, 130.0):
        vol.update(price)
    assert vol.sigma == 0.7


def test_volatility_estimate_converges_to_random_walk_sigma() -> None:
    """Arithmetic walk, increments sigma sqrt(dt) Z: EWMA of d^2 / dt estimates sigma^2.

    Var of the EWMA estimate ~ 2 sigma^4 (1 - lam) / (1 + lam), so sigma has relative sd ~1.3%
    for a 1000-step half-life; 6.5% is 5 standard errors.
    """
    sigma, dt = 0.3, 0.5
    vol = VolatilityEstimate(given=None, halflife_steps=1000, initial=0.01, dt=dt)
    rng = np.random.default_rng(60)
    path = 100.0 + np.cumsum(sigma * math.sqrt(dt) * rng.standard_normal(30_000))
    for price in path:
        vol.update(float(price))
    assert vol.sigma == pytest.approx(sigma, rel=0.065)


def test_market_maker_ewma_tracks_fundamental_sigma() -> None:
    """A market maker quoting around the fundamental estimates its sigma (dt = 0.25).

    Half-life 300 steps: relative sd of the estimate ~2.4%; 12% is 5 standard errors.
    """
    vol = {"kind": "ewma", "halflife_steps": 300, "initial_sigma": 0.01}
    model = _model({"mm": _mm(volatility=vol)}, sigma=0.05, dt=0.25)
    mm = _member(model, "mm")
    assert isinstance(mm, MarketMaker)
    for _ in range(4_000):
        model.step()
    assert mm.volatility.sigma == pytest.approx(0.05, rel=0.12)
