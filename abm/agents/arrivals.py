"""Random arrivals for a whole group of traders, drawn in one vectorised call per step.

Traders that act only when they arrive (noise and informed traders) are not woken one
by one: each step, one draw over the whole group says who arrives, so an idle trader
costs nothing (DESIGN.md section 3).

A group reads one variate per draw slot in one vectorised call: a few nanoseconds per idle
trader, and the stream numpy's own per-slot draw would give. A group of `SPARSE_MIN_SLOTS`
draw slots or more, or of `SPARSE_RARE_SLOTS` or more whose rate is at most
`SPARSE_RARE_RATE` (`abm.scenario.specs.ArrivalSpec.draws_sparsely`), draws how many arrive,
then which slots (`sparse_slots`): the same law, at a cost that grows with the arrivals
rather than with the group (about 8 us a step for a million idle traders, against 3.6 ms
for one uniform each; 0.8 us against 4.6 us for a thousand traders that arrive once a day).
Of the shipped scenarios only the benchmark day's rarely arriving noise traders
(``scenarios/bench/rmsc04_like.yaml``) draw sparsely; the others' streams, golden runs and
the outcomes measured in their headers are those of the per-slot draw.
"""

from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

from abm.scenario.schema import ArrivalLaw, HawkesArrivalSpec
from abm.scenario.specs import SPARSE_DRAW_SLOTS, SPARSE_RARE_RATE, SPARSE_RARE_SLOTS

# numpy's own per-variate Poisson loop is faster for small groups and for rates at which many
# traders arrive at once; below these the vectorised walk of `poisson_slots` wins
_WALK_MIN_SLOTS = 256
_WALK_MAX_RATE = 0.05
_LOOP_MAX_SLOTS = 64  # below this, a Bernoulli group's uniforms are compared in a Python loop
SPARSE_MIN_SLOTS = SPARSE_DRAW_SLOTS
"""Draw slots from which a group draws its arrivals sparsely (`sparse_slots`)."""
__all__ = [
    "SPARSE_MIN_SLOTS",
    "SPARSE_RARE_RATE",
    "SPARSE_RARE_SLOTS",
    "GroupArrivals",
    "poisson_slots",
    "sparse_slots",
]


def sparse_slots(rng: np.random.Generator, kind: str, rate: float, n: int) -> list[int]:
    """The arriving slots of ``0..n-1``, ascending, drawn in work proportional to the arrivals.

    * ``bernoulli`` (``0 <= rate <= 1``): how many slots arrive is ``Binomial(n, rate)``, and
      which is a uniformly random subset of that size (numpy draws it by Floyd's algorithm
      for a large ``n``): the law of ``n`` independent ``Bernoulli(rate)`` trials.
    * ``poisson``: ``Poisson(n * rate)`` arrivals, each at a slot drawn uniformly (a slot
      once per arrival): by the splitting property of the Poisson law, ``n`` independent
      ``Poisson(rate)`` counts.

    The law of `GroupArrivals`'s per-slot draw, not its stream: the two read different
    variates from ``rng``.
    """
    if kind == "bernoulli":
        count = int(rng.binomial(n, rate))
        chosen = rng.choice(n, size=count, replace=False, shuffle=False) if count else None
    else:
        count = int(rng.poisson(n * rate))
        chosen = rng.integers(0, n, size=count) if count else None
    if chosen is None:
        return []
    chosen.sort()
    return chosen.tolist()


