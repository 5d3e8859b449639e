"""Tests for the call-auction price (`abm.market.auction.clearing_price`).

Reference: the ordered criteria of a call market's equilibrium price (Madhavan 1992; the
opening-auction rules of Euronext and Xetra), checked against a naive scan of every price.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from abm.market.auction import AuctionResult, clearing_price

Orders = list[tuple[int | None, int]]


def _naive(bids: Orders, asks: Orders, reference: int) -> AuctionResult | None:
    """Every price from 1 to past the highest limit, scored by the four criteria in turn."""
    top = max([p for p, _ in bids + asks if p is not None] + [reference]) + 2
    best = None
    for price in range(1, top):
        demand = sum(q for p, q in bids if p is None or p >= price)
        supply = sum(q for p, q in asks if p is None or p <= price)
        volume = min(demand, supply)
        if volume:
            key = (-volume, abs(demand - supply), abs(price - reference), price)
            best = key if best is None or key < best else best
    return None if best is None else AuctionResult(best[3], -best[0])


def test_clearing_price_maximises_volume() -> None:
    """Bids 10@102, 10@100; asks 5@99, 10@101: 10 lots at 101 and 102; 101 is nearer 100."""
    result = clearing_price([(102, 10), (100, 10)], [(99, 5), (101, 10)], 100)
    assert result == AuctionResult(101, 10)


def test_clearing_price_market_orders_against_bids_walk_to_the_last_needed_bid() -> None:
    """57 lots of market sells against 49@98 and 10@96 clear at 96, all 57 executed."""
    assert clearing_price([(98, 49), (96, 10)], [(None, 57)], 100) == AuctionResult(96, 57)


def test_clearing_price_only_market_orders_clear_at_the_reference() -> None:
    """With no limit price at all, the reference is the price."""
    assert clearing_price([(None, 3)], [(None, 5)], 400) == AuctionResult(400, 3)


def test_clearing_price_nothing_crosses_is_none() -> None:
    """Every bid below every ask, or one side empty: no auction trade."""
    assert clearing_price([(99, 5)], [(100, 5)], 100) is None
    assert clearing_price([], [(None, 5)], 100) is None


@given(
    bids=st.lists(st.tuples(st.none() | st.integers(1, 40), st.integers(1, 9)), max_size=8),
    asks=st.lists(st.tuples(st.none() | st.integers(1, 40), st.integers(1, 9)), max_size=8),
    reference=st.integers(1, 40),
)
def test_clearing_price_matches_a_naive_scan(bids: Orders, asks: Orders, reference: int) -> None:
    """The candidate-price search finds what scanning every tick finds."""
    assert clearing_price(bids, asks, reference) == _naive(bids, asks, reference)
