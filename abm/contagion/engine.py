"""The contagion layer at run time: balance sheets, defaults and the channels between dealers.

Balance sheets. A market maker's equity is ``cash + inventory * mark + hedge * hedge price
+ claims - debts``, the mark being the scenario's ``mark`` methodology (`abm.market.mark`),
re-read after every forced sale; margin requirements and default tests use the same. Credit
lines are funded at the start: along each edge ``i -> j`` of ``model.network``, ``i`` pays
``exposure`` in cash to ``j`` and holds a claim on it, ``j`` owes it (equity unchanged for
both). All amounts are integer tick units, so cash stays exactly conserved across traders,
the hedge venue and the outside world (`OutsideWorld`, which takes the other side of
exogenous shocks and, with the fire-sale channel off, of forced sales).

Default rule. A market maker whose group sets ``default_threshold`` defaults when its
equity falls to or below it; with no threshold it never defaults. A defaulted market
maker's orders are cancelled, it stops quoting, its inventory is liquidated over
``liquidation_steps`` steps, and its creditors write down ``exposure * (1 -
recovery_rate)``, which may make them default in turn: waves within the step.

Channels (each switchable in ``network.channels``; see `abm.contagion.specs`): default, fire
sale (forced sales go into the book and move its prices, and with them a mark that follows
the book; off: they are absorbed by the outside world at the fundamental), margin
(Brunnermeier & Pedersen 2009), credit lines, confidence, hot potato (Lyons 1997). Every
action is an ``events`` row whose ``kind`` is the channel, with source (``agent_id``),
target (``counterparty``) and amount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Unpack

import networkx as nx

from abm.contagion.specs import ChannelsSpec, DefaultChannel, NetworkSpec
from abm.results.events import EventFields, EventKind
from abm.risk.specs import DefaultShock, InventoryShock, LossShock
from abm.states import Status

if TYPE_CHECKING:
    from abm.agents.market_maker import MarketMaker
    from abm.model import MarketModel


@dataclass
class OutsideWorld:
    """The rest of the world: counterparty of exogenous shocks and off-book forced sales."""

    cash_ticks: int = 0
    inventory: int = 0


@dataclass
class ContagionStats:
    """Run totals for ``summary.json``."""

    defaults: int = 0
    cascade_waves: int = 0
    forced_sale_volume: int = 0
    losses_by_channel: dict[str, float] = field(default_factory=dict)

    def add_loss(self, channel: str, amount: float) -> None:
        """Accumulate a loss (price units) under ``channel``."""
        self.losses_by_channel[channel] = self.losses_by_channel.get(channel, 0.0) + amount


class ContagionEngine:
    """Balance sheets, the network and the channels (see the module docstring).

    Args:
        model: The market model (its market makers are the nodes, in creation order).
        spec: The scenario's network, or None (no links; defaults still apply).
        network: The built graph (edges i -> j: i lent to j), or an empty graph.
    """

    def __init__(self, model: MarketModel, spec: NetworkSpec | None, network: nx.DiGraph):
        self.model = model
        self.network = network
        self.channels = spec.channels if spec is not None else ChannelsSpec()
        self.default_channel = self.channels.default or DefaultChannel(enabled=False)
        self.outside = OutsideWorld()
        self.stats = ContagionStats()
        self.nodes: list[MarketMaker] = list(model.market_makers)
        self._node_of = {mm.unique_id: i for i, mm in enumerate(self.nodes)}
        self._called: set[tuple[int, int]] = set()
        self._liquidations: dict[int, int] = {}  # node -> steps left to liquidate
        self._mark = math.nan
        self._fund_credit_lines()

    def _fund_credit_lines(self) -> None:
        tick = self.model.tick_size
        for i, j, data in self.network.edges(data=True):
            amount = round(data["exposure"] / tick)
            lender, borrower = self.nodes[i], self.nodes[j]
            lender.cash_ticks -= amount
            lender.claims_ticks += amount
            borrower.cash_ticks += amount
            borrower.debts_ticks += amount
            data["claim_ticks"] = amount

    # ----- helpers -------------------------------------------------------------------

    def _log(
        self,
        kind: EventKind,
        source: int | None,
        target: int | None,
        amount: float,
        **fields: Unpack[EventFields],
    ) -> None:
        self.model.log_event(kind, source, target, amount, **fields)

    def _trade_outside(self, mm: MarketMaker, price_ticks: int, qty: int) -> None:
        """``mm`` buys ``qty`` lots (signed) from the outside world at ``price_ticks``."""
        notional = price_ticks * qty
        mm.cash_ticks -= notional
        mm.inventory += qty
        self.outside.cash_ticks += notional
        self.outside.inventory -= qty

    def _reduce_claim(self, lender: MarketMaker, edge: dict[str, Any], ticks: int) -> None:
        """Lower ``lender``'s claim along ``edge`` by ``ticks``, keeping ``exposure`` in step."""
        lender.claims_ticks -= ticks
        edge["claim_ticks"] -= ticks
        edge["exposure"] = edge["claim_ticks"] * self.model.tick_size

    def _neighbours(self, node: int) -> set[int]:
        """Nodes linked to ``node`` in either direction."""
        graph = self.network
        return set(graph.successors(node)) | set(graph.predecessors(node))

    def _refresh_mark(self) -> None:
        """Re-read the mark (after anything that may have moved the book)."""
        self._mark = self.model.mark_price()

    def _equity(self, mm: MarketMaker) -> float:
        return mm.equity(mark=self._mark, hedge_mark=self.model.hedge_venue.price)

    def distress(self, mm: MarketMaker) -> float:
        """Relative equity loss since the start, in [0, 1] (1 for a defaulted dealer)."""
        if mm.status is Status.DEFAULTED:
            return 1.0
        start = mm.initial_equity
        if start <= 0:
            return 0.0
        return min(1.0, max(0.0, 1.0 - self._equity(mm) / start))

    def forced_sale(self, mm: MarketMaker, qty: int, channel: EventKind) -> int:
        """Trade ``qty`` lots (signed: + buys) out of ``mm``'s control; returns lots done.

        With the fire-sale channel on, a market order into the book (price impact); off,
        the outside world takes it at the fundamental (rounded to the tick against the
        seller). Logged as a ``channel`` event (``liquidation`` or ``margin_call``) whose
        amount is the signed quantity done, with the fields ``notional`` (price units,
        unsigned), the ``mid`` before and the ``venue`` (book or outside).
        """
        if qty == 0:
            return 0
        model = self.model
        tick = model.tick_size
        mid = model.mid_price()
        if self.channels.fire_sale is not None and self.channels.fire_sale.enabled:
            result = model.exchange.market(mm, qty > 0, abs(qty))
            done = result.filled_qty
            notional_ticks = sum(fill.price_ticks * fill.qty for fill in result.fills)
            venue = "book"
        else:
            value = model.fundamental.value / tick
            price_ticks = math.ceil(value - 1e-9) if qty > 0 else math.floor(value + 1e-9)
            self._trade_outside(mm, price_ticks, qty)
            done = abs(qty)
            notional_ticks = price_ticks * done
            venue = "outside"
        self.stats.forced_sale_volume += done
        self._refresh_mark()
        if done:
            self._log(
                channel,
                mm.unique_id,
                None,
                float(done if qty > 0 else -done),
                notional=notional_ticks * tick,
                mid=mid,
                venue=venue,
            )
        return done

    # ----- shocks (step 2) -------------------------------------------------------------

    def apply_shocks(self, step: int) -> None:
        """Apply this step's loss, default, inventory and credit-freeze shocks."""
        model = self.model
        tick = model.tick_size
        self._refresh_mark()
        for shock in model.shocks.targeted.get(step, ()):
            for node in shock.targets:
                if node >= len(self.nodes):
                    continue
                mm = self.nodes[node]
                if isinstance(shock, LossShock):
                    amount = round(shock.amount / tick)
                    mm.cash_ticks -= amount
                    self.outside.cash_ticks += amount
                    self.stats.add_loss("loss", shock.amount)
                    self._log(EventKind.LOSS, mm.unique_id, None, shock.amount)
                elif isinstance(shock, DefaultShock):
                    if mm.status is not Status.DEFAULTED:
                        self._default(mm, wave=0)
                        self.stats.cascade_waves = max(self.stats.cascade_waves, 1)
                else:
                    assert isinstance(shock, InventoryShock)
                    price_ticks = round(model.reference_price("mid") / tick)
                    self._trade_outside(mm, price_ticks, shock.qty)
                    mm.potato_hops = 0
                    self._log(
                        EventKind.INVENTORY_SHOCK,
                        mm.unique_id,
                        None,
                        float(shock.qty),
                        notional=abs(price_ticks * shock.qty) * tick,
                    )
        for freeze in model.shocks.credit_freezes.get(step, ()):
            for _, _, data in self.network.edges(data=True):
                data["capacity"] = int(data["capacity"] * freeze.factor)
            self._log(EventKind.CREDIT_FREEZE, None, None, freeze.factor)
        for withdrawal in model.shocks.withdrawals():
            if withdrawal.step == step and self.nodes:
                count = max(1, round(withdrawal.fraction * len(self.nodes)))
                chosen = model.rng.choice(len(self.nodes), size=count, replace=False)
                for node in sorted(int(c) for c in chosen):
                    self.nodes[node].withdrawn_until = step + withdrawal.duration_steps
                    self._log(
                        EventKind.WITHDRAWAL,
                        self.nodes[node].unique_id,
                        None,
                        float(withdrawal.duration_steps),
                    )

    # ----- risk and contagion (step 4) ---------------------------------------------------

    def step(self) -> None:
        """Liquidations, margin calls, credit-line calls, default waves, hot potato, confidence."""
        self._refresh_mark()
        self._liquidate(count_step=True)
        self._margin_calls()
        self._credit_calls()
        self._default_waves()
        self._hot_potato()
        self._confidence()

    def _liquidate(self, *, count_step: bool) -> None:
        """Sell each defaulted dealer's next slice; ``count_step`` once per model step.

        Slices are ``|inventory| / steps left``; once the schedule has run out, the rest
        is offered every step until it is gone (a book without bids can delay, not
        cancel, a liquidation).
        """
        for node, steps_left in list(self._liquidations.items()):
            mm = self.nodes[node]
            if mm.inventory == 0:
                del self._liquidations[node]
                continue
            slice_qty = math.ceil(abs(mm.inventory) / max(steps_left, 1))
            self.forced_sale(
                mm, -slice_qty if mm.inventory > 0 else slice_qty, EventKind.LIQUIDATION
            )
            if count_step:
                self._liquidations[node] = max(steps_left - 1, 1)

    def _margin_calls(self) -> None:
        margin = self.channels.margin
        if margin is None or not margin.enabled:
            return
        model = self.model
        hike = model.shocks.window_multiplier("margin_hike", model.step_index)
        mark = self._mark
        for mm in self.nodes:
            if mm.status is Status.DEFAULTED or mm.inventory == 0:
                mm.margin_requirement = 0.0
                continue
            rate = margin.base_rate
            if margin.vol_linked:
                rate += margin.vol_coefficient * mm.volatility.sigma
            requirement = rate * hike * abs(mm.inventory) * mark
            mm.margin_requirement = requirement
            if self._equity(mm) < requirement:
                cut = max(1, math.ceil(margin.pace * abs(mm.inventory)))
                self.forced_sale(mm, -cut if mm.inventory > 0 else cut, EventKind.MARGIN_CALL)

    def _credit_calls(self) -> None:
        credit = self.channels.credit_lines
        if credit is None or not credit.enabled:
            return
        for j, borrower in enumerate(self.nodes):
            if (
                borrower.status is Status.DEFAULTED
                or self.distress(borrower) <= credit.distress_threshold
            ):
                continue
            for i in list(self.network.predecessors(j)):
                if (i, j) in self._called:
                    continue
                self._called.add((i, j))
                data = self.network.edges[i, j]
                called = round(data["claim_ticks"] * credit.call_fraction)
                paid = min(called, max(borrower.cash_ticks, 0))
                if paid <= 0:
                    continue
                lender = self.nodes[i]
                borrower.cash_ticks -= paid
                borrower.debts_ticks -= paid
                lender.cash_ticks += paid
                self._reduce_claim(lender, data, paid)
                self._log(
                    EventKind.CREDIT_CALL,
                    lender.unique_id,
                    borrower.unique_id,
                    paid * self.model.tick_size,
                )

    def _default_waves(self) -> None:
        if not self.default_channel.enabled:
            return
        wave = 0
        while True:
            failing = [
                mm
                for mm in self.nodes
                if mm.status is not Status.DEFAULTED
                and mm.default_threshold is not None
                and self._equity(mm) <= mm.default_threshold
            ]
            if not failing:
                break
            wave += 1
            for mm in failing:
                self._default(mm, wave)
            fire = self.channels.fire_sale
            if fire is not None and fire.enabled:
                self._liquidate(count_step=False)  # forced sales now, marks move, more may fail
        self.stats.cascade_waves = max(self.stats.cascade_waves, wave)

    def _default(self, mm: MarketMaker, wave: int) -> None:
        """Default ``mm``: cancel its orders, schedule liquidation, write down its creditors."""
        mm.status = Status.DEFAULTED
        mm.withdraw()
        self._refresh_mark()  # its quotes may have been the touch
        self.stats.defaults += 1
        node = self._node_of[mm.unique_id]
        self._log(EventKind.DEFAULT, mm.unique_id, None, self._equity(mm), wave=wave)
        if mm.inventory:
            self._liquidations[node] = self.default_channel.liquidation_steps
        recovery = self.default_channel.recovery_rate
        tick = self.model.tick_size
        for i in list(self.network.predecessors(node)) if node in self.network else []:
            data = self.network.edges[i, node]
            loss = round(data["claim_ticks"] * (1.0 - recovery))
            if loss <= 0:
                continue
            creditor = self.nodes[i]
            self._reduce_claim(creditor, data, loss)
            self.stats.add_loss("default", loss * tick)
            self._log(EventKind.WRITEDOWN, creditor.unique_id, mm.unique_id, loss * tick, wave=wave)

    def _hot_potato(self) -> None:
        potato = self.channels.hot_potato
        if potato is None or not potato.enabled or self.network.number_of_edges() == 0:
            return
        model = self.model
        mid = model.mid_price()
        if mid is None:
            return
        tick = model.tick_size
        graph = self.network

        def trigger(mm: MarketMaker) -> int:
            if mm.max_inventory:
                return max(1, math.floor(potato.trigger * mm.max_inventory))
            return potato.trigger_lots

        order = sorted(
            (i for i, mm in enumerate(self.nodes) if mm.status is not Status.DEFAULTED),
            key=lambda i: -abs(self.nodes[i].inventory),
        )
        for i in order:
            passer = self.nodes[i]
            excess = abs(passer.inventory) - trigger(passer)
            if excess <= 0:
                continue
            selling = passer.inventory > 0
            neighbours = sorted(self._neighbours(i))
            for j in neighbours:
                receiver = self.nodes[j]
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
                    model.exchange.interdealer(passer, receiver, max(price_ticks, 1), qty)
                else:
                    price_ticks = math.ceil(mid / tick - 1e-9) + concession
                    model.exchange.interdealer(receiver, passer, price_ticks, qty)
                hops = (passer.potato_hops or 0) + 1
                if receiver.potato_hops is None or hops < receiver.potato_hops:
                    receiver.potato_hops = hops
                excess -= qty
                self._log(
                    EventKind.HOT_POTATO,
                    passer.unique_id,
                    receiver.unique_id,
                    float(qty if not selling else -qty),
                    hop=hops,
                )

    def _confidence(self) -> None:
        confidence = self.channels.confidence
        if confidence is None or not confidence.enabled:
            return
        graph = self.network
        distressed = {
            i
            for i, mm in enumerate(self.nodes)
            if self.distress(mm) >= confidence.distress_threshold
        }
        for i, mm in enumerate(self.nodes):
            if mm.status is Status.DEFAULTED or i not in graph:
                continue
            neighbours = self._neighbours(i)
            if not neighbours:
                continue
            share = len(neighbours & distressed) / len(neighbours)
            state = None
            if share >= confidence.withdraw_share:
                state = "withdraw"
            elif share >= confidence.stress_share:
                state = "stressed"
            if state != mm.confidence_state:
                self._log(
                    EventKind.CONFIDENCE,
                    mm.unique_id,
                    None,
                    share,
                    confidence_from=mm.confidence_state or "normal",
                    confidence_to=state or "normal",
                )
                mm.confidence_state = state
