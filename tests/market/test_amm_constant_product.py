"""Constant-product pool (Uniswap v2): examples, refused input, and properties against a reference.

The naive reference is the whitepaper's formula ``dy = y dx (1 - f) / (x + dx (1 - f))`` in
exact rationals, rounded down, written here independently of the pool's integer code.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.market.amm import ConstantProductPool, InvalidPoolActionError
from abm.market.orderbook import OrderBook

FEES = st.sampled_from([0, 1, 500, 3000, 10_000, 250_000])
RESERVES = st.integers(min_value=1_000, max_value=10**15)


def naive_output(reserve_in: int, reserve_out: int, amount_in: int, fee_pips: int) -> int:
    """The v2 formula in exact rationals, rounded down (the trader never gets a fraction)."""
    net = amount_in * (1 - Fraction(fee_pips, 1_000_000))
    return math.floor(reserve_out * net / (reserve_in + net))


def make_pool(base: int, quote: int, fee_pips: int = 3000) -> ConstantProductPool:
    pool = ConstantProductPool(fee_pips)
    pool.add_liquidity("lp", base, quote)
    return pool


def state(pool: ConstantProductPool) -> tuple[object, ...]:
    return (pool.reserve_base, pool.reserve_quote, pool.total_shares, dict(pool._shares))


def test_constant_product_exact_input_matches_whitepaper_example():
    """1e6 quote into 1e6 base / 1e8 quote at 0.30%: floor(1e6 * 997e3 / (1e8 + 997e3)) base."""
    pool = make_pool(1_000_000, 100_000_000)
    result = pool.swap_exact_input("buy", 1_000_000)
    assert result.amount_out == 1_000_000 * 997_000 // (100_000_000 + 997_000) == 9871
    assert (pool.reserve_base, pool.reserve_quote) == (990_129, 101_000_000)
    assert result.fee == 3000 and result.price_before == 100.0


def test_constant_product_first_deposit_mints_geometric_mean():
    """The first deposit mints isqrt(base * quote) shares (Uniswap v2, less its locked minimum)."""
    pool = ConstantProductPool()
    change = pool.add_liquidity("a", 4_000, 9_000_000)
    assert change.liquidity == math.isqrt(4_000 * 9_000_000) == pool.shares("a")


def test_constant_product_later_deposit_is_proportional_and_rounded_up():
    """A later deposit takes amounts in the reserve ratio, rounded up, never above the maxima."""
    pool = make_pool(1_000, 3_001)
    change = pool.add_liquidity("b", 10, 1_000)
    total_before = math.isqrt(1_000 * 3_001)
    assert change.liquidity == 10 * total_before // 1_000
    assert change.base == -(-change.liquidity * 1_000 // total_before) <= 10
    assert change.quote == -(-change.liquidity * 3_001 // total_before) <= 1_000


def test_constant_product_withdrawal_of_all_shares_empties_pool():
    """Burning every share pays out both reserves exactly."""
    pool = make_pool(1_000, 3_001)
    pool.swap_exact_input("sell", 17)
    base, quote = pool.reserve_base, pool.reserve_quote
    change = pool.remove_liquidity("lp", pool.shares("lp"))
    assert (change.base, change.quote) == (base, quote)
    assert (pool.reserve_base, pool.reserve_quote, pool.total_shares) == (0, 0, 0)
    assert pool.price() is None


def test_constant_product_quote_changes_nothing():
    """A quote is the swap's record without the swap."""
    pool = make_pool(10**6, 10**8)
    before = state(pool)
    quoted = pool.quote_exact_input("sell", 5_000)
    assert state(pool) == before
    assert pool.swap_exact_input("sell", 5_000) == quoted


def test_constant_product_price_limit_stops_at_limit():
    """A buy with a price limit ends at or below it, and one more unit of input would pass it."""
    pool = make_pool(10**9, 10**11)
    result = pool.swap_exact_input("buy", 10**12, price_limit=104.0)
    assert Fraction(pool.reserve_quote, pool.reserve_base) <= 104
    assert result.amount_in < 10**12
    more = result.amount_in + 1
    out = naive_output(10**11, 10**9, more, pool.fee_pips)
    assert Fraction(10**11 + more, 10**9 - out) > 104


