"""Exogenous fundamental value processes.

Each process is a small stateful object advanced one model step at a time (step ``n`` is model
time ``n * dt``) with randomness drawn only from the ``numpy.random.Generator`` given at
construction. Processes are pure: no Mesa, no I/O. ``volatility`` is always in price units per
square root of model time, so a quoting policy can use it without knowing the process kind.

Build processes by name with :func:`make_fundamental`; the registry is :data:`FUNDAMENTALS`.
"""

from __future__ import annotations

import bisect
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import numpy as np
import scipy.linalg

from abm.errors import AbmError


class FundamentalError(AbmError, ValueError):
    """A fundamental process was requested with an unknown kind or invalid parameters."""


class StepKind(StrEnum):
    """Shape of the arithmetic Brownian increment."""

    GAUSSIAN = "gaussian"
    BINOMIAL = "binomial"


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
    q = _generator_matrix(transition_rates)
    result = np.asarray(scipy.linalg.expm(q * _real("t", t, 0.0)), dtype=float)
    np.clip(result, 0.0, None, out=result)
    result /= result.sum(axis=1, keepdims=True)
    return result


class FundamentalProcess(ABC):
    """A fundamental value advanced one step of length ``dt`` at a time.

    Attributes:
        value: Current value (after the last step), in price units; starts at ``s0``. Shocks may
            assign it directly (a price gap); the next step continues from the assigned value.
        dt: Model time per step (> 0).
    """

    value: float
    dt: float

    def __init__(self, rng: np.random.Generator, *, s0: float, dt: float) -> None:
        if not isinstance(rng, np.random.Generator):
            raise FundamentalError(
                f"rng must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
                f"got {type(rng).__name__}"
            )
        self._rng = rng
        self.value = _real("s0", s0)
        self.dt = _real("dt", dt, 0.0, strict=True)

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


