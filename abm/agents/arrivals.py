"""Random arrivals for a whole group of traders, drawn in one vectorised call per step.

Traders that act only when they arrive (noise and informed traders) are not woken one
by one: each step, one draw over the whole group says who arrives, so an idle trader
costs nothing (DESIGN.md section 3).
"""

from __future__ import annotations

import math

import numpy as np

from abm.scenario.schema import ArrivalLaw, HawkesArrivalSpec


class GroupArrivals:
    """Per-step arrivals of ``n`` traders with a common arrival law.

    * ``bernoulli``: each trader arrives at most once per step, with probability ``rate``.
    * ``poisson``: each trader arrives ``Poisson(rate)`` times per step.
    * ``per_side`` (bernoulli and poisson): buy-side and sell-side arrivals are drawn
      independently, each at ``rate``; every arrival then carries its side (True for
      buy, False for sell). Without it the side is left to the trader (``None``).
    * ``hawkes``: the group's arrivals form one self-exciting point process in
      continuous time, simulated exactly by Ogata's (1981) thinning within each step
      (the intensity only decays between arrivals, so its value at the start of each
      wait bounds it); each arrival goes to a trader drawn uniformly. The arrival
      times of the last step are kept in ``last_times`` (model time).

    Args:
        spec: The group's arrival law.
        n: Number of traders in the group.
        dt: Model time per step (used by ``hawkes``).
    """

    def __init__(self, spec: ArrivalLaw, n: int, dt: float = 1.0) -> None:
        self.kind = spec.kind
        self.n = n
        self.dt = dt
        self.intensity = 1.0  # multiplies the arrival rate (toxic-flow shocks)
        self.last_times: list[float] = []
        if isinstance(spec, HawkesArrivalSpec):
            self.rate = spec.mu
            self.per_side = False
            self.mu, self.branching, self.beta = spec.mu, spec.branching, spec.beta
            self._excitation = 0.0  # branching * beta * sum of exp(-beta * age) over past events
            self._clock = 0.0
        else:
            self.rate = spec.rate
            self.per_side = spec.per_side

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        rate = self.rate * self.intensity
        if self.kind == "bernoulli":
            return np.flatnonzero(rng.random(self.n) < min(rate, 1.0))
        counts = rng.poisson(rate, self.n)
        return np.repeat(np.arange(self.n), counts)

    def _hawkes_times(self, rng: np.random.Generator) -> list[float]:
        t = self._clock
        end = t + self.dt
        mu, jump, beta = self.mu * self.intensity, self.branching * self.beta, self.beta
        excitation = self._excitation
        times: list[float] = []
        while True:
            bound = mu + excitation
            wait = rng.exponential(1.0 / bound)
            if t + wait >= end:
                excitation *= math.exp(-beta * (end - t))
                break
            t += wait
            excitation *= math.exp(-beta * wait)
            if rng.random() * bound <= mu + excitation:
                times.append(t)
                excitation += jump
        self._clock = end
        self._excitation = excitation
        return times

    def draw(self, rng: np.random.Generator) -> list[tuple[int, bool | None]]:
        """Who arrives this step: ``(trader index, side or None)``, in no particular order."""
        if self.n == 0 or self.rate == 0:
            return []
        if self.kind == "hawkes":
            self.last_times = self._hawkes_times(rng)
            if not self.last_times:
                return []
            who = rng.integers(0, self.n, size=len(self.last_times))
            return [(i, None) for i in who.tolist()]
        if not self.per_side:
            return [(i, None) for i in self._draw(rng).tolist()]
        buys: list[tuple[int, bool | None]] = [(i, True) for i in self._draw(rng).tolist()]
        sells: list[tuple[int, bool | None]] = [(i, False) for i in self._draw(rng).tolist()]
        return buys + sells
