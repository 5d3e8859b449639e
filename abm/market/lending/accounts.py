"""The accounts of a lending venue: positions moved between traders and the pool, and valued.

`PoolAccounts` is the part of `abm.market.lending.venue.LendingVenue` that moves cash, lots and
pool positions between a trader's account and the pool, exactly: a deposit moves lots from
``Trader.inventory`` to the pool's collateral, a borrow cash from the pool to ``Trader.cash_ticks``,
and each records the position as a held instrument (`abm.market.venue.Instrument.held`) that
the venue holds minus of: ``"<venue>.collateral"`` (lots), ``"<venue>.debt"`` (minus the scaled
debt, so interest accrues through the borrow index without a move) and ``"<venue>.supply"``
(scaled supply). The venue's own account is the pool's cash plus the gas it collected
(``cash_ticks``) and the collateral deposited (``position``), kept in step after every action.
Borrows and withdrawals are checked at the oracle price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from abm.market.lending.params import BPS, RAY, LendingError
from abm.market.venue import Account, Instrument

if TYPE_CHECKING:
    from abm.market.lending.oracles import Oracle
    from abm.market.lending.pool import LendingPool

__all__ = ["PoolAccounts"]


class PoolAccounts:
    """Trader positions in a lending pool (module docstring).

    Args:
        name: The venue's name: the prefix of its held instruments.
        pool: The pool.
        tick_size: Price of one tick (holdings are valued in price units).

    Attributes:
        oracle: The price borrows, withdrawals and collateral values are taken at (set by the
            venue).
        gas_ticks: Gas paid to the venue by liquidations (the block producer's account).
    """

    oracle: Oracle

    def __init__(self, name: str, pool: LendingPool, tick_size: float) -> None:
        self.name = name
        self.pool = pool
        self.tick_size = tick_size
        self.holdings: dict[str, int] = {}
        self.collateral_instrument = Instrument.holding(f"{name}.collateral")
        self.debt_instrument = Instrument.holding(f"{name}.debt")
        self.supply_instrument = Instrument.holding(f"{name}.supply")
        self.gas_ticks = 0
        self.cash_ticks = 0
        self.position = 0
        self._sync()

    def _sync(self) -> None:
        """The venue's account is the pool's cash and collateral plus the gas it collected."""
        self.cash_ticks = self.pool.cash + self.gas_ticks
        self.position = self.pool.total_collateral

    def debt_ticks(self, trader: Account) -> int:
        """What ``trader`` owes, ticks (0 without a position)."""
        account = trader.unique_id
        return self.pool.debt_of(account) if self.pool.has_account(account) else 0

    def collateral_lots(self, trader: Account) -> int:
        """Lots ``trader`` has deposited as collateral."""
        account = trader.unique_id
        return self.pool.collateral_of(account) if self.pool.has_account(account) else 0

    def value_holdings(self, holdings: Mapping[str, int]) -> float:
        """Value (price units) of the venue's instruments in ``holdings`` (module docstring)."""
        if not holdings:
            return 0.0
        value = 0.0
        collateral = holdings.get(self.collateral_instrument.name, 0)
        if collateral:
            value += collateral * float(self.oracle.price)
        scaled_debt = holdings.get(self.debt_instrument.name, 0)
        if scaled_debt:
            value += scaled_debt * self.pool.borrow_index_ray / RAY
        scaled_supply = holdings.get(self.supply_instrument.name, 0)
        if scaled_supply:
            value += scaled_supply * self.pool.liquidity_index_ray / RAY
        return value * self.tick_size

    # ----- accounts ---------------------------------------------------------------

    def _move(self, trader: Account, instrument: Instrument, qty: int) -> None:
        """``trader``'s holding of ``instrument`` moves by ``qty``, the venue's by ``-qty``."""
        if not qty:
            return
        name = instrument.name
        for holdings, change in ((trader.holdings, qty), (self.holdings, -qty)):
            left = holdings.get(name, 0) + change
            if left:
                holdings[name] = left
            else:
                holdings.pop(name, None)

    def deposit_collateral(self, trader: Account, lots: int) -> None:
        """Move ``lots`` of ``trader``'s inventory into the pool as collateral.

        Raises:
            LendingError: For a quantity that is not a positive integer (nothing moves).
        """
        self.pool.deposit_collateral(trader.unique_id, lots)
        trader.inventory -= lots
        self._move(trader, self.collateral_instrument, lots)
        self._sync()

    def withdraw_collateral(self, trader: Account, lots: int) -> None:
        """Move ``lots`` of collateral back to ``trader``'s inventory.

        Raises:
            LendingError: If it would leave a health factor below one at the oracle price, or
                is more than deposited (nothing moves).
        """
        self.pool.withdraw_collateral(trader.unique_id, lots, self.oracle.price)
        trader.inventory += lots
        self._move(trader, self.collateral_instrument, -lots)
        self._sync()

    def borrow(self, trader: Account, ticks: int) -> int:
        """Borrow ``ticks`` of cash against ``trader``'s collateral at the oracle price.

        Raises:
            LendingError: Past the borrow limit or the pool's cash (nothing moves).
        """
        account = trader.unique_id
        if not self.pool.has_account(account):
            raise LendingError(f"account: {account} has no collateral in the pool")
        before = self.pool.scaled_balances(account)[1]
        self.pool.borrow(account, ticks, self.oracle.price)
        minted = self.pool.scaled_balances(account)[1] - before
        trader.cash_ticks += ticks
        self._move(trader, self.debt_instrument, -minted)
        self._sync()
        return ticks

    def borrow_limit_ticks(self, trader: Account) -> int:
        """The most ``trader`` could borrow now on top of its debt (ticks, at least 0)."""
        collateral = self.collateral_lots(trader)
        limit = collateral * self.oracle.price * self.pool.risk.collateral_factor_bps / BPS
        headroom = math.floor(limit) - self.debt_ticks(trader) - 1
        return max(0, min(headroom, self.pool.cash))

    def repay(self, trader: Account, ticks: int) -> int:
        """Repay up to ``ticks`` of ``trader``'s debt from its cash; returns the ticks repaid.

        Raises:
            LendingError: Without debt or for a quantity that is not positive (nothing moves).
        """
        account = trader.unique_id
        if not self.pool.has_account(account):
            raise LendingError(f"account: {account} has no debt to repay")
        before = self.pool.scaled_balances(account)[1]
        repaid = self.pool.repay(account, ticks)
        burned = before - self.pool.scaled_balances(account)[1]
        trader.cash_ticks -= repaid
        self._move(trader, self.debt_instrument, burned)
        self._sync()
        return repaid

    def supply(self, trader: Account, ticks: int) -> None:
        """Supply ``ticks`` of ``trader``'s cash to the pool (it earns the supply rate)."""
        minted = self.pool.supply(trader.unique_id, ticks)
        trader.cash_ticks -= ticks
        self._move(trader, self.supply_instrument, minted)
        self._sync()

    def withdraw_supply(self, trader: Account, ticks: int) -> None:
        """Withdraw ``ticks`` of ``trader``'s supply (refused beyond it or the pool's cash)."""
        account = trader.unique_id
        before = self.pool.scaled_balances(account)[0]
        self.pool.withdraw(account, ticks)
        burned = before - self.pool.scaled_balances(account)[0]
        trader.cash_ticks += ticks
        self._move(trader, self.supply_instrument, -burned)
        self._sync()
