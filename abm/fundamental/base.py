"""What every fundamental process shares: the base class, its error and the Markov helper.

A process is built once from its validated spec (``Cls(spec, rng, dt=...)``): the spec is
the one place its parameters are declared and checked, so constructors only derive the
per-step constants. Each process is a small stateful object advanced one model step at a
time (step ``n`` is model time ``n * dt``), drawing only from the ``numpy.random.Generator``
it was given. ``volatility`` is always in price units per square root of model time, so a
quoting policy can use it without knowing the process kind.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from abm.errors import AbmError
from abm.scenario.types import FactorySpec

DRAW_AHEAD_BLOCK = 4096
"""Standard normals a process with its own generator draws at a time (`draw_ahead`)."""


class FundamentalError(AbmError, ValueError):
    """A fundamental process was requested with an unknown kind or invalid parameters."""


class FundamentalSpecBase(FactorySpec):
    """The spec of one fundamental process; its ``kind`` is the key in ``FUNDAMENTALS``."""

    kind_noun: ClassVar[str] = "fundamental"
    kind: str


def _real(name: str, value: Any, minimum: float | None = None, *, strict: bool = False) -> float:
    """Return ``value`` as a finite float (``>= minimum``, or ``>`` if ``strict``), naming it."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise FundamentalError(f"{name} must be a real number, got {value!r}") from exc
    if not math.isfinite(number):
        raise FundamentalError(f"{name} must be finite, got {number}")
    if minimum is not None and (number <= minimum if strict else number < minimum):
        raise FundamentalError(f"{name} must be {'>' if strict else '>='} {minimum}, got {number}")
    return number


def _generator_matrix(rates: Any) -> np.ndarray:
    """Validate a CTMC generator matrix Q and return it as a float array."""
    try:
        q = np.array(rates, dtype=float)
    except (TypeError, ValueError) as exc:
        raise FundamentalError(f"transition_rates must be a numeric matrix: {exc}") from exc
    if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] == 0:
        raise FundamentalError(f"transition_rates must be a non-empty square matrix, got {q.shape}")
    if not np.all(np.isfinite(q)):
        raise FundamentalError("transition_rates must be finite")
    off_diagonal = q[~np.eye(q.shape[0], dtype=bool)]
    if np.any(off_diagonal < 0.0):
        raise FundamentalError("transition_rates off-diagonal entries must be >= 0")
    row_sums = q.sum(axis=1)
    tolerance = 1e-9 * max(1.0, float(np.abs(q).max()))
    if np.any(np.abs(row_sums) > tolerance):
        raise FundamentalError(
            f"transition_rates rows must sum to 0 (set each diagonal to minus the sum of its "
            f"row's off-diagonals); row sums are {row_sums.tolist()}"
        )
    return q


def markov_transition_matrix(transition_rates: Any, t: float) -> np.ndarray:
    """Transition matrix ``P(t) = expm(Q t)`` of a continuous-time Markov chain.

    Computed by `scipy.linalg.expm` (Pade approximation with scaling and squaring, Al-Mohy &
    Higham 2009). Entries that rounding leaves slightly negative are clipped to 0 and rows
    renormalised, so the result is exactly row-stochastic up to one rounding.

    Args:
        transition_rates: Generator matrix Q (n x n, off-diagonals >= 0, rows summing to 0), in
            rates per unit of model time.
        t: Time horizon (>= 0), in model time units.

    Returns:
        Row-stochastic n x n array; entry (i, j) is P(regime j at t | regime i at 0).

    Raises:
        FundamentalError: If Q is not a valid generator matrix or ``t`` is negative/non-finite.
    """
    return _transition_matrix(_generator_matrix(transition_rates), _real("t", t, 0.0))


def _transition_matrix(q: np.ndarray, t: float) -> np.ndarray:
    import scipy.linalg  # ~0.3 s: loaded by the first regime-switching model, not by validation

    result = np.asarray(scipy.linalg.expm(q * t), dtype=float)
    np.clip(result, 0.0, None, out=result)
    result /= result.sum(axis=1, keepdims=True)
    return result


class FundamentalProcess(ABC):
    """A fundamental value advanced one step of length ``dt`` at a time.

    Subclasses set ``kind`` (their key in ``FUNDAMENTALS``, the ``kind`` of their spec) and
    ``spec_type``, and take ``(spec, rng, *, dt)``.

    Attributes:
        value: Current value (after the last step), in price units; starts at ``s0``. Shocks may
            assign it directly (a price gap); the next step continues from the assigned value.
        dt: Model time per step (> 0).

    Raises:
        FundamentalError: If ``rng`` is not a ``numpy.random.Generator`` or ``dt`` is not a
            finite number > 0 (``dt`` is the scenario's, not part of the spec).
    """

    kind: ClassVar[str]
    spec_type: ClassVar[type[FundamentalSpecBase]]
    value: float
    dt: float

    @abstractmethod
    def __init__(self, spec: Any, rng: np.random.Generator, *, dt: float) -> None:
        """Take the parameters from ``spec`` (an instance of ``spec_type``)."""

    def _start(self, rng: np.random.Generator, *, s0: float, dt: float) -> None:
        """Set the generator, the initial value and the step length (what every kind needs)."""
        if not isinstance(rng, np.random.Generator):
            raise FundamentalError(
                f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
                f"got {type(rng).__name__}"
            )
        self._rng = rng
        self.value = s0
        self.dt = _real("dt", dt, 0.0, strict=True)
        # the standard normals drawn ahead, next one last (`draw_ahead`); empty: draw one now
        self._ahead: list[float] = []
        self._normal: Callable[[], float] = rng.standard_normal

    def draw_ahead(self, block: int = DRAW_AHEAD_BLOCK) -> None:
        """Draw this process's standard normals ``block`` at a time, not one a step.

        Only for a generator that nothing else draws from: ``Generator.standard_normal(n)``
        reads its bit generator exactly as ``n`` single calls do, so the path is bit-identical
        to the one-at-a-time draw, but the generator runs ahead of the path by up to a block.
        Kinds whose steps read only standard normals (``arithmetic`` with gaussian steps,
        ``gbm``, ``heston``) take them from the block; the others ignore it.

        Raises:
            FundamentalError: If ``block`` is not an integer >= 1.
        """
        if isinstance(block, bool) or not isinstance(block, int) or block < 1:
            raise FundamentalError(f"block must be an integer >= 1, got {block!r}")
        self._block = block
        self._normal = self._refill

    def _refill(self) -> float:
        """The next standard normal, from a new block (the last one is used up)."""
        ahead = self._rng.standard_normal(self._block).tolist()
        ahead.reverse()  # popped from the end: the draw order
        normal: float = ahead.pop()
        self._ahead = ahead
        return normal

    @abstractmethod
    def step(self) -> float:
        """Advance one step of length ``dt``; update and return ``value``."""

    @property
    @abstractmethod
    def volatility(self) -> float:
        """Current instantaneous volatility, in price units per sqrt(model time)."""

    def simulate(self, n_steps: int) -> np.ndarray:
        """Step ``n_steps`` times and return the ``n_steps`` new values (``s0`` excluded).

        Raises:
            FundamentalError: If ``n_steps`` is not a non-negative integer.
        """
        if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
            raise FundamentalError(f"n_steps must be a non-negative integer, got {n_steps!r}")
        path = np.empty(int(n_steps))
        for i in range(int(n_steps)):
            path[i] = self.step()
        return path
