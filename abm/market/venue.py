"""Venues and instruments: the parts the exchange settles between.

An *instrument* is something traders hold a position in; a *venue* is a place that trades
one instrument. Every trade, at every venue, is settled by the one
:class:`~abm.market.exchange.Exchange` (cash in integer tick units, positions in lots), so that
cash and each instrument's positions are conserved exactly across traders and venues together.

Today's instruments are `UNDERLYING` (the book's instrument, held in ``Trader.inventory``) and
`HEDGE` (the hedge instrument, held in ``Trader.hedge``); today's venues are the limit order book
(``"book"``, `abm.market.book_venue`) and the hedge venue (``"hedge"``, `abm.market.hedge`).
The venue kinds and how each is built are listed in `abm.market.venues`.

Adding a venue (an AMM pool, say) is a new module with a class that satisfies `Venue` and a
builder taking a `VenueContext`, plus one entry in `abm.market.venues.VENUE_KINDS` (and, for a
venue a scenario asks for by a section of its own, one in `abm.market.venues.OPTIONAL_VENUES`);
its trades settle through the exchange (``Exchange.settle_fills`` for fills against resting
orders, ``Exchange.settle_dealer`` where the venue is itself the counterparty).

Adding an instrument is an `Instrument` naming the account attribute that holds its position.
Instruments that come in numbers a scenario decides (the option series of an options venue, the
liquidity shares of an AMM pool) are *held* instruments (`Instrument.held`): their positions live
in the account's ``holdings`` dict under the instrument's name, created on first trade, and are
valued in equity by the venue that lists them (`Venue.value_holdings`). `position_of` and
`add_position` read and move a position of either sort.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np

    from abm.market.orderbook import Fill, OrderResult
    from abm.results.events import TradePurpose
    from abm.results.recorder import Recorder


class Account(Protocol):
    """What settlement needs of a trader's account (`abm.agents.base.Trader` is one).

    Attributes:
        unique_id: The owner id of the account's orders.
        cash_ticks: Cash in tick units (exact).
        inventory: Position in `UNDERLYING` (lots).
        hedge: Position in `HEDGE` (lots).
        holdings: Positions in held instruments (`Instrument.held`), by instrument name.
    """

    unique_id: int
    cash_ticks: int
    inventory: int
    hedge: int
    holdings: dict[str, int]

    def order_released(self, result: OrderResult) -> None:
        """Hear what became of an order a venue queued during a trading halt."""
        ...


@dataclass(frozen=True, slots=True)
class Instrument:
    """Something traders hold a position in.

    Attributes:
        name: The label of the ``instrument`` column of the ``trades`` table (and, for a held
            instrument, its key in ``holdings``).
        position: Name of the integer attribute of an account (a `Trader`, or a venue that is
            a counterparty) holding the signed position in lots; for a held instrument,
            ``"holdings"`` (the dict attribute the position lives in).
        held: Whether the position is ``account.holdings[name]`` (missing: 0) rather than an
            attribute of its own.
    """

    name: str
    position: str
    held: bool = False

    @classmethod
    def holding(cls, name: str) -> Instrument:
        """A held instrument: positions in ``account.holdings[name]``."""
        return cls(name, "holdings", held=True)


def position_of(account: Any, instrument: Instrument) -> int:
    """``account``'s signed position in ``instrument`` (0 for a held one never traded)."""
    if instrument.held:
        return int(account.holdings.get(instrument.name, 0))
    return int(getattr(account, instrument.position))


def add_position(account: Any, instrument: Instrument, qty: int) -> None:
    """Move ``account``'s position in ``instrument`` by ``qty`` lots (signed)."""
    if instrument.held:
        holdings = account.holdings
        holdings[instrument.name] = holdings.get(instrument.name, 0) + qty
    else:
        setattr(account, instrument.position, getattr(account, instrument.position) + qty)


UNDERLYING = Instrument("underlying", "inventory")
"""The book's instrument: ``Trader.inventory``."""
HEDGE = Instrument("hedge", "hedge")
"""The hedge instrument (`abm.market.hedge`): ``Trader.hedge``."""


