"""Concentrated-liquidity pool (Uniswap v3 style): examples, refused input, properties.

References written here, apart from the pool's integer code: a float walk of the swap over the
positions' ranges (``d(1/sqrt P) = dx / L`` and ``d(sqrt P) = dy / L`` per range), the active
liquidity as a plain sum over positions holding the price, a token ledger of everything paid in
and out, and the constant-product pool for a single full-range position.
"""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.market.amm import ConcentratedLiquidityPool, ConstantProductPool, InvalidPoolActionError
from abm.market.amm.sqrt_price import (
    MAX_TICK,
    MIN_TICK,
    Q96,
    sqrt_price_at_tick,
    tick_at_sqrt_price,
)


def state(pool: ConcentratedLiquidityPool) -> dict[str, object]:
    """Everything the pool keeps, except the cache of tick sqrt prices."""
    return copy.deepcopy({k: v for k, v in vars(pool).items() if k != "_sqrt_cache"})


def naive_sell_output(positions, price, amount_in, fee):
    """Quote out for ``amount_in`` base sold, walking the ranges in floats."""
    net = amount_in * (1 - fee)
    bounds = sorted({1.0001**t for _, lo, hi in positions for t in (lo, hi)}, reverse=True)
    current, out = price, 0.0
    for bound in [*[b for b in bounds if b < current], 0.0]:
        active = sum(
            liq for liq, lo, hi in positions if 1.0001**lo <= current * (1 - 1e-12) < 1.0001**hi
        )
        if active == 0:
            current = bound
            continue
        capacity = (
            math.inf if bound == 0.0 else active * (1 / math.sqrt(bound) - 1 / math.sqrt(current))
        )
        if net <= capacity:
            new_inv = 1 / math.sqrt(current) + net / active
            return out + active * (math.sqrt(current) - 1 / new_inv)
        net -= capacity
        out += active * (math.sqrt(current) - math.sqrt(bound))
        current = bound
    raise AssertionError("ran out of liquidity")


def test_concentrated_sqrt_price_of_ticks():
    """Tick 0 is price 1 exactly; the sqrt price is strictly increasing; ticks invert it."""
    assert sqrt_price_at_tick(0) == Q96
    for tick in (MIN_TICK, -500_000, -1, 0, 1, 46_054, 500_000, MAX_TICK - 1):
        low, high = sqrt_price_at_tick(tick), sqrt_price_at_tick(tick + 1)
        assert low < high
        assert tick_at_sqrt_price(low) == tick and tick_at_sqrt_price(high - 1) == tick
        exact = math.exp(tick * math.log1p(1e-4))  # 1.0001**tick without a power's error
        assert math.isclose((low / Q96) ** 2, exact, rel_tol=1e-11 + 4 / low)


def test_concentrated_deposit_amounts_follow_the_range():
    """Below the range a position holds only base, above it only quote, inside both (whitepaper)."""
    pool = ConcentratedLiquidityPool(100, 3000, 60)
    below = pool.add_liquidity("a", 46_080, 46_200, 10**9)  # range above the price
    above = pool.add_liquidity("b", 45_000, 46_020, 10**9)  # range below the price
    inside = pool.add_liquidity("c", 45_000, 47_040, 10**9)
    assert below.quote == 0 and below.base > 0
    assert above.base == 0 and above.quote > 0
    assert inside.base > 0 and inside.quote > 0
    sqrt_p, sqrt_a, sqrt_b = 10.0, 1.0001 ** (45_000 / 2), 1.0001 ** (47_040 / 2)
    assert 0 <= inside.base - 1e9 * (1 / sqrt_p - 1 / sqrt_b) <= 1  # rounded up
    assert 0 <= inside.quote - 1e9 * (sqrt_p - sqrt_a) <= 1
    assert pool.liquidity == 10**9  # only "c" holds the price