class ArithmeticBrownian(FundamentalProcess):
    """Arithmetic Brownian motion ``dS = mu dt + sigma dW`` in price units.

    ``step_kind="gaussian"`` adds ``mu dt + sigma sqrt(dt) Z``; ``"binomial"`` adds
    ``mu dt +/- sigma sqrt(dt)`` with probability 1/2 each, the discretisation of Avellaneda &
    Stoikov (2008), section 3.3. ``volatility`` is ``sigma``.

    Raises:
        FundamentalError: If ``sigma < 0``, ``dt <= 0``, a parameter is non-finite, or
            ``step_kind`` is not "gaussian" or "binomial".
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        s0: float,
        dt: float,
        sigma: float,
        mu: float = 0.0,
        step_kind: str = "gaussian",
    ) -> None:
        super().__init__(rng, s0=s0, dt=dt)
        self.sigma = _real("sigma", sigma, 0.0)
        try:
            kind = StepKind(step_kind)
        except ValueError as exc:
            known = ", ".join(k.value for k in StepKind)
            raise FundamentalError(f"step_kind must be one of {known}; got {step_kind!r}") from exc
        self._binomial = kind is StepKind.BINOMIAL
        self._drift = _real("mu", mu) * self.dt
        self._shock = self.sigma * math.sqrt(self.dt)

    def step(self) -> float:
        """Advance one step; see the class docstring for the increment."""
        if self._binomial:
            move = self._shock if self._rng.random() < 0.5 else -self._shock
        else:
            move = self._shock * self._rng.standard_normal()
        self.value += self._drift + move
        return self.value

    @property
    def volatility(self) -> float:
        """``sigma`` (price units per sqrt(time))."""
        return self.sigma


class GeometricBrownian(FundamentalProcess):
    """Geometric Brownian motion ``dS = mu S dt + sigma S dW``, stepped exactly.

    ``S <- S exp((mu - sigma^2/2) dt + sigma sqrt(dt) Z)`` (the log-normal solution, Black &
    Scholes 1973), so ``E[S_t] = s0 exp(mu t)`` and ``Var[log S_t] = sigma^2 t`` with no
    discretisation error. ``volatility`` is ``sigma * value``.

    Raises:
        FundamentalError: If ``s0 <= 0``, ``sigma < 0``, ``dt <= 0`` or a parameter is non-finite.
    """

    def __init__(
        self, rng: np.random.Generator, *, s0: float, dt: float, sigma: float, mu: float = 0.0
    ) -> None:
        super().__init__(rng, s0=_real("s0", s0, 0.0, strict=True), dt=dt)
        self.sigma = _real("sigma", sigma, 0.0)
        self.mu = _real("mu", mu)
        self._log_drift = (self.mu - 0.5 * self.sigma**2) * self.dt
        self._shock = self.sigma * math.sqrt(self.dt)

    def step(self) -> float:
        """Advance one exact log-normal step."""
        self.value *= math.exp(self._log_drift + self._shock * self._rng.standard_normal())
        return self.value

    @property
    def volatility(self) -> float:
        """``sigma * value`` (price units per sqrt(time))."""
        return self.sigma * self.value


class MertonJumpDiffusion(GeometricBrownian):
    """GBM with compound Poisson jumps in log price (Merton 1976).

    Per step, ``N ~ Poisson(jump_intensity dt)`` and the summed log jump is
    ``Normal(N jump_mean, N jump_sd^2)``. The drift is compensated by ``jump_intensity * k_bar``
    with ``k_bar = exp(jump_mean + jump_sd^2/2) - 1`` (the mean relative jump), so that
    ``E[S_t] = s0 exp(mu t)`` exactly. ``volatility`` reports the diffusion part ``sigma * value``.

    Attributes:
        last_jump: Summed log jump applied in the last step (0.0 if none), so the model can report
            price gaps.

    Raises:
        FundamentalError: If a GBM parameter is invalid, ``jump_intensity < 0``, ``jump_sd < 0``,
            or the jump parameters make ``k_bar`` overflow.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        s0: float,
        dt: float,
        sigma: float,
        mu: float = 0.0,
        jump_intensity: float,
        jump_mean: float,
        jump_sd: float,
    ) -> None:
        super().__init__(rng, s0=s0, dt=dt, sigma=sigma, mu=mu)
        self.jump_intensity = _real("jump_intensity", jump_intensity, 0.0)
        self.jump_mean = _real("jump_mean", jump_mean)
        self.jump_sd = _real("jump_sd", jump_sd, 0.0)
        try:
            mean_relative_jump = math.expm1(self.jump_mean + 0.5 * self.jump_sd**2)
        except OverflowError as exc:
            raise FundamentalError(
                "jump_mean + jump_sd^2/2 is too large: the mean jump factor overflows"
            ) from exc
        self._log_drift -= self.jump_intensity * mean_relative_jump * self.dt
        self._jump_rate = self.jump_intensity * self.dt
        self.last_jump = 0.0

    def step(self) -> float:
        """Advance one step: diffusion plus the jumps that arrived in it."""
        n_jumps = int(self._rng.poisson(self._jump_rate)) if self._jump_rate > 0.0 else 0
        jump = 0.0
        if n_jumps:
            spread = math.sqrt(n_jumps) * self.jump_sd
            jump = n_jumps * self.jump_mean + spread * self._rng.standard_normal()
        self.last_jump = jump
        diffusion = self._log_drift + self._shock * self._rng.standard_normal()
        self.value *= math.exp(diffusion + jump)
        return self.value


