"""Agent groups of the options venue: option market makers and option end users.

Both trade the series of the scenario's ``options:`` section (`abm.market.options`); the
agents are `abm.agents.option_market_maker` and `abm.agents.option_end_user`. Volatilities
here are lognormal (Black-Scholes) volatilities per sqrt(unit of model time), the unit of
the options venue.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from abm.scenario.specs import ArrivalLaw, FixedSize, GroupBase, SizeSpec
from abm.scenario.types import (
    Correlation,
    KindSpec,
    Lots,
    NonNegFloat,
    NonNegInt,
    NonNegLots,
    PosFloat,
    PosInt,
    Probability,
    Spec,
)


class FixedOptionVolatility(KindSpec):
    """A constant volatility (the true one in a Black-Scholes world, say)."""

    kind_noun: ClassVar[str] = "option volatility"
    kind: Literal["fixed"] = Field(description="A constant Black-Scholes volatility.")
    sigma: PosFloat = Field(description="The volatility, per sqrt(unit of model time).")


class RealizedOptionVolatility(KindSpec):
    """An EWMA of squared log returns of the spot (the book's mid), per unit of model time."""

    kind_noun: ClassVar[str] = "option volatility"
    kind: Literal["realized"] = Field(
        description="Realised volatility of the spot mid (EWMA of squared log returns)."
    )
    halflife_steps: PosFloat = Field(default=100.0, description="Half-life of the weights, steps.")
    initial_sigma: PosFloat = Field(
        description="The estimate before the first return, per sqrt(unit of model time)."
    )


class HestonOptionModel(KindSpec):
    """Quotes at Heston (1993) prices with fixed parameters (a calibrated surface, say).

    Greeks are Black-Scholes Greeks at each series' Heston implied volatility.
    """

    kind_noun: ClassVar[str] = "option volatility"
    kind: Literal["heston"] = Field(description="Heston prices at fixed parameters.")
    kappa: PosFloat = Field(description="Mean reversion speed of the variance, per unit time.")
    theta: PosFloat = Field(description="Long-run variance, per unit time.")
    sigma: NonNegFloat = Field(description="Volatility of the variance.")
    rho: Correlation = Field(description="Correlation of the spot and variance shocks.")
    v0: PosFloat = Field(description="Variance now, per unit time.")


OptionVolatilitySpec = Annotated[
    FixedOptionVolatility | RealizedOptionVolatility | HestonOptionModel,
    Field(discriminator="kind"),
]


class DeltaHedgeSpec(Spec):
    """When an option market maker trades its spot inventory to minus its options' delta.

    ``full``: every step; ``band``: when the net delta (options plus spot) exceeds ``band``
    lots; ``time``: every ``every`` steps; ``none``: never (an unhedged book). Each hedge is an
    immediate-or-cancel limit at the book venue with purpose ``hedge``, for the whole
    difference to the target, priced ``max_slippage_ticks`` beyond the mid (what it does not
    fill is left to the next rebalance); ``max_slippage_ticks: null`` sends a market order.
    """

    rule: Literal["full", "band", "time", "none"] = Field(
        default="full", description="`full`, `band`, `time` or `none` (see the group)."
    )
    band: NonNegLots = Field(
        default=0, description="`band`: the largest |net delta| left unhedged, lots."
    )
    every: PosInt = Field(default=1, description="`time`: steps between rebalances.")
    max_slippage_ticks: NonNegInt | None = Field(
        default=10,
        description="How far beyond the mid a hedge may trade, ticks (null: a market order).",
    )


class OptionMarketMakerGroup(GroupBase):
    """Option market makers: two-sided quotes in every live series, delta hedged on the book.

    Each quotes around its model price (Black-Scholes at its volatility, or Heston) a half
    spread of ``half_spread_ticks`` option ticks, widened by ``1 + widen * usage`` where usage
    is the larger of |gamma| / gamma_limit and |vega| / vega_limit; at a limit it stops
    quoting the side that would add to it. It hedges its options' delta on the spot book by
    ``hedge``. See `abm.agents.option_market_maker`.
    """

    kind: Literal["option_market_maker"] = Field(
        description="Quotes every option series from a model and hedges delta on the book."
    )
    volatility: OptionVolatilitySpec = Field(
        description="The pricing volatility: fixed, realised (of the spot mid), or Heston."
    )
    half_spread_ticks: PosInt = Field(
        default=2, description="Half spread around the model price, option ticks."
    )
    quote_size: Lots = Field(default=10, description="Size of each quote, contracts.")
    gamma_limit: PosFloat | None = Field(
        default=None,
        description="|gamma| limit of its options, lots per price unit (null: none).",
    )
    vega_limit: PosFloat | None = Field(
        default=None,
        description="|vega| limit of its options, price units per 1.0 of volatility (null: none).",
    )
    widen: NonNegFloat = Field(
        default=1.0, description="Spread widening per unit of limit usage (0: never)."
    )
    hedge: DeltaHedgeSpec = Field(
        default=DeltaHedgeSpec(), description="Delta hedging on the spot book."
    )


class OptionEndUserGroup(GroupBase):
    """Option end users: noise buyers and sellers, or informed volatility traders.

    ``style: noise``: on arrival, buys (probability ``buy_prob``) or sells ``size`` contracts
    of a live series drawn uniformly among those of ``types``, at the touch. ``style:
    informed``: knows the true volatility (the fundamental's, `Market.fundamental_volatility`
    over the fundamental value); on arrival, picks a series the same way and buys when its
    ask is more than ``threshold`` below the Black-Scholes price at the true volatility (the
    implied volatility of the ask is below the true one), sells when the bid is more than
    ``threshold`` above it. Orders are immediate-or-cancel limits at the touch; |position|
    per series stays within ``position_limit``.
    """

    kind: Literal["option_end_user"] = Field(
        description="Noise option buyers and sellers, or informed volatility traders."
    )
    arrival: ArrivalLaw = Field(description="When the traders act.")
    style: Literal["noise", "informed"] = Field(
        default="noise", description="`noise` or `informed` (see the group)."
    )
    buy_prob: Probability = Field(
        default=0.5, description="`noise`: probability that an order is a buy."
    )
    types: list[Literal["call", "put"]] = Field(
        default=["call", "put"], min_length=1, description="Which option types it trades."
    )
    size: SizeSpec = Field(
        default=FixedSize(kind="fixed", qty=1), description="Order sizes, contracts."
    )
    threshold: NonNegFloat = Field(
        default=0.0, description="`informed`: smallest edge traded on, price units."
    )
    position_limit: NonNegLots = Field(
        default=1000, description="Largest |position| per series, contracts."
    )
    min_steps_to_expiry: NonNegInt = Field(
        default=0, description="Trades only series with more steps than this to expiry."
    )

    @model_validator(mode="after")
    def _distinct_types(self) -> OptionEndUserGroup:
        if len(set(self.types)) != len(self.types):
            raise ValueError(f"types must not repeat a type, got {self.types}")
        return self


__all__ = [
    "DeltaHedgeSpec",
    "FixedOptionVolatility",
    "HestonOptionModel",
    "OptionEndUserGroup",
    "OptionMarketMakerGroup",
    "OptionVolatilitySpec",
    "RealizedOptionVolatility",
]
