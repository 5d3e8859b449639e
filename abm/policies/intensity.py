"""Quotes that solve the market maker's control problem under fill intensities A exp(-k delta).

Avellaneda and Stoikov (2008) give finite-horizon quotes; Guéant, Lehalle and
Fernandez-Tapia (2013) their long-horizon (stationary) limit, with the exponent of the
objective decoupled from the risk aversion by Guéant (2017).

One vocabulary: ``gamma`` is a risk aversion per price unit; ``k`` the decay, per price unit
of distance, of the fill intensity ``A exp(-k delta)``; ``A`` that intensity at zero distance
(fills per unit of time). sigma is not a policy parameter: it is the market maker's
volatility estimate, passed in the :class:`~abm.policies.base.QuoteContext`.

References:
    Avellaneda, M. and Stoikov, S. (2008). High-frequency trading in a limit order book.
    Quantitative Finance 8(3), 217-224.
    Guéant, O., Lehalle, C.-A. and Fernandez-Tapia, J. (2013). Dealing with the inventory risk:
    a solution to the market making problem. Mathematics and Financial Economics 7(4), 477-507.
    Guéant, O. (2017). Optimal market making. Applied Mathematical Finance 24(2), 112-154.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from abm.policies.base import (
    PolicySpecBase,
    QuotingPolicy,
    finite,
    nonnegative,
    positive,
)
from abm.scenario.types import PosFloat

_GAMMA = "Risk aversion, per price unit (larger: stronger inventory skew)."
_K = "Decay of the fill intensity A exp(-k delta) with the quote distance delta, per price unit."


class AvellanedaStoikovSpec(PolicySpecBase):
    """Avellaneda and Stoikov (2008): reservation price and spread, eqs. 29-30."""

    kind: Literal["avellaneda_stoikov"] = Field(
        description="Avellaneda and Stoikov (2008) finite-horizon quotes."
    )
    gamma: PosFloat = Field(description=_GAMMA)
    k: PosFloat = Field(description=_K)
    T: PosFloat = Field(description="Horizon, in model time; the time to horizon is max(T - t, 0).")


class GLFTSpec(PolicySpecBase):
    """Guéant, Lehalle and Fernandez-Tapia (2013) asymptotic quotes; xi from Guéant (2017)."""

    kind: Literal["glft"] = Field(
        description="Guéant, Lehalle and Fernandez-Tapia (2013) stationary quotes."
    )
    gamma: PosFloat = Field(description=_GAMMA)
    k: PosFloat = Field(description=_K)
    A: PosFloat = Field(
        description="Fill intensity at zero distance, fills per unit of model time."
    )
    xi: PosFloat | None = Field(
        default=None,
        description="Exponent of the objective (Guéant 2017), per price unit; null: gamma.",
    )


# --- Avellaneda and Stoikov (2008)


def avellaneda_stoikov_reservation(
    s: float, q: float, gamma: float, sigma: float, tau: float
) -> float:
    """Reservation (indifference) price, Avellaneda & Stoikov (2008) eq. (29).

    ``r = s - q * gamma * sigma**2 * tau``.

    Args:
        s: Mid price, price units.
        q: Signed inventory, lots.
        gamma: Risk aversion, > 0, per price unit.
        sigma: Volatility, price units per sqrt(time unit), >= 0.
        tau: Time to horizon ``T - t``, >= 0.

    Returns:
        The reservation price ``r``, price units.

    Raises:
        PolicyError: If an input is non-finite or outside its domain.
    """
    positive("gamma", gamma)
    nonnegative("sigma", sigma)
    nonnegative("tau", tau)
    return _reservation(finite("s", s), finite("q", q), gamma, sigma, tau)


def _reservation(s: float, q: float, gamma: float, sigma: float, tau: float) -> float:
    return s - q * gamma * sigma**2 * tau


def avellaneda_stoikov_spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    """Optimal total spread, Avellaneda & Stoikov (2008) eq. (30).

    ``delta_a + delta_b = gamma * sigma**2 * tau + (2 / gamma) * ln(1 + gamma / k)``.

    Args:
        gamma: Risk aversion, > 0, per price unit.
        sigma: Volatility, price units per sqrt(time unit), >= 0.
        tau: Time to horizon ``T - t``, >= 0.
        k: Decay of the fill intensity ``A exp(-k delta)``, > 0, per price unit.

    Returns:
        The total spread ``ask - bid``, price units (always > 0).

    Raises:
        PolicyError: If an input is non-finite or outside its domain.
    """
    positive("gamma", gamma)
    nonnegative("sigma", sigma)
    nonnegative("tau", tau)
    positive("k", k)
    return _spread(gamma, sigma, tau, k)


def _spread(gamma: float, sigma: float, tau: float, k: float) -> float:
    return gamma * sigma**2 * tau + _liquidity_term(gamma, k)


def _liquidity_term(gamma: float, k: float) -> float:
    """Eq. (30)'s term that depends on the parameters only: ``(2 / gamma) ln(1 + gamma / k)``."""
    return (2 / gamma) * math.log1p(gamma / k)


def avellaneda_stoikov_quotes(
    s: float, q: float, gamma: float, sigma: float, tau: float, k: float
) -> tuple[float, float]:
    """Avellaneda & Stoikov (2008) quotes: reservation price (eq. 29) -/+ half the spread (eq. 30).

    Arguments, units and domains are those of :func:`avellaneda_stoikov_reservation` and
    :func:`avellaneda_stoikov_spread`.

    Returns:
        ``(r - spread/2, r + spread/2)``.

    Raises:
        PolicyError: If an input is non-finite or outside its domain.
    """
    positive("gamma", gamma)
    nonnegative("sigma", sigma)
    nonnegative("tau", tau)
    positive("k", k)
    return _as_quotes(finite("s", s), finite("q", q), gamma, sigma, tau, k)


