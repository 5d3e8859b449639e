"""Units, the typed errors and the risk parameters of a lending pool.

Units: amounts are non-negative integers of base units (the smallest unit of a token, as on
chain). The pool lends the *quote* token and takes the *base* token as collateral; a price is
quote units per base unit. Rates and indices are integers in RAY fixed point (``RAY = 10**27``
stands for 1.0, as in Aave), risk parameters are integer basis points (``10_000`` is 100%), so no
float ever enters the accounting.
"""

from __future__ import annotations

import math
import numbers
import operator
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, SupportsIndex

from abm.errors import AbmError
from abm.market.amm.common import check_price as amm_check_price

__all__ = [
    "BPS",
    "RAY",
    "SECONDS_PER_YEAR",
    "BorrowLimitError",
    "HealthyAccountError",
    "InsufficientLiquidityError",
    "LendingError",
    "RiskParams",
    "UnknownAccountError",
    "to_ray",
]

RAY: Final = 10**27
"""Fixed-point one for rates and indices (Aave's ray)."""

BPS: Final = 10_000
"""Basis points in one: risk parameters are integers out of ``BPS``."""

SECONDS_PER_YEAR: Final = 365 * 24 * 3600
"""Rates are per year; a block's length is in seconds (Aave's ``SECONDS_PER_YEAR``)."""


class LendingError(AbmError, ValueError):
    """An action or query a lending pool refuses; the pool is left untouched.

    The sibling of the AMM's `InvalidPoolActionError`: the message names the argument at fault
    and what is wrong with it.
    """


class UnknownAccountError(LendingError, KeyError):
    """The account named has no position in the pool."""

    def __str__(self) -> str:
        # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else ""


class BorrowLimitError(LendingError):
    """A borrow or collateral withdrawal the account's collateral does not allow."""


class HealthyAccountError(LendingError):
    """A liquidation of an account whose health factor is not below one."""


class InsufficientLiquidityError(LendingError):
    """A borrow or withdrawal of more quote than the pool holds in cash."""


def shown(value: object) -> str:
    """``repr(value)``, cut short: an error message stays one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_amount(value: object, name: str) -> int:
    """``value`` as a positive int (not a bool, float or NaN), else raise `LendingError`."""
    if isinstance(value, bool) or not isinstance(value, int | SupportsIndex):
        raise LendingError(f"{name}: must be a positive integer of base units, got {shown(value)}")
    try:
        number = operator.index(value)
    except TypeError:
        raise LendingError(
            f"{name}: must be a positive integer of base units, got {shown(value)}"
        ) from None
    if number <= 0:
        raise LendingError(f"{name}: must be a positive integer, got {number}")
    return number


def check_price(price: object, name: str = "price") -> Fraction:
    """A positive finite oracle price as a Fraction: the AMM pools' check, raising LendingError."""
    return amm_check_price(price, name, LendingError)


def to_ray(value: object, name: str = "value") -> int:
    """A non-negative real (``0.04`` for 4%) as the nearest RAY integer.

    Raises:
        LendingError: For a negative, non-finite or non-numeric value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise LendingError(f"{name}: must be a non-negative number, got {shown(value)}")
    if isinstance(value, Fraction | int):
        exact = Fraction(value)
    else:
        as_float = float(value)
        if not math.isfinite(as_float):
            raise LendingError(f"{name}: must be a finite number, got {shown(value)}")
        # through the shortest decimal, so 0.04 is 4 * 10**25 exactly
        exact = Fraction(repr(as_float))
    if exact < 0:
        raise LendingError(f"{name}: must be a non-negative number, got {shown(value)}")
    return round(exact * RAY)


@dataclass(frozen=True, slots=True)
class RiskParams:
    """The collateral rules of a pool, in basis points (Aave v2 reserve configuration).

    Attributes:
        collateral_factor_bps: Loan-to-value: an account may borrow up to
            ``collateral * price * collateral_factor`` (Compound's collateral factor, Aave's LTV).
        liquidation_threshold_bps: Weight of collateral in the health factor; an account with
            ``collateral * price * threshold < debt`` is liquidatable. At least the factor.
        close_factor_bps: Largest share of a debt one liquidation may repay (Compound's close
            factor; 50% in Aave v2).
        liquidation_bonus_bps: Extra collateral the liquidator receives on top of the value it
            repays (5% = 500: repaying 100 seizes collateral worth 105).
        reserve_factor_bps: Share of borrowers' interest kept as reserves, not paid to suppliers.

    Raises:
        LendingError: For a parameter that is not an integer in its range.
    """

    collateral_factor_bps: int = 7_500
    liquidation_threshold_bps: int = 8_000
    close_factor_bps: int = 5_000
    liquidation_bonus_bps: int = 500
    reserve_factor_bps: int = 1_000

    def __post_init__(self) -> None:
        for name in (
            "collateral_factor_bps",
            "liquidation_threshold_bps",
            "close_factor_bps",
            "liquidation_bonus_bps",
            "reserve_factor_bps",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise LendingError(
                    f"{name}: must be an integer of basis points, got {shown(value)}"
                )
        if not 0 < self.collateral_factor_bps <= self.liquidation_threshold_bps < BPS:
            raise LendingError(
                "collateral_factor_bps, liquidation_threshold_bps: need 0 < factor <= threshold"
                f" < {BPS}, got {self.collateral_factor_bps} and {self.liquidation_threshold_bps}"
            )
        if not 0 < self.close_factor_bps <= BPS:
            raise LendingError(
                f"close_factor_bps: must be in (0, {BPS}], got {self.close_factor_bps}"
            )
        if not 0 <= self.liquidation_bonus_bps < BPS:
            raise LendingError(
                f"liquidation_bonus_bps: must be in [0, {BPS}), got {self.liquidation_bonus_bps}"
            )
        # a threshold times (1 + bonus) at or above one makes a liquidation lower the health
        # factor instead of raising it (Aave's configurator refuses it too)
        if self.liquidation_threshold_bps * (BPS + self.liquidation_bonus_bps) >= BPS * BPS:
            raise LendingError(
                "liquidation_bonus_bps: threshold * (1 + bonus) must stay below 1, got "
                f"{self.liquidation_threshold_bps} and {self.liquidation_bonus_bps}"
            )
        if not 0 <= self.reserve_factor_bps < BPS:
            raise LendingError(
                f"reserve_factor_bps: must be in [0, {BPS}), got {self.reserve_factor_bps}"
            )
