"""Frozen records a lending pool returns: an accrual, a liquidation, and a snapshot of its state."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["AccountState", "AccrualResult", "LiquidationResult", "PoolState"]


@dataclass(frozen=True, slots=True)
class AccrualResult:
    """One block's interest.

    Attributes:
        dt_seconds: Length of the block.
        utilisation_ray: ``borrowed / supplied`` at the start of the block (RAY).
        borrow_rate_ray: Borrow rate per year applied over the block (RAY).
        interest: Quote units the borrowers' debt grew by.
        reserves_added: The part of ``interest`` kept as reserves.
        borrow_index_ray: Borrow index after the block.
        liquidity_index_ray: Supply (liquidity) index after the block.
    """

    dt_seconds: int
    utilisation_ray: int
    borrow_rate_ray: int
    interest: int
    reserves_added: int
    borrow_index_ray: int
    liquidity_index_ray: int


@dataclass(frozen=True, slots=True)
class LiquidationResult:
    """One liquidation.

    Attributes:
        borrower: The account liquidated.
        liquidator: Who repaid and received the collateral (need not hold a position).
        repaid: Quote units the liquidator paid into the pool.
        collateral_seized: Base units the liquidator received.
        bad_debt: Debt written off because no collateral was left to back it (0 if none).
        health_factor_before: The borrower's health factor before, as a float.
    """

    borrower: Hashable
    liquidator: Hashable
    repaid: int
    collateral_seized: int
    bad_debt: int
    health_factor_before: float


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account's raw balances: scaled supply and debt (divide by the indices) and collateral."""

    account: Hashable
    scaled_supply: int
    scaled_debt: int
    collateral: int


@dataclass(frozen=True, slots=True)
class PoolState:
    """Everything a pool holds, for comparison: equal states mean equal pools."""

    cash: int
    reserves: int
    deficit: int
    bad_debt: int
    collateral: int
    borrow_index_ray: int
    liquidity_index_ray: int
    scaled_supply: int
    scaled_debt: int
    accounts: tuple[AccountState, ...]
