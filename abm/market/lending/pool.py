"""A lending pool (Aave v2 / Compound v2 semantics): lend quote against base collateral.

Balances are *scaled*: an account's deposit is ``scaled_supply * liquidity_index / RAY`` (rounded
down) and its debt ``scaled_debt * borrow_index / RAY`` (rounded up), so one index update per
block accrues interest to everyone (Aave v2 aTokens and variable debt tokens). Every rounding
favours the pool, so ``supplied + reserves <= cash + borrowed + deficit`` holds always, the gap
being a few units of dust. ``deficit`` is bad debt the reserves could not absorb (Aave v3.3).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from fractions import Fraction

from abm.market.lending.params import (
    BPS,
    RAY,
    BorrowLimitError,
    HealthyAccountError,
    InsufficientLiquidityError,
    LendingError,
    RiskParams,
    UnknownAccountError,
    check_amount,
    check_price,
)
from abm.market.lending.rates import KinkedRateModel, block_growth_ray, utilisation_ray
from abm.market.lending.records import AccountState, AccrualResult, LiquidationResult, PoolState

__all__ = ["LendingPool"]


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


class LendingPool:
    """One quote-lending market with one collateral asset.

    Args:
        rate_model: The borrow-rate curve.
        risk: Collateral factor, liquidation threshold, close factor, bonus, reserve factor.
    """

    def __init__(self, rate_model: KinkedRateModel, risk: RiskParams | None = None) -> None:
        self.rate_model = rate_model
        self.risk = risk if risk is not None else RiskParams()
        self._cash = 0
        self._reserves = 0
        self._deficit = 0
        self._bad_debt = 0
        self._collateral = 0
        self._borrow_index = RAY
        self._liquidity_index = RAY
        self._scaled_supply = 0
        self._scaled_debt = 0
        self._accounts: dict[Hashable, list[int]] = {}  # [scaled_supply, scaled_debt, collateral]

    # ----- views ------------------------------------------------------------------

    @property
    def cash(self) -> int:
        """Quote units the pool holds."""
        return self._cash

    @property
    def reserves(self) -> int:
        """Quote units owed to the protocol (reserve factor share of interest)."""
        return self._reserves

    @property
    def deficit(self) -> int:
        """Written-off debt the reserves could not absorb."""
        return self._deficit

    @property
    def bad_debt(self) -> int:
        """Cumulative debt written off."""
        return self._bad_debt

    @property
    def borrow_index_ray(self) -> int:
        """The borrow index (RAY, starts at RAY)."""
        return self._borrow_index

    @property
    def liquidity_index_ray(self) -> int:
        """The supply index (RAY, starts at RAY)."""
        return self._liquidity_index

    @property
    def total_supplied(self) -> int:
        """Suppliers' claims in quote units (rounded down)."""
        return self._scaled_supply * self._liquidity_index // RAY

    @property
    def total_borrowed(self) -> int:
        """Borrowers' debt in quote units (rounded up)."""
        return _ceil_div(self._scaled_debt * self._borrow_index, RAY)

    @property
    def total_collateral(self) -> int:
        """Base units deposited as collateral, over every account."""
        return self._collateral

    def has_account(self, account: Hashable) -> bool:
        """Whether ``account`` has ever held a position in the pool."""
        try:
            return account in self._accounts
        except TypeError:
            return False

    def scaled_balances(self, account: Hashable) -> tuple[int, int, int]:
        """``(scaled_supply, scaled_debt, collateral)`` of ``account`` (raw, before indices)."""
        acct = self._account(account)
        return acct[0], acct[1], acct[2]

    def accounts_with_debt(self) -> list[Hashable]:
        """The accounts that owe something, in the order they first entered the pool."""
        return [account for account, acct in self._accounts.items() if acct[1] > 0]

    def utilisation_ray(self) -> int:
        """``borrowed / supplied`` in RAY."""
        return utilisation_ray(self.total_borrowed, self.total_supplied)

    def _account(self, account: Hashable) -> list[int]:
        try:
            return self._accounts[account]
        except (KeyError, TypeError):
            raise UnknownAccountError(f"account: {account!r} has no position in the pool") from None

    def supplied_of(self, account: Hashable) -> int:
        """Quote units ``account`` may withdraw (rounded down)."""
        return self._account(account)[0] * self._liquidity_index // RAY

    def debt_of(self, account: Hashable) -> int:
        """Quote units ``account`` owes (rounded up)."""
        return _ceil_div(self._account(account)[1] * self._borrow_index, RAY)

    def collateral_of(self, account: Hashable) -> int:
        """Base units ``account`` has deposited as collateral."""
        return self._account(account)[2]

    def _health(self, collateral: int, debt: int, price: Fraction) -> Fraction | None:
        if debt == 0:
            return None
        return collateral * price * self.risk.liquidation_threshold_bps / (BPS * debt)

    def exact_health(self, account: Hashable, price: object) -> Fraction | None:
        """`health_factor` as an exact rational (None without debt)."""
        acct = self._account(account)
        return self._health(acct[2], self.debt_of(account), check_price(price))

    def health_factor(self, account: Hashable, price: object) -> float:
        """``collateral * price * threshold / debt`` (``inf`` without debt), at an oracle price."""
        health = self.exact_health(account, price)
        return math.inf if health is None else float(health)

    def state(self) -> PoolState:
        """A frozen snapshot of every balance."""
        return PoolState(
            self._cash,
            self._reserves,
            self._deficit,
            self._bad_debt,
            self._collateral,
            self._borrow_index,
            self._liquidity_index,
            self._scaled_supply,
            self._scaled_debt,
            tuple(AccountState(k, *v) for k, v in self._accounts.items()),
        )

    # ----- supply side ------------------------------------------------------------

    def supply(self, account: Hashable, amount: object) -> int:
        """Deposit ``amount`` quote; mints ``floor(amount / index)`` scaled units, returned."""
        units = check_amount(amount, "amount")
        minted = units * RAY // self._liquidity_index
        if minted == 0:
            raise LendingError(f"amount: {units} is too small to mint a scaled unit")
        try:
            acct = self._accounts.setdefault(account, [0, 0, 0])
        except TypeError:
            raise LendingError(f"account: must be hashable, got {account!r}") from None
        acct[0] += minted
        self._scaled_supply += minted
        self._cash += units
        return minted

    def withdraw(self, account: Hashable, amount: object) -> int:
        """Withdraw ``amount`` quote of the account's deposit; burns scaled units rounded up."""
        units = check_amount(amount, "amount")
        acct = self._account(account)
        held = acct[0] * self._liquidity_index // RAY
        if units > held:
            raise LendingError(f"amount: {account!r} has {held} supplied, cannot withdraw {units}")
        if units > self._cash:
            raise InsufficientLiquidityError(f"amount: pool holds {self._cash} cash, not {units}")
        burned = _ceil_div(units * RAY, self._liquidity_index)
        acct[0] -= burned
        self._scaled_supply -= burned
        self._cash -= units
        return units

    # ----- collateral -------------------------------------------------------------

    def deposit_collateral(self, account: Hashable, amount: object) -> None:
        """Deposit ``amount`` base units as collateral."""
        units = check_amount(amount, "amount")
        try:
            acct = self._accounts.setdefault(account, [0, 0, 0])
        except TypeError:
            raise LendingError(f"account: must be hashable, got {account!r}") from None
        acct[2] += units
        self._collateral += units

    def withdraw_collateral(self, account: Hashable, amount: object, price: object) -> None:
        """Withdraw collateral, refused if it would leave a health factor below one."""
        units = check_amount(amount, "amount")
        exact = check_price(price)
        acct = self._account(account)
        if units > acct[2]:
            raise LendingError(f"amount: {account!r} has {acct[2]} collateral, not {units}")
        health = self._health(acct[2] - units, self.debt_of(account), exact)
        if health is not None and health < 1:
            raise BorrowLimitError(
                f"amount: withdrawing {units} would leave health factor {float(health):.4f} < 1"
            )
        acct[2] -= units
        self._collateral -= units

    # ----- borrowing --------------------------------------------------------------

    def borrow(self, account: Hashable, amount: object, price: object) -> int:
        """Borrow ``amount`` quote up to ``collateral * price * collateral_factor``."""
        units = check_amount(amount, "amount")
        exact = check_price(price)
        acct = self._account(account)
        if units > self._cash:
            raise InsufficientLiquidityError(f"amount: pool holds {self._cash} cash, not {units}")
        minted = _ceil_div(units * RAY, self._borrow_index)
        debt_after = _ceil_div((acct[1] + minted) * self._borrow_index, RAY)
        limit = acct[2] * exact * self.risk.collateral_factor_bps / BPS
        if debt_after > limit:
            raise BorrowLimitError(
                f"amount: debt {debt_after} would exceed the borrow limit {float(limit):.2f}"
            )
        acct[1] += minted
        self._scaled_debt += minted
        self._cash -= units
        return units

    def _burn_debt(self, acct: list[int], units: int) -> int:
        """Burn the scaled debt ``units`` quote repay (all of it at or above the debt)."""
        debt = _ceil_div(acct[1] * self._borrow_index, RAY)
        burned = acct[1] if units >= debt else units * RAY // self._borrow_index
        acct[1] -= burned
        self._scaled_debt -= burned
        return min(units, debt)

    def repay(self, account: Hashable, amount: object) -> int:
        """Repay up to ``amount`` quote of the debt; returns the amount taken."""
        units = check_amount(amount, "amount")
        acct = self._account(account)
        if acct[1] == 0:
            raise LendingError(f"account: {account!r} has no debt to repay")
        repaid = self._burn_debt(acct, units)
        self._cash += repaid
        return repaid

    # ----- interest ---------------------------------------------------------------

    def accrue(self, dt_seconds: object) -> AccrualResult:
        """Compound one block of ``dt_seconds`` at the rate of the current utilisation."""
        dt = check_amount(dt_seconds, "dt_seconds")
        borrowed, supplied = self.total_borrowed, self.total_supplied
        u = utilisation_ray(borrowed, supplied) if supplied else (RAY if borrowed else 0)
        rate = self.rate_model.borrow_rate_ray(u)
        reserves_added = 0
        interest = 0
        if self._scaled_debt:
            growth = block_growth_ray(rate, dt)
            self._borrow_index = _ceil_div(self._borrow_index * growth, RAY)
            interest = self.total_borrowed - borrowed
            reserves_added = _ceil_div(interest * self.risk.reserve_factor_bps, BPS)
            share = interest - reserves_added
            if self._scaled_supply:
                self._liquidity_index += share * RAY // self._scaled_supply
            else:
                reserves_added = interest
            self._reserves += reserves_added
        return AccrualResult(
            dt, u, rate, interest, reserves_added, self._borrow_index, self._liquidity_index
        )

    # ----- liquidation ------------------------------------------------------------

    def _liquidation_amounts(
        self, borrower: Hashable, repay_amount: object, price: object
    ) -> tuple[int, int, Fraction]:
        requested = check_amount(repay_amount, "repay_amount")
        exact = check_price(price)
        acct = self._account(borrower)
        debt = self.debt_of(borrower)
        health = self._health(acct[2], debt, exact)
        if health is None or health >= 1:
            shown = "inf" if health is None else f"{float(health):.4f}"
            raise HealthyAccountError(f"borrower: {borrower!r} has health factor {shown} >= 1")
        bonus = BPS + self.risk.liquidation_bonus_bps
        repaid = min(requested, _ceil_div(debt * self.risk.close_factor_bps, BPS))
        seized = math.floor(repaid * bonus / (BPS * exact))
        if seized > acct[2]:
            seized = acct[2]
            repaid = math.ceil(seized * exact * BPS / bonus)
        return repaid, seized, health

    def preview_liquidation(
        self, borrower: Hashable, repay_amount: object, price: object
    ) -> tuple[int, int]:
        """``(repaid, collateral_seized)`` that `liquidate` would give, without changing anything.

        A liquidator checks with it whether selling the collateral pays the repayment and gas.

        Raises:
            HealthyAccountError: If the borrower's health factor is not below one.
        """
        repaid, seized, _ = self._liquidation_amounts(borrower, repay_amount, price)
        return repaid, seized

    def liquidate(
        self, liquidator: Hashable, borrower: Hashable, repay_amount: object, price: object
    ) -> LiquidationResult:
        """Repay up to ``close_factor * debt`` of an unhealthy account for its collateral.

        The liquidator receives ``repaid * (1 + bonus) / price`` base units (rounded down),
        capped by the collateral held (then the repayment is cut to ``ceil(collateral * price /
        (1 + bonus))``). Debt left without collateral is written off as bad debt.

        Raises:
            HealthyAccountError: If the borrower's health factor is not below one.
        """
        repaid, seized, health = self._liquidation_amounts(borrower, repay_amount, price)
        acct = self._account(borrower)
        self._burn_debt(acct, repaid)
        self._cash += repaid
        acct[2] -= seized
        self._collateral -= seized
        written_off = 0
        if acct[2] == 0 and acct[1] > 0:
            written_off = _ceil_div(acct[1] * self._borrow_index, RAY)
            self._scaled_debt -= acct[1]
            acct[1] = 0
            absorbed = min(self._reserves, written_off)
            self._reserves -= absorbed
            self._deficit += written_off - absorbed
            self._bad_debt += written_off
        return LiquidationResult(borrower, liquidator, repaid, seized, written_off, float(health))
