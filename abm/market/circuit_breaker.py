"""An exchange circuit breaker: halt matching after a fast fall, then reopen.

Modelled on the CME Globex Stop Logic that paused E-mini trading for five seconds at
13:45:28 on May 6, 2010 (CFTC/SEC 2010, p. 4; Kirilenko et al. 2017, section 5): when a
trade prints ``fall_pct`` percent or more below the highest trade of the last
``window_steps`` steps, matching stops for the rest of that step and ``halt_steps`` more.
During a halt the book still accepts resting orders and cancels (so it never crosses),
but an order that would trade (a market order, or a limit at or through the opposite
touch) is queued or rejected, as configured. Queued orders reopen the market through a
call auction at one price (``reopening: auction``, the CME's reopening; `abm.market.auction`),
so the reopening cannot walk down the book and re-trip the breaker; ``reopening: release``
submits them in arrival order to the continuous book instead (the queue-and-release rule,
kept for comparison). The rule lives in the exchange (`abm.market.exchange`); the order book knows
nothing of halts.

This module holds the scenario spec and the trigger; it never touches the book.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Annotated, Literal

from pydantic import Field

from abm.scenario.types import _NO_BOOL, PosInt, Spec

HALTED_ORDER_ID = -1
"""``OrderResult.order_id`` of an order the exchange queued or rejected during a halt.

Book ids are positive, so this never names a resting order. A queued order has
``unfilled_qty == 0`` (it is still pending); a rejected one ``unfilled_qty == qty``.
"""


class CircuitBreakerSpec(Spec):
    """Scenario switch and parameters of the circuit breaker (``circuit_breaker:``).

    Attributes:
        enabled: False leaves the breaker in the document but never halts (one line to flip).
        fall_pct: Trigger: a trade at least this many percent below the window's highest trade.
        window_steps: Look-back of the highest trade, in steps (the trigger step included).
        halt_steps: Full steps without matching after the trigger step.
        on_halt: What happens to an order that would trade during a halt: ``queue`` (submitted
            in arrival order at the reopening) or ``reject`` (dropped, reported to its sender).
        stop_logic: Whether the breaker acts before the trade (CME Globex Stop Logic: an
            order that would trade at or below the trigger price executes only above it, and
            its rest is held by the halt that begins) instead of after the tripping trade,
            which may already have swept the book far through the trigger.
        reopening: How queued orders reopen trading: ``auction`` (one uniform price that
            executes the most lots, `abm.market.auction.clearing_price`; the reference for
            the next trigger is that price) or ``release`` (each submitted in arrival order to
            the continuous book, the breaker watching).
    """

    enabled: bool = Field(
        default=True, description="False keeps the breaker in the document but never halts."
    )
    fall_pct: Annotated[float, Field(gt=0.0, lt=100.0, strict=True), _NO_BOOL] = Field(
        description="Trigger: a trade at least this many percent below the window's high."
    )
    window_steps: PosInt = Field(
        description="Look-back of the highest trade, steps (the trigger step included)."
    )
    halt_steps: PosInt = Field(description="Full steps without matching after the trigger step.")
    on_halt: Literal["queue", "reject"] = Field(
        default="queue",
        description="An order that would trade in a halt: `queue` (sent at the reopening) or "
        "`reject`.",
    )
    stop_logic: bool = Field(
        default=False,
        description="True: an order that would trade at the trigger or beyond trades only down "
        "to it; its rest is held and the halt begins (CME Stop Logic); false: the halt follows "
        "the tripping trade.",
    )
    reopening: Literal["auction", "release"] = Field(
        default="auction",
        description="Queued orders reopen through `auction` (one uniform price executing the "
        "most lots) or are `release`d in arrival order to the continuous book.",
    )


class CircuitBreaker:
    """The trigger state: recent trade highs, and whether (and until when) trading is halted.

    Args:
        spec: The breaker's parameters (``spec.enabled`` is not consulted here: a disabled
            breaker is simply not built).

    Attributes:
        halted_until: Last step of the current (or last) halt; -1 before any halt.
        halts: Number of halts so far.
        halted_steps: Length of the halts triggered so far, in steps (trigger steps included).
        last_ticks: The last trade price observed (ticks); None before any trade.
    """

    def __init__(self, spec: CircuitBreakerSpec) -> None:
        self.spec = spec
        self._keep = 1.0 - spec.fall_pct / 100.0
        self._highs: deque[tuple[int, int]] = deque()  # (step, high), highs decreasing
        self.halted_until = -1
        self.halts = 0
        self.halted_steps = 0
        self.last_ticks: int | None = None

    def reference_ticks(self, step: int) -> int | None:
        """Highest trade price (ticks) within the window ending at ``step``; None if none."""
        highs = self._highs
        while highs and highs[0][0] <= step - self.spec.window_steps:
            highs.popleft()
        return highs[0][1] if highs else None

    def observe(self, step: int, price_ticks: int) -> int | None:
        """Feed one trade price (ticks) printed at ``step``, in the order trades happen.

        Returns:
            The reference (the window's high before this trade, ticks) if this trade is
            ``fall_pct`` or more below it, else None. A trip starts a halt lasting until
            ``step + halt_steps``.
        """
        reference = self.reference_ticks(step)
        self.last_ticks = price_ticks
        highs = self._highs
        # a monotone deque: a new high makes every older, lower high irrelevant
        while highs and highs[-1][1] <= price_ticks:
            highs.pop()
        highs.append((step, price_ticks))
        if reference is None or price_ticks > reference * self._keep:
            return None
        self.trip(step)
        return reference

    def floor_ticks(self, step: int) -> int | None:
        """The lowest price (ticks) a trade at ``step`` may print without tripping.

        None if there is no reference yet (no trade in the window).
        """
        reference = self.reference_ticks(step)
        if reference is None:
            return None
        # the same product as `observe`'s test, so the two never disagree on a tick
        return math.floor(reference * self._keep) + 1

    def trip(self, step: int) -> None:
        """Start a halt at ``step``: it lasts until ``step + halt_steps``."""
        self.halted_until = step + self.spec.halt_steps
        self.halts += 1
        self.halted_steps += self.spec.halt_steps + 1

    def reopen(self, step: int, price_ticks: int | None = None) -> None:
        """Forget the pre-halt highs; the reopening price (if any) is the next reference.

        Args:
            step: The step trading reopens.
            price_ticks: The reopening auction's price, or None (the next trade sets it).
        """
        self._highs.clear()
        if price_ticks is not None:
            self._highs.append((step, price_ticks))
            self.last_ticks = price_ticks
