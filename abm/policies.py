"""Quoting policies for market makers: closed-form quote formulas and thin policy objects.

Every formula is a pure function of floats returning ``(bid, ask)`` in price units; a policy
class holds the parameters (and, for Glosten-Milgrom, the belief that lives across steps) and
maps a :class:`QuoteContext` to a :class:`Quote`. Nothing here knows about ticks, the order
book or Mesa: the caller rounds prices to ticks and enforces inventory limits by withdrawing a
side (``None`` in :class:`Quote`).

References:
    Ho, T. and Stoll, H. R. (1981). Optimal dealer pricing under transactions and return
    uncertainty. Journal of Financial Economics 9(1), 47-73.
    Glosten, L. R. and Milgrom, P. R. (1985). Bid, ask and transaction prices in a specialist
    market with heterogeneously informed traders. Journal of Financial Economics 14(1), 71-100.
    Avellaneda, M. and Stoikov, S. (2008). High-frequency trading in a limit order book.
    Quantitative Finance 8(3), 217-224.
    Guéant, O., Lehalle, C.-A. and Fernandez-Tapia, J. (2013). Dealing with the inventory risk:
    a solution to the market making problem. Mathematics and Financial Economics 7(4), 477-507.
    Guéant, O. (2017). Optimal market making. Applied Mathematical Finance 24(2), 112-154.
"""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any, ClassVar

from abm.errors import AbmError


class PolicyError(AbmError, ValueError):
    """A quoting policy or formula was given an unknown kind or an invalid parameter."""


# --- validation helpers: each returns its input unchanged so exact types (e.g. Fraction) survive


def _finite(name: str, value: float) -> float:
    # fast path: plain floats and ints, what the simulator passes on every quote
    if (type(value) is float or type(value) is int) and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise PolicyError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise PolicyError(f"{name} must be finite, got {value!r}")
    return value


def _positive(name: str, value: float) -> float:
    if _finite(name, value) <= 0:
        raise PolicyError(f"{name} must be > 0, got {value!r}")
    return value


def _nonnegative(name: str, value: float) -> float:
    if _finite(name, value) < 0:
        raise PolicyError(f"{name} must be >= 0, got {value!r}")
    return value


def _informed_fraction(value: float) -> float:
    # mu = 1 makes one trade side impossible in one state, so a Bayes update could divide by 0.
    if not 0 <= _finite("informed_fraction", value) < 1:
        raise PolicyError(f"informed_fraction must be in [0, 1), got {value!r}")
    return value


def _ordered_values(v_low: float, v_high: float) -> None:
    if _finite("v_low", v_low) >= _finite("v_high", v_high):
        raise PolicyError(f"v_low must be < v_high, got v_low={v_low!r}, v_high={v_high!r}")


def _probability(name: str, value: float) -> float:
    if not 0 <= _finite(name, value) <= 1:
        raise PolicyError(f"{name} must be in [0, 1], got {value!r}")
    return value


# --- value types


@dataclass(frozen=True, slots=True)
class QuoteContext:
    """What a market maker knows when it quotes.

    Attributes:
        reference: Reference price (mid or fundamental estimate), price units; finite.
        inventory: Signed position in lots (positive = long).
        time: Model time ``t``; finite.
        sigma: Volatility estimate in price units per sqrt(time unit); finite and >= 0.

    Raises:
        PolicyError: If a field is non-finite, ``sigma`` is negative or ``inventory`` is not an
            integer.
    """

    reference: float
    inventory: int
    time: float
    sigma: float

    def __post_init__(self) -> None:
        _finite("reference", self.reference)
        _finite("time", self.time)
        _nonnegative("sigma", self.sigma)
        inventory = self.inventory
        # plain int first: the ABC check against Integral is slow, and this runs on every quote
        if type(inventory) is not int and (
            isinstance(inventory, bool) or not isinstance(inventory, Integral)
        ):
            raise PolicyError(
                f"inventory must be an integer number of lots, got {self.inventory!r}"
            )


@dataclass(frozen=True, slots=True)
class Quote:
    """Two-sided quote in price units (unrounded); ``None`` means do not quote that side.

    Raises:
        PolicyError: If a price is non-finite or ``bid > ask`` (a crossed quote).
    """

    bid: float | None
    ask: float | None

    def __post_init__(self) -> None:
        if self.bid is not None:
            _finite("bid", self.bid)
        if self.ask is not None:
            _finite("ask", self.ask)
        if self.bid is not None and self.ask is not None and self.bid > self.ask:
            raise PolicyError(f"quote is crossed: bid {self.bid!r} > ask {self.ask!r}")


