"""One market maker's per-step fills and losses, read from the tables of a run.

The flows behind `analysis.market_making`: ``trades`` rows (book and inter-dealer fills) and
the ``events`` that log a fill or a loss (``rebalance``, forced sales, ``inventory_shock``,
``hedge``, ``writedown``, ``loss``) are summed per step into `Leg` arrays, one per kind of fill
of that module's P&L identity. A market maker's quoting fills are read from the ``trades``
columns that say who made and why: the book fills where its resting order was the maker (a
``maker_order_id``, and it is the side opposite the ``aggressor``), and those where its quote
traded on arrival (it is the aggressor and the ``purpose`` is ``quote``). Pure functions over
`RunResult` tables; nothing here imports the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from abm.market.measures import BOOK_VENUE
from abm.results.events import EventKind, TradePurpose
from abm.results.run_result import RunResult
from analysis.tables import FORCED_SALE_KINDS, MARKET_MAKER_KIND


def _steps_array(values: Any, steps: pd.Series, n_steps: int) -> np.ndarray:
    """Per-step sums of ``values`` over ``steps`` (0..n_steps-1)."""
    weights = np.asarray(values, dtype=float)
    return np.bincount(steps.to_numpy(dtype=np.int64), weights=weights, minlength=n_steps)


@dataclass(frozen=True, slots=True)
class Leg:
    """One kind of fill, per step: signed lots ``sum s``, cash paid ``sum s p``, bought, sold."""

    qty: np.ndarray
    cash: np.ndarray
    bought: np.ndarray
    sold: np.ndarray

    def edge(self, before: np.ndarray) -> float:
        """``sum_t sum_i s_i (m_{t-1} - p_i)`` over ``t = 1..T``; ``before`` is ``m_0..m_{T-1}``."""
        return float((self.qty[1:] * before - self.cash[1:]).sum())


def trade_leg(trades: pd.DataFrame, agent_id: int, n_steps: int) -> Leg:
    """The ``trades`` rows where ``agent_id`` is buyer or seller, per step."""
    bought = trades[(trades["buyer"] == agent_id).to_numpy(dtype=bool)]
    sold = trades[(trades["seller"] == agent_id).to_numpy(dtype=bool)]
    return _fills_leg(bought, sold, n_steps)


def quote_leg(trades: pd.DataFrame, agent_id: int, n_steps: int) -> Leg:
    """The fills of ``agent_id``'s quotes among ``trades`` (book fills), per step.

    A quote fill is one where the agent's resting order was the maker (the fill has a
    ``maker_order_id`` and the agent is the seller when the aggressor bought, the buyer when
    it sold), or where the agent was the aggressor with an order of purpose ``quote`` (a
    requote that crossed the touch).
    """
    buyer_aggressed = (trades["aggressor"] == "buy").to_numpy(dtype=bool)
    buyer = trades["buyer"].to_numpy(dtype=np.int64)
    seller = trades["seller"].to_numpy(dtype=np.int64)
    resting = trades["maker_order_id"].notna().to_numpy(dtype=bool)
    quoted = (trades["purpose"] == TradePurpose.QUOTE).to_numpy(dtype=bool)
    as_maker = resting & (np.where(buyer_aggressed, seller, buyer) == agent_id)
    as_taker = quoted & (np.where(buyer_aggressed, buyer, seller) == agent_id)
    buys = (as_maker & ~buyer_aggressed) | (as_taker & buyer_aggressed)
    sells = (as_maker & buyer_aggressed) | (as_taker & ~buyer_aggressed)
    return _fills_leg(trades[buys], trades[sells], n_steps)


def _fills_leg(bought: pd.DataFrame, sold: pd.DataFrame, n_steps: int) -> Leg:
    """A leg of the fills ``bought`` (lots in) and ``sold`` (lots out), per step."""
    buy_qty = _steps_array(bought["qty"], bought["step"], n_steps)
    sell_qty = _steps_array(sold["qty"], sold["step"], n_steps)
    buy_cash = _steps_array(bought["qty"] * bought["price"], bought["step"], n_steps)
    sell_cash = _steps_array(sold["qty"] * sold["price"], sold["step"], n_steps)
    return Leg(buy_qty - sell_qty, buy_cash - sell_cash, buy_qty, sell_qty)


def event_leg(events: pd.DataFrame, n_steps: int) -> Leg:
    """Fills logged as events: signed lots in ``amount``, unsigned ``notional`` beside it.

    Raises:
        ValueError: If an event lacks its ``notional``.
    """
    amount = events["amount"].to_numpy(dtype=float)
    notional = events["notional"].to_numpy(dtype=float)
    if np.isnan(notional).any():
        kinds = sorted({str(kind) for kind in events.loc[np.isnan(notional), "kind"]})
        raise ValueError(f"{', '.join(kinds)} events must carry a notional to be priced")
    cash = np.sign(amount) * notional
    steps = events["step"]
    return Leg(
        _steps_array(amount, steps, n_steps),
        _steps_array(cash, steps, n_steps),
        _steps_array(np.maximum(amount, 0.0), steps, n_steps),
        _steps_array(np.maximum(-amount, 0.0), steps, n_steps),
    )


class MarketMakerFlows:
    """One market maker's per-step flows, split by kind of fill, and its lump-sum losses.

    ``quote`` is `quote_leg` of the book fills; ``rebalance``, ``forced`` (liquidations and
    margin calls, on the book or absorbed outside it) and ``inventory_shock`` are the fills
    those events log; ``interdealer`` the inter-dealer trades. ``volume`` and ``n_fills``
    count every book fill of the market maker, whatever its purpose.

    Raises:
        ValueError: If a fill event lacks its ``notional`` (`event_leg`) or a ``hedge`` event
            its ``cost``.
    """

    def __init__(
        self, agent_id: int, trades: pd.DataFrame, events: pd.DataFrame, n_steps: int
    ) -> None:
        venue = trades["venue"]
        on_book = trades[(venue == BOOK_VENUE).to_numpy(dtype=bool)]
        book = trade_leg(on_book, agent_id, n_steps)
        self.quote = quote_leg(on_book, agent_id, n_steps)
        self.interdealer = trade_leg(
            trades[(venue == "interdealer").to_numpy(bool)], agent_id, n_steps
        )
        mine = events[(events["agent_id"] == agent_id).to_numpy(dtype=bool, na_value=False)]
        kind = mine["kind"]
        self.rebalance = event_leg(mine[(kind == EventKind.REBALANCE).to_numpy(bool)], n_steps)
        self.forced = event_leg(mine[kind.isin(FORCED_SALE_KINDS).to_numpy(bool)], n_steps)
        shocks = mine[(kind == EventKind.INVENTORY_SHOCK).to_numpy(bool)]
        self.inventory_shock = event_leg(shocks, n_steps)
        self.volume = int(book.bought.sum() + book.sold.sum())
        mine_on_book = (on_book["buyer"] == agent_id).sum() + (on_book["seller"] == agent_id).sum()
        self.n_fills = int(mine_on_book)
        costs = mine.loc[(kind == EventKind.HEDGE).to_numpy(bool), "cost"].to_numpy(dtype=float)
        if np.isnan(costs).any():
            raise ValueError("hedge events must carry a cost")
        self.hedge_costs = math.fsum(costs.tolist())
        writedowns = mine.loc[(kind == EventKind.WRITEDOWN).to_numpy(bool), "amount"]
        self.writedowns = math.fsum(writedowns.to_numpy(dtype=float).tolist())
        self.losses = mine.loc[(kind == EventKind.LOSS).to_numpy(bool), "amount"].to_numpy(float)

    def loss_shocks(self, tick_size: float | None) -> float:
        """Cash lost to loss shocks; the model moves whole ticks, ``round(amount / tick)``."""
        if tick_size is None:
            return math.fsum(self.losses)
        return math.fsum(round(amount / tick_size) * tick_size for amount in self.losses.tolist())


def checked_market(result: RunResult) -> pd.DataFrame:
    """The ``market`` table in step order.

    Raises:
        ValueError: If it does not hold exactly one row per step ``0..T``.
    """
    market = result.market.sort_values("step", kind="stable")
    steps = market["step"].to_numpy()
    if steps.size == 0 or not np.array_equal(steps, np.arange(steps.size)):
        raise ValueError("the market table must hold one row per step 0..T with no gaps")
    return market


def market_maker_rows(result: RunResult, n_steps: int) -> dict[int, pd.DataFrame]:
    """Each market maker's ``agents`` rows in step order, keyed by ``agent_id`` (ascending).

    Raises:
        ValueError: If a market maker lacks a row at some step ``0..n_steps - 1``.
    """
    agents = result.agents[result.agents["kind"] == MARKET_MAKER_KIND]
    rows: dict[int, pd.DataFrame] = {}
    ids = agents["agent_id"].to_numpy(dtype=np.int64)
    for agent_id in np.unique(ids).tolist():
        ordered = agents[ids == agent_id].sort_values("step", kind="stable")
        if not np.array_equal(ordered["step"].to_numpy(), np.arange(n_steps)):
            raise ValueError(
                f"market maker {agent_id} needs an agents row at every step 0..{n_steps - 1}"
            )
        rows[agent_id] = ordered
    return rows