def test_concentrated_full_range_matches_constant_product_without_fee():
    """One full-range position trades as a v2 pool with its reserves (fee 0), within rounding."""
    v3 = ConcentratedLiquidityPool(100, 0, 60)
    lower, upper = v3.full_range()
    deposit = v3.add_liquidity("lp", lower, upper, 10**12)
    v2 = ConstantProductPool(0)
    v2.add_liquidity("lp", deposit.base, deposit.quote)
    trades = [("buy", 10**11), ("sell", 3 * 10**9), ("buy", 7 * 10**12), ("sell", 10**11)]
    for side, amount in trades:
        out3 = v3.swap_exact_input(side, amount).amount_out
        out2 = v2.swap_exact_input(side, amount).amount_out
        assert abs(out3 - out2) <= 2 + 1e-9 * out2
    assert math.isclose(v3.price(), v2.price(), rel_tol=1e-9)


def test_concentrated_swap_crossing_ranges_matches_float_walk():
    """A sell through three overlapping ranges pays what a float walk of the ranges pays."""
    pool = ConcentratedLiquidityPool(100, 3000, 10)
    positions = [(10**10, 45_000, 47_000), (4 * 10**10, 45_900, 46_100), (10**10, 44_000, 46_000)]
    for i, (liq, lo, hi) in enumerate(positions):
        pool.add_liquidity(i, lo, hi, liq)
    for amount in (10**6, 5 * 10**7, 10**8):
        got = pool.quote_exact_input("sell", amount).amount_out
        expected = naive_sell_output(positions, 100.0, amount, 0.003)
        # each range's input is rounded up to a whole base unit, worth up to ~100 quote units
        # at this price: up to 4 ranges walked, never in the trader's favour
        assert expected - 4 * 101 <= got <= expected + 1e-9 * expected
    result = pool.swap_exact_input("sell", 10**8)
    assert pool.tick < 45_900  # crossed the narrow range's lower tick
    assert pool.liquidity == sum(liq for liq, lo, hi in positions if lo <= pool.tick < hi)
    assert result.price_after < 1.0001**45_900


def test_concentrated_fees_go_to_active_positions_pro_rata():
    """Two positions on one range share fees by liquidity; one out of range earns nothing."""
    pool = ConcentratedLiquidityPool(100, 3000, 60)
    pool.add_liquidity("one", 45_000, 47_040, 10**10)
    pool.add_liquidity("three", 45_000, 47_040, 3 * 10**10)
    pool.add_liquidity("idle", 48_000, 48_060, 10**10)
    swap = pool.swap_exact_input("sell", 10**7)
    one = pool.position("one", 45_000, 47_040)
    three = pool.position("three", 45_000, 47_040)
    idle = pool.position("idle", 48_000, 48_060)
    assert one is not None and three is not None and idle is not None
    assert idle.fees_base == idle.fees_quote == 0
    assert one.fees_base + three.fees_base <= swap.fee <= one.fees_base + three.fees_base + 2
    assert abs(three.fees_base - 3 * one.fees_base) <= 3
    assert pool.collect("three", 45_000, 47_040) == (three.fees_base, 0)
    assert pool.position("three", 45_000, 47_040).fees_base == 0


def test_concentrated_exact_output_pays_exactly():
    """An exact-output buy pays out exactly the amount asked, and its input covers the formula."""
    pool = ConcentratedLiquidityPool(100, 3000, 60)
    pool.add_liquidity("lp", 45_000, 47_040, 10**12)
    base_before = pool.reserve_base
    result = pool.swap_exact_output("buy", 10**9)
    assert result.amount_out == 10**9 and pool.reserve_base == base_before - 10**9
    in_for_exact = pool.quote_exact_input("buy", result.amount_in)
    assert in_for_exact.amount_out <= 10**9 + 1


def test_concentrated_price_limit_crosses_empty_ranges():
    """With a limit, a swap takes every range on the way and stops at the limit, past a gap."""
    pool = ConcentratedLiquidityPool(100, 3000, 60)
    pool.add_liquidity("lp", 45_960, 46_080, 10**10)
    result = pool.swap_exact_input("buy", 10**15, price_limit=120.0)
    assert math.isclose(result.price_after, 120.0, rel_tol=1e-12)
    assert pool.liquidity == 0 and pool.reserve_base == 0 + (pool.reserve_base)
    position = pool.position("lp", 45_960, 46_080)
    assert position is not None and position.base == 0  # all sold: the range is below the price


