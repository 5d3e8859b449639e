"""One market maker's per-step fills and losses, rebuilt from the tables of a run.

The flows behind `analysis.market_making`: ``trades`` rows (book and inter-dealer fills) and
the ``events`` that log a fill or a loss (``rebalance``, forced sales, ``inventory_shock``,
``hedge``, ``writedown``, ``loss``) are summed per step into `Leg` arrays, split into the kinds
of fill of that module's P&L identity. Pure functions over `RunResult` tables; nothing here
imports the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from abm.results.run_result import RunResult
from analysis.tables import FORCED_SALE_KINDS, MARKET_MAKER_KIND, required_detail_field


def _detail_values(events: pd.DataFrame, key: str) -> np.ndarray:
    """The float after ``key=`` in each event's detail."""
    values = [float(required_detail_field(str(d), key)) for d in events["detail"]]
    return np.array(values, dtype=float)


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

    def __sub__(self, other: Leg) -> Leg:
        return Leg(
            self.qty - other.qty,
            self.cash - other.cash,
            self.bought - other.bought,
            self.sold - other.sold,
        )

    def edge(self, before: np.ndarray) -> float:
        """``sum_t sum_i s_i (m_{t-1} - p_i)`` over ``t = 1..T``; ``before`` is ``m_0..m_{T-1}``."""
        return float((self.qty[1:] * before - self.cash[1:]).sum())


def trade_leg(trades: pd.DataFrame, agent_id: int, n_steps: int) -> Leg:
    """The ``trades`` rows where ``agent_id`` is buyer or seller, per step."""
    bought = trades[trades["buyer"] == agent_id]
    sold = trades[trades["seller"] == agent_id]
    buy_qty = _steps_array(bought["qty"], bought["step"], n_steps)
    sell_qty = _steps_array(sold["qty"], sold["step"], n_steps)
    buy_cash = _steps_array(bought["qty"] * bought["price"], bought["step"], n_steps)
    sell_cash = _steps_array(sold["qty"] * sold["price"], sold["step"], n_steps)
    return Leg(buy_qty - sell_qty, buy_cash - sell_cash, buy_qty, sell_qty)


def event_leg(events: pd.DataFrame, n_steps: int) -> Leg:
    """Fills logged as events: signed lots in ``amount``, unsigned ``notional`` in the detail."""
    amount = events["amount"].to_numpy(dtype=float)
    cash = np.sign(amount) * _detail_values(events, "notional")
    steps = events["step"]
    return Leg(
        _steps_array(amount, steps, n_steps),
        _steps_array(cash, steps, n_steps),
        _steps_array(np.maximum(amount, 0.0), steps, n_steps),
        _steps_array(np.maximum(-amount, 0.0), steps, n_steps),
    )


class MarketMakerFlows:
    """One market maker's per-step flows, split by kind of fill, and its lump-sum losses.

    Book fills that are neither rebalancing nor forced sales are quoting fills; forced sales
    absorbed outside the book have no ``trades`` row, so only the on-book ones are taken out.
    """

    def __init__(
        self, agent_id: int, trades: pd.DataFrame, events: pd.DataFrame, n_steps: int
    ) -> None:
        venue = trades["venue"]
        on_book = trades[venue == "book"]
        book = trade_leg(on_book, agent_id, n_steps)
        self.interdealer = trade_leg(trades[venue == "interdealer"], agent_id, n_steps)
        mine = events[events["agent_id"] == agent_id]
        kind = mine["kind"]
        self.rebalance = event_leg(mine[kind == "rebalance"], n_steps)
        forced = mine[kind.isin(FORCED_SALE_KINDS)]
        booked = np.array(
            [required_detail_field(str(d), "venue") == "book" for d in forced["detail"]]
        )
        self.forced = event_leg(forced, n_steps)
        self.quote = book - self.rebalance - event_leg(forced[booked.astype(bool)], n_steps)
        self.inventory_shock = event_leg(mine[kind == "inventory_shock"], n_steps)
        self.volume = int(book.bought.sum() + book.sold.sum())
        mine_on_book = (on_book["buyer"] == agent_id).sum() + (on_book["seller"] == agent_id).sum()
        self.n_fills = int(mine_on_book)
        self.hedge_costs = math.fsum(_detail_values(mine[kind == "hedge"], "cost"))
        self.writedowns = math.fsum(mine.loc[kind == "writedown", "amount"].to_numpy(dtype=float))
        self.losses = mine.loc[kind == "loss", "amount"].to_numpy(dtype=float)

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
