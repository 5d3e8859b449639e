"""Chartist-fundamentalist traders in the spirit of Chiarella & Iori (2002)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.noise import draw_size
from abm.results.events import TradePurpose

if TYPE_CHECKING:
    import numpy as np

    from abm.scenario.schema import ArrivalLaw, ChartistFundamentalistGroup


_MAX_LOG_MOVE = 0.2  # largest expected log price move over a horizon


class LogPriceHistory:
    """The log of the ``"last"`` reference price at the end of every step, step 0 first.

    The chartists' own feed (their trend is read from it): `record` is a group's end-of-step
    hook (`abm.agents.groups.BuiltGroup.on_record`), so entry ``n`` is step ``n``'s.
    """

    __slots__ = ("_market", "values")

    def __init__(self, market: Market) -> None:
        self._market = market
        self.values: list[float] = []

    def record(self) -> None:
        """Append this step's ``log(reference_price("last"))``."""
        self.values.append(math.log(self._market.reference_price("last")))


class ChartistFundamentalist(Trader):
    """A trader whose return forecast mixes a fundamentalist, a chartist and a noise view.

    Following Chiarella & Iori (2002, "A simulation analysis of the microstructure of
    double auction markets", Quantitative Finance 2, eq. 1-3), trader ``i`` holds fixed
    weights ``g1 >= 0`` (fundamentalist), ``g2`` (chartist; negative means contrarian)
    and ``n >= 0`` (noise), a horizon ``tau`` and a look-back ``L``. On arrival, with
    ``p`` the last trade price (the mid, then the fundamental, before the first trade)
    and ``F`` the fundamental value, it forecasts the return per step

        r = (g1 * ln(F / p) / tau + g2 * rbar_L + n * sigma_e * eps) / (g1 + |g2| + n)

    where ``rbar_L`` is the mean log return of ``p`` over the last ``L`` steps and
    ``eps ~ N(0, 1)``; a fundamentalist expects the gap to the fundamental to close
    over its horizon (our reading: the paper's fundamental term is not per step). Its
    expected price is ``p_hat = p * exp(r * tau)``, with ``|r * tau|`` capped at 0.2 so
    that a strong trend cannot produce an infinite forecast. If ``p_hat > p`` it bids
    ``p_hat * (1 - k)``, else it offers ``p_hat * (1 + k)``, with ``k`` uniform on
    ``[0, max_markup]``; the order is good for ``tau`` steps, after which the
    exchange cancels what is left of it. Heterogeneous chartist weights are what
    produce volatility clustering and fat tails in the paper.
    """

    kind = "chartist_fundamentalist"

    def __init__(
        self,
        market: Market,
        group: str,
        spec: ChartistFundamentalistGroup,
        rng: np.random.Generator,
        history: LogPriceHistory,
    ) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        self.history = history
        self.g1 = abs(float(rng.normal(0.0, spec.fundamentalist_sd)))
        self.g2 = float(rng.normal(0.0, spec.chartist_sd))
        self.g_noise = abs(float(rng.normal(0.0, spec.noise_sd)))
        self.horizon = int(rng.integers(spec.horizon_min_steps, spec.horizon_max_steps + 1))
        self.lookback = int(rng.integers(1, spec.lookback_max_steps + 1))

    def forecast_return(self, rng: np.random.Generator, price: float) -> float:
        """The per-step return this trader expects (see the class docstring)."""
        market = self.market
        weight = self.g1 + abs(self.g2) + self.g_noise
        if weight == 0.0:
            return 0.0
        history = self.history.values
        lag = min(self.lookback, len(history) - 1)
        trend = (history[-1] - history[-1 - lag]) / lag if lag > 0 else 0.0
        fundamental = self.g1 * math.log(market.fundamental_value / price) / self.horizon
        noise = self.g_noise * self.spec.noise_return_sd * rng.standard_normal()
        return (fundamental + self.g2 * trend + noise) / weight

    def act(self, rng: np.random.Generator, side: bool | None) -> None:
        """One arrival: place a limit order around the expected price, good for ``tau`` steps."""
        market = self.market
        price = market.reference_price("last")
        move = self.forecast_return(rng, price) * self.horizon
        # a forecast is an opinion about the next few hundred steps, not a bubble: cap it
        move = max(-_MAX_LOG_MOVE, min(_MAX_LOG_MOVE, move))
        expected = price * math.exp(move)
        markup = self.spec.max_markup * rng.random()
        is_buy = expected > price if side is None else side
        tick = market.tick_size
        if is_buy:
            price_t = math.floor(expected * (1.0 - markup) / tick + 1e-9)
        else:
            price_t = math.ceil(expected * (1.0 + markup) / tick - 1e-9)
        qty = draw_size(self.spec.size, rng)
        result = market.book_venue.limit(
            self, is_buy, max(price_t, 1), qty, purpose=TradePurpose.TAKER
        )
        if result.resting_qty:
            market.schedule_expiry(result.order_id, market.step_index + self.horizon)


def build_chartists(
    market: Market, name: str, spec: ChartistFundamentalistGroup, rng: np.random.Generator
) -> BuiltGroup:
    """A ``chartist_fundamentalist`` group sharing one `LogPriceHistory`, recorded every step.

    Each trader's weights, horizon and look-back are drawn from ``rng``, trader by trader.
    """
    history = LogPriceHistory(market)
    agents = [ChartistFundamentalist(market, name, spec, rng, history) for _ in range(spec.count)]
    return BuiltGroup(agents, on_record=history.record)


def _arrival(spec: ChartistFundamentalistGroup, dt: float) -> ArrivalLaw:
    return spec.arrival


GROUP_KIND = GroupKind(
    "chartist_fundamentalist", GroupRole.TAKER, build_chartists, arrival=_arrival
)
"""The ``chartist_fundamentalist`` group kind (`abm.agents.registry`)."""