def test_concentrated_depth_reads_like_the_book():
    """Depth levels are on the grid, best first, and buying them costs no more than the levels."""
    pool = ConcentratedLiquidityPool(100, 3000, 60)
    pool.add_liquidity("lp", 45_000, 47_040, 10**11)
    asks = pool.depth("sell", 10, tick_size=0.01)
    bids = pool.depth("buy", 10, tick_size=0.01)
    assert [p for p, _ in asks] == sorted(p for p, _ in asks)
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert asks[0][0] >= 100 / 0.997 > 100 * 0.997 >= bids[0][0]
    total = sum(q for _, q in asks)
    assert pool.quote_exact_output("buy", total).amount_in <= asks[-1][0] * total


def ranged_pool() -> ConcentratedLiquidityPool:
    pool = ConcentratedLiquidityPool(100, 3000, 60)
    pool.add_liquidity("lp", 45_960, 46_200, 10**9)
    return pool


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.add_liquidity("x", 46_200, 45_960, 10), "lower"),
        (lambda p: p.add_liquidity("x", 45_960, 45_960, 10), "lower"),
        (lambda p: p.add_liquidity("x", 45_961, 46_200, 10), "multiples"),
        (lambda p: p.add_liquidity("x", -900_000, 46_200, 10), "tick range"),
        (lambda p: p.add_liquidity("x", 45_960, 46_200, 0), "liquidity"),
        (lambda p: p.add_liquidity("x", 45_960, 46_200, -3), "liquidity"),
        (lambda p: p.add_liquidity("x", 45_960, 46_200, 1.5), "liquidity"),
        (lambda p: p.add_liquidity("x", 45_960.0, 46_200, 10), "lower"),
        (lambda p: p.remove_liquidity("lp", 45_960, 46_200, 10**9 + 1), "liquidity"),
        (lambda p: p.remove_liquidity("x", 45_960, 46_200, 1), "liquidity"),
        (lambda p: p.collect("x", 45_960, 46_200), "owner"),
        (lambda p: p.swap_exact_input("sell", 10**12), "runs out"),
        (lambda p: p.swap_exact_output("buy", 10**12), "runs out"),
        (lambda p: p.swap_exact_input("buy", 0), "amount_in"),
        (lambda p: p.swap_exact_input("buy", float("nan")), "amount_in"),
        (lambda p: p.swap_exact_input("buy", 1), "too small"),
        (lambda p: p.swap_exact_input("up", 10), "side"),
        (lambda p: p.swap_exact_input("sell", 10, price_limit=101.0), "price_limit"),
        (lambda p: p.swap_exact_input("sell", 10, price_limit=float("inf")), "price_limit"),
        (lambda p: p.depth("buy", 5, tick_size=-0.01), "tick_size"),
    ],
)
def test_concentrated_invalid_input_raises_and_leaves_pool_untouched(call, message):
    """Each refused request raises InvalidPoolActionError naming the field; state is unchanged."""
    pool = ranged_pool()
    pool.swap_exact_input("buy", 10**6)  # some fee growth and a moved price
    before = state(pool)
    with pytest.raises(InvalidPoolActionError, match=message):
        call(pool)
    assert state(pool) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"price": 0},
        {"price": float("nan")},
        {"price": 1e40},
        {"price": 1, "fee_pips": -1},
        {"price": 1, "tick_spacing": 0},
    ],
)
def test_concentrated_bad_construction_raises(kwargs):
    """A price outside the tick range, a bad fee or a bad spacing is refused."""
    with pytest.raises(InvalidPoolActionError):
        ConcentratedLiquidityPool(**kwargs)


