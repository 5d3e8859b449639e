"""Scenario schema for inventory-risk tools and shocks.

What each tool does is documented where it lives: abm/risk/regimes.py (regimes, gap controls),
abm/risk/hedging.py, abm/risk/rebalancing.py and abm/shocks.py.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from abm.scenario.types import (
    Float,
    Int,
    KindSpec,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    Probability,
    Spec,
    UnitFraction,
)

# --- rebalancing -------------------------------------------------------------------


class _RebalanceBase(KindSpec):
    kind_noun: ClassVar[str] = "rebalance"
    band: NonNegInt = Field(
        default=0, description="No-trade band: act only when |inventory - target| > band, lots."
    )
    target: Int = Field(default=0, description="Inventory to trade back to, lots.")


class NoRebalance(_RebalanceBase):
    """Skew only: never trade inventory back actively."""

    kind: Literal["none"] = Field(description="Never trade inventory back.")


class ThresholdRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, trade all the way back to ``target``."""

    kind: Literal["threshold"] = Field(description="Trade the whole gap back at once.")


class ProportionalRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, unwind ``fraction`` of the gap each step."""

    kind: Literal["proportional"] = Field(description="Unwind a fraction of the gap each step.")
    fraction: UnitFraction = Field(description="Share of the gap traded per step, in (0, 1].")


class ScheduledRebalance(_RebalanceBase):
    """When ``|inventory - target| > band``, unwind the gap in equal slices (TWAP)."""

    kind: Literal["scheduled"] = Field(description="Unwind the gap in equal slices (TWAP).")
    horizon_steps: PosInt = Field(description="Number of slices (steps) the unwind takes.")


RebalanceSpec = Annotated[
    NoRebalance | ThresholdRebalance | ProportionalRebalance | ScheduledRebalance,
    Field(discriminator="kind"),
]

# --- hedging -----------------------------------------------------------------------


class _HedgeBase(KindSpec):
    kind_noun: ClassVar[str] = "hedge"


class NoHedge(_HedgeBase):
    """Carry the book inventory unhedged."""

    kind: Literal["none"] = Field(description="No hedge.")


class FullHedge(_HedgeBase):
    """Delta-neutral every step: hedge position = -inventory."""

    kind: Literal["full"] = Field(description="Hedge position = -inventory every step.")


class BandHedge(_HedgeBase):
    """Trade back to the band edge only when ``|net delta| > band`` (a no-trade band)."""

    kind: Literal["band"] = Field(
        description="Hedge back to the band edge outside a no-trade band."
    )
    band: PosFloat = Field(description="Largest |net delta| left unhedged, lots.")


class PartialHedge(_HedgeBase):
    """Hedge ``fraction`` of the inventory every step: hedge = -round(fraction * inventory)."""

    kind: Literal["partial"] = Field(description="Hedge a fraction of the inventory every step.")
    fraction: UnitFraction = Field(description="Share of the inventory hedged, in (0, 1].")


HedgeSpec = Annotated[NoHedge | FullHedge | BandHedge | PartialHedge, Field(discriminator="kind")]


class HedgeInstrumentSpec(Spec):
    """A liquid hedge outside the book (a future or perpetual).

    Its price each step is the fundamental plus i.i.d. Gaussian basis noise of sd
    ``basis_sd`` (price units). Buying ``q`` units costs, per unit, the price plus
    ``fee`` plus ``impact * q`` (a linear temporary impact); selling receives the price
    minus the same; execution prices are rounded to the tick grid against the trader.
    """

    basis_sd: NonNegFloat = Field(
        default=0.0, description="Sd of the i.i.d. basis (hedge price - fundamental), price units."
    )
    fee: NonNegFloat = Field(default=0.0, description="Fee per unit traded, price units.")
    impact: NonNegFloat = Field(
        default=0.0, description="Linear temporary impact, price units per unit per unit traded."
    )


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
    the regime (`abm.risk.regimes.RegimeMachine` says when each trigger clears).
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
        default=RegimeParams(spread_mult=2.0, size_mult=0.5),
        description="How to quote while STRESSED.",
    )
    crisis: RegimeParams = Field(
        default=RegimeParams(spread_mult=4.0, size_mult=0.25),
        description="How to quote while in CRISIS.",
    )


class GapControlSpec(Spec):
    """Gap-risk controls around announced shocks.

    From ``before_steps`` steps before an announced price gap to ``after_steps`` after
    it, the market maker multiplies its spread by ``spread_mult`` and its size by
    ``size_mult``, and keeps ``|inventory| <= max_exposure`` (the hard limit then).
    """

    before_steps: NonNegInt = Field(
        default=5, description="Steps before an announced gap when the controls start."
    )
    after_steps: NonNegInt = Field(
        default=5, description="Steps after the gap when the controls end."
    )
    spread_mult: PosFloat = Field(
        default=1.0, description="Multiplier on the quoted spread in the window."
    )
    size_mult: PosFloat = Field(
        default=1.0, description="Multiplier on the quote size in the window."
    )
    max_exposure: NonNegInt | None = Field(
        default=None, description="Hard |inventory| limit in the window, lots (null: none)."
    )


# --- shocks ---------------------------------------------------------------------------


class _ShockBase(KindSpec):
    kind_noun: ClassVar[str] = "shock"
    step: PosInt = Field(description="Step at which the shock applies.")


class PriceGapShock(_ShockBase):
    """The fundamental jumps by ``size`` (price units; log size if ``relative``) at ``step``.

    ``announced`` gap times are known in advance to market makers with gap controls.
    """

    kind: Literal["price_gap"] = Field(description="A jump of the fundamental.")
    size: Float = Field(description="Size of the jump: price units, or a log size if relative.")
    relative: bool = Field(default=False, description="Read size as a log (relative) jump.")
    announced: bool = Field(
        default=True, description="Known in advance to market makers with gap controls."
    )


class VolatilityShock(_ShockBase):
    """From ``step`` to ``until_step`` (exclusive), fundamental moves are ``multiplier`` x."""

    kind: Literal["volatility"] = Field(description="Scaled fundamental moves for a while.")
    until_step: PosInt = Field(description="First step after the shock (exclusive end); > step.")
    multiplier: PosFloat = Field(description="Factor on the fundamental's moves.")

    @model_validator(mode="after")
    def _check_window(self) -> VolatilityShock:
        if self.until_step <= self.step:
            raise ValueError(f"until_step ({self.until_step}) must be > step ({self.step})")
        return self


class _TargetedShock(_ShockBase):
    """A shock to named market makers: ``targets`` are node indices (creation order)."""

    targets: list[NonNegInt] = Field(
        min_length=1, description="Market makers hit, as node indices (creation order)."
    )


class LossShock(_TargetedShock):
    """Each target loses ``amount`` of cash (price units) to the outside world."""

    kind: Literal["loss"] = Field(description="A cash loss to the outside world.")
    amount: PosFloat = Field(description="Cash each target loses, price units.")


class DefaultShock(_TargetedShock):
    """The targets default at ``step`` (as if their equity had hit the threshold)."""

    kind: Literal["default"] = Field(description="The targets default.")


class InventoryShock(_TargetedShock):
    """Each target takes ``qty`` lots (signed) from an outside client at the mid."""

    kind: Literal["inventory"] = Field(description="A block from an outside client at the mid.")
    qty: Int = Field(description="Lots each target receives (negative: delivers).")


class _WindowShock(_ShockBase):
    duration_steps: PosInt = Field(description="How many steps the shock lasts.")


class MarginHikeShock(_WindowShock):
    """Margin rates are multiplied by ``multiplier`` for ``duration_steps`` steps."""

    kind: Literal["margin_hike"] = Field(description="Margin rates multiplied for a while.")
    multiplier: PosFloat = Field(description="Factor on the margin rates.")


class LiquidityWithdrawalShock(_WindowShock):
    """A ``fraction`` of market makers (drawn once) stop quoting for ``duration_steps``."""

    kind: Literal["liquidity_withdrawal"] = Field(
        description="Some market makers stop quoting for a while."
    )
    fraction: UnitFraction = Field(description="Share of market makers withdrawn, in (0, 1].")


class ToxicFlowShock(_WindowShock):
    """Informed traders' arrival intensity is multiplied by ``multiplier`` for a while."""

    kind: Literal["toxic_flow"] = Field(description="More informed flow for a while.")
    multiplier: PosFloat = Field(description="Factor on informed traders' arrival intensity.")


class CreditFreezeShock(_ShockBase):
    """All link capacities and undrawn credit are multiplied by ``factor`` from ``step`` on."""

    kind: Literal["credit_freeze"] = Field(description="Credit capacity cut from step on.")
    factor: Probability = Field(
        description="Factor on link capacities and undrawn credit, in [0, 1]."
    )


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
