"""Lending pools as pure math: supply and borrow quote against base collateral.

Like the order book and the AMM pools, the pool knows nothing of Mesa, agents or where prices
come from (an oracle price is an argument). Modules: `params` (units, errors, risk parameters),
`rates` (the kinked rate model), `records` (frozen results), `pool` (the state machine) and
`oracles` (the prices a pool values collateral at, fed one observation at a time) and
`cascade` (a pool, an oracle, liquidators and the `sale_venues` run block by block over a
price path). `venue` is the pool as a venue of the model (`LendingVenue`, a scenario's
``lending`` section), not imported here.
"""

from abm.market.lending.cascade import (
    AmmVenue,
    Borrower,
    CascadeBlock,
    CascadeLiquidation,
    CascadeSimulator,
    LinearBookVenue,
    borrower_ladder,
)
from abm.market.lending.oracles import (
    DelayedOracle,
    LatestPriceOracle,
    Oracle,
    OracleSpec,
    PushOracle,
    TwapOracle,
)
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
    "AmmVenue",
    "BorrowLimitError",
    "Borrower",
    "CascadeBlock",
    "CascadeLiquidation",
    "CascadeSimulator",
    "DelayedOracle",
    "HealthyAccountError",
    "InsufficientLiquidityError",
    "KinkedRateModel",
    "LatestPriceOracle",
    "LendingError",
    "LendingPool",
    "LinearBookVenue",
    "LiquidationResult",
    "Oracle",
    "OracleSpec",
    "PoolState",
    "PushOracle",
    "RiskParams",
    "TwapOracle",
    "UnknownAccountError",
    "borrower_ladder",
]