def poisson_slots(rng: np.random.Generator, lam: float, n: int) -> list[int]:
    """Slots ``0..n-1``, each repeated ``Poisson(lam)`` times: ``rng.poisson(lam, n)``, faster.

    The same variates from the same stream as ``numpy.repeat(numpy.arange(n),
    rng.poisson(lam, n))``, leaving ``rng`` in the same state. For ``0 < lam < 10`` numpy's
    ``Generator`` draws each variate by multiplying uniforms (Knuth's method, its
    ``random_poisson_mult``): the variate is the number of uniforms whose running product
    stays above ``exp(-lam)``, and it reads one uniform more than that. At the small rates of
    a group's per-step arrivals nearly every variate is 0 after one uniform, so the group's
    uniforms are drawn in one vectorised call and only those above ``exp(-lam)`` are walked in
    Python; more uniforms are drawn only as many as are certainly needed, so the stream never
    runs ahead of numpy's. Other rates and small groups use ``rng.poisson`` itself.
    """
    if not (0 < lam <= _WALK_MAX_RATE and n >= _WALK_MIN_SLOTS):
        counts = rng.poisson(lam, n)
        drawn: list[int] = []
        for slot in counts.nonzero()[0].tolist():  # np.repeat(arange(n), counts), cheaper
            drawn.extend([slot] * int(counts[slot]))
        return drawn
    threshold = math.exp(-lam)
    slots: list[int] = []
    slot = 0  # the next variate's slot
    buffer = rng.random(n)  # every variate reads at least one uniform
    above = (buffer > threshold).nonzero()[0].tolist()
    pos = k = 0  # next unread uniform in buffer; next candidate in above
    while slot < n:
        while k < len(above) and above[k] < pos:  # read already, as a product's factor
            k += 1
        if k == len(above):  # the unread uniforms are all zero variates
            slot += len(buffer) - pos
            if slot < n:
                buffer = rng.random(n - slot)
                above = (buffer > threshold).nonzero()[0].tolist()
                pos = k = 0
            continue
        first = above[k]
        slot += first - pos  # zero variates up to the first uniform above the threshold
        product, count, pos = float(buffer[first]), 1, first + 1
        while True:
            if pos == len(buffer):  # this variate needs a uniform, each later slot one more
                buffer = rng.random(n - slot)
                above = (buffer > threshold).nonzero()[0].tolist()
                pos = k = 0
            product *= float(buffer[pos])
            pos += 1
            if product <= threshold:
                break
            count += 1
        slots.extend([slot] * count)
        slot += 1
    return slots


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

    Bernoulli and Poisson groups that `ArrivalSpec.draws_sparsely` says are large, or large
    enough and rarely arriving, draw sparsely (`sparse_slots`: same law, another stream).

    Args:
        spec: The group's arrival law.
        n: Number of traders in the group.
        dt: Model time per step (used by ``hawkes``).
        sparse_min_slots: Draw slots (traders, or traders and sides) from which the draw is
            sparse whatever the rate, in place of the spec's rule (tests force either draw).
    """

    def __init__(
        self,
        spec: ArrivalLaw,
        n: int,
        dt: float = 1.0,
        *,
        sparse_min_slots: int | None = None,
    ) -> None:
        self.kind = spec.kind
        self.n = n
        self.dt = dt
        self.intensity = 1.0  # multiplies the arrival rate (toxic-flow shocks)
        self.last_times: list[float] = []
        if isinstance(spec, HawkesArrivalSpec):
            self.rate = spec.mu
            self.per_side = False
            self._dense_unsided = False
            self.mu, self.branching, self.beta = spec.mu, spec.branching, spec.beta
            self._excitation = 0.0  # branching * beta * sum of exp(-beta * age) over past events
            self._clock = 0.0
        else:
            self.rate = spec.rate
            self.per_side = spec.per_side
            # one draw slot per trader, or per trader and side (buys first, then sells)
            self._slots = spec.draw_slots(n)
            self._sparse = (
                spec.draws_sparsely(n)
                if sparse_min_slots is None
                else self._slots >= sparse_min_slots
            )
            # the common draw, which `draw_unsided` takes without `_draw`'s tests: a Bernoulli
            # group without sides, of `_LOOP_MAX_SLOTS` traders or more, one uniform each
            self._dense_unsided = (
                self.kind == "bernoulli"
                and not self.per_side
                and not self._sparse
                and self.rate != 0
                and self._slots >= _LOOP_MAX_SLOTS
            )

    def _draw(self, rng: np.random.Generator) -> list[int]:
        """The slots that arrive this step, ascending (a slot once per arrival).

        One vectorised draw over all slots (or, for a large group, `sparse_slots`): for a
        per-side law, the buy side's n values then the sell side's, the same stream as drawing
        the two sides one after the other.
        """
        rate = self.rate * self.intensity
        if self.kind == "bernoulli":
            rate = min(rate, 1.0)
        slots = self._slots
        if self._sparse:
            return sparse_slots(rng, self.kind, rate, slots)
        if self.kind == "bernoulli":
            if slots < _LOOP_MAX_SLOTS:  # a short list is cheaper to scan than an array
                return [slot for slot, u in enumerate(rng.random(slots).tolist()) if u < rate]
            return (rng.random(slots) < rate).nonzero()[0].tolist()  # 1-D: flatnonzero
        return poisson_slots(rng, rate, slots)

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

    def draw_unsided(self, rng: np.random.Generator) -> list[int]:
        """Who arrives this step, for a law without sides (not ``per_side``): trader indices.

        The draw of `draw`, from the same variates, without pairing each index with a side
        of None: ``draw(rng) == [(i, None) for i in draw_unsided(rng)]`` from the same state.

        Raises:
            ValueError: If the law is ``per_side`` (its arrivals carry sides: use `draw`).
        """
        if self._dense_unsided:  # `_draw`'s dense Bernoulli draw, the same variates
            rate = min(self.rate * self.intensity, 1.0)
            return (rng.random(self._slots) < rate).nonzero()[0].tolist()
        if self.per_side:
            raise ValueError("a per_side arrival law draws sides: use draw()")
        if self.n == 0 or self.rate == 0:
            return []
        if self.kind == "hawkes":
            self.last_times = self._hawkes_times(rng)
            if not self.last_times:
                return []
            who: list[int] = rng.integers(0, self.n, size=len(self.last_times)).tolist()
            return who
        return self._draw(rng)

    def draw(self, rng: np.random.Generator) -> list[tuple[int, bool | None]]:
        """Who arrives this step: ``(trader index, side or None)``, in no particular order."""
        if not self.per_side:
            return [(i, None) for i in self.draw_unsided(rng)]
        if self.n == 0 or self.rate == 0:
            return []
        drawn = self._draw(rng)
        n = self.n
        first_sell = bisect_left(drawn, n)
        buys: list[tuple[int, bool | None]] = [(i, True) for i in drawn[:first_sell]]
        return buys + [(i - n, False) for i in drawn[first_sell:]]
