"""The observation of `MarketMakingEnv`: what the controlled market maker sees after a step.

A ``Box`` of float32, one component per name of `OBSERVATION_FIELDS`, read at the end of a
step (after the record, so at the step's committed mark):

===========================  ==========================================================  =========
field                        meaning                                                     bounds
===========================  ==========================================================  =========
``inventory``                the maker's signed position, lots                           +-1e9
``time_left``                ``(steps - n) / steps``: fraction of the episode left       [0, 1]
``spread``                   book best ask - best bid, price units (0: a side is empty)  [0, inf)
``mid_change``               change of the maker's reference price over the step         (-inf, inf)
``order_flow_imbalance``     (buy - sell) aggressor lots over the step's book trades,    [-1, 1]
                             divided by their total (0: no trade)
``volatility``               the maker's volatility estimate (its ``volatility``         [0, inf)
                             spec), price units per sqrt(time)
``bid_offset``               reference - own resting bid, price units (0: none)          (-inf, inf)
``ask_offset``               own resting ask - reference, price units (0: none)          (-inf, inf)
``regime``                   the maker's risk regime: 0 NORMAL, 1 STRESSED, 2 CRISIS     [0, 2]
===========================  ==========================================================  =========
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from gymnasium import spaces

from abm.scenario.types import MAX_LOTS
from abm.states import Regime

if TYPE_CHECKING:
    from abm.agents.market_maker import MarketMaker
    from abm.model import MarketModel

OBSERVATION_FIELDS = (
    "inventory",
    "time_left",
    "spread",
    "mid_change",
    "order_flow_imbalance",
    "volatility",
    "bid_offset",
    "ask_offset",
    "regime",
)
"""The components of the observation, in order (module docstring)."""

_REGIME_INDEX = {regime: float(i) for i, regime in enumerate(Regime)}
_INF = np.inf


def observation_space() -> spaces.Box:
    """The observation ``Box`` (bounds in the module docstring)."""
    low = np.array([-MAX_LOTS, 0, 0, -_INF, -1, 0, -_INF, -_INF, 0], dtype=np.float32)
    high = np.array(
        [MAX_LOTS, 1, _INF, _INF, 1, _INF, _INF, _INF, len(Regime) - 1], dtype=np.float32
    )
    return spaces.Box(low, high, dtype=np.float32)


class Observer:
    """Builds observations of one maker, remembering the previous reference and tape cursor."""

    __slots__ = ("_cursor", "_previous", "maker", "model")

    def __init__(self, model: MarketModel, maker: MarketMaker) -> None:
        self.model = model
        self.maker = maker
        self._previous = model.reference_price(maker.reference_kind)
        self._cursor = model.exchange.tape_position

    def observe(self) -> np.ndarray:
        """The observation now (module docstring); advances the step's cursors."""
        model, maker = self.model, self.maker
        reference = model.reference_price(maker.reference_kind)
        change = reference - self._previous
        self._previous = reference
        exchange = model.exchange
        buys = sells = 0
        for is_buy, _price, qty in exchange.tape_since(self._cursor):
            if is_buy:
                buys += qty
            else:
                sells += qty
        self._cursor = exchange.tape_position
        imbalance = (buys - sells) / (buys + sells) if buys + sells else 0.0
        book = model.book
        best_bid, best_ask = book.best_bid_ticks(), book.best_ask_ticks()
        spread = 0.0 if best_bid is None or best_ask is None else (best_ask - best_bid)
        bid, ask = maker.quotes()
        steps = model.scenario.steps
        values = (
            float(maker.inventory),
            max(steps - model.step_index, 0) / steps,
            spread * model.tick_size,
            change,
            imbalance,
            maker.volatility.sigma,
            0.0 if bid is None else reference - bid,
            0.0 if ask is None else ask - reference,
            _REGIME_INDEX[maker.regime],
        )
        return np.array(values, dtype=np.float32)
