"""The per-step channels besides defaults: margin, credit lines, hot potato, confidence.

Each is a function of the balance sheets (`abm.contagion.balance_sheets.BalanceSheets`) and the
channel's parameters (`abm.contagion.specs`); the engine calls them in a fixed order, each only
when its channel is on. Every action is an ``events`` row whose ``kind`` is the channel.

- Margin (Brunnermeier & Pedersen 2009): requirement ``rate * hike * |inventory| * mark``; a dealer
  whose equity is below it cuts ``ceil(pace * |inventory|)`` lots (at least one) by a forced sale.
- Credit lines: once a borrower's distress exceeds the threshold, each lender calls
  ``call_fraction`` of its claim, once per edge; the borrower repays what cash it has.
- Hot potato (Lyons 1997): a dealer over its trigger passes the excess to linked neighbours, at
  most the link's capacity and the receiver's room below its own trigger, at a concession.
- Confidence: a dealer whose share of distressed neighbours reaches ``stress_share`` quotes
  STRESSED, at ``withdraw_share`` it withdraws (the dealer reads ``confidence_state``).
"""

from __future__ import annotations

import math
from typing import TypeVar

from abm.contagion.balance_sheets import BalanceSheets
from abm.contagion.specs import (
    ConfidenceChannel,
    CreditLineChannel,
    HotPotatoChannel,
    MarginChannel,
)
from abm.contagion.view import Dealer
from abm.results.events import EventKind
from abm.states import Status

D = TypeVar("D", bound=Dealer)


def margin_calls(sheets: BalanceSheets[D], margin: MarginChannel, hike: float) -> None:
    """Set every dealer's ``margin_requirement`` and force a cut on those below it.

    Args:
        sheets: The balance sheets (marked at ``sheets.mark``).
        margin: The channel's parameters.
        hike: This step's ``margin_hike`` multiplier (1.0 outside any window).
    """
    mark = sheets.mark
    for mm in sheets.nodes:
        if mm.status is Status.DEFAULTED or mm.inventory == 0:
            mm.margin_requirement = 0.0
            continue
        rate = margin.base_rate
        if margin.vol_linked:
            rate += margin.vol_coefficient * mm.volatility.sigma
        requirement = rate * hike * abs(mm.inventory) * mark
        mm.margin_requirement = requirement
        if sheets.equity(mm) < requirement:
            cut = max(1, math.ceil(margin.pace * abs(mm.inventory)))
            sheets.forced_sale(mm, -cut if mm.inventory > 0 else cut, EventKind.MARGIN_CALL)


def credit_calls(
    sheets: BalanceSheets[D], credit: CreditLineChannel, called: set[tuple[int, int]]
) -> None:
    """Lenders call the lines of distressed borrowers; each edge in ``called`` at most once.

    The borrower pays ``min(round(claim * call_fraction), cash)`` ticks (nothing with no cash);
    its debt and the lender's claim fall by the same amount. Edges are added to ``called``.
    """
    network = sheets.network
    for j, borrower in enumerate(sheets.nodes):
        if (
            borrower.status is Status.DEFAULTED
            or sheets.distress(borrower) <= credit.distress_threshold
        ):
            continue
        for i in list(network.predecessors(j)):
            if (i, j) in called:
                continue
            called.add((i, j))
            data = network.edges[i, j]
            amount = round(data["claim_ticks"] * credit.call_fraction)
            paid = min(amount, max(borrower.cash_ticks, 0))
            if paid <= 0:
                continue
            lender = sheets.nodes[i]
            borrower.cash_ticks -= paid
            borrower.debts_ticks -= paid
            lender.cash_ticks += paid
            sheets.reduce_claim(lender, data, paid)
            sheets.log(
                EventKind.CREDIT_CALL,
                lender.unique_id,
                borrower.unique_id,
                paid * sheets.tick_size,
            )


