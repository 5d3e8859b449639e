"""Glosten and Milgrom (1985): a competitive dealer learning a two-point value from trades.

References:
    Glosten, L. R. and Milgrom, P. R. (1985). Bid, ask and transaction prices in a specialist
    market with heterogeneously informed traders. Journal of Financial Economics 14(1), 71-100.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from abm.policies.base import (
    PolicyError,
    PolicySpecBase,
    QuotingPolicy,
    finite,
)
from abm.scenario.types import BelowOne, Float, OpenUnitInterval


class GlostenMilgromSpec(PolicySpecBase):
    """Glosten and Milgrom (1985) zero-profit quotes on a two-point value."""

    kind: Literal["glosten_milgrom"] = Field(
        description="Glosten and Milgrom (1985) Bayesian dealer."
    )
    v_low: Float = Field(description="The low value, price units.")
    v_high: Float = Field(description="The high value, price units; greater than v_low.")
    informed_fraction: BelowOne = Field(
        description="Share mu of traders who know the value, in [0, 1)."
    )
    prior_high: OpenUnitInterval = Field(
        default=0.5, description="Belief at time 0 that the value is v_high, in (0, 1)."
    )

    @field_validator("v_high")
    @classmethod
    def _check_high(cls, v_high: float, info: ValidationInfo) -> float:
        v_low = info.data.get("v_low")
        if v_low is not None and not v_high > v_low:
            raise ValueError(f"must be greater than v_low ({v_low!r}), got {v_high!r}")
        return v_high


def _probability(name: str, value: float) -> float:
    if not 0 <= finite(name, value) <= 1:
        raise PolicyError(f"{name} must be in [0, 1], got {value!r}")
    return value


def _informed_fraction(value: float) -> float:
    # mu = 1 makes one trade side impossible in one state, so a Bayes update could divide by 0.
    if not 0 <= finite("informed_fraction", value) < 1:
        raise PolicyError(f"informed_fraction must be in [0, 1), got {value!r}")
    return value


def _trade_likelihoods(side: str, informed_fraction: float) -> tuple[float, float]:
    """Return ``(P(side | V high), P(side | V low))`` in the Glosten-Milgrom trader mix."""
    uninformed = (1 - informed_fraction) / 2
    if side == "buy":
        return informed_fraction + uninformed, uninformed
    if side == "sell":
        return uninformed, informed_fraction + uninformed
    raise PolicyError(f"side must be 'buy' or 'sell', got {side!r}")


def glosten_milgrom_posterior(p_high: float, side: str, informed_fraction: float) -> float:
    """Bayes update of ``P(V = high)`` after one trade, Glosten & Milgrom (1985).

    A fraction ``mu`` of traders is informed and buys iff ``V`` is high (sells iff low); the
    rest buy or sell with probability 1/2 each. After a buy,
    ``p' = p (mu + (1-mu)/2) / (p (mu + (1-mu)/2) + (1-p) (1-mu)/2)``, symmetrically after a
    sell. The belief is a martingale: ``P(buy) p'_buy + P(sell) p'_sell = p``.

    Args:
        p_high: Prior probability that ``V`` is high, in [0, 1].
        side: Aggressor side of the trade, ``"buy"`` or ``"sell"``.
        informed_fraction: Fraction ``mu`` of informed traders, in [0, 1).

    Returns:
        The posterior probability that ``V`` is high.

    Raises:
        PolicyError: If ``side`` is not ``"buy"``/``"sell"`` or a probability is out of range.
    """
    _probability("p_high", p_high)
    return _posterior(p_high, side, _informed_fraction(informed_fraction))


def _posterior(p_high: float, side: str, informed_fraction: float) -> float:
    like_high, like_low = _trade_likelihoods(side, informed_fraction)
    weighted_high = p_high * like_high
    return weighted_high / (weighted_high + (1 - p_high) * like_low)


def glosten_milgrom_quotes(
    p_high: float, v_low: float, v_high: float, informed_fraction: float
) -> tuple[float, float]:
    """Zero-expected-profit quotes of Glosten & Milgrom (1985).

    ``ask = E[V | buy]`` and ``bid = E[V | sell]`` for a two-point value ``V in {v_low, v_high}``
    with ``P(V = high) = p_high`` and the trader mix of :func:`glosten_milgrom_posterior`. Hence
    ``bid <= E[V] <= ask``, with equality throughout when ``informed_fraction = 0``.

    Args:
        p_high: Current probability that ``V = v_high``, in [0, 1].
        v_low: Low value, price units.
        v_high: High value, price units, > ``v_low``.
        informed_fraction: Fraction ``mu`` of informed traders, in [0, 1).

    Returns:
        ``(bid, ask)`` in price units.

    Raises:
        PolicyError: If an input is non-finite, out of range, or ``v_low >= v_high``.
    """
    if finite("v_low", v_low) >= finite("v_high", v_high):
        raise PolicyError(f"v_low must be < v_high, got v_low={v_low!r}, v_high={v_high!r}")
    _probability("p_high", p_high)
    return _quotes(p_high, v_low, v_high, _informed_fraction(informed_fraction))


def _quotes(
    p_high: float, v_low: float, v_high: float, informed_fraction: float
) -> tuple[float, float]:
    width = v_high - v_low
    p_sell = _posterior(p_high, "sell", informed_fraction)
    p_buy = _posterior(p_high, "buy", informed_fraction)
    return v_low + width * p_sell, v_low + width * p_buy


class GlostenMilgrom(QuotingPolicy):
    """Glosten & Milgrom (1985) learning dealer over a two-point value.

    Ignores ``ctx.reference``: quotes come from the belief ``P(V = v_high)``, which each
    observed trade updates once by Bayes' rule (quantity and price carry no information in the
    model). The belief starts at ``prior_high``.
    """

    name = "glosten_milgrom"
    spec_type = GlostenMilgromSpec

    def __init__(self, spec: GlostenMilgromSpec) -> None:
        self.v_low = spec.v_low
        self.v_high = spec.v_high
        self.informed_fraction = spec.informed_fraction
        self._belief = spec.prior_high

    @property
    def belief(self) -> float:
        """Current probability that the value is ``v_high``."""
        return self._belief

    def quote_prices(
        self, reference: float, inventory: int, time: float, sigma: float
    ) -> tuple[float, float]:
        """Quote ``E[V | sell]``, ``E[V | buy]`` under the current belief."""
        return _quotes(self._belief, self.v_low, self.v_high, self.informed_fraction)

    def observe_trade(self, side: str, price: float, qty: int) -> None:
        """Update the belief once by Bayes' rule on the aggressor side.

        Args:
            side: Aggressor side, ``"buy"`` or ``"sell"``.
            price: Trade price (unused: the model's trades are informative only by side).
            qty: Traded quantity in lots, > 0 (unused).

        Raises:
            PolicyError: If ``side`` is neither ``"buy"`` nor ``"sell"``.
        """
        self._belief = _posterior(self._belief, side, self.informed_fraction)
