"""What every quoting policy shares: the context it quotes in, the quote, the base class.

A policy is built once from its validated spec (the schema is the one place its parameters
are declared and checked) and then quotes every requote without re-checking anything. A
policy's formula is its :meth:`QuotingPolicy.quote_prices` (bare floats in, a ``(bid, ask)``
tuple out: the market maker's per-step path, which builds no value objects);
:meth:`QuotingPolicy.quote` wraps it in the plain value types :class:`QuoteContext` and
:class:`Quote`. The public closed-form functions in the formula modules check their
arguments, because users call them with bare numbers; policies call unchecked inner versions.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar

from abm.errors import AbmError
from abm.scenario.types import FactorySpec


class PolicyError(AbmError, ValueError):
    """A quoting policy or formula was given an unknown kind or an invalid parameter."""


class PolicySpecBase(FactorySpec):
    """The spec of one quoting policy; its ``kind`` is the policy's key in ``POLICIES``."""

    kind_noun: ClassVar[str] = "policy"
    kind: str


# --- argument checks of the public formulas (never on the policies' quote path); each returns
# its input unchanged so exact types (e.g. Fraction) survive


def finite(name: str, value: float) -> float:
    """Return ``value`` if it is a finite real number (not a bool), else raise PolicyError."""
    if (type(value) is float or type(value) is int) and math.isfinite(value):
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise PolicyError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise PolicyError(f"{name} must be finite, got {value!r}")
    return value


def positive(name: str, value: float) -> float:
    """Return ``value`` if it is finite and > 0, else raise PolicyError."""
    if finite(name, value) <= 0:
        raise PolicyError(f"{name} must be > 0, got {value!r}")
    return value


def nonnegative(name: str, value: float) -> float:
    """Return ``value`` if it is finite and >= 0, else raise PolicyError."""
    if finite(name, value) < 0:
        raise PolicyError(f"{name} must be >= 0, got {value!r}")
    return value


# --- value types


@dataclass(frozen=True, slots=True)
class QuoteContext:
    """What a market maker knows when it quotes (built by the engine from checked state).

    Attributes:
        reference: Reference price (mid or fundamental estimate), price units; finite.
        inventory: Signed position in lots (positive = long).
        time: Model time ``t``; finite.
        sigma: Volatility estimate in price units per sqrt(time unit); finite and >= 0.
    """

    reference: float
    inventory: int
    time: float
    sigma: float


@dataclass(frozen=True, slots=True)
class Quote:
    """Two-sided quote in price units (unrounded); ``None`` means do not quote that side.

    Every registered policy with valid parameters gives ``bid <= ask`` for a valid context
    (each formula's spread is non-negative and independent of the inventory).
    """

    bid: float | None
    ask: float | None


class QuotingPolicy(ABC):
    """A market maker's quoting rule: parameters (and any learning state) plus a formula.

    Subclasses set ``name`` (their key in ``POLICIES``, the ``kind`` of their spec) and
    ``spec_type``, are built from a validated spec (``Cls(spec)``) and implement
    :meth:`quote_prices`. Neither their constructors nor their quotes re-check what the spec
    guarantees.
    """

    name: ClassVar[str]
    spec_type: ClassVar[type[PolicySpecBase]]

    @abstractmethod
    def __init__(self, spec: Any) -> None:
        """Take the parameters from ``spec`` (an instance of ``spec_type``)."""

    @abstractmethod
    def quote_prices(
        self, reference: float, inventory: int, time: float, sigma: float
    ) -> tuple[float | None, float | None]:
        """The quote for a context given field by field: ``(bid, ask)``, unrounded, price units.

        The arguments are those of :class:`QuoteContext` (the caller guarantees what it
        states); ``None`` means do not quote that side. This is the market maker's per-step
        path: it checks nothing and allocates no value objects.
        """

    def quote(self, ctx: QuoteContext) -> Quote:
        """Return the quote for the current context (prices unrounded, in price units)."""
        return Quote(*self.quote_prices(ctx.reference, ctx.inventory, ctx.time, ctx.sigma))

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
