"""The lending agents' group specs: borrowers and liquidators (`abm.market.lending.venue`).

Both act every step after the market makers, in scenario order (executors,
`abm.agents.groups.GroupRole`); a scenario with either needs a ``lending`` section. The agents
are `abm.agents.borrower` and `abm.agents.liquidator`. Orders go where ``venue`` says: the
book (market orders), the AMM pool (swaps settling at its block's end) or ``best``, the venue
where the size costs less now (`abm.agents.routing.choose_venue`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from abm.scenario.specs import GroupBase
from abm.scenario.types import Lots, NonNegFloat, NonNegInt, PosFloat, PosInt

__all__ = ["BorrowerGroup", "LiquidatorGroup"]


class BorrowerGroup(GroupBase):
    """Borrowers who lever up to a target leverage and de-lever when their health falls.

    From ``start_step``, every ``check_steps`` steps, with ``C`` the lots deposited, ``D`` the
    debt and ``P`` the oracle price, leverage is ``C P / (C P - D)`` and the health factor
    ``h = C P threshold / D``. A borrower deposits every lot it holds as collateral; if ``h``
    is below ``delever_health`` it de-levers: it repays with the cash it has, else withdraws
    and sells the lots that bring ``h`` back to the target's health (as far as the pool lets
    it withdraw); else, below ``target_leverage``, it borrows up to the target debt ``C P (1 -
    1 / target_leverage)`` (within the borrow limit) and buys lots with it, which it deposits
    at its next action: the loop of a leveraged long (Aave "looping"). Its orders stay within
    ``max_slippage_bps`` of the oracle price (immediate-or-cancel at the book, a price guard at
    the pool).
    """

    kind: Literal["borrower"] = Field(
        description="Borrows cash against its lots, buys more, de-levers under stress."
    )
    target_leverage: PosFloat = Field(
        default=2.0,
        gt=1.0,
        description="Collateral value over equity it levers up to (> 1; below the pool's "
        "1 / (1 - collateral factor)).",
    )
    delever_health: PosFloat = Field(
        default=1.05,
        description="Health factor under which it de-levers (below the target's health).",
    )
    venue: Literal["book", "amm", "best"] = Field(
        default="book", description="Where it buys and sells: `book`, `amm` or `best`."
    )
    start_step: PosInt = Field(default=1, description="Step of its first action.")
    check_steps: PosInt = Field(default=1, description="Steps between its actions.")
    max_order: Lots = Field(default=50, description="Largest order it sends at once, lots.")
    max_slippage_bps: NonNegInt = Field(
        default=100, le=5_000, description="Farthest from the oracle price it trades, bp."
    )


class LiquidatorGroup(GroupBase):
    """Liquidators: repay unhealthy accounts' debt for their collateral, then sell it.

    Every step, for each account below a health factor of one at the pool's oracle (lowest
    first), a liquidator previews the liquidation (up to the close factor of the debt, the
    collateral plus the bonus) and sends it when it has the cash and selling the seized lots
    now at ``venue`` pays the repayment, the gas and ``min_profit``; it settles at the end of
    the block ``latency_blocks`` blocks on (0: this block). Seized lots above its starting
    inventory are sold at ``venue``, at most ``max_order`` lots an order.
    """

    kind: Literal["liquidator"] = Field(
        description="Liquidates unhealthy pool accounts and sells the collateral."
    )
    venue: Literal["book", "amm", "best"] = Field(
        default="book", description="Where it sells seized collateral: `book`, `amm` or `best`."
    )
    latency_blocks: NonNegInt = Field(
        default=0, description="Blocks between seeing an account and its liquidation settling."
    )
    min_profit: NonNegFloat = Field(
        default=0.0, description="Smallest expected profit it liquidates for, price units."
    )
    max_order: Lots = Field(default=100, description="Largest sale it sends at once, lots.")
    max_slippage_bps: NonNegInt = Field(
        default=1_000, le=9_999, description="Farthest under the best bid it sells, bp."
    )
