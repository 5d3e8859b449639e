"""Random arrivals for a whole group of traders, drawn in one vectorised call per step.

Traders that act only when they arrive (noise and informed traders) are not woken one
by one: each step, one draw over the whole group says who arrives, so an idle trader
costs nothing (DESIGN.md section 3).
"""

from __future__ import annotations

import numpy as np

from abm.scenario import ArrivalSpec


class GroupArrivals:
    """Per-step arrivals of ``n`` traders with a common arrival law.

    * ``bernoulli``: each trader arrives at most once per step, with probability ``rate``.
    * ``poisson``: each trader arrives ``Poisson(rate)`` times per step.
    * ``per_side``: buy-side and sell-side arrivals are drawn independently, each at
      ``rate``; every arrival then carries its side (True for buy, False for sell).
      Without it the side is left to the trader (``None``).

    Args:
        spec: The group's arrival law.
        n: Number of traders in the group.
    """

    def __init__(self, spec: ArrivalSpec, n: int) -> None:
        self.kind = spec.kind
        self.rate = spec.rate
        self.per_side = spec.per_side
        self.n = n

    def _draw(self, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "bernoulli":
            return np.flatnonzero(rng.random(self.n) < self.rate)
        counts = rng.poisson(self.rate, self.n)
        return np.repeat(np.arange(self.n), counts)

    def draw(self, rng: np.random.Generator) -> list[tuple[int, bool | None]]:
        """Who arrives this step: ``(trader index, side or None)``, in no particular order."""
        if self.n == 0 or self.rate == 0:
            return []
        if not self.per_side:
            return [(int(i), None) for i in self._draw(rng)]
        buys: list[tuple[int, bool | None]] = [(int(i), True) for i in self._draw(rng)]
        sells: list[tuple[int, bool | None]] = [(int(i), False) for i in self._draw(rng)]
        return buys + sells
