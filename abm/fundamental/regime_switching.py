"""A fundamental whose volatility follows a continuous-time Markov chain."""

from __future__ import annotations

import bisect
import math
from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from abm.fundamental.base import (
    FundamentalError,
    FundamentalProcess,
    FundamentalSpecBase,
    _transition_matrix,
)
from abm.fundamental.brownian import S0
from abm.scenario.types import Float, NonNegInt, PosFloat, Volatility

_ROW_SUM_TOLERANCE = 1e-9


class RegimeSwitchingSpec(FundamentalSpecBase):
    """Markov regime-switching volatility; ``transition_rates`` is the generator matrix Q."""

    kind: Literal["regime_switching"] = Field(description="GBM whose sigma follows a Markov chain.")
    s0: PosFloat = Field(description=S0)
    sigmas: list[Volatility] = Field(
        min_length=1,
        description="Volatility, price units per sqrt(time), one per regime (<= 1e6).",
    )
    transition_rates: list[list[Float]] = Field(
        description="Generator matrix Q, per unit of time: off-diagonal rates >= 0, each row "
        "sums to 0; one row and column per sigma."
    )
    mu: Float = Field(default=0.0, description="Drift of S/S per unit of model time.")
    initial_regime: NonNegInt = Field(
        default=0, description="Index into sigmas of the regime at time 0."
    )

    @field_validator("transition_rates")
    @classmethod
    def _check_generator(cls, rates: list[list[float]], info: ValidationInfo) -> list[list[float]]:
        sigmas = info.data.get("sigmas")
        size = len(sigmas) if sigmas is not None else len(rates)
        if len(rates) != size or any(len(row) != size for row in rates):
            raise ValueError(f"must be a {size}x{size} matrix (one row and column per sigma)")
        for i, row in enumerate(rates):
            if any(rate < 0.0 for j, rate in enumerate(row) if j != i):
                raise ValueError(f"row {i}: off-diagonal rates must be >= 0")
            if abs(sum(row)) > _ROW_SUM_TOLERANCE:
                raise ValueError(f"row {i} must sum to 0 (got {sum(row)!r})")
        return rates

    @field_validator("initial_regime")
    @classmethod
    def _check_regime(cls, regime: int, info: ValidationInfo) -> int:
        sigmas = info.data.get("sigmas")
        if sigmas is not None and regime >= len(sigmas):
            raise ValueError(f"must index sigmas (0..{len(sigmas) - 1}), got {regime}")
        return regime


class RegimeSwitching(FundamentalProcess):
    """Arithmetic Brownian motion whose sigma follows a continuous-time Markov chain.

    ``dS = mu dt + sigma_{X_t} dW`` with ``X`` a continuous-time Markov chain with generator Q
    (the continuous-time analogue of Hamilton's 1989 regime switching). A step adds
    ``mu dt + sigma_{X} sqrt(dt) Z`` using the regime at the start of the step, then draws the next
    regime from row ``X`` of ``expm(Q dt)`` (:func:`~abm.fundamental.markov_transition_matrix`).
    ``volatility`` is the current regime's sigma (price units), i.e. the one the next step
    will use.

    Attributes:
        regime: Current regime index; assignable (a volatility-regime shock), must be in range.
        sigmas: Per-regime sigma, price units per sqrt(time).
        transition_matrix: Per-step transition matrix ``expm(Q dt)`` (read-only array).
    """

    kind = "regime_switching"
    spec_type = RegimeSwitchingSpec

    def __init__(self, spec: RegimeSwitchingSpec, rng: np.random.Generator, *, dt: float) -> None:
        self._start(rng, s0=spec.s0, dt=dt)
        self.sigmas = tuple(spec.sigmas)
        self.rates = np.array(spec.transition_rates, dtype=float)
        self.rates.setflags(write=False)
        self.transition_matrix = _transition_matrix(self.rates, self.dt)
        self.transition_matrix.setflags(write=False)
        cumulative = np.cumsum(self.transition_matrix, axis=1)
        # The last bound is exactly 1 so a uniform draw in [0, 1) always lands in some regime.
        cumulative[:, -1] = 1.0
        self._cumulative = tuple(tuple(row.tolist()) for row in cumulative)
        self._drift = spec.mu * self.dt
        self._sqrt_dt = math.sqrt(self.dt)
        self._regime = spec.initial_regime

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
