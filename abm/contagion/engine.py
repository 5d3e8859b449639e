"""The contagion layer at run time: balance-sheet shocks and the channels, step by step.

`ContagionEngine` is built from its parts (`abm.contagion.view`): the dealers, the exchange that
settles their forced trades, the schedule of the shocks it applies, a generator, an event sink
and a narrow view of prices and time. It never sees the model. The concepts live beside it:

- balance sheets, credit-line funding, the outside world and forced sales:
  `abm.contagion.balance_sheets`;
- the default rule, write-downs, waves and liquidation: `abm.contagion.defaults`;
- margin, credit lines, hot potato and confidence: `abm.contagion.channels`.

Channels (each switchable in ``network.channels``; see `abm.contagion.specs`): default, fire
sale (forced sales go into the book and move its prices, and with them a mark that follows
the book; off: they are absorbed by the outside world at the fundamental), margin
(Brunnermeier & Pedersen 2009), credit lines, confidence, hot potato (Lyons 1997). Every
action is an ``events`` row whose ``kind`` is the channel, with source (``agent_id``),
target (``counterparty``) and amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

import networkx as nx
import numpy as np

from abm.contagion import channels as channel_steps
from abm.contagion.balance_sheets import BalanceSheets, ContagionStats, OutsideWorld
from abm.contagion.defaults import Defaults
from abm.contagion.specs import ChannelsSpec, DefaultChannel, NetworkSpec
from abm.contagion.view import (
    ContagionMarket,
    ContagionShocks,
    Dealer,
    DealerExchange,
    EventSink,
)
from abm.results.events import EventKind
from abm.shocks import DefaultShock, InventoryShock, LossShock
from abm.states import Status

__all__ = ["ContagionEngine", "ContagionStats", "OutsideWorld"]

D = TypeVar("D", bound=Dealer)


class ContagionEngine(Generic[D]):
    """Balance sheets, the network and the channels (see the module docstring).

    Constructing the engine funds the credit lines (cash moves along every edge).

    Args:
        spec: The scenario's network, or None (no links; defaults still apply).
        network: The built graph (edges i -> j: i lent to j, with ``exposure`` and
            ``capacity``), or an empty graph.
        nodes: The dealers; node ``i`` is ``nodes[i]`` (the market makers in creation order).
        exchange: Settles forced sales into the book and inter-dealer trades.
        shocks: The scheduled loss, default, inventory, credit-freeze, withdrawal and
            margin-hike shocks.
        rng: Draws which dealers a liquidity-withdrawal shock hits.
        log_event: The event sink.
        market: Prices and time.

    Attributes:
        channels: The channels' parameters (``ChannelsSpec()`` without a spec).
        default_channel: The default channel (disabled when ``channels.default`` is None).
        nodes: The dealers, node order.
        network: The graph; edges gain ``claim_ticks`` and their ``exposure`` and
            ``capacity`` follow write-downs, repayments and freezes.
        outside: The outside world's cash and inventory (counted in the model's totals).
        stats: Run totals for ``summary.json``.
    """

    def __init__(
        self,
        *,
        spec: NetworkSpec | None,
        network: nx.DiGraph,
        nodes: Sequence[D],
        exchange: DealerExchange[D],
        shocks: ContagionShocks,
        rng: np.random.Generator,
        log_event: EventSink,
        market: ContagionMarket,
    ) -> None:
        self.network = network
        self.channels = spec.channels if spec is not None else ChannelsSpec()
        self.default_channel = self.channels.default or DefaultChannel(enabled=False)
        fire = self.channels.fire_sale
        self._sheets = BalanceSheets(
            nodes,
            network,
            exchange,
            market,
            log_event,
            fire_sale=fire is not None and fire.enabled,
        )
        self._defaults = Defaults(self._sheets, self.default_channel)
        self._market = market
        self._shocks = shocks
        self._rng = rng
        self._called: set[tuple[int, int]] = set()  # credit lines called, (lender, borrower)
        channels = self.channels
        # default waves can only fail a dealer that has a default threshold
        thresholds = any(mm.default_threshold is not None for mm in self._sheets.nodes)
        self._channels_on = any(
            channel is not None and channel.enabled
            for channel in (
                channels.margin,
                channels.credit_lines,
                self.default_channel if thresholds else None,
                channels.hot_potato,
                channels.confidence,
            )
        )
        self._mark_stale = False  # a step skipped its mark read (no channel on, nothing to sell)

    @property
    def nodes(self) -> list[D]:
        """The dealers, node order."""
        return self._sheets.nodes

    @property
    def outside(self) -> OutsideWorld:
        """The outside world's cash and inventory."""
        return self._sheets.outside

    @property
    def stats(self) -> ContagionStats:
        """Run totals for ``summary.json``."""
        return self._sheets.stats

    def distress(self, mm: D) -> float:
        """Relative equity loss since the start, in [0, 1] (1 for a defaulted dealer)."""
        if self._mark_stale:
            self._sheets.refresh_mark()
            self._mark_stale = False
        return self._sheets.distress(mm)

    def forced_sale(self, mm: D, qty: int, channel: EventKind) -> int:
        """Trade ``qty`` lots (signed: + buys) out of ``mm``'s control; returns lots done.

        See `abm.contagion.balance_sheets.BalanceSheets.forced_sale`.
        """
        return self._sheets.forced_sale(mm, qty, channel)

    # ----- shocks (step 2) -------------------------------------------------------------

    def apply_shocks(self, step: int) -> None:
        """Apply this step's loss, default, inventory and credit-freeze shocks, and withdrawals.

        A loss moves ``amount`` (rounded to ticks) from the dealer to the outside world; a
        default shock defaults the dealer (wave 0); an inventory shock trades ``qty`` with the
        outside world at the mid reference rounded to the tick; a credit freeze scales every
        edge's capacity by ``factor`` (truncated); a withdrawal draws
        ``max(1, round(fraction * nodes))`` dealers without replacement from ``rng`` and
        keeps them out of quoting for ``duration_steps``. Targets beyond the node count are
        skipped.
        """
        shocks = self._shocks
        targeted = shocks.targeted.get(step, ())
        freezes = shocks.credit_freezes.get(step, ())
        withdrawals = [w for w in shocks.withdrawals() if w.step == step]
        if not (targeted or freezes or withdrawals):
            return  # nothing due: no mark to read (a mark's value changes no state)
        sheets = self._sheets
        nodes = sheets.nodes
        tick = sheets.tick_size
        sheets.refresh_mark()
        for shock in targeted:
            for node in shock.targets:
                if node >= len(nodes):
                    continue
                mm = nodes[node]
                if isinstance(shock, LossShock):
                    amount = round(shock.amount / tick)
                    mm.cash_ticks -= amount
                    sheets.outside.cash_ticks += amount
                    sheets.stats.add_loss("loss", shock.amount)
                    sheets.log(EventKind.LOSS, mm.unique_id, None, shock.amount)
                elif isinstance(shock, DefaultShock):
                    if mm.status is not Status.DEFAULTED:
                        self._defaults.default(mm, wave=0)
                        sheets.stats.cascade_waves = max(sheets.stats.cascade_waves, 1)
                else:
                    assert isinstance(shock, InventoryShock)
                    price_ticks = round(self._market.reference_price("mid") / tick)
                    sheets.trade_outside(mm, price_ticks, shock.qty)
                    mm.potato_hops = 0
                    sheets.log(
                        EventKind.INVENTORY_SHOCK,
                        mm.unique_id,
                        None,
                        float(shock.qty),
                        notional=abs(price_ticks * shock.qty) * tick,
                    )
        for freeze in freezes:
            for _, _, data in self.network.edges(data=True):
                data["capacity"] = int(data["capacity"] * freeze.factor)
            sheets.log(EventKind.CREDIT_FREEZE, None, None, freeze.factor)
        for withdrawal in withdrawals:
            if nodes:
                count = max(1, round(withdrawal.fraction * len(nodes)))
                chosen = self._rng.choice(len(nodes), size=count, replace=False)
                for node in sorted(int(c) for c in chosen):
                    nodes[node].withdrawn_until = step + withdrawal.duration_steps
                    sheets.log(
                        EventKind.WITHDRAWAL,
                        nodes[node].unique_id,
                        None,
                        float(withdrawal.duration_steps),
                    )

    # ----- risk and contagion (step 4) ---------------------------------------------------

    def step(self) -> None:
        """Liquidations, margin calls, credit-line calls, default waves, hot potato, confidence.

        In that order, each channel only when on; the mark is re-read first and after every
        forced sale or default. With every channel off and no liquidation under way there is
        nothing to do, and the mark is not read (`distress` reads it when asked).
        """
        if not (self._channels_on or self._defaults.liquidations):
            self._mark_stale = True  # nothing reads the mark this step: read it when asked
            return
        sheets = self._sheets
        channels = self.channels
        sheets.refresh_mark()
        self._mark_stale = False
        self._defaults.liquidate(count_step=True)
        margin = channels.margin
        if margin is not None and margin.enabled:
            hike = self._shocks.window_multiplier("margin_hike", self._market.step_index)
            channel_steps.margin_calls(sheets, margin, hike)
        credit = channels.credit_lines
        if credit is not None and credit.enabled:
            channel_steps.credit_calls(sheets, credit, self._called)
        self._defaults.waves()
        potato = channels.hot_potato
        if potato is not None and potato.enabled:
            channel_steps.hot_potato(sheets, potato)
        confidence = channels.confidence
        if confidence is not None and confidence.enabled:
            channel_steps.confidence(sheets, confidence)
