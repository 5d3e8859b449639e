"""Market makers: quote both sides every step through a pluggable quoting policy."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from abm.agents.base import Trader
from abm.policies import QuoteContext, QuotingPolicy, make_policy

if TYPE_CHECKING:
    from abm.model import MarketModel
    from abm.scenario import MarketMakerGroup


class VolatilityEstimate:
    """Online volatility of the reference price: given, or an EWMA of squared changes.

    The EWMA variance is per unit of model time: each step's change ``d`` contributes
    ``d**2 / dt`` with weight ``1 - lam``, where ``lam = 0.5 ** (1 / halflife_steps)``
    (RiskMetrics-style exponential smoothing), so that ``sigma`` is in price units per
    sqrt(time unit), the unit the quoting policies expect.
    """

    __slots__ = ("_lam", "_last", "_var", "dt", "given")

    def __init__(self, *, given: float | None, halflife_steps: float, initial: float, dt: float):
        self.given = given
        self.dt = dt
        self._lam = 0.5 ** (1.0 / halflife_steps)
        self._var = initial * initial
        self._last: float | None = None

    def update(self, price: float) -> None:
        """Feed the reference price observed this step."""
        if self.given is not None:
            return
        if self._last is not None:
            d = price - self._last
            self._var = self._lam * self._var + (1.0 - self._lam) * d * d / self.dt
        self._last = price

    @property
    def sigma(self) -> float:
        """Current volatility estimate (price units per sqrt(time))."""
        return self.given if self.given is not None else math.sqrt(self._var)


class MarketMaker(Trader):
    """Quotes a bid and an ask every step, replacing only the sides that changed.

    Each step: observe the trades printed since the last quote (policies that learn
    from order flow, such as Glosten-Milgrom, update on them), update the volatility
    estimate, ask the policy for (bid, ask) given the reference price, inventory,
    time and volatility, round outward to the tick grid (bid down, ask up, so a quote
    is never tighter than the policy asked), drop any side that would breach the hard
    inventory limit, and cancel/replace a side only if its price or size changed.

    Quotes are ordinary limit orders: one that crosses the book trades on arrival.
    """

    kind = "market_maker"

    def __init__(self, model: MarketModel, group: str, spec: MarketMakerGroup) -> None:
        super().__init__(model, group, spec.cash, spec.inventory)
        self.policy: QuotingPolicy = make_policy(spec.policy.kind, **spec.policy.params())
        self.quote_size = spec.quote_size
        self.max_inventory = spec.max_inventory
        self.reference_kind = spec.reference
        vol = spec.volatility
        if vol.kind == "given":
            self.volatility = VolatilityEstimate(
                given=vol.sigma, halflife_steps=1.0, initial=0.0, dt=model.dt
            )
        else:
            self.volatility = VolatilityEstimate(
                given=None,
                halflife_steps=vol.halflife_steps,
                initial=vol.initial_sigma,
                dt=model.dt,
            )
        self._learns = type(self.policy).observe_trade is not QuotingPolicy.observe_trade
        self._tape_cursor = 0
        self.bid_id: int | None = None
        self.ask_id: int | None = None
        self.bid_ticks: int | None = None
        self.ask_ticks: int | None = None

    def quotes(self) -> tuple[float | None, float | None]:
        """Current resting bid and ask prices (None for a side not in the book)."""
        to_price = self.model.book.to_price
        bid = self.bid_ticks if self._live(self.bid_id) else None
        ask = self.ask_ticks if self._live(self.ask_id) else None
        return (
            None if bid is None else to_price(bid),
            None if ask is None else to_price(ask),
        )

    def _live(self, order_id: int | None) -> bool:
        return order_id is not None and order_id in self.model.book

    def step(self) -> None:
        """Requote both sides (see the class docstring)."""
        model = self.model
        if self._learns:
            tape = model.exchange.tape
            tick = model.tick_size
            for is_buy, price_ticks, qty in tape[self._tape_cursor :]:
                self.policy.observe_trade("buy" if is_buy else "sell", price_ticks * tick, qty)
            self._tape_cursor = len(tape)
        reference = model.reference_price(self.reference_kind)
        self.volatility.update(reference)
        quote = self.policy.quote(
            QuoteContext(reference, self.inventory, model.time, self.volatility.sigma)
        )
        tick = model.tick_size
        bid_t = None if quote.bid is None else math.floor(quote.bid / tick + 1e-9)
        ask_t = None if quote.ask is None else math.ceil(quote.ask / tick - 1e-9)
        if bid_t is not None and ask_t is not None and bid_t >= ask_t:
            ask_t = bid_t + 1  # a quote of zero width on the grid: keep one tick
        size = self.quote_size
        if self.max_inventory is not None:
            if self.inventory + size > self.max_inventory:
                bid_t = None
            if self.inventory - size < -self.max_inventory:
                ask_t = None
        # a price below one tick cannot be quoted: drop that side rather than clamp it
        if bid_t is not None and bid_t < 1:
            bid_t = None
        if ask_t is not None and ask_t < 1:
            ask_t = None
        self.bid_id, self.bid_ticks = self._replace(True, self.bid_id, self.bid_ticks, bid_t)
        self.ask_id, self.ask_ticks = self._replace(False, self.ask_id, self.ask_ticks, ask_t)

    def _replace(
        self, is_buy: bool, order_id: int | None, current: int | None, wanted: int | None
    ) -> tuple[int | None, int | None]:
        """Keep, cancel, or cancel-and-replace one side's quote."""
        exchange = self.model.exchange
        resting = 0 if order_id is None else self.model.book.remaining(order_id)
        if resting and wanted == current and resting == self.quote_size:
            return order_id, current
        if resting:
            exchange.cancel(order_id)  # type: ignore[arg-type]
        if wanted is None:
            return None, None
        result = exchange.limit(self, is_buy, wanted, self.quote_size)
        if result.resting_qty:
            return result.order_id, wanted
        return None, None

    def withdraw(self) -> None:
        """Cancel both quotes."""
        for order_id in (self.bid_id, self.ask_id):
            if order_id is not None:
                self.model.exchange.cancel(order_id)
        self.bid_id = self.ask_id = self.bid_ticks = self.ask_ticks = None
