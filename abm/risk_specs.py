"""Scenario schema for inventory-risk tools and shocks.

What each tool does is documented where it lives: abm/risk.py (regimes, gap controls),
abm/hedge.py, abm/rebalance.py and abm/shocks.py.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from abm.scenario_types import (
    Float,
    Int,
    KindSpec,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    Spec,
    UnitFraction,
)

# --- rebalancing -------------------------------------------------------------------


class _RebalanceBase(KindSpec):
    kind_noun: ClassVar[str] = "rebalance"
    band: NonNegInt = 0
    target: Int = 0


class NoRebalance(_RebalanceBase):
    """Skew only: never trade inventory back actively."""

    kind: Literal["none"]


class ThresholdRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, trade all the way back to ``target``."""

    kind: Literal["threshold"]


class ProportionalRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, unwind ``fraction`` of the gap each step."""

    kind: Literal["proportional"]
    fraction: UnitFraction


class ScheduledRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, unwind the gap in equal slices (TWAP)."""

    kind: Literal["scheduled"]
    horizon_steps: PosInt


RebalanceSpec = Annotated[
    NoRebalance | ThresholdRebalance | ProportionalRebalance | ScheduledRebalance,
    Field(discriminator="kind"),
]

# --- hedging -----------------------------------------------------------------------


class _HedgeBase(KindSpec):
    kind_noun: ClassVar[str] = "hedge"


class NoHedge(_HedgeBase):
    """Carry the book inventory unhedged."""

    kind: Literal["none"]


class FullHedge(_HedgeBase):
    """Delta-neutral every step: hedge position = -inventory."""

    kind: Literal["full"]


class BandHedge(_HedgeBase):
    """Trade back to the band edge only when ``|net delta| > band`` (a no-trade band)."""

    kind: Literal["band"]
    band: PosFloat


class PartialHedge(_HedgeBase):
    """Hedge ``fraction`` of the inventory every step: hedge = -round(fraction * inventory)."""

    kind: Literal["partial"]
    fraction: UnitFraction


HedgeSpec = Annotated[NoHedge | FullHedge | BandHedge | PartialHedge, Field(discriminator="kind")]


class HedgeInstrumentSpec(Spec):
    """A liquid hedge outside the book (a future or perpetual).

    Its price each step is the fundamental plus i.i.d. Gaussian basis noise of sd
    ``basis_sd`` (price units). Buying ``q`` units costs, per unit, the price plus
    ``fee`` plus ``impact * q`` (a linear temporary impact); selling receives the price
    minus the same; execution prices are rounded to the tick grid against the trader.
    """

    basis_sd: NonNegFloat = 0.0
    fee: NonNegFloat = 0.0
    impact: NonNegFloat = 0.0


# --- risk regimes --------------------------------------------------------------------


class RegimeParams(Spec):
    """How a market maker quotes in one regime: multipliers on its normal quotes."""

    spread_mult: PosFloat = Field(
        default=1.0, description="Quoted spread multiplier around the policy's centre (> 0)."
    )
    size_mult: PosFloat = Field(
        default=1.0, description="Quote size multiplier (> 0); sizes round to at least 1 lot."
    )
    max_inventory: NonNegInt | None = Field(
        default=None,
        description="Tighter inventory limit in this regime (lots; the stricter limit wins).",
    )
    withdraw: bool = Field(
        default=False,
        description="Cancel both quotes while in this regime. Regimes do not trade: without a "
        "rebalancing rule nothing then reduces the inventory (an inventory trigger holds).",
    )


class TriggerThresholds(Spec):
    """Levels of one risk measure at which a market maker enters STRESSED and CRISIS.

    It leaves a regime once the measure is below ``exit_fraction`` times that regime's
    level (see `RegimeSpec`).
    """

    stressed: PosFloat = Field(
        description="Enter STRESSED at or above this level; leave it below exit_fraction times it."
    )
    crisis: PosFloat = Field(
        description="Enter CRISIS at or above this level (>= stressed); step down to "
        "STRESSED below exit_fraction times it."
    )

    @model_validator(mode="after")
    def _check_order(self) -> TriggerThresholds:
        if self.crisis < self.stressed:
            raise ValueError(f"crisis ({self.crisis}) must be >= stressed ({self.stressed})")
        return self


