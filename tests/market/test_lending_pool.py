"""Lending pool: closed-form accrual, hand-computed liquidations, invariants against a reference."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.market.lending import (
    RAY,
    SECONDS_PER_YEAR,
    BorrowLimitError,
    HealthyAccountError,
    KinkedRateModel,
    LendingError,
    LendingPool,
    RiskParams,
    UnknownAccountError,
)

MODEL = KinkedRateModel.of(base_rate=0.0, slope1=0.04, slope2=0.75, optimal_utilisation=0.8)


def _levered_pool() -> LendingPool:
    pool = LendingPool(MODEL, RiskParams())
    pool.supply("s", 1_000_000)
    pool.deposit_collateral("b", 1000)
    pool.borrow("b", 1500, 2)
    return pool


def test_rate_model_kink_closed_form() -> None:
    """r(U) matches the two-slope formula of Aave v2 at, below and above the kink."""
    assert MODEL.borrow_rate_ray(RAY * 4 // 10) == RAY * 2 // 100
    assert MODEL.borrow_rate_ray(RAY * 8 // 10) == RAY * 4 // 100
    assert MODEL.borrow_rate_ray(RAY * 9 // 10) == RAY * 4 // 100 + RAY * 75 // 200


def test_accrual_borrow_index_matches_exact_product() -> None:
    """The borrow index equals prod(1 + r_b dt) in Fractions (within ceil dust) and ~exp(r t)."""
    pool = _levered_pool()
    exact = Fraction(1)
    dt = 12
    for _ in range(2000):
        result = pool.accrue(dt)
        exact *= 1 + Fraction(result.borrow_rate_ray, RAY) * dt / SECONDS_PER_YEAR
    index = Fraction(pool.borrow_index_ray, RAY)
    assert 0 <= index - exact < Fraction(2000 * 2, RAY)
    # constant rate at this tiny utilisation changes negligibly: compare to exp(r t)
    rate = Fraction(result.borrow_rate_ray, RAY)
    assert math.isclose(
        float(index), math.exp(float(rate) * 2000 * dt / SECONDS_PER_YEAR), rel_tol=1e-9
    )


def test_liquidation_close_factor_and_bonus_hand_case() -> None:
    """At price 1.8: repay ceil(1500 * 50%) = 750, seize floor(750 * 1.05 / 1.8) = 437."""
    pool = _levered_pool()
    result = pool.liquidate("liq", "b", 10_000, Fraction(9, 5))
    assert (result.repaid, result.collateral_seized, result.bad_debt) == (750, 437, 0)
    assert pool.debt_of("b") == 750
    assert pool.collateral_of("b") == 563


def test_liquidation_capped_by_collateral_records_bad_debt() -> None:
    """At price 0.5: seize all 1000, repay ceil(1000 * 0.5 / 1.05) = 477, bad debt 1023."""
    pool = _levered_pool()
    result = pool.liquidate("liq", "b", 750, Fraction(1, 2))
    assert (result.repaid, result.collateral_seized, result.bad_debt) == (477, 1000, 1023)
    assert pool.deficit == 1023
    assert pool.debt_of("b") == 0


def test_refusals_leave_pool_untouched() -> None:
    """Every refused action raises a LendingError and the snapshot is unchanged."""
    pool = _levered_pool()
    before = pool.state()
    with pytest.raises(HealthyAccountError):
        pool.liquidate("liq", "b", 100, 2)
    with pytest.raises(BorrowLimitError):
        pool.borrow("b", 1, 2)
    with pytest.raises(BorrowLimitError):
        pool.withdraw_collateral("b", 100, 2)
    with pytest.raises(UnknownAccountError):
        pool.withdraw("nobody", 1)
    for bad in (0, -1, float("nan"), 1.5, True):
        with pytest.raises(LendingError):
            pool.supply("s", bad)
    assert pool.state() == before


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["supply", "withdraw", "dep", "wcol", "borrow", "repay", "accrue", "liq"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(1, 10**7),
        st.sampled_from([Fraction(1, 2), Fraction(1), Fraction(2), Fraction(3)]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(ACTIONS)
def test_invariants_under_random_actions(actions: list[tuple[str, str, int, Fraction]]) -> None:
    """Conservation (supplied + reserves = cash + borrowed + deficit - dust), monotone indices."""
    pool = LendingPool(MODEL, RiskParams())
    ops = 0
    for kind, who, amount, price in actions:
        before = pool.state()
        index_before = (pool.borrow_index_ray, pool.liquidity_index_ray)
        healthy = who in {a.account for a in before.accounts} and (
            pool.health_factor(who, price) >= 1
        )
        try:
            if kind == "supply":
                pool.supply(who, amount)
            elif kind == "withdraw":
                pool.withdraw(who, amount)
            elif kind == "dep":
                pool.deposit_collateral(who, amount)
            elif kind == "wcol":
                pool.withdraw_collateral(who, amount, price)
            elif kind == "borrow":
                pool.borrow(who, amount, price)
            elif kind == "repay":
                pool.repay(who, amount)
            elif kind == "accrue":
                pool.accrue(amount % 100_000 + 1)
            else:
                pool.liquidate("liq", who, amount, price)
                assert not healthy
            ops += 1
        except LendingError:
            assert pool.state() == before
        assert (pool.borrow_index_ray, pool.liquidity_index_ray) >= index_before
        assert pool.borrow_index_ray >= index_before[0]
        assert pool.liquidity_index_ray >= index_before[1]
        slack = pool.cash + pool.total_borrowed + pool.deficit - pool.reserves - pool.total_supplied
        assert 0 <= slack <= 3 * ops + 3