OPERATIONS = st.lists(
    st.one_of(
        # (kind, owner or position index or side, lower offset or exact input, width or amount, x)
        st.tuples(
            st.just("add"),
            st.integers(0, 3),
            st.integers(-20, 20),
            st.integers(1, 20),
            st.integers(10**6, 10**12),
        ),
        st.tuples(st.just("remove"), st.integers(0, 9), st.just(0), st.just(0), st.floats(0.01, 1)),
        st.tuples(st.just("collect"), st.integers(0, 9), st.just(0), st.just(0), st.just(0)),
        st.tuples(
            st.just("swap"),
            st.sampled_from(["buy", "sell"]),
            st.booleans(),
            st.integers(1, 10**9),
            st.just(0),
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(OPERATIONS, st.sampled_from([0, 500, 3000, 10_000]))
def test_concentrated_range_accounting_holds(operations, fee):
    """Ledger, active liquidity and positions agree with the pool after every operation.

    The pool's balances equal everything paid in minus everything paid out (exact
    conservation), and exceed what all positions could withdraw plus their uncollected fees by
    rounding dust only, in the pool's favour (a few units per operation at most).
    """
    pool = ConcentratedLiquidityPool(100, fee, 60)
    pool.add_liquidity("seed", 45_000, 47_040, 10**11)
    ledger = [pool.reserve_base, pool.reserve_quote]
    done = 1
    for kind, a, b, c, d in operations:
        try:
            if kind == "add":
                lower = 46_020 + 60 * b
                change = pool.add_liquidity(a, lower, lower + 60 * c, d)
                ledger[0] += change.base
                ledger[1] += change.quote
            elif kind in ("remove", "collect"):
                views = pool.positions()
                if not views:
                    continue
                view = views[a % len(views)]
                if kind == "remove":
                    if view.liquidity == 0:
                        continue
                    amount = max(1, int(view.liquidity * d))
                    change = pool.remove_liquidity(view.owner, view.lower, view.upper, amount)
                    ledger[0] -= change.base
                    ledger[1] -= change.quote
                else:
                    fees = pool.collect(view.owner, view.lower, view.upper)
                    ledger[0] -= fees[0]
                    ledger[1] -= fees[1]
            else:
                result = (pool.swap_exact_input if b else pool.swap_exact_output)(a, c)
                base_in = result.amount_in if a == "sell" else -result.amount_out
                quote_in = result.amount_in if a == "buy" else -result.amount_out
                ledger[0] += base_in
                ledger[1] += quote_in
        except InvalidPoolActionError:
            continue
        done += 1
        assert [pool.reserve_base, pool.reserve_quote] == ledger
        views = pool.positions()
        active = sum(v.liquidity for v in views if v.lower <= pool.tick < v.upper)
        assert pool.liquidity == active
        slack_base = pool.reserve_base - sum(v.base + v.fees_base for v in views)
        slack_quote = pool.reserve_quote - sum(v.quote + v.fees_quote for v in views)
        assert 0 <= slack_base <= 4 * done and 0 <= slack_quote <= 4 * done


@settings(max_examples=100, deadline=None)
@given(st.integers(10**3, 10**12), st.sampled_from([0, 500, 3000]), st.integers(-30, 30))
def test_concentrated_round_trip_never_profits(amount, fee, offset):
    """Buying base and selling it straight back returns no more quote than was paid."""
    pool = ConcentratedLiquidityPool(100, fee, 60)
    pool.add_liquidity("wide", 40_020, 52_020, 10**11)
    pool.add_liquidity("narrow", 46_020 + 60 * offset, 46_080 + 60 * offset + 120, 10**12)
    try:
        bought = pool.swap_exact_input("buy", amount)
        sold = pool.swap_exact_input("sell", bought.amount_out)
    except InvalidPoolActionError:
        return
    assert sold.amount_out <= amount


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([0, 500, 3000, 10_000]),
    st.lists(st.tuples(st.booleans(), st.integers(10**3, 10**11)), min_size=1, max_size=8),
)
def test_concentrated_full_range_swaps_like_constant_product(fee, swaps):
    """From one state, a full-range v3 swap pays what the v2 pool pays, within a unit's worth.

    Without fee the two stay together swap after swap; with a fee only the first swap is
    compared, because v2 adds fees to its reserves (more liquidity) and v3 keeps them apart.
    """
    v3 = ConcentratedLiquidityPool(100, fee, 60)
    deposit = v3.add_liquidity("lp", *v3.full_range(), 10**12)
    v2 = ConstantProductPool(fee)
    v2.add_liquidity("lp", deposit.base, deposit.quote)
    for buy, amount in swaps if fee == 0 else swaps[:1]:
        side = "buy" if buy else "sell"
        try:
            out2 = v2.swap_exact_input(side, amount).amount_out
        except InvalidPoolActionError:
            continue
        out3 = v3.swap_exact_input(side, amount).amount_out
        # v3 rounds the input net of fee down to a whole unit: up to one input unit's worth
        assert abs(out3 - out2) <= 2 + out2 / amount + 1e-9 * out2