class RegimeSpec(Spec):
    """Risk regimes (NORMAL, STRESSED, CRISIS) with triggers and hysteresis.

    Triggers: ``volatility`` (the market maker's volatility estimate, price units per
    sqrt(time)), ``drawdown`` (equity below its running peak, price units) and
    ``inventory_utilisation`` (``|inventory| / max_inventory``). The regime a trigger
    asks for is the highest whose threshold it reaches.

    In: the market maker escalates at once to the highest regime any trigger asks for
    (NORMAL -> STRESSED, NORMAL -> CRISIS, STRESSED -> CRISIS).

    Out: it steps down one regime at a time, CRISIS -> STRESSED -> NORMAL, each step only
    when every trigger is below ``exit_fraction`` times the thresholds of its current
    regime and it has spent at least ``min_steps`` steps there (hysteresis). There is no
    timeout: a regime lasts while a trigger stays at or above its exit level. A drawdown
    clears only when equity climbs back near its peak, so a loss never earned back holds
    the regime (`abm.risk.RegimeMachine` says when each trigger clears).
    """

    volatility: TriggerThresholds | None = Field(
        default=None,
        description="Thresholds on the volatility estimate of the reference price (price "
        "units per sqrt(time)); clears as the reference calms (EWMA decay).",
    )
    drawdown: TriggerThresholds | None = Field(
        default=None,
        description="Thresholds on equity below its running peak (price units); clears only "
        "when equity climbs back to within exit_fraction x threshold of the peak.",
    )
    inventory_utilisation: TriggerThresholds | None = Field(
        default=None,
        description="Thresholds on |inventory| / max_inventory; clears as the inventory is "
        "worked down (by fills or rebalancing: regimes do not trade).",
    )
    exit_fraction: UnitFraction = Field(
        default=0.8,
        description="Leave a regime only when every trigger is below this fraction (0-1] of "
        "the regime's threshold (1: no hysteresis band).",
    )
    min_steps: NonNegInt = Field(
        default=10,
        description="Steps a regime lasts at least, counting the step it was entered, "
        "before it may step down one regime (0 and 1 both allow the next step); escalation "
        "never waits.",
    )
    stressed: RegimeParams = Field(
        default_factory=lambda: RegimeParams(spread_mult=2.0, size_mult=0.5),
        description="How to quote while STRESSED.",
    )
    crisis: RegimeParams = Field(
        default_factory=lambda: RegimeParams(spread_mult=4.0, size_mult=0.25),
        description="How to quote while in CRISIS.",
    )


class GapControlSpec(Spec):
    """Gap-risk controls around announced shocks.

    From ``before_steps`` steps before an announced price gap to ``after_steps`` after
    it, the market maker multiplies its spread by ``spread_mult`` and its size by
    ``size_mult``, and keeps ``|inventory| <= max_exposure`` (the hard limit then).
    """

    before_steps: NonNegInt = 5
    after_steps: NonNegInt = 5
    spread_mult: PosFloat = 1.0
    size_mult: PosFloat = 1.0
    max_exposure: NonNegInt | None = None


# --- shocks ---------------------------------------------------------------------------


class _ShockBase(KindSpec):
    kind_noun: ClassVar[str] = "shock"
    step: PosInt


class PriceGapShock(_ShockBase):
    """The fundamental jumps by ``size`` (price units; log size if ``relative``) at ``step``.

    ``announced`` gap times are known in advance to market makers with gap controls.
    """

    kind: Literal["price_gap"]
    size: Float
    relative: bool = False
    announced: bool = True


class VolatilityShock(_ShockBase):
    """From ``step`` to ``until_step`` (exclusive), fundamental moves are ``multiplier`` x."""

    kind: Literal["volatility"]
    until_step: PosInt
    multiplier: PosFloat

    @model_validator(mode="after")
    def _check_window(self) -> VolatilityShock:
        if self.until_step <= self.step:
            raise ValueError(f"until_step ({self.until_step}) must be > step ({self.step})")
        return self


class _TargetedShock(_ShockBase):
    """A shock to named market makers: ``targets`` are node indices (creation order)."""

    targets: list[NonNegInt] = Field(min_length=1)


class LossShock(_TargetedShock):
    """Each target loses ``amount`` of cash (price units) to the outside world."""

    kind: Literal["loss"]
    amount: PosFloat


class DefaultShock(_TargetedShock):
    """The targets default at ``step`` (as if their equity had hit the threshold)."""

    kind: Literal["default"]


class InventoryShock(_TargetedShock):
    """Each target takes ``qty`` lots (signed) from an outside client at the mid."""

    kind: Literal["inventory"]
    qty: Int


class _WindowShock(_ShockBase):
    duration_steps: PosInt


class MarginHikeShock(_WindowShock):
    """Margin rates are multiplied by ``multiplier`` for ``duration_steps`` steps."""

    kind: Literal["margin_hike"]
    multiplier: PosFloat


class LiquidityWithdrawalShock(_WindowShock):
    """A ``fraction`` of market makers (drawn once) stop quoting for ``duration_steps``."""

    kind: Literal["liquidity_withdrawal"]
    fraction: UnitFraction


class ToxicFlowShock(_WindowShock):
    """Informed traders' arrival intensity is multiplied by ``multiplier`` for a while."""

    kind: Literal["toxic_flow"]
    multiplier: PosFloat


class CreditFreezeShock(_ShockBase):
    """All link capacities and undrawn credit are multiplied by ``factor`` from ``step`` on."""

    kind: Literal["credit_freeze"]
    factor: Annotated[float, Field(ge=0.0, le=1.0)]


ShockSpec = Annotated[
    PriceGapShock
    | VolatilityShock
    | LossShock
    | DefaultShock
    | InventoryShock
    | MarginHikeShock
    | LiquidityWithdrawalShock
    | ToxicFlowShock
    | CreditFreezeShock,
    Field(discriminator="kind"),
]

__all__ = [
    "BandHedge",
    "CreditFreezeShock",
    "DefaultShock",
    "FullHedge",
    "GapControlSpec",
    "HedgeInstrumentSpec",
    "HedgeSpec",
    "InventoryShock",
    "LiquidityWithdrawalShock",
    "LossShock",
    "MarginHikeShock",
    "NoHedge",
    "NoRebalance",
    "PartialHedge",
    "PriceGapShock",
    "ProportionalRebalance",
    "RebalanceSpec",
    "RegimeParams",
    "RegimeSpec",
    "ScheduledRebalance",
    "ShockSpec",
    "ThresholdRebalance",
    "ToxicFlowShock",
    "TriggerThresholds",
    "VolatilityShock",
]