# --- pure closed forms


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
    half = _nonnegative("spread", spread) / 2
    return _finite("reference", reference) - half, reference + half


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
    _positive("gamma", gamma)
    _nonnegative("sigma", sigma)
    _nonnegative("tau", tau)
    return _finite("s", s) - _finite("q", q) * gamma * sigma**2 * tau


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
    _positive("gamma", gamma)
    _nonnegative("sigma", sigma)
    _nonnegative("tau", tau)
    _positive("k", k)
    return gamma * sigma**2 * tau + (2 / gamma) * math.log1p(gamma / k)


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
    r = avellaneda_stoikov_reservation(s, q, gamma, sigma, tau)
    half = avellaneda_stoikov_spread(gamma, sigma, tau, k) / 2
    return r - half, r + half


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
    _positive("gamma", gamma)
    _nonnegative("sigma", sigma)
    _positive("k", k)
    _positive("A", A)
    x = gamma if xi is None else _positive("xi", xi)
    c1 = math.log1p(x / k) / x
    # exp/log1p keeps (1 + x/k)**(k/x + 1) accurate when x/k is tiny (it tends to e).
    c2 = sigma * math.sqrt(gamma / (2 * A * k) * math.exp((k / x + 1) * math.log1p(x / k)))
    _finite("q", q)
    delta_b = c1 + (2 * q + 1) / 2 * c2
    delta_a = c1 - (2 * q - 1) / 2 * c2
    return _finite("s", s) - delta_b, s + delta_a


def ho_stoll_quotes(reference: float, q: float, spread: float, skew: float) -> tuple[float, float]:
    """Quotes with a linear inventory skew of the midpoint, after Ho & Stoll (1981).

    ``mid' = reference - skew * q``; ``bid, ask = mid' -/+ spread/2``. ``spread`` is the full
    quoted spread, as in :func:`symmetric_quotes` (which this is at ``skew = 0``).

    Args:
        reference: Reference price, price units.
        q: Signed inventory, lots.
        spread: Total quoted spread ``ask - bid``, price units, >= 0.
        skew: Midpoint shift per lot of inventory, price units per lot.

    Returns:
        ``(mid' - spread/2, mid' + spread/2)``.

    Raises:
        PolicyError: If an input is non-finite or ``spread < 0``.
    """
    half = _nonnegative("spread", spread) / 2
    mid = _finite("reference", reference) - _finite("skew", skew) * _finite("q", q)
    return mid - half, mid + half


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
    like_high, like_low = _trade_likelihoods(side, _informed_fraction(informed_fraction))
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
    _ordered_values(v_low, v_high)
    width = v_high - v_low
    p_sell = glosten_milgrom_posterior(p_high, "sell", informed_fraction)
    p_buy = glosten_milgrom_posterior(p_high, "buy", informed_fraction)
    return v_low + width * p_sell, v_low + width * p_buy


# --- policy objects


