"""Market makers: quote both sides every step through a pluggable quoting policy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.market.orderbook import MAX_PRICE_TICKS
from abm.policies import PolicyError, QuotingPolicy, build_policy
from abm.results.events import EventKind, TradePurpose
from abm.risk.hedging import hedge_trade
from abm.risk.rebalancing import Rebalancer
from abm.risk.regimes import RegimeMachine, RiskReading
from abm.states import Status

if TYPE_CHECKING:
    import numpy as np

    from abm.scenario.schema import MarketMakerGroup


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


@dataclass(frozen=True, slots=True)
class QuoteLimits:
    """What risk management allows this step: multipliers, inventory limit, withdrawal."""

    spread_mult: float
    size_mult: float
    max_inventory: int | None
    withdraw: bool
    exposure_cap: int | None = None  # gap controls' max_exposure, enforced on inventory


def _tighter(limit: int | None, other: int | None) -> int | None:
    """The stricter of two optional inventory limits."""
    if limit is None:
        return other
    return limit if other is None else min(limit, other)


class MarketMaker(Trader):
    """Quotes a bid and an ask every step, replacing only the sides that changed.

    Each step:

    1. observe the trades printed since the last quote (policies that learn from order
       flow, such as Glosten-Milgrom, update on them) and update the volatility estimate;
    2. risk: update the risk regime (if configured; `abm.risk.regimes.RegimeMachine`) and the
       gap-risk window (announced gaps, `GapControlSpec`), which set this step's spread
       and size multipliers, inventory limit and whether to withdraw;
    3. rebalance: trade inventory back towards target with a market order
       (`abm.risk.rebalancing`), logged as a ``rebalance`` event;
    4. hedge: trade the hedge instrument (`abm.market.hedge`), logged as a ``hedge`` event;
    5. quote: ask the policy for (bid, ask) given the reference price, inventory, time
       and volatility; widen around its centre by the spread multiplier; round outward
       to the tick grid (bid down, ask up, so a quote is never tighter than asked);
       drop any side that would breach the inventory limit; cancel/replace a side only
       if its price or size changed. A withdrawing market maker cancels both sides.

    Quotes are ordinary limit orders: one that crosses the book trades on arrival.
    """

    kind = "market_maker"

    def __init__(self, market: Market, group: str, spec: MarketMakerGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.policy: QuotingPolicy = build_policy(spec.policy)
        self.quote_size = spec.quote_size
        self.max_inventory = spec.max_inventory
        self.reference_kind = spec.reference
        vol = spec.volatility
        if vol.kind == "given":
            self.volatility = VolatilityEstimate(
                given=vol.sigma, halflife_steps=1.0, initial=0.0, dt=market.dt
            )
        else:
            self.volatility = VolatilityEstimate(
                given=None,
                halflife_steps=vol.halflife_steps,
                initial=vol.initial_sigma,
                dt=market.dt,
            )
        self._learns = type(self.policy).observe_trade is not QuotingPolicy.observe_trade
        self.rebalancer = Rebalancer(spec.rebalance)
        self._rebalances = self.rebalancer.active  # the rule is fixed for the run
        self.hedge_spec = spec.hedge
        self._hedges = spec.hedge.kind != "none"
        self.regimes = RegimeMachine(spec.regimes) if spec.regimes is not None else None
        self.gap_controls = spec.gap_controls
        # what _risk_limits gives when no risk layer is configured or active: built once
        self._plain_limits = QuoteLimits(1.0, 1.0, self.max_inventory, False)
        self._no_risk_layer = self.regimes is None and self.gap_controls is None
        self.peak_equity = -math.inf
        # balance-sheet and contagion state (abm.contagion.engine)
        self.default_threshold = spec.default_threshold
        self.margin_requirement = 0.0
        self.confidence_state: str | None = None
        self.withdrawn_until = 0
        self.potato_hops: int | None = None
        self._tape_cursor = 0
        self.bid_id: int | None = None
        self.ask_id: int | None = None
        self.bid_ticks: int | None = None
        self.ask_ticks: int | None = None
        # the last price each side was converted to (ticks, price; ticks 0, which no quote
        # has, for none yet): quotes() is read every step for the agents table while a
        # side's price rarely changes, and the book's conversion (an integer check and a
        # decimal rounding) costs about 0.9 us
        self._bid_price: tuple[int, float] = (0, 0.0)
        self._ask_price: tuple[int, float] = (0, 0.0)

    def quotes(self) -> tuple[float | None, float | None]:
        """Current resting bid and ask prices (None for a side not in the book)."""
        book = self.market.book
        bid_id, ask_id = self.bid_id, self.ask_id
        bid = ask = None
        if bid_id is not None and bid_id in book and self.bid_ticks is not None:
            if self._bid_price[0] != self.bid_ticks:
                self._bid_price = (self.bid_ticks, book.to_price(self.bid_ticks))
            bid = self._bid_price[1]
        if ask_id is not None and ask_id in book and self.ask_ticks is not None:
            if self._ask_price[0] != self.ask_ticks:
                self._ask_price = (self.ask_ticks, book.to_price(self.ask_ticks))
            ask = self._ask_price[1]
        return bid, ask

    def step(self) -> None:
        """Manage risk, rebalance, hedge and requote (see the class docstring)."""
        market = self.market
        if self.status is Status.DEFAULTED:
            return
        if self._learns:
            exchange = market.exchange
            tick = market.tick_size
            for is_buy, price_ticks, qty in exchange.tape_since(self._tape_cursor):
                self.policy.observe_trade("buy" if is_buy else "sell", price_ticks * tick, qty)
            self._tape_cursor = exchange.tape_position
        reference = market.reference_price(self.reference_kind)
        self.volatility.update(reference)
        limits = self._risk_limits()
        if limits.exposure_cap is not None and abs(self.inventory) > limits.exposure_cap:
            # gap controls bound the inventory itself, not only new quotes
            excess = abs(self.inventory) - limits.exposure_cap
            self._rebalance(-excess if self.inventory > 0 else excess)
        if self._rebalances:
            qty = self.rebalancer.order(self.inventory)
            if qty:
                self._rebalance(qty)
        if self._hedges:
            qty = hedge_trade(self.hedge_spec, self.inventory, self.hedge)
            if qty:
                price, cost = market.hedge_venue.trade(self, qty)
                market.log_event(EventKind.HEDGE, self.unique_id, None, qty, price=price, cost=cost)
        if limits.withdraw:
            self.withdraw()
            return
        self._quote(reference, limits)

    def _risk_limits(self) -> QuoteLimits:
        """This step's spread and size multipliers, inventory limit and withdrawal flag."""
        market = self.market
        if (
            self._no_risk_layer
            and self.confidence_state is None
            and market.step_index >= self.withdrawn_until
        ):
            return self._plain_limits
        spread_mult, size_mult, limit, withdraw = 1.0, 1.0, self.max_inventory, False
        if self.regimes is not None:
            equity = self.equity(mark=market.mark_price(), hedge_mark=market.hedge_price)
            self.peak_equity = max(self.peak_equity, equity)
            utilisation = abs(self.inventory) / self.max_inventory if self.max_inventory else 0.0
            before = self.regime
            changed = self.regimes.update(
                RiskReading(self.volatility.sigma, self.peak_equity - equity, utilisation)
            )
            if changed is not None:
                self.regime = changed
                market.log_event(
                    EventKind.REGIME,
                    self.unique_id,
                    None,
                    float(self.inventory),
                    regime_from=before.value,
                    regime_to=changed.value,
                )
            params = self.regimes.params()
            spread_mult *= params.spread_mult
            size_mult *= params.size_mult
            limit = _tighter(limit, params.max_inventory)
            withdraw = params.withdraw
        if self.confidence_state == "withdraw" or market.step_index < self.withdrawn_until:
            withdraw = True
        elif self.confidence_state == "stressed":
            channel = market.confidence
            if channel is not None:
                spread_mult *= channel.spread_mult
                size_mult *= channel.size_mult
        gap = self.gap_controls
        cap = None
        if gap is not None and market.in_gap_window(gap.before_steps, gap.after_steps):
            spread_mult *= gap.spread_mult
            size_mult *= gap.size_mult
            limit = _tighter(limit, gap.max_exposure)
            cap = gap.max_exposure
        return QuoteLimits(spread_mult, size_mult, limit, withdraw, cap)

    def _rebalance(self, qty: int) -> None:
        """Send a marketable order of ``qty`` lots (signed) and log what it did."""
        market = self.market
        mid = market.mid_price()
        result = market.book_venue.market(self, qty > 0, abs(qty), purpose=TradePurpose.REBALANCE)
        filled = result.filled_qty
        if not filled:
            return
        notional = sum(fill.price_ticks * fill.qty for fill in result.fills) * market.tick_size
        signed = filled if qty > 0 else -filled
        market.log_event(
            EventKind.REBALANCE,
            self.unique_id,
            None,
            float(signed),
            notional=notional,
            mid=mid,
            requested=qty,
        )

    def _quote(self, reference: float, limits: QuoteLimits) -> None:
        """Ask the policy, apply the risk limits, round to the grid and replace changed sides."""
        market = self.market
        bid, ask = self.policy.quote_prices(
            reference, self.inventory, market.time, self.volatility.sigma
        )
        if limits.spread_mult != 1.0 and bid is not None and ask is not None:
            center, half = (bid + ask) / 2, (ask - bid) / 2 * limits.spread_mult
            bid, ask = center - half, center + half
        tick = market.tick_size
        if not (bid is None or math.isfinite(bid)) or not (ask is None or math.isfinite(ask)):
            raise self._unquotable(bid, ask)
        bid_t = None if bid is None else math.floor(bid / tick + 1e-9)
        ask_t = None if ask is None else math.ceil(ask / tick - 1e-9)
        if (bid_t is not None and bid_t > MAX_PRICE_TICKS) or (
            ask_t is not None and ask_t > MAX_PRICE_TICKS
        ):
            raise self._unquotable(bid, ask)
        if bid_t is not None and ask_t is not None and bid_t >= ask_t:
            ask_t = bid_t + 1  # a quote of zero width on the grid: keep one tick
        size = (
            self.quote_size
            if limits.size_mult == 1.0
            else max(1, round(self.quote_size * limits.size_mult))
        )
        if limits.max_inventory is not None:
            if self.inventory + size > limits.max_inventory:
                bid_t = None
            if self.inventory - size < -limits.max_inventory:
                ask_t = None
        # a price below one tick cannot be quoted: drop that side rather than clamp it
        if bid_t is not None and bid_t < 1:
            bid_t = None
        if ask_t is not None and ask_t < 1:
            ask_t = None
        # a side whose rounded price and size are those resting is kept without a call: most
        # sides of most steps when the reference moves less than a tick
        remaining = market.book.remaining
        bid_id, ask_id = self.bid_id, self.ask_id
        if bid_id is None or bid_t != self.bid_ticks or remaining(bid_id) != size:
            self.bid_id, self.bid_ticks = self._replace(True, bid_id, self.bid_ticks, bid_t, size)
        if ask_id is None or ask_t != self.ask_ticks or remaining(ask_id) != size:
            self.ask_id, self.ask_ticks = self._replace(False, ask_id, self.ask_ticks, ask_t, size)

    def _unquotable(self, bid: float | None, ask: float | None) -> PolicyError:
        """The error for a quote no book takes: the policy's parameters are out of its range."""
        shown = ", ".join(
            f"{name} {'none' if price is None else f'{price:.6g}'}"
            for name, price in (("bid", bid), ("ask", ask))
        )
        return PolicyError(
            f"agents.{self.group}.policy: the policy quoted {shown} at step "
            f"{self.market.step_index}, not a finite price of at most {MAX_PRICE_TICKS:,} "
            "ticks; its parameters (risk aversion, intensity, spread) are outside the range "
            "it can quote with"
        )

    def _replace(
        self,
        is_buy: bool,
        order_id: int | None,
        current: int | None,
        wanted: int | None,
        size: int,
    ) -> tuple[int | None, int | None]:
        """Keep, cancel, or cancel-and-replace one side's quote."""
        venue = self.market.book_venue
        resting = 0 if order_id is None else self.market.book.remaining(order_id)
        if resting and wanted == current and resting == size:
            return order_id, current
        if resting:
            venue.cancel(order_id)  # type: ignore[arg-type]
        if wanted is None:
            return None, None
        result = venue.limit(self, is_buy, wanted, size, purpose=TradePurpose.QUOTE)
        if result.resting_qty:
            return result.order_id, wanted
        return None, None

    def withdraw(self) -> None:
        """Cancel both quotes."""
        for order_id in (self.bid_id, self.ask_id):
            if order_id is not None:
                self.market.book_venue.cancel(order_id)
        self.bid_id = self.ask_id = self.bid_ticks = self.ask_ticks = None


def build_market_makers(
    market: Market, name: str, spec: MarketMakerGroup, rng: np.random.Generator
) -> BuiltGroup:
    """A ``market_maker`` group: ``spec.count`` market makers (no draws from ``rng``)."""
    return BuiltGroup([MarketMaker(market, name, spec) for _ in range(spec.count)])


GROUP_KIND = GroupKind("market_maker", GroupRole.MARKET_MAKER, build_market_makers)
"""The ``market_maker`` group kind (`abm.agents.registry`)."""