class RegimeSwitching(FundamentalProcess):
    """Arithmetic Brownian motion whose sigma follows a continuous-time Markov chain.

    ``dS = mu dt + sigma_{X_t} dW`` with ``X`` a continuous-time Markov chain with generator Q
    (the continuous-time analogue of Hamilton's 1989 regime switching). A step adds
    ``mu dt + sigma_{X} sqrt(dt) Z`` using the regime at the start of the step, then draws the next
    regime from row ``X`` of ``expm(Q dt)`` (:func:`markov_transition_matrix`). ``volatility`` is
    the current regime's sigma (price units), i.e. the one the next step will use.

    Attributes:
        regime: Current regime index; assignable (a volatility-regime shock), must be in range.
        sigmas: Per-regime sigma, price units per sqrt(time).
        transition_matrix: Per-step transition matrix ``expm(Q dt)`` (read-only array).

    Raises:
        FundamentalError: If sigmas are empty/negative, Q is not an n x n generator matrix
            with n = len(sigmas), or ``initial_regime`` is out of range.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        s0: float,
        dt: float,
        sigmas: Sequence[float],
        transition_rates: Sequence[Sequence[float]],
        mu: float = 0.0,
        initial_regime: int = 0,
    ) -> None:
        super().__init__(rng, s0=s0, dt=dt)
        if isinstance(sigmas, str | bytes) or not isinstance(sigmas, Sequence | np.ndarray):
            raise FundamentalError(f"sigmas must be a sequence of numbers, got {sigmas!r}")
        if len(sigmas) == 0:
            raise FundamentalError("sigmas must name at least one regime")
        self.sigmas = tuple(_real(f"sigmas[{i}]", s, 0.0) for i, s in enumerate(sigmas))
        self.rates = _generator_matrix(transition_rates)
        if self.rates.shape[0] != len(self.sigmas):
            raise FundamentalError(
                f"transition_rates must be {len(self.sigmas)} x {len(self.sigmas)} "
                f"(one row per sigma), got {self.rates.shape}"
            )
        self.rates.setflags(write=False)
        self.transition_matrix = markov_transition_matrix(self.rates, self.dt)
        self.transition_matrix.setflags(write=False)
        cumulative = np.cumsum(self.transition_matrix, axis=1)
        # The last bound is exactly 1 so a uniform draw in [0, 1) always lands in some regime.
        cumulative[:, -1] = 1.0
        self._cumulative = tuple(tuple(row.tolist()) for row in cumulative)
        self._drift = _real("mu", mu) * self.dt
        self._sqrt_dt = math.sqrt(self.dt)
        self._regime = 0
        self.regime = initial_regime

    @property
    def regime(self) -> int:
        """Current regime index in ``range(len(sigmas))``."""
        return self._regime

    @regime.setter
    def regime(self, new_regime: int) -> None:
        if (
            isinstance(new_regime, bool)
            or not isinstance(new_regime, int | np.integer)
            or not 0 <= new_regime < len(self.sigmas)
        ):
            raise FundamentalError(
                f"regime must be an integer in [0, {len(self.sigmas) - 1}], got {new_regime!r}"
            )
        self._regime = int(new_regime)

    def step(self) -> float:
        """Diffuse with the current regime's sigma, then draw the next regime."""
        self.value += self._drift + (
            self.sigmas[self._regime] * self._sqrt_dt * self._rng.standard_normal()
        )
        self._regime = bisect.bisect_right(self._cumulative[self._regime], self._rng.random())
        return self.value

    @property
    def volatility(self) -> float:
        """Current regime's sigma (price units per sqrt(time))."""
        return self.sigmas[self._regime]

    def stationary_distribution(self) -> np.ndarray:
        """Long-run fraction of time in each regime: the ``pi`` with ``pi Q = 0``, ``sum(pi) = 1``.

        Raises:
            FundamentalError: If the chain has no unique stationary distribution (more than one
                closed class of regimes).
        """
        n = len(self.sigmas)
        system = np.vstack([self.rates.T, np.ones((1, n))])
        target = np.zeros(n + 1)
        target[-1] = 1.0
        if np.linalg.matrix_rank(system) < n:
            raise FundamentalError(
                "transition_rates has more than one closed class of regimes, so the stationary "
                "distribution is not unique; connect the regimes"
            )
        pi, *_ = np.linalg.lstsq(system, target, rcond=None)
        return np.clip(pi, 0.0, None) / np.clip(pi, 0.0, None).sum()


