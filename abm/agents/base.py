"""What every agent kind shares: the `Market` it sees and the trader account.

`Market` is the agents' whole view of the model: time and step, the tick, the venues they
send orders to, reference and mark prices, the shared market history, event logging, expiry
scheduling and the per-step risk signals a market maker reads. `abm.model.MarketModel`
satisfies it; agents never reach past it (no agent module imports `abm.model`).

Cash is kept as an integer number of ``tick_size`` price units times lots, so that
settlement is exact: a fill of ``qty`` lots at ``price_ticks`` moves exactly
``price_ticks * qty`` from the buyer's cash to the seller's, and the sum of all cash
(and of all inventory) is conserved to the last unit, whatever the run length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, Unpack

from abm.mesa_import import mesa
from abm.states import Regime, Status

if TYPE_CHECKING:
    from abm.contagion.specs import ConfidenceChannel
    from abm.market.book_venue import BookVenue
    from abm.market.exchange import Exchange
    from abm.market.hedge import HedgeVenue
    from abm.market.orderbook import OrderBook, OrderResult
    from abm.results.events import EventFields, EventKind


class Market(Protocol):
    """The market as traders see it (`abm.model.MarketModel` is one).

    Prices are in price units unless a name says ``_ticks``; steps count from 0 (the state
    before any trading); model time is ``step_index * dt``.
    """

    @property
    def time(self) -> float:
        """Model time of the current step (``step_index * dt``; 0.0 at construction)."""
        ...

    @property
    def step_index(self) -> int:
        """Steps run so far: 0 at construction, ``n`` during and after step ``n``."""
        ...

    @property
    def dt(self) -> float:
        """Model time per step (> 0)."""
        ...

    @property
    def tick_size(self) -> float:
        """Price of one tick (> 0); cash and prices in ticks are multiples of it."""
        ...

    @property
    def exchange(self) -> Exchange[Trader]:
        """The exchange: accounts, the trade tape and the venues by name.

        Every trade at every venue is settled there; ``exchange.tape`` lists the book's recent
        fills (read them with ``exchange.tape_since(cursor)``, the cursor from
        ``exchange.tape_position``) and ``exchange.venues`` the venues by name.
        """
        ...

    @property
    def book_venue(self) -> BookVenue:
        """The venue ``"book"``: send limit and market orders and cancels here.

        Each order says why it is sent (``purpose``); the venue matches it in `book` and
        halts on its circuit breaker.
        """
        ...

    @property
    def book(self) -> OrderBook:
        """The book venue's limit order book, to read (touch, depth, one's resting orders).

        Never send orders to it directly: they would not be settled.
        """
        ...

    @property
    def hedge_venue(self) -> HedgeVenue:
        """The venue ``"hedge"``: trade the hedge instrument here (``hedge_venue.trade``)."""
        ...

    @property
    def hedge_price(self) -> float:
        """This step's price of the hedge instrument (drawn after the step's shocks)."""
        ...

    @property
    def fundamental_value(self) -> float:
        """The fundamental value now (after this step's shocks)."""
        ...

    def fundamental_volatility(self) -> float:
        """The fundamental process's volatility now, price units per sqrt(unit of time).

        The true (not estimated) volatility: what only an agent told the truth may read
        (the options layer's informed volatility traders).
        """
        ...

    @property
    def fundamental_history(self) -> Sequence[float]:
        """The fundamental value at the end of every step so far, step 0 first.

        Its length is ``step_index + 1`` once the current step's shocks are applied.
        """
        ...

    @property
    def cumulative_volume(self) -> Sequence[int]:
        """Book volume (lots) up to the end of each completed step, step 0 (0 lots) first.

        Entry ``n`` is the volume of steps 1..n; the current step is not in it yet.
        """
        ...

    @property
    def confidence(self) -> ConfidenceChannel | None:
        """The scenario's confidence channel, or None without one.

        It gives the spread and size multipliers of a stressed market maker.
        """
        ...

    def mid_price(self) -> float | None:
        """Mid of the best bid and ask, or None unless both sides are quoted."""
        ...

    def reference_price(self, kind: str) -> float:
        """The price a trader anchors on: ``"fundamental"``, ``"mid"`` or ``"last"``.

        ``"mid"`` falls back to the last trade price, then to the fundamental value, while one
        side of the book is empty; ``"last"`` falls back to the mid, then to the fundamental,
        before the first trade. Never None.
        """
        ...

    def holdings_value(self, holdings: Mapping[str, int]) -> float:
        """Value now (price units) of positions in held instruments (option series, pool shares).

        Each venue values its own (`abm.market.venue.Venue.value_holdings`); 0.0 for none.
        """
        ...

    def mark_price(self) -> float:
        """The price at which equity is marked now (the scenario's ``mark``).

        During a step it reflects the book as it stands; between steps it is the mark
        recorded for the last step.
        """
        ...

    def log_event(
        self,
        kind: EventKind,
        agent_id: int | None,
        counterparty: int | None,
        amount: float,
        **fields: Unpack[EventFields],
    ) -> None:
        """Append one row to the ``events`` table at the current step (ids None where absent).

        ``fields`` are the event's typed fields (`abm.results.events.EventFields`: ``notional``,
        ``mid``, ``price``, ``cost``, ``regime_from``, ...), each its own nullable column.
        """
        ...

    def schedule_expiry(self, order_id: int, step: int) -> None:
        """Cancel book order ``order_id`` at the start of step ``step``'s trading (good-till)."""
        ...

    def in_gap_window(self, before_steps: int, after_steps: int) -> bool:
        """Whether an announced price gap is near: the shock schedule's gap windows.

        True if a gap's step is within ``[now - after_steps, now + before_steps]``.
        """
        ...

    def shock_multiplier(self, kind: str) -> float:
        """The multiplier of the windowed shocks of ``kind`` active now; 1.0 outside any.

        ``kind`` is a windowed shock kind (``"toxic_flow"``, ``"margin_hike"``); several active
        shocks multiply.
        """
        ...


class Trader(mesa.Agent):
    """A Mesa agent with an exact account (cash in ticks x lots, inventory in lots).

    Args:
        market: The market the trader trades in; also the `mesa.Model` the agent belongs to
            (`abm.model.MarketModel` is both).
        group: Name of the scenario group the trader belongs to (e.g. ``"mm"``).
        cash: Initial cash in price units; rounded to the nearest tick unit.
        inventory: Initial inventory in lots.

    Attributes:
        market: The trader's view of the market (`Market`): all it reads and trades through.
        kind: Agent kind as written in scenarios (``"market_maker"``, ...).
        cash_ticks: Cash in units of ``tick_size`` (exact integer).
        inventory: Signed position in lots of the book's instrument (`abm.market.venue.UNDERLYING`).
        hedge: Signed position in the hedge instrument (`abm.market.venue.HEDGE`, lots).
        holdings: Signed positions in held instruments (`abm.market.venue.Instrument.held`:
            option series, AMM pool shares), by instrument name; empty for most traders.

    Raises:
        TypeError: If ``market`` is not also a `mesa.Model`.
    """

    kind: str = "trader"

    def __init__(self, market: Market, group: str, cash: float, inventory: int) -> None:
        if not isinstance(market, mesa.Model):
            raise TypeError(
                f"a trader's market must also be its mesa.Model (a MarketModel), got "
                f"{type(market).__name__}"
            )
        super().__init__(market)
        self.market: Market = market
        self.group = group
        self.cash_ticks = round(cash / market.tick_size)
        self.inventory = int(inventory)
        self.hedge = 0  # position in the hedge instrument (lots), traded at the hedge venue
        self.holdings: dict[str, int] = {}  # positions in held instruments, by name
        self.claims_ticks = 0  # interbank claims (credit lines granted), tick units
        self.debts_ticks = 0  # interbank debts (credit lines drawn), tick units
        self.status = Status.ACTIVE
        self.regime = Regime.NORMAL
        self.initial_equity = 0.0  # set by the model once the opening mark is known

    @property
    def cash(self) -> float:
        """Cash in price units."""
        return self.cash_ticks * self.market.tick_size

    def equity(self, *, mark: float, hedge_mark: float) -> float:
        """Cash + inventory at ``mark`` + hedge at ``hedge_mark`` + holdings + claims - debts.

        Both marks are required keywords: a position never silently takes a price of 0
        (``Market.mark_price()`` and ``Market.hedge_price`` give them). Holdings of held
        instruments are valued by their venues (``Market.holdings_value``).
        """
        equity = self.cash + self.inventory * mark
        if self.hedge:
            equity += self.hedge * hedge_mark
        if self.holdings:
            equity += self.market.holdings_value(self.holdings)
        if self.claims_ticks or self.debts_ticks:
            equity += (self.claims_ticks - self.debts_ticks) * self.market.tick_size
        return equity

    def quotes(self) -> tuple[float | None, float | None]:
        """The trader's current bid and ask (None where it has none).

        Traders that do not quote return (None, None).
        """
        return None, None

    def order_released(self, result: OrderResult) -> None:
        """Hear what became of an order the book venue queued during a trading halt.

        Called when the halt ends and the order is submitted (`abm.market.book_venue`). Fills
        are already settled. By default any remainder that rests is cancelled: a kind that
        does not track released orders would otherwise leave them in the book, forgotten
        (it decides afresh when it next acts). Kinds that track their orders adopt them.
        """
        if result.resting_qty:
            self.market.book_venue.cancel(result.order_id)
