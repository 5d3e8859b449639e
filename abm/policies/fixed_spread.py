"""Fixed-spread quoting: a constant spread, centred on the reference or skewed by inventory.

References:
    Ho, T. and Stoll, H. R. (1981). Optimal dealer pricing under transactions and return
    uncertainty. Journal of Financial Economics 9(1), 47-73.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from abm.policies.base import (
    PolicySpecBase,
    QuotingPolicy,
    finite,
    nonnegative,
)
from abm.scenario.types import NonNegFloat

_SPREAD = "Full quoted spread ask - bid, price units."


class SymmetricSpec(PolicySpecBase):
    """Fixed spread centred on the reference price, blind to inventory."""

    kind: Literal["symmetric"] = Field(description="Constant spread around the reference.")
    spread: NonNegFloat = Field(description=_SPREAD)


class HoStollSpec(PolicySpecBase):
    """Ho and Stoll (1981): a fixed spread around a midpoint skewed against inventory."""

    kind: Literal["ho_stoll"] = Field(description="Ho and Stoll (1981) linear inventory skew.")
    spread: NonNegFloat = Field(description=_SPREAD)
    skew: NonNegFloat = Field(
        description="Shift of the quote midpoint against inventory, price units per lot."
    )


def symmetric_quotes(reference: float, spread: float) -> tuple[float, float]:
    """Constant-spread quotes centred on the reference price.

    Args:
        reference: Reference price, price units.
        spread: Total quoted spread ``ask - bid``, price units, >= 0.

    Returns:
        ``(reference - spread/2, reference + spread/2)``.

    Raises:
        PolicyError: If an input is non-finite or ``spread < 0``.
    """
    nonnegative("spread", spread)
    return _symmetric(finite("reference", reference), spread)


def _symmetric(reference: float, spread: float) -> tuple[float, float]:
    half = spread / 2
    return reference - half, reference + half


def ho_stoll_quotes(reference: float, q: float, spread: float, skew: float) -> tuple[float, float]:
    """Quotes with a linear inventory skew of the midpoint, after Ho & Stoll (1981).

    ``mid' = reference - skew * q``; ``bid, ask = mid' -/+ spread/2``. ``spread`` is the full
    quoted spread, as in :func:`symmetric_quotes` (which this is at ``skew = 0``). The skew
    leans against inventory (a long dealer lowers both quotes), so it is non-negative.

    Args:
        reference: Reference price, price units.
        q: Signed inventory, lots.
        spread: Total quoted spread ``ask - bid``, price units, >= 0.
        skew: Midpoint shift per lot of inventory, price units per lot, >= 0.

    Returns:
        ``(mid' - spread/2, mid' + spread/2)``.

    Raises:
        PolicyError: If an input is non-finite, ``spread < 0`` or ``skew < 0``.
    """
    nonnegative("spread", spread)
    nonnegative("skew", skew)
    return _ho_stoll(finite("reference", reference), finite("q", q), spread, skew)


def _ho_stoll(reference: float, q: float, spread: float, skew: float) -> tuple[float, float]:
    half = spread / 2
    mid = reference - skew * q
    return mid - half, mid + half


class Symmetric(QuotingPolicy):
    """Constant spread around the reference price, blind to inventory."""

    name = "symmetric"
    spec_type = SymmetricSpec

    def __init__(self, spec: SymmetricSpec) -> None:
        self.spread = spec.spread

    def quote_prices(
        self, reference: float, inventory: int, time: float, sigma: float
    ) -> tuple[float, float]:
        """Quote ``reference -/+ spread/2``."""
        return _symmetric(reference, self.spread)


class HoStoll(QuotingPolicy):
    """Fixed spread around a midpoint skewed linearly against inventory (Ho & Stoll 1981)."""

    name = "ho_stoll"
    spec_type = HoStollSpec

    def __init__(self, spec: HoStollSpec) -> None:
        self.spread = spec.spread
        self.skew = spec.skew

    def quote_prices(
        self, reference: float, inventory: int, time: float, sigma: float
    ) -> tuple[float, float]:
        """Quote ``reference - skew * inventory -/+ spread/2``."""
        return _ho_stoll(reference, inventory, self.spread, self.skew)
