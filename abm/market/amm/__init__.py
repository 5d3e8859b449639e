"""Automated market makers as pure math: constant-product and concentrated-liquidity pools.

Like the order book, the pools know nothing of Mesa or agents: integer token amounts in, integer
amounts out, rounded in the pool's favour so that conservation is exact. `arbitrage` trades a
pool to an external price, the building block of the LVR validation.
"""

from abm.market.amm.common import (
    FEE_DENOMINATOR,
    InvalidPoolActionError,
    LiquidityChange,
    SwapResult,
)
from abm.market.amm.concentrated import ConcentratedLiquidityPool, PositionView
from abm.market.amm.constant_product import ConstantProductPool

__all__ = [
    "FEE_DENOMINATOR",
    "ConcentratedLiquidityPool",
    "ConstantProductPool",
    "InvalidPoolActionError",
    "LiquidityChange",
    "PositionView",
    "SwapResult",
]
