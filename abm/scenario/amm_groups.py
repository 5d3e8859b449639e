"""The AMM agents' group specs: liquidity providers and arbitrageurs (`abm.market.amm.venue`).

Both act every step after the market makers, in scenario order (executors,
`abm.agents.groups.GroupRole`); a scenario with either needs an ``amm`` section. The agents
are `abm.agents.liquidity_provider` and `abm.agents.arbitrageur`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from abm.scenario.specs import GroupBase
from abm.scenario.types import (
    NonNegFloat,
    NonNegInt,
    NonNegLots,
    OpenUnitInterval,
    PosFloat,
    PosInt,
    UnitFraction,
)

__all__ = ["ArbitrageurGroup", "LiquidityProviderGroup", "RangeRule"]

RangeRule = Literal["fixed", "band", "volatility"]


class LiquidityProviderGroup(GroupBase):
    """Liquidity providers: deposit in the AMM pool, re-range on a rule, withdraw.

    At ``deposit_step`` each deposits ``deposit_fraction`` of its lots and as much cash as
    goes with them at the pool's price (the pool takes the two in its own ratio; what does
    not fit stays in the account). A constant-product deposit is a share of the whole pool; a
    concentrated one covers ``[P / (1 + w), P * (1 + w)]`` around the pool price ``P`` at
    the deposit, where ``w`` is the rule's half-width:

    * ``fixed``: ``w = width`` and the range never moves;
    * ``band``: ``w = width``; every ``check_steps`` steps, when the price has left the range
      (a rebalancing band), the position is withdrawn with its fees and redeposited, centred
      on the new price;
    * ``volatility``: as ``band``, with ``w = width_sigmas * sigma * sqrt(horizon_steps)``
      from an EWMA of the pool price's squared log moves per step between checks (``width``
      until it has one), so that calm markets get narrow ranges.

    At ``withdraw_step`` (if given) everything is withdrawn with its fees.
    """

    kind: Literal["liquidity_provider"] = Field(
        description="Deposits in the AMM pool, re-ranges on a rule, withdraws."
    )
    deposit_step: PosInt = Field(default=1, description="Step of the first deposit.")
    deposit_fraction: UnitFraction = Field(
        default=1.0, description="Share of its lots it deposits, in (0, 1]."
    )
    withdraw_step: PosInt | None = Field(
        default=None, description="Step at which it withdraws everything (null: never)."
    )
    range_rule: RangeRule = Field(
        default="fixed",
        description="Concentrated pool: `fixed`, `band` (re-centre when the price leaves the "
        "range) or `volatility` (band with a width scaled by volatility).",
    )
    width: OpenUnitInterval = Field(
        default=0.05,
        description="Relative half-width of the range (fixed, band; volatility's start).",
    )
    width_sigmas: PosFloat = Field(
        default=2.0, description="volatility: half-width in sigmas over horizon_steps."
    )
    horizon_steps: PosInt = Field(
        default=100, description="volatility: the horizon the width covers, steps."
    )
    halflife_checks: PosFloat = Field(
        default=20.0, description="volatility: half-life of the EWMA variance, in checks."
    )
    check_steps: PosInt = Field(default=10, description="Steps between range checks.")

    @model_validator(mode="after")
    def _check_steps(self) -> LiquidityProviderGroup:
        if self.withdraw_step is not None and self.withdraw_step <= self.deposit_step:
            raise ValueError(
                f"withdraw_step ({self.withdraw_step}) must be after deposit_step "
                f"({self.deposit_step})"
            )
        return self


class ArbitrageurGroup(GroupBase):
    """Arbitrageurs: trade the AMM pool towards a reference price when the gap beats the fee.

    At each block's last step, with ``S`` the reference (``mid``: the book's mid;
    ``fundamental``: the value, a "CEX" outside the model) and the pool's fee ``f``
    (``gamma = 1 - f``), an arbitrageur buys from the pool while its price is below
    ``S * gamma`` and sells while above ``S / gamma`` (Milionis et al. 2023: the edge of the
    no-trade band, `abm.market.amm.arbitrage`), if the trade's expected profit at ``S`` beats
    ``min_profit``. With ``book_leg`` (reference ``mid`` only) it trades between the venues:
    it sizes the pool swap so that each lot's pool cost beats what the book's levels pay for
    it (bids for what it buys from the pool, asks for what it sells), sends the opposite
    market order to the book at once and queues the swap, which settles at the block's end
    (first, with ``arbitrageur_first`` ordering). Without it, it keeps the position.
    """

    kind: Literal["arbitrageur"] = Field(
        description="Trades the AMM pool towards the book's mid or the fundamental."
    )
    reference: Literal["mid", "fundamental"] = Field(
        default="mid", description="The price it arbitrages the pool to: `mid` or `fundamental`."
    )
    book_leg: bool = Field(
        default=True,
        description="reference mid: trade the opposite leg at the book (false: keep the position).",
    )
    min_profit: NonNegFloat = Field(
        default=0.0, description="Smallest expected profit it trades for, price units."
    )
    max_qty: NonNegLots | None = Field(
        default=None, description="Largest pool swap per block, lots (null: no cap)."
    )
    book_levels: NonNegInt = Field(
        default=10, description="book_leg: book levels it sizes the trade against."
    )

    @model_validator(mode="after")
    def _check_leg(self) -> ArbitrageurGroup:
        if self.book_leg and self.reference != "mid":
            raise ValueError("book_leg: needs reference mid (set book_leg: false)")
        return self
