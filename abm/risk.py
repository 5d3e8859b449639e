"""Risk regimes of a market maker, with hysteresis, and the quoting limits they imply."""

from __future__ import annotations

from dataclasses import dataclass

from abm.agents.base import Regime
from abm.risk_specs import RegimeParams, RegimeSpec, TriggerThresholds

_ORDER = (Regime.NORMAL, Regime.STRESSED, Regime.CRISIS)
_NORMAL_PARAMS = RegimeParams()


@dataclass(frozen=True, slots=True)
class RiskReading:
    """The measures regime triggers look at, for one market maker at one step."""

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
    """NORMAL -> STRESSED -> CRISIS transitions with hysteresis (see `RegimeSpec`).

    Escalation is immediate, to the highest regime any trigger asks for. De-escalation is
    one regime at a time, only when every trigger, measured against ``exit_fraction``
    times the thresholds, asks for a lower regime and the current one has lasted
    ``min_steps`` steps: a measure hovering at a threshold cannot make the regime flap.

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
        """Feed one step's reading; return the new regime if it changed, else None."""
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
