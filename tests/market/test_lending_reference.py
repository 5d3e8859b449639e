"""The integer lending pool against a naive exact reference in `fractions.Fraction`.

`ExactPool` keeps every balance as an exact rational: no scaled units, no indices, no
rounding. Both pools take the same random sequence of supply, withdraw, collateral, borrow,
repay, accrue and liquidate actions; the reference is given the integer pool's token flows
(the amounts a liquidation repaid and seized, the rate an accrual applied; the rate model is
checked against its closed form in test_lending_pool.py) and computes the claims they create
exactly. The checks, after every action:

* cash and collateral are equal (the same integers moved);
* every debt is at least the exact one (borrowers never owe less: rounding favours the pool)
  and above it by less than one scaled unit per debt action plus the final round-up;
* every supplier's claim is within a few units per action of the exact one (the dust interest
  the integer debts carry is paid to suppliers, so this side is two-sided);
* a liquidation seizes no more than ``repaid * (1 + bonus) / price`` and, when it takes all the
  collateral, repays at least its value over ``1 + bonus``, each within one unit;
* the integer pool never allows a borrow or liquidation the exact pool would refuse.

Random sequences seldom crash the price under a large loan, so a second strategy does: both
borrowers borrow near their limit at a price of 3, then liquidations run at 2 down to 1/2 (a
third of its examples take all the collateral and write debt off). Flooring a borrow's scaled
units, or rounding a seizure up, fails these tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from abm.market.lending import (
    BPS,
    RAY,
    SECONDS_PER_YEAR,
    HealthyAccountError,
    KinkedRateModel,
    LendingError,
    LendingPool,
    RiskParams,
)

MODEL = KinkedRateModel.of(base_rate=0.01, slope1=0.04, slope2=0.75, optimal_utilisation=0.8)
RISK = RiskParams()


@dataclass
class ExactPool:
    """A lending pool in exact rationals: balances are claims, interest multiplies them."""

    risk: RiskParams
    cash: Fraction = Fraction(0)
    reserves: Fraction = Fraction(0)
    deficit: Fraction = Fraction(0)
    surplus: Fraction = Fraction(0)  # repayments above the exact debt (the integer pool's dust)
    bad_debt: Fraction = Fraction(0)
    supply: dict[str, Fraction] = field(default_factory=dict)
    debt: dict[str, Fraction] = field(default_factory=dict)
    collateral: dict[str, int] = field(default_factory=dict)

    def health(self, who: str, price: Fraction) -> Fraction | None:
        debt = self.debt.get(who, Fraction(0))
        if debt == 0:
            return None
        threshold = Fraction(self.risk.liquidation_threshold_bps, BPS)
        return self.collateral.get(who, 0) * price * threshold / debt

    def deposit(self, who: str, amount: int) -> None:
        self.supply[who] = self.supply.get(who, Fraction(0)) + amount
        self.cash += amount

    def withdraw(self, who: str, amount: int) -> None:
        self.supply[who] -= amount
        self.cash -= amount

    def add_collateral(self, who: str, amount: int) -> None:
        self.collateral[who] = self.collateral.get(who, 0) + amount

    def remove_collateral(self, who: str, amount: int) -> None:
        self.collateral[who] -= amount

    def borrow(self, who: str, amount: int) -> None:
        self.debt[who] = self.debt.get(who, Fraction(0)) + amount
        self.cash -= amount

    def repay(self, who: str, amount: int) -> None:
        owed = self.debt[who]
        if amount >= owed:
            self.surplus += amount - owed
            self.debt[who] = Fraction(0)
        else:
            self.debt[who] = owed - amount
        self.cash += amount

    def accrue(self, rate: Fraction, dt: int, suppliers: bool) -> None:
        growth = rate * dt / SECONDS_PER_YEAR
        interest = sum(self.debt.values(), Fraction(0)) * growth
        for who in self.debt:
            self.debt[who] *= 1 + growth
        claims = sum(self.supply.values(), Fraction(0))
        if suppliers and claims > 0:
            kept = interest * Fraction(self.risk.reserve_factor_bps, BPS)
            for who in self.supply:
                self.supply[who] += (interest - kept) * self.supply[who] / claims
            self.reserves += kept
        else:
            self.reserves += interest

    def write_off(self, who: str) -> Fraction:
        lost = self.debt[who]
        self.debt[who] = Fraction(0)
        absorbed = min(self.reserves, lost)
        self.reserves -= absorbed
        self.deficit += lost - absorbed
        self.bad_debt += lost
        return lost


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["supply", "withdraw", "dep", "wcol", "borrow", "repay", "accrue", "liq"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(1, 1000),  # thousandths of the largest amount that makes sense now
        st.sampled_from([Fraction(3), Fraction(2), Fraction(7, 4), Fraction(1), Fraction(1, 2)]),
    ),
    max_size=60,
)


def _amount(pool: LendingPool, kind: str, who: str, share: int, price: Fraction) -> int:
    """An amount for the action: ``share`` thousandths of the most that makes sense now.

    Amounts relative to the state reach borrows, repayments and liquidations that succeed as
    well as refusals (a share of 1000 asks for a little more than allowed, or exactly it).
    """
    state = {a.account: a for a in pool.state().accounts}
    if kind in ("supply", "dep"):
        cap = 10**7
    elif who not in state:
        cap = 10
    elif kind == "withdraw":
        cap = pool.supplied_of(who) + 1
    elif kind == "wcol":
        cap = pool.collateral_of(who) + 1
    elif kind == "borrow":
        limit = pool.collateral_of(who) * price * Fraction(RISK.collateral_factor_bps, BPS)
        cap = min(pool.cash, int(limit) - pool.debt_of(who)) + 1
    elif kind == "repay":
        cap = pool.debt_of(who) * 11 // 10 + 1
    elif kind == "accrue":
        cap = 10**6
    else:
        cap = pool.debt_of(who) * 3 // 4 + 1
    return max(1, cap * share // 1000)


def _setup(pool: LendingPool, exact: ExactPool) -> None:
    """Account a supplies, b and c post collateral, so most actions have a position to act on."""
    pool.supply("a", 5_000_000)
    exact.deposit("a", 5_000_000)
    for who in ("b", "c"):
        pool.deposit_collateral(who, 1_000_000)
        exact.add_collateral(who, 1_000_000)


@dataclass
class Budget:
    """How far the integer pool may drift from the exact one, grown action by action.

    Debts: under one scaled unit per debt action (each mints up or burns down one unit at
    most). Claims and the protocol's reserves: one scaled unit per supply or withdrawal, and per
    accrual ``excess * growth + 2`` (the interest on the debts' dust, a round-up of the reserves'
    share and of the total debt) on top of the earlier drift scaled by the block's growth.
    """

    debt_ops: dict[str, int] = field(default_factory=dict)
    claim_ops: dict[str, int] = field(default_factory=dict)
    accrual: Fraction = Fraction(0)
    write_off: Fraction = Fraction(0)

    def count(self, ops: dict[str, int], who: str) -> None:
        ops[who] = ops.get(who, 0) + 1

    def accrue(self, pool: LendingPool, exact: ExactPool, rate: Fraction, dt: int) -> None:
        growth = rate * dt / SECONDS_PER_YEAR
        debts = sum(exact.debt.values(), Fraction(0))
        claims = sum(exact.supply.values(), Fraction(0))
        excess = _internal_debt(pool) - debts
        ratio = max(Fraction(1), debts / claims) if claims > 0 else Fraction(1)
        self.accrual = self.accrual * (1 + 2 * growth * ratio) + excess * growth + 2


def _internal_debt(pool: LendingPool) -> Fraction:
    return Fraction(pool.state().scaled_debt * pool.borrow_index_ray, RAY)


# A crash: b and c borrow near their limit at a price of 3, interest accrues, random actions
# follow, then liquidations at prices from 2 down to 1/2. Below about 1.2 (a quarter of the
# collateral's value at borrowing) one liquidation takes all the collateral and writes the rest
# of the debt off, so these sequences reach the capped seizure and bad debt branches that random
# sequences seldom do.
CRASH = st.tuples(
    st.tuples(st.just("borrow"), st.just("b"), st.integers(500, 1000), st.just(Fraction(3))),
    st.tuples(st.just("borrow"), st.just("c"), st.integers(500, 1000), st.just(Fraction(3))),
    st.lists(
        st.tuples(st.just("accrue"), st.just("a"), st.integers(1, 1000), st.just(Fraction(3))),
        max_size=3,
    ),
    ACTIONS.map(lambda actions: actions[:10]),
    st.lists(
        st.tuples(
            st.just("liq"),
            st.sampled_from(["b", "c"]),
            st.integers(1, 1000),
            st.sampled_from([Fraction(1, 2), Fraction(2, 3), Fraction(1), Fraction(2)]),
        ),
        min_size=1,
        max_size=8,
    ),
).map(lambda parts: [*parts[:2], *[action for part in parts[2:] for action in part]])


@settings(max_examples=200, deadline=None)
@given(ACTIONS)
def test_integer_pool_tracks_exact_reference(
    actions: list[tuple[str, str, int, Fraction]],
) -> None:
    """Cash and collateral equal; debts >= exact; every drift within the rounding budget."""
    _run(actions)


@settings(max_examples=100, deadline=None)
@given(CRASH)
def test_integer_pool_tracks_exact_reference_through_a_crash(
    actions: list[tuple[str, str, int, Fraction]],
) -> None:
    """The same checks over liquidations after a price fall, capped seizures and bad debt."""
    _run(actions)


def _run(actions: list[tuple[str, str, int, Fraction]]) -> None:
    pool, exact, budget = LendingPool(MODEL, RISK), ExactPool(RISK), Budget()
    _setup(pool, exact)
    bonus = Fraction(BPS + RISK.liquidation_bonus_bps, BPS)
    for kind, who, share, price in actions:
        amount = _amount(pool, kind, who, share, price)
        held = {a.account for a in pool.state().accounts}
        try:
            if kind == "supply":
                pool.supply(who, amount)
                exact.deposit(who, amount)
                budget.count(budget.claim_ops, who)
            elif kind == "withdraw":
                pool.withdraw(who, amount)
                exact.withdraw(who, amount)
                budget.count(budget.claim_ops, who)
            elif kind == "dep":
                pool.deposit_collateral(who, amount)
                exact.add_collateral(who, amount)
            elif kind == "wcol":
                pool.withdraw_collateral(who, amount, price)
                exact.remove_collateral(who, amount)
                health = exact.health(who, price)
                assert health is None or health >= 1  # the exact pool allows it too
            elif kind == "borrow":
                pool.borrow(who, amount, price)
                exact.borrow(who, amount)
                limit = exact.collateral[who] * price * Fraction(RISK.collateral_factor_bps, BPS)
                assert exact.debt[who] <= limit  # the exact pool allows it too
                budget.count(budget.debt_ops, who)
            elif kind == "repay":
                repaid = pool.repay(who, amount)
                exact.repay(who, repaid)
                budget.count(budget.debt_ops, who)
            elif kind == "accrue":
                dt = amount
                suppliers = pool.state().scaled_supply > 0
                result = pool.accrue(dt)
                rate = Fraction(result.borrow_rate_ray, RAY)
                budget.accrue(pool, exact, rate, dt)
                exact.accrue(rate, dt, suppliers)
            else:
                collateral = pool.collateral_of(who) if who in held else 0
                try:
                    done = pool.liquidate("liq", who, amount, price)
                except HealthyAccountError:
                    health = exact.health(who, price)
                    assert health is None or health >= 1  # refused only if exactly healthy
                    raise
                assert done.repaid <= amount
                fair = done.repaid * bonus / price
                assert done.collateral_seized <= fair  # never more than repaid + bonus
                if done.collateral_seized == collateral:  # capped: paid at least its value
                    assert done.repaid >= collateral * price / bonus > done.repaid - 1
                else:
                    assert fair - done.collateral_seized < 1
                exact.repay(who, done.repaid)
                exact.remove_collateral(who, done.collateral_seized)
                if done.bad_debt:
                    lost = exact.write_off(who)
                    assert done.bad_debt >= lost  # the written-off debt is rounded up
                    budget.write_off += done.bad_debt - lost
                budget.count(budget.debt_ops, who)
        except LendingError:
            pass
        _compare(pool, exact, budget)


def _compare(pool: LendingPool, exact: ExactPool, budget: Budget) -> None:
    assert pool.cash == exact.cash
    debt_unit = Fraction(pool.borrow_index_ray, RAY)  # one scaled debt unit, in quote units
    claim_unit = Fraction(pool.liquidity_index_ray, RAY)
    for account in pool.state().accounts:
        who = account.account
        assert account.collateral == exact.collateral.get(who, 0)
        # the debt before its final round-up: never below the exact debt
        owed = Fraction(account.scaled_debt * pool.borrow_index_ray, RAY)
        exact_owed = exact.debt.get(who, Fraction(0))
        assert owed >= exact_owed
        assert owed - exact_owed < budget.debt_ops.get(who, 0) * debt_unit + Fraction(1, 10**9)
        assert 0 <= pool.debt_of(who) - owed < 1
        claim = Fraction(account.scaled_supply * pool.liquidity_index_ray, RAY)
        drift = abs(claim - exact.supply.get(who, Fraction(0)))
        assert drift <= budget.accrual + budget.claim_ops.get(who, 0) * claim_unit
    # the protocol's net position: reserves less uncovered losses, within the same budgets
    net = pool.reserves - pool.deficit - (exact.reserves - exact.deficit)
    assert abs(net) <= budget.accrual + budget.write_off
