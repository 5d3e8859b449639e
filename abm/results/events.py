"""The labels of the results contract: what an ``events`` row records and why a fill happened.

Both enumerations are shared by the engine, which writes them, and by analysis, which reads
them: the ``kind`` column of the ``events`` table holds `EventKind` values and the
``purpose`` column of the ``trades`` table holds `TradePurpose` values (as categoricals of
their string values, so a saved run reads back without abm). Members compare equal to
their strings (``EventKind.HALT == "halt"``).
"""

from __future__ import annotations

from enum import StrEnum


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
    (``liquidation``, ``margin_call``) and its dealer-to-dealer passes ``interdealer``.
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


__all__ = ["EventKind", "TradePurpose"]
