"""Action spaces of `MarketMakingEnv` and how an action becomes a two-sided quote.

Two parameterisations, both in ticks of the scenario's ``tick_size`` from the market maker's
reference price ``s`` (its ``reference``: mid or fundamental, read when it quotes):

* ``offsets``: ``(bid_offset, ask_offset)``, each in ``[-max_offset_ticks, max_offset_ticks]``;
  the maker quotes ``bid = s - bid_offset * tick`` and ``ask = s + ask_offset * tick``.
* ``skew_spread``: ``(skew, half_spread)``, skew in ``[-max_offset_ticks, max_offset_ticks]``
  and half spread in ``[0, max_offset_ticks]``; ``bid, ask = s - skew -/+ half_spread`` (ticks):
  the parameterisation of Avellaneda and Stoikov (2008), whose reservation price is
  ``s - skew`` with ``skew = q gamma sigma^2 (T - t)``.

Continuous actions are a ``Box`` (float32); with ``levels`` the same range is discretised into a
``MultiDiscrete([levels, levels])`` grid, index ``i`` standing for
``low + i * (high - low) / (levels - 1)``. Out-of-range continuous actions are clipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from abm.envs.errors import EnvError

ACTION_KINDS = ("offsets", "skew_spread")
"""The action parameterisations `ActionMap` accepts."""


@dataclass(frozen=True, slots=True)
class ActionMap:
    """Maps an action of :attr:`space` to the quote offsets a maker applies to its reference.

    Attributes:
        kind: One of `ACTION_KINDS`.
        max_offset_ticks: Bound of every component, ticks; > 0.
        tick_size: The scenario's tick, price units.
        levels: Grid points per component (>= 2), or None for a continuous ``Box``.
    """

    kind: str
    max_offset_ticks: float
    tick_size: float
    levels: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise EnvError(f"action: must be one of {', '.join(ACTION_KINDS)}, got {self.kind!r}")
        bound = self.max_offset_ticks
        if isinstance(bound, bool) or not isinstance(bound, int | float) or not bound > 0:
            raise EnvError(f"max_offset_ticks: must be a number > 0, got {bound!r}")
        if not np.isfinite(bound):
            raise EnvError(f"max_offset_ticks: must be finite, got {bound!r}")
        levels = self.levels
        if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int)):
            raise EnvError(f"levels: must be an integer >= 2 or None, got {levels!r}")
        if levels is not None and levels < 2:
            raise EnvError(f"levels: must be >= 2, got {levels}")

    @property
    def low(self) -> np.ndarray:
        """Lower bound of each component, ticks."""
        second = -self.max_offset_ticks if self.kind == "offsets" else 0.0
        return np.array([-self.max_offset_ticks, second], dtype=np.float32)

    @property
    def high(self) -> np.ndarray:
        """Upper bound of each component, ticks."""
        return np.full(2, self.max_offset_ticks, dtype=np.float32)

    @property
    def space(self) -> spaces.Box | spaces.MultiDiscrete:
        """The gymnasium action space (``Box`` or ``MultiDiscrete``)."""
        if self.levels is None:
            return spaces.Box(self.low, self.high, dtype=np.float32)
        return spaces.MultiDiscrete([self.levels, self.levels])

    def ticks(self, action: np.ndarray) -> tuple[float, float]:
        """The action's two components in ticks (a grid index mapped, a float clipped).

        Raises:
            EnvError: If the action does not have two finite components.
        """
        values = np.asarray(action, dtype=np.float64).reshape(-1)
        if values.shape != (2,) or not np.all(np.isfinite(values)):
            raise EnvError(f"action: must be two finite numbers, got {action!r}")
        low, high = self.low.astype(np.float64), self.high.astype(np.float64)
        if self.levels is not None:
            index = np.clip(np.rint(values), 0, self.levels - 1)
            values = low + index * (high - low) / (self.levels - 1)
        values = np.clip(values, low, high)
        return float(values[0]), float(values[1])

    def offsets(self, action: np.ndarray) -> tuple[float, float]:
        """``(bid_offset, ask_offset)`` in price units: ``bid = s - b``, ``ask = s + a``."""
        first, second = self.ticks(action)
        tick = self.tick_size
        if self.kind == "offsets":
            return first * tick, second * tick
        return (second + first) * tick, (second - first) * tick

    def from_skew_half(self, skew: float, half: float) -> np.ndarray:
        """The continuous action closest to a skew and half spread given in price units.

        ``skew_spread`` actions are ``(skew, half) / tick``; ``offsets`` actions are the
        offsets ``(half + skew, half - skew) / tick``. Used to act with a
        :class:`~abm.policies.LinearQuoteRule`; only for continuous spaces.
        """
        if self.levels is not None:
            raise EnvError("levels: a rule acts through a continuous action space (levels=None)")
        tick = self.tick_size
        if self.kind == "offsets":
            pair = ((half + skew) / tick, (half - skew) / tick)
        else:
            pair = (skew / tick, half / tick)
        return np.clip(np.array(pair, dtype=np.float32), self.low, self.high)