class Heston(FundamentalProcess):
    """Heston (1993) stochastic volatility, full-truncation Euler scheme (Lord et al. 2010).

    With ``v+ = max(v, 0)`` and correlated normals ``corr(Z_S, Z_v) = rho``, a step does
    ``log S += (mu - v+/2) dt + sqrt(v+ dt) Z_S`` and
    ``v += kappa (theta - v+) dt + xi sqrt(v+ dt) Z_v`` (Lord, Koekkoek & van Dijk 2010).
    The Euler variance state may go negative, but only ``v+`` ever enters a formula. Given the
    current state the price step is exactly log-normal, so ``E[S_t] = s0 exp(mu t)`` holds for
    any ``dt``; ``E[v_t]`` approaches ``theta + (v0 - theta) exp(-kappa t)`` as ``dt -> 0``.
    The Feller condition ``2 kappa theta >= xi^2`` is not required.

    Attributes:
        variance: Current Euler variance state (may be slightly negative; see above).

    Raises:
        FundamentalError: If ``s0 <= 0``, ``dt <= 0``, any of ``v0, kappa, theta, xi`` is negative,
            ``|rho| > 1`` or a parameter is non-finite.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        s0: float,
        dt: float,
        v0: float,
        kappa: float,
        theta: float,
        xi: float,
        rho: float,
        mu: float = 0.0,
    ) -> None:
        super().__init__(rng, s0=_real("s0", s0, 0.0, strict=True), dt=dt)
        self.variance = _real("v0", v0, 0.0)
        self.kappa = _real("kappa", kappa, 0.0)
        self.theta = _real("theta", theta, 0.0)
        self.xi = _real("xi", xi, 0.0)
        self.rho = _real("rho", rho)
        if abs(self.rho) > 1.0:
            raise FundamentalError(f"rho must be in [-1, 1], got {self.rho}")
        self.mu = _real("mu", mu)
        self._rho_perp = math.sqrt(1.0 - self.rho**2)

    def step(self) -> float:
        """Advance price and variance by one full-truncation Euler step."""
        v_plus = self.variance if self.variance > 0.0 else 0.0
        z_v = self._rng.standard_normal()
        z_s = self.rho * z_v + self._rho_perp * self._rng.standard_normal()
        root = math.sqrt(v_plus * self.dt)
        self.value *= math.exp((self.mu - 0.5 * v_plus) * self.dt + root * z_s)
        self.variance += self.kappa * (self.theta - v_plus) * self.dt + self.xi * root * z_v
        return self.value

    @property
    def volatility(self) -> float:
        """``sqrt(max(variance, 0)) * value`` (price units per sqrt(time))."""
        return math.sqrt(max(self.variance, 0.0)) * self.value


class BinaryValue(FundamentalProcess):
    """Constant value drawn once: ``high`` with probability ``p_high``, else ``low``.

    The asset value of Glosten & Milgrom (1985): nature draws it at time 0 and it never changes,
    so ``step`` returns the same value and ``volatility`` is 0.

    Raises:
        FundamentalError: If ``low >= high``, ``p_high`` is outside [0, 1], ``dt <= 0`` or a
            parameter is non-finite.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        low: float,
        high: float,
        p_high: float = 0.5,
        dt: float = 1.0,
    ) -> None:
        self.low = _real("low", low)
        self.high = _real("high", high)
        if self.low >= self.high:
            raise FundamentalError(f"low must be < high, got low={self.low}, high={self.high}")
        self.p_high = _real("p_high", p_high)
        if not 0.0 <= self.p_high <= 1.0:
            raise FundamentalError(f"p_high must be in [0, 1], got {self.p_high}")
        super().__init__(rng, s0=self.low, dt=dt)
        self.value = self.high if self._rng.random() < self.p_high else self.low

    def step(self) -> float:
        """Return the (unchanging) value."""
        return self.value

    @property
    def volatility(self) -> float:
        """0: the value never moves."""
        return 0.0


FUNDAMENTALS: Mapping[str, type[FundamentalProcess]] = MappingProxyType(
    {
        "arithmetic": ArithmeticBrownian,
        "gbm": GeometricBrownian,
        "merton": MertonJumpDiffusion,
        "regime_switching": RegimeSwitching,
        "heston": Heston,
        "binary": BinaryValue,
    }
)


def make_fundamental(kind: str, rng: np.random.Generator, **params: Any) -> FundamentalProcess:
    """Build the fundamental process registered under ``kind`` in :data:`FUNDAMENTALS`.

    Args:
        kind: Registry name, e.g. "gbm".
        rng: The generator the process draws from.
        **params: Keyword parameters of that process's constructor.

    Returns:
        The constructed process, with ``value`` at its initial level.

    Raises:
        FundamentalError: If ``kind`` is unknown (the message lists the known kinds), a parameter
            is missing or unexpected (the message lists the accepted ones), or a value is invalid
            (the message names the parameter and the problem).
    """
    try:
        cls = FUNDAMENTALS[kind]
    except (KeyError, TypeError) as exc:
        known = ", ".join(sorted(FUNDAMENTALS))
        raise FundamentalError(f"unknown fundamental kind {kind!r}; known kinds: {known}") from exc
    signature = inspect.signature(cls)
    try:
        signature.bind(rng, **params)
    except TypeError as exc:
        accepted = ", ".join(name for name in signature.parameters if name != "rng")
        raise FundamentalError(
            f"bad parameters for fundamental {kind!r}: {exc}; accepted parameters: {accepted}"
        ) from exc
    return cls(rng, **params)