def _as_quotes(
    s: float, q: float, gamma: float, sigma: float, tau: float, k: float
) -> tuple[float, float]:
    return _as_quotes_given(s, q, gamma, sigma, tau, _liquidity_term(gamma, k))


def _as_quotes_given(
    s: float, q: float, gamma: float, sigma: float, tau: float, liquidity: float
) -> tuple[float, float]:
    """:func:`_as_quotes` with eq. (30)'s `_liquidity_term` given: the same expressions, inline."""
    r = s - q * gamma * sigma**2 * tau  # _reservation
    half = (gamma * sigma**2 * tau + liquidity) / 2  # _spread / 2
    return r - half, r + half


# --- Guéant, Lehalle and Fernandez-Tapia (2013)


def glft_quotes(
    s: float, q: float, gamma: float, sigma: float, k: float, A: float, xi: float | None = None
) -> tuple[float, float]:
    """Asymptotic closed-form optimal quotes of Guéant, Lehalle & Fernandez-Tapia (2013).

    With fill intensities ``A exp(-k delta)`` on each side, the long-horizon approximations are
    (GLFT 2013, closed-form approximations of ``delta_b_inf(q)``, ``delta_a_inf(q)``; Guéant 2017,
    same form with the exponent ``xi`` of the objective decoupled from ``gamma``)::

        c1      = (1/xi) * ln(1 + xi/k)
        c2      = sigma * sqrt( gamma / (2 A k) * (1 + xi/k) ** (k/xi + 1) )
        delta_b = c1 + (2q + 1)/2 * c2
        delta_a = c1 - (2q - 1)/2 * c2
        bid = s - delta_b,  ask = s + delta_a

    so the spread ``2 c1 + c2`` does not depend on ``q`` and the quote midpoint is ``s - c2 q``.
    ``xi = gamma`` recovers the GLFT (2013) formulas. The approximation has no inventory bound:
    for large ``|q|`` one distance turns negative and the caller should enforce its limits.

    Args:
        s: Reference price, price units.
        q: Signed inventory, lots.
        gamma: Risk aversion, > 0, per price unit (as in :func:`avellaneda_stoikov_quotes`).
        sigma: Volatility, price units per sqrt(time unit), >= 0.
        k: Decay of the fill intensity ``A exp(-k delta)``, > 0, per price unit.
        A: Fill intensity at zero distance, > 0, fills per time unit.
        xi: Exponent of the objective (Guéant 2017), > 0, per price unit; ``None`` means
            ``gamma``.

    Returns:
        ``(bid, ask)`` in price units.

    Raises:
        PolicyError: If an input is non-finite or outside its domain.
    """
    positive("gamma", gamma)
    nonnegative("sigma", sigma)
    positive("k", k)
    positive("A", A)
    x = gamma if xi is None else positive("xi", xi)
    c1, root = _glft_constants(gamma, k, A, x)
    return _glft(finite("s", s), finite("q", q), sigma, c1, root)


def _glft_constants(gamma: float, k: float, A: float, x: float) -> tuple[float, float]:
    """``c1`` and ``c2 / sigma`` of :func:`glft_quotes` (with ``x`` the exponent xi)."""
    c1 = math.log1p(x / k) / x
    # exp/log1p keeps (1 + x/k)**(k/x + 1) accurate when x/k is tiny (it tends to e).
    root = math.sqrt(gamma / (2 * A * k) * math.exp((k / x + 1) * math.log1p(x / k)))
    return c1, root


def _glft(s: float, q: float, sigma: float, c1: float, root: float) -> tuple[float, float]:
    c2 = sigma * root
    delta_b = c1 + (2 * q + 1) / 2 * c2
    delta_a = c1 - (2 * q - 1) / 2 * c2
    return s - delta_b, s + delta_a


class AvellanedaStoikov(QuotingPolicy):
    """Avellaneda & Stoikov (2008) finite-horizon quotes with ``tau = max(T - t, 0)``.

    The spread's term that does not depend on the context (`_liquidity_term`) is computed once,
    at construction.
    """

    name = "avellaneda_stoikov"
    spec_type = AvellanedaStoikovSpec

    def __init__(self, spec: AvellanedaStoikovSpec) -> None:
        self.gamma = spec.gamma
        self.k = spec.k
        self.T = spec.T
        self._liquidity = _liquidity_term(self.gamma, self.k)

    def quote_prices(
        self, reference: float, inventory: int, time: float, sigma: float
    ) -> tuple[float, float]:
        """Quote eqs. (29)-(30) at ``s = reference``, ``q = inventory``."""
        tau = max(self.T - time, 0.0)
        return _as_quotes_given(reference, inventory, self.gamma, sigma, tau, self._liquidity)


class GLFT(QuotingPolicy):
    """Guéant-Lehalle-Fernandez-Tapia (2013) asymptotic quotes (stationary in time).

    The parts of the formula that do not depend on the context (``c1`` and ``c2 / sigma``)
    are computed once, at construction.
    """

    name = "glft"
    spec_type = GLFTSpec

    def __init__(self, spec: GLFTSpec) -> None:
        self.gamma = spec.gamma
        self.k = spec.k
        self.A = spec.A
        self.xi = spec.xi
        exponent = self.gamma if self.xi is None else self.xi
        self._c1, self._root = _glft_constants(self.gamma, self.k, self.A, exponent)

    def quote_prices(
        self, reference: float, inventory: int, time: float, sigma: float
    ) -> tuple[float, float]:
        """Quote :func:`glft_quotes` at ``s = reference``, ``q = inventory``."""
        return _glft(reference, inventory, sigma, self._c1, self._root)