def hot_potato(sheets: BalanceSheets[D], potato: HotPotatoChannel) -> None:
    """Pass inventory over the trigger to neighbours, largest positions first.

    A passer's trigger is ``max(1, floor(trigger * max_inventory))`` lots, or ``trigger_lots``
    for a dealer without a limit. Neighbours (either direction) are tried in node order; each
    takes ``min(excess, capacity, room)`` where capacity is the larger of the two directions'
    and room is the receiver's distance to its own trigger. The price is the mid rounded
    against the passer by ``concession_ticks``. A receiver's ``potato_hops`` becomes the
    passer's plus one when that is shorter. Does nothing on an empty graph or one-sided book.
    """
    if sheets.network.number_of_edges() == 0:
        return
    mid = sheets.market.mid_price()
    if mid is None:
        return
    tick = sheets.tick_size
    graph = sheets.network
    nodes = sheets.nodes

    def trigger(mm: D) -> int:
        if mm.max_inventory:
            return max(1, math.floor(potato.trigger * mm.max_inventory))
        return potato.trigger_lots

    order = sorted(
        (i for i, mm in enumerate(nodes) if mm.status is not Status.DEFAULTED),
        key=lambda i: -abs(nodes[i].inventory),
    )
    for i in order:
        passer = nodes[i]
        excess = abs(passer.inventory) - trigger(passer)
        if excess <= 0:
            continue
        selling = passer.inventory > 0
        for j in sorted(sheets.neighbours(i)):
            receiver = nodes[j]
            if excess <= 0:
                break
            if receiver.status is Status.DEFAULTED:
                continue
            capacity = max(
                graph.edges[i, j]["capacity"] if graph.has_edge(i, j) else 0,
                graph.edges[j, i]["capacity"] if graph.has_edge(j, i) else 0,
            )
            position = receiver.inventory if selling else -receiver.inventory
            room = trigger(receiver) - position
            qty = min(excess, capacity, room)
            if qty <= 0:
                continue
            concession = potato.concession_ticks
            if selling:
                price_ticks = math.floor(mid / tick + 1e-9) - concession
                sheets.exchange.interdealer(passer, receiver, max(price_ticks, 1), qty)
            else:
                price_ticks = math.ceil(mid / tick - 1e-9) + concession
                sheets.exchange.interdealer(receiver, passer, price_ticks, qty)
            hops = (passer.potato_hops or 0) + 1
            if receiver.potato_hops is None or hops < receiver.potato_hops:
                receiver.potato_hops = hops
            excess -= qty
            sheets.log(
                EventKind.HOT_POTATO,
                passer.unique_id,
                receiver.unique_id,
                float(qty if not selling else -qty),
                hop=hops,
            )


def confidence(sheets: BalanceSheets[D], channel: ConfidenceChannel) -> None:
    """Update every live linked dealer's ``confidence_state`` from its distressed neighbours.

    A neighbour is distressed when its distress is at least ``distress_threshold`` (a
    defaulted one always is). The state is ``"withdraw"`` at ``withdraw_share`` or more,
    ``"stressed"`` at ``stress_share`` or more, else None; each change is logged.
    """
    graph = sheets.network
    nodes = sheets.nodes
    distressed = {
        i for i, mm in enumerate(nodes) if sheets.distress(mm) >= channel.distress_threshold
    }
    for i, mm in enumerate(nodes):
        if mm.status is Status.DEFAULTED or i not in graph:
            continue
        neighbours = sheets.neighbours(i)
        if not neighbours:
            continue
        share = len(neighbours & distressed) / len(neighbours)
        state = None
        if share >= channel.withdraw_share:
            state = "withdraw"
        elif share >= channel.stress_share:
            state = "stressed"
        if state != mm.confidence_state:
            sheets.log(
                EventKind.CONFIDENCE,
                mm.unique_id,
                None,
                share,
                confidence_from=mm.confidence_state or "normal",
                confidence_to=state or "normal",
            )
            mm.confidence_state = state
