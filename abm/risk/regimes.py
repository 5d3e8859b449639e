"""Risk regimes of a market maker, with hysteresis, and the quoting limits they imply.

The regime is a three-state machine (`RegimeMachine`), fed once per step with the market
maker's `RiskReading`. How a market maker gets into STRESSED or CRISIS, and how it gets
back out, is documented there; the trigger levels are the scenario's `RegimeSpec`, defined
here with the per-regime quoting parameters and the gap-risk controls (`GapControlSpec`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, model_validator

from abm.scenario.types import (
    NonNegInt,
    NonNegLots,
    PosFloat,
    Spec,
    UnitFraction,
)
from abm.states import Regime


class RegimeParams(Spec):
    """How a market maker quotes in one regime: multipliers on its normal quotes."""

    spread_mult: PosFloat = Field(
        default=1.0, description="Quoted spread multiplier around the policy's centre (> 0)."
    )
    size_mult: PosFloat = Field(
        default=1.0, description="Quote size multiplier (> 0); sizes round to at least 1 lot."
    )
    max_inventory: NonNegLots | None = Field(
        default=None,
        description="Tighter inventory limit in this regime (lots (<= 1e9); the stricter limit "
        "wins).",
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
    max_exposure: NonNegLots | None = Field(
        default=None,
        description="Hard |inventory| limit in the window, lots (<= 1e9) (null: none).",
    )


_ORDER = (Regime.NORMAL, Regime.STRESSED, Regime.CRISIS)
_NORMAL_PARAMS = RegimeParams()


@dataclass(frozen=True, slots=True)
class RiskReading:
    """The measures regime triggers look at, for one market maker at one step.

    Attributes:
        volatility: The market maker's volatility estimate of its reference price (price
            units per sqrt(time); the EWMA or given value its quotes use).
        drawdown: Equity below its running peak since the start (price units, >= 0).
        inventory_utilisation: ``|inventory| / max_inventory`` (0 without a limit).
    """

    volatility: float
    drawdown: float
    inventory_utilisation: float


def _level(value: float, thresholds: TriggerThresholds | None, scale: float = 1.0) -> int:
    """0, 1 or 2: the highest regime whose (scaled) threshold ``value`` reaches."""
    if thresholds is None:
        return 0
    if value >= thresholds.crisis * scale:
        return 2
    if value >= thresholds.stressed * scale:
        return 1
    return 0


class RegimeMachine:
    """NORMAL, STRESSED and CRISIS, with immediate escalation and a hysteresis way back.

    Each step's `update` compares every configured trigger (`RegimeSpec`: ``volatility``,
    ``drawdown``, ``inventory_utilisation``) with its thresholds. A trigger *asks for*
    CRISIS if it is at or above its ``crisis`` threshold, else STRESSED if at or above
    its ``stressed`` threshold, else NORMAL. Transitions, checked in this order:

    - up (any regime): to the highest regime any trigger asks for, if that is above the
      current one, at once: NORMAL -> STRESSED, NORMAL -> CRISIS, STRESSED -> CRISIS.
    - CRISIS -> STRESSED: when every trigger is below ``exit_fraction`` x its ``crisis``
      threshold and CRISIS has lasted ``min_steps`` updates.
    - STRESSED -> NORMAL: when every trigger is below ``exit_fraction`` x its ``stressed``
      threshold and STRESSED has lasted ``min_steps`` updates.

    So the way back is one regime at a time (CRISIS to NORMAL takes at least two updates,
    ``min_steps`` apart), and a measure between the exit level and the entry threshold
    keeps the current regime: it can neither flap around a threshold nor leave before
    its trigger has clearly cleared. There is no timeout: a regime lasts exactly as long
    as some trigger stays at or above its exit level. When that is, per trigger:

    - ``volatility`` clears once the reference price calms down: an EWMA variance decays
      by ``0.5 ** (1 / halflife_steps)`` per calm step. A reference that stays noisy keeps
      it up, e.g. the mid of a thin book whose maker quotes outside the other orders, or
      that falls back to the last trade while one side is empty.
    - ``drawdown`` is measured from the running peak of equity and clears only when equity
      climbs back to within ``exit_fraction`` x threshold of that peak: a loss that is
      never earned back holds the regime to the end of the run (a stop-loss by design).
    - ``inventory_utilisation`` clears when the inventory is worked down. Regimes do not
      trade; a regime that withdraws (``withdraw``) from a maker without a rebalancing
      rule leaves nothing that could reduce the inventory, so it holds.

    Args:
        spec: Triggers, hysteresis and per-regime quoting parameters.
    """

    def __init__(self, spec: RegimeSpec) -> None:
        self.spec = spec
        self.regime = Regime.NORMAL
        self.steps_in_regime = 0

    def _asked(self, reading: RiskReading, scale: float) -> int:
        spec = self.spec
        return max(
            _level(reading.volatility, spec.volatility, scale),
            _level(reading.drawdown, spec.drawdown, scale),
            _level(reading.inventory_utilisation, spec.inventory_utilisation, scale),
        )

    def update(self, reading: RiskReading) -> Regime | None:
        """Feed one step's reading; return the new regime if it changed, else None.

        ``steps_in_regime`` counts the updates since the last transition (this one
        included); a transition resets it to 0.
        """
        current = _ORDER.index(self.regime)
        self.steps_in_regime += 1
        target = current
        entering = self._asked(reading, 1.0)
        if entering > current:
            target = entering
        elif (
            current > 0
            and self.steps_in_regime >= self.spec.min_steps
            and self._asked(reading, self.spec.exit_fraction) < current
        ):
            target = current - 1
        if target == current:
            return None
        self.regime = _ORDER[target]
        self.steps_in_regime = 0
        return self.regime

    def params(self) -> RegimeParams:
        """Quoting parameters of the current regime (NORMAL: no change)."""
        if self.regime is Regime.STRESSED:
            return self.spec.stressed
        if self.regime is Regime.CRISIS:
            return self.spec.crisis
        return _NORMAL_PARAMS
