"""Heston (1993) stochastic variance, stepped by full-truncation Euler (Lord et al. 2010)."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field

from abm.fundamental.base import FundamentalProcess, FundamentalSpecBase
from abm.fundamental.brownian import S0
from abm.scenario.types import Correlation, Float, NonNegFloat, PosFloat


class HestonSpec(FundamentalSpecBase):
    """Heston (1993) stochastic variance: dv = kappa (theta - v) dt + xi sqrt(v) dW_v."""

    kind: Literal["heston"] = Field(description="Heston (1993) stochastic variance.")
    s0: PosFloat = Field(description=S0)
    v0: NonNegFloat = Field(description="Variance of log price at time 0, per unit of time.")
    kappa: PosFloat = Field(
        description="Speed of mean reversion of the variance, per unit of time."
    )
    theta: NonNegFloat = Field(description="Long-run variance, per unit of time.")
    xi: NonNegFloat = Field(description="Volatility of the variance.")
    rho: Correlation = Field(description="Correlation of the price and variance shocks.")
    mu: Float = Field(default=0.0, description="Drift of S/S per unit of model time.")


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
    """

    kind = "heston"
    spec_type = HestonSpec

    def __init__(self, spec: HestonSpec, rng: np.random.Generator, *, dt: float) -> None:
        self._start(rng, s0=spec.s0, dt=dt)
        self.variance = spec.v0
        self.kappa = spec.kappa
        self.theta = spec.theta
        self.xi = spec.xi
        self.rho = spec.rho
        self.mu = spec.mu
        self._rho_perp = math.sqrt(1.0 - self.rho**2)

    def step(self) -> float:
        """Advance price and variance by one full-truncation Euler step."""
        v_plus = self.variance if self.variance > 0.0 else 0.0
        ahead = self._ahead
        z_v = ahead.pop() if ahead else self._normal()
        ahead = self._ahead  # a new block if z_v used up the last one
        z_s = self.rho * z_v + self._rho_perp * (ahead.pop() if ahead else self._normal())
        root = math.sqrt(v_plus * self.dt)
        self.value *= math.exp((self.mu - 0.5 * v_plus) * self.dt + root * z_s)
        self.variance += self.kappa * (self.theta - v_plus) * self.dt + self.xi * root * z_v
        return self.value

    @property
    def volatility(self) -> float:
        """``sqrt(max(variance, 0)) * value`` (price units per sqrt(time))."""
        return math.sqrt(max(self.variance, 0.0)) * self.value