class QuotingPolicy(ABC):
    """A market maker's quoting rule: parameters (and any learning state) plus a formula.

    Subclasses set ``name`` (their key in :data:`POLICIES`) and validate their parameters in
    ``__init__``, raising :class:`PolicyError`.
    """

    name: ClassVar[str]

    @abstractmethod
    def quote(self, ctx: QuoteContext) -> Quote:
        """Return the quote for the current context (prices unrounded, in price units)."""

    def observe_trade(self, side: str, price: float, qty: int) -> None:  # noqa: B027
        """Learn from a trade the market maker saw; stateless policies ignore it.

        Args:
            side: Aggressor side, ``"buy"`` or ``"sell"``.
            price: Trade price, price units.
            qty: Traded quantity, lots (> 0).
        """

    def __repr__(self) -> str:
        params = ", ".join(f"{key.lstrip('_')}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({params})"


class Symmetric(QuotingPolicy):
    """Constant spread around the reference price, blind to inventory."""

    name = "symmetric"

    def __init__(self, *, spread: float) -> None:
        self.spread = float(_nonnegative("spread", spread))

    def quote(self, ctx: QuoteContext) -> Quote:
        """Quote ``reference -/+ spread/2``."""
        return Quote(*symmetric_quotes(ctx.reference, self.spread))


class AvellanedaStoikov(QuotingPolicy):
    """Avellaneda & Stoikov (2008) finite-horizon quotes with ``tau = max(T - t, 0)``."""

    name = "avellaneda_stoikov"

    def __init__(self, *, gamma: float, k: float, T: float) -> None:
        self.gamma = float(_positive("gamma", gamma))
        self.k = float(_positive("k", k))
        self.T = float(_positive("T", T))

    def quote(self, ctx: QuoteContext) -> Quote:
        """Quote eqs. (29)-(30) at ``s = reference``, ``q = inventory``, ``sigma = ctx.sigma``."""
        tau = max(self.T - ctx.time, 0.0)
        return Quote(
            *avellaneda_stoikov_quotes(
                ctx.reference, ctx.inventory, self.gamma, ctx.sigma, tau, self.k
            )
        )


class GLFT(QuotingPolicy):
    """Guéant-Lehalle-Fernandez-Tapia (2013) asymptotic quotes (stationary in time)."""

    name = "glft"

    def __init__(self, *, gamma: float, k: float, A: float, xi: float | None = None) -> None:
        self.gamma = float(_positive("gamma", gamma))
        self.k = float(_positive("k", k))
        self.A = float(_positive("A", A))
        self.xi = None if xi is None else float(_positive("xi", xi))

    def quote(self, ctx: QuoteContext) -> Quote:
        """Quote :func:`glft_quotes` at ``s = reference``, ``q = inventory``."""
        return Quote(
            *glft_quotes(
                ctx.reference, ctx.inventory, self.gamma, ctx.sigma, self.k, self.A, self.xi
            )
        )


class HoStoll(QuotingPolicy):
    """Fixed spread around a midpoint skewed linearly against inventory (Ho & Stoll 1981)."""

    name = "ho_stoll"

    def __init__(self, *, spread: float, skew: float) -> None:
        self.spread = float(_nonnegative("spread", spread))
        self.skew = float(_finite("skew", skew))

    def quote(self, ctx: QuoteContext) -> Quote:
        """Quote ``reference - skew * inventory -/+ spread/2``."""
        return Quote(*ho_stoll_quotes(ctx.reference, ctx.inventory, self.spread, self.skew))


class GlostenMilgrom(QuotingPolicy):
    """Glosten & Milgrom (1985) learning dealer over a two-point value.

    Ignores ``ctx.reference``: quotes come from the belief ``P(V = v_high)``, which each
    observed trade updates once by Bayes' rule (quantity and price carry no information in the
    model). The belief starts at ``prior_high``.
    """

    name = "glosten_milgrom"

    def __init__(
        self, *, v_low: float, v_high: float, informed_fraction: float, prior_high: float = 0.5
    ) -> None:
        _ordered_values(v_low, v_high)
        if not 0 < _finite("prior_high", prior_high) < 1:
            raise PolicyError(f"prior_high must be in (0, 1), got {prior_high!r}")
        self.v_low = float(v_low)
        self.v_high = float(v_high)
        self.informed_fraction = float(_informed_fraction(informed_fraction))
        self._belief = float(prior_high)

    @property
    def belief(self) -> float:
        """Current probability that the value is ``v_high``."""
        return self._belief

    def quote(self, ctx: QuoteContext) -> Quote:
        """Quote ``E[V | sell]``, ``E[V | buy]`` under the current belief."""
        return Quote(
            *glosten_milgrom_quotes(self._belief, self.v_low, self.v_high, self.informed_fraction)
        )

    def observe_trade(self, side: str, price: float, qty: int) -> None:
        """Update the belief once by Bayes' rule on the aggressor side.

        Args:
            side: Aggressor side, ``"buy"`` or ``"sell"``.
            price: Trade price (unused: the model's trades are informative only by side).
            qty: Traded quantity in lots, > 0 (unused beyond validation).

        Raises:
            PolicyError: If ``side`` is invalid or ``qty <= 0``.
        """
        if qty <= 0:
            raise PolicyError(f"qty must be a positive number of lots, got {qty!r}")
        self._belief = glosten_milgrom_posterior(self._belief, side, self.informed_fraction)


POLICIES: Mapping[str, type[QuotingPolicy]] = MappingProxyType(
    {cls.name: cls for cls in (Symmetric, AvellanedaStoikov, GLFT, HoStoll, GlostenMilgrom)}
)


def make_policy(kind: str, **params: Any) -> QuotingPolicy:
    """Build a registered quoting policy from its name and keyword parameters.

    Args:
        kind: A key of :data:`POLICIES`.
        **params: The policy's keyword-only constructor parameters.

    Returns:
        The constructed policy.

    Raises:
        PolicyError: If ``kind`` is unknown (the message lists the known kinds), a parameter is
            missing or not accepted by that policy, or a value is invalid (the message names
            the parameter and the problem).
    """
    cls = POLICIES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise PolicyError(
            f"unknown policy kind {kind!r}; known kinds: {', '.join(sorted(POLICIES))}"
        )
    signature = inspect.signature(cls)
    accepted = list(signature.parameters)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise PolicyError(
            f"policy {kind!r} does not accept parameter(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(accepted)}"
        )
    missing = [
        name
        for name, parameter in signature.parameters.items()
        if parameter.default is inspect.Parameter.empty and name not in params
    ]
    if missing:
        raise PolicyError(f"policy {kind!r} is missing parameter(s) {', '.join(missing)}")
    return cls(**params)