def test_constant_product_price_limit_already_reached_trades_nothing():
    """A limit equal to the pool price gives a swap of nothing."""
    pool = make_pool(10**6, 10**8)
    result = pool.swap_exact_input("sell", 10**6, price_limit=100.0)
    assert (result.amount_in, result.amount_out) == (0, 0)
    assert pool.reserve_base == 10**6


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.swap_exact_input("buy", 0), "amount_in"),
        (lambda p: p.swap_exact_input("buy", -5), "amount_in"),
        (lambda p: p.swap_exact_input("buy", 2.0), "amount_in"),
        (lambda p: p.swap_exact_input("buy", float("nan")), "amount_in"),
        (lambda p: p.swap_exact_input("buy", True), "amount_in"),
        (lambda p: p.swap_exact_input("hold", 10), "side"),
        (lambda p: p.swap_exact_input("buy", 1), "too small"),
        (lambda p: p.swap_exact_input("buy", 10, price_limit=50.0), "price_limit"),
        (lambda p: p.swap_exact_input("buy", 10, price_limit=float("nan")), "price_limit"),
        (lambda p: p.swap_exact_input("sell", 10, price_limit=-1.0), "price_limit"),
        (lambda p: p.swap_exact_output("buy", 1_000_000), "amount_out"),
        (lambda p: p.swap_exact_output("sell", 10**9), "amount_out"),
        (lambda p: p.swap_exact_output("sell", 0), "amount_out"),
        (lambda p: p.add_liquidity("x", 0, 10), "base_max"),
        (lambda p: p.add_liquidity("x", 10, -1), "quote_max"),
        (lambda p: p.add_liquidity("x", 1, 1), "too small"),
        (lambda p: p.remove_liquidity("lp", 10**12), "shares"),
        (lambda p: p.remove_liquidity("nobody", 1), "shares"),
        (lambda p: p.depth("sell", -1, tick_size=0.01), "levels"),
        (lambda p: p.depth("sell", 3, tick_size=0.0), "tick_size"),
    ],
)
def test_constant_product_invalid_input_raises_and_leaves_pool_untouched(call, message):
    """Each refused request raises InvalidPoolActionError naming the field; state is unchanged."""
    pool = make_pool(1_000_000, 100_000_000)
    before = state(pool)
    with pytest.raises(InvalidPoolActionError, match=message):
        call(pool)
    assert state(pool) == before


def test_constant_product_empty_pool_refuses_swaps():
    """A pool without liquidity refuses a swap with a typed error."""
    with pytest.raises(InvalidPoolActionError, match="no liquidity"):
        ConstantProductPool().swap_exact_input("buy", 10)


@pytest.mark.parametrize("fee", [-1, 1_000_000, 0.003, "3000"])
def test_constant_product_bad_fee_raises(fee):
    """A fee outside [0, 1e6) pips, or not an integer, is refused."""
    with pytest.raises(InvalidPoolActionError, match="fee_pips"):
        ConstantProductPool(fee)


def test_constant_product_depth_reads_like_the_book():
    """Depth is (price, qty) levels on the tick grid, best first, as OrderBook.depth gives."""
    pool = make_pool(10**6, 10**8)
    asks = pool.depth("sell", 5, tick_size=0.01)
    bids = pool.depth("buy", 5, tick_size=0.01)
    book = OrderBook(tick_size=0.01)
    for price, qty in asks:
        book.limit("amm", "sell", price, qty)
    for price, qty in bids:
        book.limit("amm", "buy", price, qty)
    assert book.depth("sell", 5) == asks and book.depth("buy", 5) == bids
    assert asks[0][0] >= 100.0 / 0.997 and bids[0][0] <= 100.0 * 0.997


def test_constant_product_depth_is_what_a_trade_gets():
    """Buying the cumulative ask quantity costs at most its last level price per unit (all in)."""
    pool = make_pool(10**8, 10**10)
    asks = pool.depth("sell", 20, tick_size=0.05)
    bids = pool.depth("buy", 20, tick_size=0.05)
    cum_ask = sum(qty for _, qty in asks)
    cum_bid = sum(qty for _, qty in bids)
    cost = pool.quote_exact_output("buy", cum_ask)
    assert cost.amount_in <= asks[-1][0] * cum_ask
    # one more tick's worth pushes the average past the level before the last
    assert cost.amount_in > asks[-2][0] * cum_ask * 0.99
    proceeds = pool.quote_exact_input("sell", cum_bid)
    assert proceeds.amount_out >= bids[-1][0] * cum_bid


