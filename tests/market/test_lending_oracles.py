"""Lending oracles: a hand-computed TWAP, a naive integral reference, the push rule, the delay.

The TWAP is checked against the Uniswap v2 definition written out by hand (a piecewise-constant
price integrated over the window) and against a brute-force integral in exact rationals; the
push feed against Chainlink's documented rule (deviation threshold or heartbeat); the
manipulation test against ``push * dt / window``, the bound the cumulative-price design gives.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from abm.market.lending import LendingError
from abm.market.lending.oracles import (
    Q112,
    AmmTwapOracleSpec,
    DelayedOracle,
    LatestPriceOracle,
    OracleSpec,
    PushOracle,
    PushOracleSpec,
    TwapOracle,
)

SPECS: TypeAdapter[object] = TypeAdapter(OracleSpec)


def test_twap_hand_computed_case() -> None:
    """Window 30 s, 160 over (10, 20] and 100 elsewhere: readings 100, 120, 120, 110 by hand."""
    oracle = TwapOracle(30)
    assert oracle.observe(0, 100) == 100  # no time elapsed: the first price
    assert oracle.observe(10, 100) == 100  # (-20, 0] at the first price, (0, 10] at 100
    # 160 held over (10, 20]: (100 * 20 + 160 * 10) / 30 = 120
    assert oracle.observe(20, 160) == 120
    # (0, 30]: 100 * 10 + 160 * 10 + 100 * 10 = 3600 over 30
    assert oracle.observe(30, 100) == 120
    # (15, 45]: 160 * 5 + 100 * 10 + 100 * 15 = 3300 over 30
    assert oracle.observe(45, 100) == 110
    assert oracle.price == 110


def _naive_twap(observations: list[tuple[int, Fraction]], window: int) -> Fraction:
    """Integrate the price over (t - window, t] piece by piece, in exact rationals."""
    now = observations[-1][0]
    start = now - window
    first_time, first_price = observations[0]
    total = first_price * max(0, min(first_time, now) - start)  # before the history
    for (t0, _), (t1, price) in itertools.pairwise(observations):
        overlap = min(t1, now) - max(t0, start)
        if overlap > 0:
            total += price * overlap
    return total / window


OBSERVATIONS = st.lists(
    st.tuples(
        st.integers(1, 50),
        st.fractions(min_value=Fraction(1, 1000), max_value=10_000, max_denominator=10**6),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(OBSERVATIONS, st.integers(1, 400), st.integers(0, 1000))
def test_twap_matches_naive_integral(
    steps: list[tuple[int, Fraction]], window: int, start: int
) -> None:
    """Every reading is the exact window integral, less under 2**-112 (the UQ112 floors)."""
    oracle = TwapOracle(window)
    observations: list[tuple[int, Fraction]] = []
    time = start
    for gap, price in steps:
        observations.append((time, price))
        reading = oracle.observe(time, price)
        exact = _naive_twap(observations, window)
        assert 0 <= exact - reading < Fraction(1, Q112)
        time += gap


def test_twap_one_block_push_moves_short_window_not_long() -> None:
    """A one-block push 100 -> 200 moves spot and a 12 s TWAP to 200, a 1800 s TWAP by 0.667."""
    spot, short, long = LatestPriceOracle(), TwapOracle(12), TwapOracle(1800)
    block = 12
    prices = [100] * 200 + [200] + [100] * 3  # the block at 200 is reverted by the next
    readings: dict[str, list[Fraction]] = {"spot": [], "short": [], "long": []}
    for index, price in enumerate(prices):
        for name, oracle in (("spot", spot), ("short", short), ("long", long)):
            readings[name].append(oracle.observe(index * block, price))
    pushed = 200
    assert readings["spot"][pushed] == 200
    assert readings["short"][pushed] == 200
    # 200 held for one 12 s block of a 1800 s window: 100 + 100 * 12 / 1800
    assert readings["long"][pushed] == 100 + Fraction(100 * 12, 1800)
    assert float(readings["long"][pushed]) == pytest.approx(100.6667, abs=1e-4)
    # once reverted, the short window forgets the push at once, the long one keeps it
    assert readings["short"][pushed + 1] == 100
    assert readings["long"][pushed + 1] == readings["long"][pushed]


def test_twap_long_window_delays_a_real_move() -> None:
    """A lasting fall 100 -> 70 shows in a 60 s TWAP after 60 s, in a 600 s one only half-way."""
    short, long = TwapOracle(60), TwapOracle(600)
    for index in range(100):
        short.observe(index * 12, 100)
        long.observe(index * 12, 100)
    for index in range(100, 125):  # 70 holds for 25 blocks of 12 s = 300 s
        short.observe(index * 12, 70)
        long.observe(index * 12, 70)
    assert short.price == 70
    assert long.price == Fraction(100 * 300 + 70 * 300, 600)  # 85


def test_push_oracle_deviation_and_heartbeat_rule() -> None:
    """1% threshold, 3600 s heartbeat: publish at 0, at exactly 1% off, then on the heartbeat."""
    oracle = PushOracle(deviation_bps=100, heartbeat_s=3600)
    sequence = [
        (0, Fraction(100), True, Fraction(100)),  # the first observation always publishes
        (60, Fraction(201, 2), False, Fraction(100)),  # 0.5% off
        (120, Fraction(101), True, Fraction(101)),  # exactly 1% off: >= publishes
        (180, Fraction(201, 2), False, Fraction(101)),  # 0.495% off
        (3719, Fraction(201, 2), False, Fraction(101)),  # 3599 s since the update
        (3720, Fraction(201, 2), True, Fraction(201, 2)),  # heartbeat due
    ]
    for time, price, updated, reading in sequence:
        assert oracle.observe(time, price) == reading
        assert oracle.updated is updated
    assert oracle.last_update_s == 3720


def test_push_oracle_zero_threshold_publishes_every_observation() -> None:
    """deviation_bps = 0 makes the feed the latest price (|p/last - 1| >= 0 always holds)."""
    oracle = PushOracle(0, 10**6)
    for time, price in enumerate([100, 100, 99, 101]):
        assert oracle.observe(time, price) == price
        assert oracle.updated


def test_delayed_oracle_reports_delay_steps_back() -> None:
    """Delay 2 over observations 1..5 reads 1, 1, 1, 2, 3; delay 0 is the latest."""
    delayed, now = DelayedOracle(2), DelayedOracle(0)
    readings = [(delayed.observe(t, t + 1), now.observe(t, t + 1)) for t in range(5)]
    assert [r for r, _ in readings] == [1, 1, 1, 2, 3]
    assert [r for _, r in readings] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("time", "price", "field"),
    [
        (10, math.nan, "price"),
        (10, 0, "price"),
        (10, -1.5, "price"),
        (10, math.inf, "price"),
        (10, "100", "price"),
        (5, 100, "time_s"),  # equal to the last observation
        (4, 100, "time_s"),  # earlier
        (10.0, 100, "time_s"),
        (True, 100, "time_s"),
    ],
)
def test_oracles_refuse_bad_observation_unchanged(time: object, price: object, field: str) -> None:
    """A bad observation raises LendingError naming the field; the reading is unchanged."""
    for oracle in (LatestPriceOracle(), TwapOracle(30), DelayedOracle(1), PushOracle(50, 60)):
        oracle.observe(0, 90)
        oracle.observe(5, 100)
        before = oracle.price
        with pytest.raises(LendingError, match=f"^{field}:"):
            oracle.observe(time, price)
        assert oracle.price == before
        oracle.observe(6, 100)  # the clock did not move either


def test_oracles_refuse_bad_parameters_and_unread_price() -> None:
    """Bad window, delay, threshold or heartbeat raise LendingError naming it; so does price."""
    for build, field in (
        (lambda: TwapOracle(0), "window_s"),
        (lambda: TwapOracle(1.5), "window_s"),
        (lambda: DelayedOracle(-1), "delay_steps"),
        (lambda: PushOracle(10_001, 60), "deviation_bps"),
        (lambda: PushOracle(-1, 60), "deviation_bps"),
        (lambda: PushOracle(50, 0), "heartbeat_s"),
    ):
        with pytest.raises(LendingError, match=f"^{field}:"):
            build()
    with pytest.raises(LendingError, match=r"^price:"):
        _ = TwapOracle(10).price


def test_oracle_specs_build_by_kind_and_refuse_bad_fields() -> None:
    """The discriminated specs build the right oracle; bad kinds and fields fail validation."""
    twap = SPECS.validate_python({"kind": "amm_twap", "window_s": 1800})
    assert isinstance(twap, AmmTwapOracleSpec) and twap.observes == "amm"
    built = twap.build()
    assert isinstance(built, TwapOracle) and built.window_s == 1800
    push = SPECS.validate_python({"kind": "push"})
    assert isinstance(push, PushOracleSpec)
    assert (push.deviation_bps, push.heartbeat_s, push.observes) == (50, 3600, "book")
    assert isinstance(SPECS.validate_python({"kind": "book_mid"}).build(), LatestPriceOracle)
    delayed = SPECS.validate_python({"kind": "delayed_fundamental", "delay_steps": 3}).build()
    assert isinstance(delayed, DelayedOracle) and delayed.delay_steps == 3
    for bad in (
        {"kind": "amm_twap", "window_s": 0},
        {"kind": "amm_twap", "window_s": True},
        {"kind": "amm_twap"},
        {"kind": "push", "deviation_bps": 10_001},
        {"kind": "push", "source": "cex"},
        {"kind": "book_mid", "window_s": 5},
        {"kind": "median"},
    ):
        with pytest.raises(ValidationError):
            SPECS.validate_python(bad)
