"""What the contagion engine sees of the world: the parts it is built from, as protocols.

`abm.contagion.engine.ContagionEngine` never holds the model. It is given:

- ``nodes``: the dealers (`Dealer`: an exact account plus the balance-sheet and contagion
  state the channels read and write; `abm.agents.market_maker.MarketMaker` is one),
- ``exchange``: where forced sales and inter-dealer trades are settled (`DealerExchange`;
  `abm.market.exchange.Exchange` is one),
- ``shocks``: the schedule of the shocks it applies (`ContagionShocks`;
  `abm.shocks.ShockSchedule` is one),
- ``log_event``: the event sink (`EventSink`; ``MarketModel.log_event`` is one),
- ``market``: a narrow view of prices and time (`ContagionMarket`; ``MarketModel`` satisfies
  it structurally),

plus the network spec and graph and a random generator. Each protocol lists the minimum the
engine uses, so a unit test can build the engine from hand-made parts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar, Unpack

from abm.states import Status

if TYPE_CHECKING:
    from abm.market.orderbook import OrderResult
    from abm.results.events import EventFields, EventKind, TradePurpose
    from abm.shocks import (
        CreditFreezeShock,
        DefaultShock,
        InventoryShock,
        LiquidityWithdrawalShock,
        LossShock,
    )


class HedgeQuote(Protocol):
    """A venue quoting the hedge instrument: only its current price is read."""

    @property
    def price(self) -> float:
        """This step's hedge price (price units)."""
        ...


class ContagionMarket(Protocol):
    """Prices and time, as the contagion engine reads them (``MarketModel`` satisfies it).

    Prices are in price units, the tick in price units per tick. Everything else the engine
    needs of the market (the book, order entry) goes through its `DealerExchange`.
    """

    @property
    def tick_size(self) -> float:
        """Price of one tick: converts the engine's price amounts to integer tick units."""
        ...

    @property
    def step_index(self) -> int:
        """The current step (margin-hike windows are looked up at it)."""
        ...

    @property
    def hedge_venue(self) -> HedgeQuote:
        """The hedge venue, whose price marks hedge positions in equity."""
        ...

    def mid_price(self) -> float | None:
        """Mid of the book's best bid and ask, or None unless both sides are quoted."""
        ...

    def reference_price(self, kind: str) -> float:
        """``"fundamental"``, ``"mid"`` or ``"last"`` price (see ``MarketModel``)."""
        ...

    def mark_price(self) -> float:
        """The price at which equity is marked now (the scenario's ``mark``)."""
        ...


class Volatility(Protocol):
    """A dealer's volatility estimate: only sigma is read (vol-linked margin)."""

    @property
    def sigma(self) -> float:
        """Volatility in price units per square-root time unit."""
        ...


class Dealer(Protocol):
    """A node of the network: an exact account and the contagion state on it.

    Cash, claims and debts are integer tick units, inventory integer lots, so every transfer
    the engine makes is exact. The engine writes ``status``, ``margin_requirement``,
    ``confidence_state``, ``withdrawn_until`` and ``potato_hops``; the dealer acts on them
    when it next quotes.
    """

    cash_ticks: int
    inventory: int
    claims_ticks: int
    debts_ticks: int
    status: Status
    margin_requirement: float
    confidence_state: str | None
    withdrawn_until: int
    potato_hops: int | None

    @property
    def unique_id(self) -> int:
        """The dealer's trader id (``agent_id`` and ``counterparty`` of events)."""
        ...

    @property
    def initial_equity(self) -> float:
        """Equity at the opening mark (distress is measured from it)."""
        ...

    @property
    def default_threshold(self) -> float | None:
        """Equity at or below which the dealer defaults (None: never)."""
        ...

    @property
    def max_inventory(self) -> int | None:
        """Inventory limit in lots (None or 0: none), scales the hot-potato trigger."""
        ...

    @property
    def volatility(self) -> Volatility:
        """The dealer's volatility estimate."""
        ...

    def equity(self, *, mark: float, hedge_mark: float) -> float:
        """Cash + inventory at ``mark`` + hedge at ``hedge_mark`` + claims - debts."""
        ...

    def withdraw(self) -> None:
        """Cancel the dealer's resting quotes."""
        ...


D_contra = TypeVar("D_contra", contravariant=True)


class DealerExchange(Protocol[D_contra]):
    """Where the engine trades for dealers; both calls settle cash and inventory exactly."""

    def market(
        self, trader: D_contra, is_buy: bool, qty: int, *, purpose: TradePurpose
    ) -> OrderResult:
        """A market order of ``qty`` lots into the book for ``trader``, settled at once."""
        ...

    def interdealer(self, seller: D_contra, buyer: D_contra, price_ticks: int, qty: int) -> None:
        """``seller`` passes ``qty`` lots to ``buyer`` at ``price_ticks``, outside the book."""
        ...


class EventSink(Protocol):
    """Appends one ``events`` row at the current step (``MarketModel.log_event``)."""

    def __call__(
        self,
        kind: EventKind,
        agent_id: int | None,
        counterparty: int | None,
        amount: float,
        **fields: Unpack[EventFields],
    ) -> None:
        """Record event ``kind`` from ``agent_id`` to ``counterparty`` of size ``amount``."""
        ...


class ContagionShocks(Protocol):
    """The scheduled shocks the engine applies, indexed by step (`abm.shocks.ShockSchedule`)."""

    @property
    def targeted(self) -> Mapping[int, Sequence[LossShock | DefaultShock | InventoryShock]]:
        """Loss, default and inventory shocks by step."""
        ...

    @property
    def credit_freezes(self) -> Mapping[int, Sequence[CreditFreezeShock]]:
        """Credit-freeze shocks by step."""
        ...

    def withdrawals(self) -> list[LiquidityWithdrawalShock]:
        """All liquidity-withdrawal shocks."""
        ...

    def window_multiplier(self, kind: str, step: int) -> float:
        """Product of the multipliers of the ``kind`` window shocks active at ``step``."""
        ...
