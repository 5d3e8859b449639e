"""Automated market makers as pure math: constant-product and concentrated-liquidity pools.

Like the order book, the pools know nothing of Mesa or agents: integer token amounts in, integer
amounts out, rounded in the pool's favour so that conservation is exact.

Modules: `common` (the typed error, swap and liquidity records, input checks),
`constant_product` (Uniswap v2), `ranges` and `concentrated` (Uniswap v3 style: positions and
fees, then swaps and views), `concentrated_swap` and `swap_step` (the swap walk),
`sqrt_price` (Q64.96 arithmetic), `depth` (the book-like depth view) and `arbitrage` (an
arbitrageur against an external GBM price, for the LVR validation).
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
