"""The scenario's ``amm:`` section: one AMM pool trading the book's instrument beside the book.

Units (the venue's contract, `abm.market.amm.venue`): one base unit of the pool is one lot of
the underlying and one quote unit is one tick of cash, so the pool's reserves are the venue's
own position (lots) and cash (ticks), and `abm.model.MarketModel.totals` conserves cash and
inventory across the book, the pool and the traders exactly.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from abm.market.amm.common import FEE_DENOMINATOR
from abm.scenario.types import Lots, NonNegInt, PosFloat, PosInt, Spec

__all__ = ["AmmSpec", "PoolKind", "SwapOrdering"]

PoolKind = Literal["constant_product", "concentrated"]
SwapOrdering = Literal["arbitrageur_first", "random"]


class AmmSpec(Spec):
    """An AMM pool beside the book, settling swaps in blocks.

    The pool starts with protocol-owned liquidity of ``reserve_base`` lots and the quote
    tokens worth them at ``price`` (rounded to the nearest tick). Swaps sent during a block
    of ``block_steps`` steps are executed at the block's last step, after every trader has
    acted, in the ``ordering`` rule: ``arbitrageur_first`` runs the arbitrageurs' swaps
    first (in the order sent) and then everyone else's; ``random`` shuffles them all with
    the venue's own random stream. The book trades every step.
    """

    pool: PoolKind = Field(
        default="constant_product",
        description="`constant_product` (Uniswap v2) or `concentrated` (Uniswap v3 ranges).",
    )
    fee_pips: NonNegInt = Field(
        default=3000,
        lt=FEE_DENOMINATOR,
        description="Swap fee in millionths of the input (3000 = 0.30%), below 1e6.",
    )
    price: PosFloat | None = Field(
        default=None,
        description="Initial pool price, price units (null: the fundamental's initial value).",
    )
    reserve_base: Lots = Field(
        default=10_000,
        description="Protocol-owned base reserve at the start, lots (the quote reserve is "
        "its value at price, in ticks).",
    )
    range_lower: PosFloat | None = Field(
        default=None,
        description="concentrated only: lower price of the protocol position, price units "
        "(null with range_upper: the full range).",
    )
    range_upper: PosFloat | None = Field(
        default=None,
        description="concentrated only: upper price of the protocol position, price units.",
    )
    tick_spacing: PosInt = Field(
        default=60, description="concentrated only: position bounds are multiples of it."
    )
    block_steps: PosInt = Field(
        default=1, description="Steps per block: swaps settle at each block's last step."
    )
    ordering: SwapOrdering = Field(
        default="arbitrageur_first",
        description="Order of a block's swaps: arbitrageurs first, or a random shuffle.",
    )

    @model_validator(mode="after")
    def _check_range(self) -> AmmSpec:
        lower, upper = self.range_lower, self.range_upper
        if (lower is None) != (upper is None):
            raise ValueError("range_lower and range_upper: give both or neither")
        if lower is not None and upper is not None:
            if self.pool != "concentrated":
                raise ValueError("range_lower, range_upper: only a concentrated pool has ranges")
            if not lower < upper:
                raise ValueError(f"range_lower ({lower}) must be below range_upper ({upper})")
            if self.price is not None and not lower < self.price < upper:
                raise ValueError(f"price ({self.price}) must lie inside (range_lower, range_upper)")
        return self
