"""Defaults: the default rule, creditors' write-downs, waves, and the liquidation that follows.

A dealer whose group sets ``default_threshold`` defaults when its equity falls to or below it;
with no threshold it never defaults. A defaulted dealer's orders are cancelled, it stops
quoting, its inventory is liquidated over ``liquidation_steps`` steps (forced sales,
`abm.contagion.balance_sheets.BalanceSheets.forced_sale`), and each creditor writes down
``claim * (1 - recovery_rate)``, which may make it default in turn: waves within the step. With
the fire-sale channel on, each wave's liquidation slices are sold at once, so that the marks
they move are seen by the next wave's default test.
"""

from __future__ import annotations

import math
from typing import Generic, TypeVar

from abm.contagion.balance_sheets import BalanceSheets
from abm.contagion.specs import DefaultChannel
from abm.contagion.view import Dealer
from abm.results.events import EventKind
from abm.states import Status

D = TypeVar("D", bound=Dealer)


class Defaults(Generic[D]):
    """Defaults and liquidations on a set of balance sheets.

    Args:
        sheets: The dealers' balance sheets.
        channel: The default channel's parameters (``enabled`` gates the waves of `waves`;
            a default shock defaults a dealer through `default` whatever it says).
    """

    def __init__(self, sheets: BalanceSheets[D], channel: DefaultChannel) -> None:
        self.sheets = sheets
        self.channel = channel
        self.liquidations: dict[int, int] = {}  # node -> steps left to liquidate

    def liquidate(self, *, count_step: bool) -> None:
        """Sell each defaulted dealer's next slice; ``count_step`` once per model step.

        Slices are ``ceil(|inventory| / steps left)``; once the schedule has run out, the
        rest is offered every step until it is gone (a book without bids can delay, not
        cancel, a liquidation).
        """
        sheets = self.sheets
        for node, steps_left in list(self.liquidations.items()):
            mm = sheets.nodes[node]
            if mm.inventory == 0:
                del self.liquidations[node]
                continue
            slice_qty = math.ceil(abs(mm.inventory) / max(steps_left, 1))
            sheets.forced_sale(
                mm, -slice_qty if mm.inventory > 0 else slice_qty, EventKind.LIQUIDATION
            )
            if count_step:
                self.liquidations[node] = max(steps_left - 1, 1)

    def waves(self) -> None:
        """Default every dealer at or below its threshold, wave after wave, until none is.

        Records the deepest wave in ``stats.cascade_waves``; does nothing with the channel off.
        """
        if not self.channel.enabled:
            return
        sheets = self.sheets
        wave = 0
        while True:
            failing = [
                mm
                for mm in sheets.nodes
                if mm.status is not Status.DEFAULTED
                and mm.default_threshold is not None
                and sheets.equity(mm) <= mm.default_threshold
            ]
            if not failing:
                break
            wave += 1
            for mm in failing:
                self.default(mm, wave)
            if sheets.fire_sale:
                self.liquidate(count_step=False)  # forced sales now, marks move, more may fail
        sheets.stats.cascade_waves = max(sheets.stats.cascade_waves, wave)

    def default(self, mm: D, wave: int) -> None:
        """Default ``mm``: cancel its orders, schedule liquidation, write down its creditors."""
        sheets = self.sheets
        mm.status = Status.DEFAULTED
        mm.withdraw()
        sheets.refresh_mark()  # its quotes may have been the touch
        sheets.stats.defaults += 1
        node = sheets.node_of[mm.unique_id]
        sheets.log(EventKind.DEFAULT, mm.unique_id, None, sheets.equity(mm), wave=wave)
        if mm.inventory:
            self.liquidations[node] = self.channel.liquidation_steps
        recovery = self.channel.recovery_rate
        tick = sheets.tick_size
        network = sheets.network
        for i in list(network.predecessors(node)) if node in network else []:
            data = network.edges[i, node]
            loss = round(data["claim_ticks"] * (1.0 - recovery))
            if loss <= 0:
                continue
            creditor = sheets.nodes[i]
            sheets.reduce_claim(creditor, data, loss)
            sheets.stats.add_loss("default", loss * tick)
            sheets.log(
                EventKind.WRITEDOWN, creditor.unique_id, mm.unique_id, loss * tick, wave=wave
            )