@settings(max_examples=150, deadline=None)
@given(RESERVES, RESERVES, FEES, st.integers(1, 10**16), st.booleans())
def test_constant_product_exact_input_matches_reference(base, quote, fee, amount, buy):
    """Output equals the rounded-down rational formula; k never decreases; tokens are conserved."""
    pool = make_pool(base, quote, fee)
    x, y = pool.reserve_base, pool.reserve_quote
    side = "buy" if buy else "sell"
    expected = naive_output(y, x, amount, fee) if buy else naive_output(x, y, amount, fee)
    if expected == 0:
        with pytest.raises(InvalidPoolActionError):
            pool.swap_exact_input(side, amount)
        return
    result = pool.swap_exact_input(side, amount)
    assert result.amount_out == expected
    if buy:
        assert (pool.reserve_base, pool.reserve_quote) == (x - expected, y + amount)
    else:
        assert (pool.reserve_base, pool.reserve_quote) == (x + amount, y - expected)
    assert pool.reserve_base * pool.reserve_quote >= x * y


@settings(max_examples=150, deadline=None)
@given(RESERVES, RESERVES, FEES, st.integers(1, 10**15), st.booleans())
def test_constant_product_exact_output_is_least_sufficient_input(base, quote, fee, amount, buy):
    """The exact-output input is the smallest input whose exact-input output covers the amount."""
    pool = make_pool(base, quote, fee)
    x, y = pool.reserve_base, pool.reserve_quote
    reserve_in, reserve_out = (y, x) if buy else (x, y)
    side = "buy" if buy else "sell"
    if amount >= reserve_out:
        with pytest.raises(InvalidPoolActionError):
            pool.swap_exact_output(side, amount)
        return
    result = pool.swap_exact_output(side, amount)
    assert naive_output(reserve_in, reserve_out, result.amount_in, fee) >= amount
    assert naive_output(reserve_in, reserve_out, result.amount_in - 1, fee) < amount
    assert pool.reserve_base * pool.reserve_quote >= x * y


@settings(max_examples=150, deadline=None)
@given(RESERVES, RESERVES, FEES, st.integers(1, 10**14))
def test_constant_product_round_trip_never_profits(base, quote, fee, amount):
    """Buying base and selling it straight back returns no more quote than was paid."""
    pool = make_pool(base, quote, fee)
    try:
        bought = pool.swap_exact_input("buy", amount)
        sold = pool.swap_exact_input("sell", bought.amount_out)
    except InvalidPoolActionError:
        return  # too small to trade one unit either way: nothing to round-trip
    assert sold.amount_out <= amount


@settings(max_examples=100, deadline=None)
@given(RESERVES, RESERVES, st.integers(1_000, 10**12), st.integers(1_000, 10**12))
def test_constant_product_share_value_never_decreases(base, quote, add_base, add_quote):
    """Deposits and withdrawals round in the pool's favour: k / shares**2 does not fall."""
    pool = make_pool(base, quote)
    ratio = Fraction(pool.reserve_base * pool.reserve_quote, pool.total_shares**2)
    try:
        change = pool.add_liquidity("b", add_base, add_quote)
    except InvalidPoolActionError:
        return
    after_add = Fraction(pool.reserve_base * pool.reserve_quote, pool.total_shares**2)
    pool.remove_liquidity("b", change.liquidity)
    after_remove = Fraction(pool.reserve_base * pool.reserve_quote, pool.total_shares**2)
    assert ratio <= after_add <= after_remove


@settings(max_examples=150, deadline=None)
@given(RESERVES, RESERVES, FEES, st.floats(1.0001, 50.0), st.booleans())
def test_constant_product_price_limit_is_the_largest_input_within(base, quote, fee, move, buy):
    """With a limit, the input is the largest whose swap keeps the price within it (reference)."""
    pool = make_pool(base, quote, fee)
    x, y = pool.reserve_base, pool.reserve_quote
    limit = Fraction(y, x) * Fraction(move) if buy else Fraction(y, x) / Fraction(move)

    def within(amount: int) -> bool:
        if buy:
            out = naive_output(y, x, amount, fee)
            return out < x and Fraction(y + amount, x - out) <= limit
        out = naive_output(x, y, amount, fee)
        return out < y and Fraction(y - out, x + amount) >= limit

    result = pool.quote_exact_input("buy" if buy else "sell", 10**30, price_limit=limit)
    if result.amount_in == 0:
        assert not within(1) or naive_output(*((y, x) if buy else (x, y)), 1, fee) == 0
        return
    assert within(result.amount_in) and not within(result.amount_in + 1)