class Venue(Protocol):
    """What the exchange and the model need of a venue.

    Attributes:
        name: The venue's name (``"book"``, ``"hedge"``): the ``venue`` label of its trades.
        instrument: The instrument it trades.
        cash_ticks: The venue's own cash (tick units) as a counterparty; 0 for a venue that
            only matches traders (the book).
        position: The venue's own position in ``instrument`` (lots); 0 for the book. A venue
            trading the underlying as a counterparty (an AMM pool's base reserve) counts here,
            so `abm.model.MarketModel.totals` conserves it.
        holdings: The venue's own positions in held instruments (by name), as a counterparty
            (an AMM pool holds minus the liquidity shares it has issued, so that every held
            instrument sums to zero over traders and venues); empty for the book.
    """

    name: str
    instrument: Instrument
    cash_ticks: int
    position: int
    holdings: dict[str, int]

    def open_step(self, step: int, fundamental: float) -> None:
        """Prepare step ``step`` once the fundamental (after shocks) is known.

        Called for every venue, in build order (`abm.market.venues.scenario_venues`), before the
        contagion layer's scheduled shocks and before any trader acts (the hedge venue draws
        its price here).
        """
        ...

    def open_trading(self, step: int) -> None:
        """Start step ``step``'s trading, once expired orders are cancelled (a halt may end)."""
        ...

    def close_trading(self, step: int) -> None:
        """End step ``step``'s trading, after every trader has acted.

        Called for every venue before risk and contagion. A venue with its own clock settles
        here (an AMM at a block's last step executes the block's queued swaps in its ordering
        rule); the book and the hedge venue do nothing.
        """
        ...

    def value_holdings(self, holdings: Mapping[str, int]) -> float:
        """Value now (price units) of those of ``holdings`` that are this venue's instruments.

        0.0 for none; a trader's equity adds this for every venue (`Trader.equity`).
        """
        ...

    def record(self, step: int) -> None:
        """Write the venue's own rows for step ``step``, after the step's ``market`` row.

        Nothing for the book and the hedge venue, whose state is in the ``market`` table.
        """
        ...


class PlainVenue:
    """The `Venue` hooks a venue without its own clock or held instruments needs: none.

    The book and the hedge venue inherit these; a venue with blocks or held instruments
    defines its own.
    """

    def close_trading(self, step: int) -> None:
        """Nothing to settle: every trade settled when it was made."""

    def value_holdings(self, holdings: Mapping[str, int]) -> float:
        """No held instruments: 0.0."""
        return 0.0

    def record(self, step: int) -> None:
        """Nothing to add: the venue's state is in the ``market`` table."""


class Settlement(Protocol):
    """What a venue needs of the exchange (`abm.market.exchange.Exchange` is it).

    Attributes:
        step: The current step (stamped on trades and events).
        recorder: The run's recorder (venues write their own events, e.g. halts).
    """

    step: int
    recorder: Recorder

    def settle_fills(
        self,
        venue: Venue,
        fills: Sequence[Fill],
        taker: Account,
        taker_is_buy: bool,
        purpose: TradePurpose,
    ) -> None:
        """Settle an incoming order's fills against resting orders at ``venue``."""
        ...

    def settle_dealer(self, trader: Account, venue: Venue, price_ticks: int, qty: int) -> None:
        """Settle a trade in which ``venue`` itself is ``trader``'s counterparty."""
        ...


@dataclass(frozen=True, slots=True)
class VenueContext:
    """What a venue builder gets: the scenario, the exchange, and the venue's own generator.

    Attributes:
        scenario: The validated `abm.scenario.schema.Scenario`; a builder reads its own section.
            Typed loosely on purpose: the schema imports the venues' specs (they live beside the
            venues), so naming the schema here would make an import cycle.
        exchange: The exchange the venue settles through.
        rng: The venue's own random generator (a child of the run's seed; see `MarketModel`).
    """

    scenario: Any
    exchange: Settlement
    rng: np.random.Generator
