"""The labels of the results contract: what an ``events`` row records and why a fill happened.

Both enumerations are shared by the engine, which writes them, and by analysis, which reads
them: the ``kind`` column of the ``events`` table holds `EventKind` values and the
``purpose`` column of the ``trades`` table holds `TradePurpose` values (as categoricals of
their string values, so a saved run reads back without abm). Members compare equal to
their strings (``EventKind.HALT == "halt"``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, TypedDict


class EventKind(StrEnum):
    """What happened, one member per kind of ``events`` row (the emitter in brackets)."""

    PRICE_GAP = "price_gap"  # a scheduled gap moved the fundamental (model)
    GAP_EXPOSURE = "gap_exposure"  # a market maker's net delta when a gap hit (model)
    HALT = "halt"  # the circuit breaker halted matching (exchange)
    REOPEN = "reopen"  # a halt ended; queued orders released (exchange)
    HEDGE = "hedge"  # a market maker traded the hedge instrument (market maker)
    REGIME = "regime"  # a market maker's risk regime changed (market maker)
    REBALANCE = "rebalance"  # a market maker's rebalancing order (market maker)
    POV_START = "pov_start"  # an execution program began (pov)
    POV_DONE = "pov_done"  # an execution program finished (pov)
    LIQUIDATION = "liquidation"  # a forced sale of a defaulted market maker (contagion)
    MARGIN_CALL = "margin_call"  # a forced sale to meet margin (contagion)
    CREDIT_CALL = "credit_call"  # a lender called a credit line (contagion)
    DEFAULT = "default"  # a market maker defaulted (contagion)
    WRITEDOWN = "writedown"  # a creditor wrote down a claim on a defaulter (contagion)
    HOT_POTATO = "hot_potato"  # inventory passed between dealers (contagion)
    CONFIDENCE = "confidence"  # a market maker's confidence changed (contagion)
    LOSS = "loss"  # a scheduled loss shock (contagion)
    INVENTORY_SHOCK = "inventory_shock"  # a scheduled inventory shock (contagion)
    CREDIT_FREEZE = "credit_freeze"  # credit-line capacities cut (contagion)
    WITHDRAWAL = "withdrawal"  # a market maker withdrew from quoting (contagion)


class TradePurpose(StrEnum):
    """Why the order that made a fill was sent: the aggressor's (taker's) reason.

    A fill between a resting order and an incoming one takes the incoming order's purpose;
    ``quote`` is a market maker's quote that traded on arrival (a requote through the
    touch). Which side was the maker is in the ``maker_order_id`` / ``aggressor`` columns.
    Who sends which: market makers' quotes ``quote``, their rebalancing and gap-control
    orders ``rebalance``; noise, informed, chartist and Paddrik orders ``taker``; execution
    programs ``execution``; the contagion layer's forced sales the channel's name
    (``liquidation``, ``margin_call``) and its dealer-to-dealer passes ``interdealer``;
    AMM arbitrageurs ``arbitrage`` (both legs: the pool swap and the book order).
    ``hedge`` labels trades at the hedge venue, which are ``hedge`` events, not ``trades``
    rows.
    """

    QUOTE = "quote"  # a market maker's quote
    TAKER = "taker"  # a noise, informed, chartist or Paddrik trader's order
    EXECUTION = "execution"  # an execution program's child order (pov)
    REBALANCE = "rebalance"  # a market maker's rebalancing order
    HEDGE = "hedge"  # a trade in the hedge instrument at the hedge venue
    LIQUIDATION = "liquidation"  # selling out a defaulted market maker
    MARGIN_CALL = "margin_call"  # a sale forced by a margin call
    INTERDEALER = "interdealer"  # inventory passed between dealers (hot potato)
    ARBITRAGE = "arbitrage"  # an arbitrageur's trade between venues (AMM pool and book)


class EventFields(TypedDict, total=False):
    """The typed fields an event may carry beside its amount: one nullable ``events`` column each.

    An emitter passes the fields of its kind as keywords (``log_event(EventKind.DEFAULT, mm,
    None, equity, wave=1)``); every other field of the row is null (NaN in a float column,
    ``<NA>`` in an ``Int64`` or label column). Prices and cash are in price units, quantities
    in lots, steps are step indices.

    Columns (dtype): the kinds that fill them, and what they hold.

    - ``notional`` (float64): liquidation, margin_call, rebalance: cash value of the lots
      done (unsigned); inventory_shock: value at the mid of the lots moved (unsigned).
    - ``mid`` (float64): liquidation, margin_call, rebalance: the book mid before the order
      (NaN when a side of the book was empty).
    - ``venue`` (category): liquidation, margin_call: where the sale was absorbed, ``book``
      (a fire sale into the book) or ``outside`` (the outside world, at the fundamental).
    - ``requested`` (Int64): rebalance: the signed lots the order asked for (``amount`` holds
      the lots done).
    - ``price`` (float64): hedge: price per lot at the hedge venue; halt: the price of the
      fill that tripped the breaker; reopen: the reopening auction's price (NaN without one).
    - ``cost`` (float64): hedge: the transaction cost paid on the hedge trade.
    - ``fundamental`` (float64): price_gap: the fundamental after the gap.
    - ``net_delta`` (Int64): gap_exposure: inventory + hedge position (lots) when the gap hit.
    - ``wave`` (Int64): default, writedown: the default wave (0: a default the step's shocks
      caused; k >= 1: the k-th round of the cascade).
    - ``hop`` (Int64): hot_potato: how many hops the passed inventory has travelled.
    - ``regime_from``, ``regime_to`` (category): regime: the market maker's `Regime` value
      before and after the change.
    - ``confidence_from``, ``confidence_to`` (category): confidence: the confidence state
      before and after, ``normal``, ``stressed`` or ``withdraw``.
    - ``mode`` (category): pov_start: the execution program's mode, ``aggressive`` or
      ``passive``.
    - ``reference`` (float64): halt: the breaker's reference price.
    - ``until_step`` (Int64): halt: the last step of the halt.
    - ``on_halt`` (category): halt: what happens to orders during the halt, ``queue`` or
      ``reject``.
    - ``halted_until`` (Int64): reopen: the last step of the halt that ended.

    Kinds not listed (``credit_call``, ``credit_freeze``, ``loss``, ``withdrawal``,
    ``pov_done``) carry only ``amount``; see `EventKind`.
    """

    notional: float
    mid: float | None
    venue: str
    requested: int
    price: float
    cost: float
    fundamental: float
    net_delta: int
    wave: int
    hop: int
    regime_from: str
    regime_to: str
    confidence_from: str
    confidence_to: str
    mode: str
    reference: float
    until_step: int
    on_halt: str
    halted_until: int


EVENT_FIELD_DTYPES: Final = {
    "notional": "float64",
    "mid": "float64",
    "venue": "category",
    "requested": "Int64",
    "price": "float64",
    "cost": "float64",
    "fundamental": "float64",
    "net_delta": "Int64",
    "wave": "Int64",
    "hop": "Int64",
    "regime_from": "category",
    "regime_to": "category",
    "confidence_from": "category",
    "confidence_to": "category",
    "mode": "category",
    "reference": "float64",
    "until_step": "Int64",
    "on_halt": "category",
    "halted_until": "Int64",
}
"""The dtype of each `EventFields` column, in column order (after ``amount``)."""


__all__ = ["EVENT_FIELD_DTYPES", "EventFields", "EventKind", "TradePurpose"]
