"""Brownian fundamentals: arithmetic (Bachelier), geometric, and Merton's jump-diffusion."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from abm.fundamental.base import FundamentalError, FundamentalProcess, FundamentalSpecBase
from abm.scenario.types import Float, NonNegFloat, PosFloat, Volatility

S0 = "Value at time 0, price units."


class ArithmeticSpec(FundamentalSpecBase):
    """Arithmetic Brownian motion (Bachelier): dS = mu dt + sigma dW, in price units."""

    kind: Literal["arithmetic"] = Field(description="Arithmetic Brownian motion.")
    s0: PosFloat = Field(description=S0)
    sigma: Volatility = Field(
        description="Volatility, price units per sqrt(unit of time) (<= 1e6)."
    )
    mu: Float = Field(default=0.0, description="Drift, price units per unit of model time.")
    step_kind: Literal["gaussian", "binomial"] = Field(
        default="gaussian",
        description="Increments: `gaussian` (normal) or `binomial` (+/- sigma sqrt(dt), "
        "the discretisation of Avellaneda and Stoikov 2008).",
    )


class GBMSpec(FundamentalSpecBase):
    """Geometric Brownian motion: dS/S = mu dt + sigma dW (sigma per unit time)."""

    kind: Literal["gbm"] = Field(description="Geometric Brownian motion, stepped exactly.")
    s0: PosFloat = Field(description=S0)
    sigma: Volatility = Field(
        description="Volatility of log price per sqrt(unit of time) (<= 1e6)."
    )
    mu: Float = Field(default=0.0, description="Drift of S/S per unit of model time.")


class MertonSpec(FundamentalSpecBase):
    """Merton (1976) jump-diffusion: GBM plus Poisson jumps with normal log-sizes."""

    kind: Literal["merton"] = Field(description="GBM with compound Poisson log jumps.")
    s0: PosFloat = Field(description=S0)
    sigma: Volatility = Field(
        description="Diffusion volatility of log price per sqrt(time) (<= 1e6)."
    )
    mu: Float = Field(
        default=0.0, description="Drift of S/S per unit of time (jumps are compensated)."
    )
    jump_intensity: NonNegFloat = Field(description="Mean number of jumps per unit of time.")
    jump_mean: Float = Field(description="Mean of one jump's log size.")
    jump_sd: NonNegFloat = Field(description="Standard deviation of one jump's log size.")


class ArithmeticBrownian(FundamentalProcess):
    """Arithmetic Brownian motion ``dS = mu dt + sigma dW`` in price units.

    ``step_kind="gaussian"`` adds ``mu dt + sigma sqrt(dt) Z``; ``"binomial"`` adds
    ``mu dt +/- sigma sqrt(dt)`` with probability 1/2 each, the discretisation of Avellaneda &
    Stoikov (2008), section 3.3. ``volatility`` is ``sigma``.
    """

    kind = "arithmetic"
    spec_type = ArithmeticSpec

    def __init__(self, spec: ArithmeticSpec, rng: np.random.Generator, *, dt: float) -> None:
        self._start(rng, s0=spec.s0, dt=dt)
        self.sigma = spec.sigma
        self._binomial = spec.step_kind == "binomial"
        self._drift = spec.mu * self.dt
        self._shock = self.sigma * math.sqrt(self.dt)

    def step(self) -> float:
        """Advance one step; see the class docstring for the increment."""
        if self._binomial:
            move = self._shock if self._rng.random() < 0.5 else -self._shock
        else:
            ahead = self._ahead
            move = self._shock * (ahead.pop() if ahead else self._normal())
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
    """

    kind = "gbm"
    spec_type: ClassVar[type[FundamentalSpecBase]] = GBMSpec

    def __init__(self, spec: GBMSpec | MertonSpec, rng: np.random.Generator, *, dt: float) -> None:
        self._start(rng, s0=spec.s0, dt=dt)
        self.sigma = spec.sigma
        self.mu = spec.mu
        self._log_drift = (self.mu - 0.5 * self.sigma**2) * self.dt
        self._shock = self.sigma * math.sqrt(self.dt)

    def step(self) -> float:
        """Advance one exact log-normal step."""
        ahead = self._ahead
        z = ahead.pop() if ahead else self._normal()
        self.value *= math.exp(self._log_drift + self._shock * z)
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
        FundamentalError: If the jump parameters make ``k_bar`` overflow. This is the one check
            left to construction: it is about floating-point range rather than the parameters'
            domain, and a sweep point that trips it is a run that fails (not an invalid plan).
    """

    kind = "merton"
    spec_type = MertonSpec

    def __init__(self, spec: MertonSpec, rng: np.random.Generator, *, dt: float) -> None:
        super().__init__(spec, rng, dt=dt)
        self.jump_intensity = spec.jump_intensity
        self.jump_mean = spec.jump_mean
        self.jump_sd = spec.jump_sd
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
