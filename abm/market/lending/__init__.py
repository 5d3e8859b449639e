"""Lending pools as pure math: supply and borrow quote against base collateral.

Like the order book and the AMM pools, the pool knows nothing of Mesa, agents or where prices
come from (an oracle price is an argument). Modules: `params` (units, errors, risk parameters),
`rates` (the kinked rate model), `records` (frozen results) and `pool` (the state machine).
"""

from abm.market.lending.params import (
    BPS,
    RAY,
    SECONDS_PER_YEAR,
    BorrowLimitError,
    HealthyAccountError,
    InsufficientLiquidityError,
    LendingError,
    RiskParams,
    UnknownAccountError,
)
from abm.market.lending.pool import LendingPool
from abm.market.lending.rates import KinkedRateModel
from abm.market.lending.records import AccrualResult, LiquidationResult, PoolState

__all__ = [
    "BPS",
    "RAY",
    "SECONDS_PER_YEAR",
    "AccrualResult",
    "BorrowLimitError",
    "HealthyAccountError",
    "InsufficientLiquidityError",
    "KinkedRateModel",
    "LendingError",
    "LendingPool",
    "LiquidationResult",
    "PoolState",
    "RiskParams",
    "UnknownAccountError",
]
