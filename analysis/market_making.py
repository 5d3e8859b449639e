"""Market makers' P&L attribution and quoting efficiency, from the tables of one run.

Pure functions over a `RunResult` (DESIGN.md section 7); nothing here imports the model.

Notation, for one market maker over steps ``t = 0..T``: ``q_t`` its inventory and ``h_t`` its
hedge position at the end of step ``t`` (``agents`` table), ``m_t`` the end-of-step mark and
``y_t`` the hedge price (``market`` table). The mark follows the scenario's ``mark``: the
fundamental, or the mid, which falls back to the last trade price and then to the fundamental
while a side of the book is empty (the model's rule, rebuilt from the ``market`` columns by
`mark_prices`). A fill ``i`` at step ``t`` has signed quantity ``s_i`` (``+qty`` when the market
maker buys) and price ``p_i``; a hedge trade ``j`` has signed quantity ``k_j``, price ``x_j``
and cost ``c_j = k_j (x_j - y_t) >= 0`` (``hedge`` events).

Identity. Within step ``t`` the fundamental moves and the hedge price ``y_t`` is drawn first,
and every trade follows, so the mark that prevailed when the step began is ``m_{t-1}`` and the
step's hedge trades are costed against ``y_t``. Cash changes by
``-sum_i s_i p_i - sum_j k_j x_j``, inventory by ``sum_i s_i`` and the hedge by ``sum_j k_j``;
with equity ``E_t = cash_t + q_t m_t + h_t y_t``, expanding ``q_t m_t - q_{t-1} m_{t-1}`` and
``h_t y_t - h_{t-1} y_{t-1}`` gives, exactly,

    E_t - E_{t-1} = sum_i s_i (m_{t-1} - p_i) + q_t (m_t - m_{t-1})
                    + h_{t-1} (y_t - y_{t-1}) - sum_j c_j.

Summing over ``t = 1..T`` (``pnl_0 = 0``, so ``pnl_T = E_T - E_0``) and splitting the fills
into quoting fills (passive or crossing quotes) and rebalancing fills (``rebalance`` events):

    pnl_T = spread_capture + adverse_selection + rebalancing_cost + inventory_pnl
            + hedging_pnl + hedge_costs

with, for a horizon of ``H = horizon_steps`` steps and ``u(t) = min(t - 1 + H, T)``,

- ``spread_capture = sum_quoting s_i (m_{t-1} - p_i)``: the edge earned against the mark;
- ``adverse_selection = sum_quoting s_i (m_{u(t)} - m_{t-1})``: the mark move after the fills,
  a signed contribution (negative when the flow was informed);
- ``rebalancing_cost = sum_rebalancing s_i (m_{t-1} - p_i)``: usually negative;
- ``inventory_pnl = sum_t q_t (m_t - m_{t-1}) - adverse_selection``: mark-to-market of the
  inventory held, net of the part already attributed to adverse selection;
- ``hedging_pnl = sum_t h_{t-1} (y_t - y_{t-1})`` and ``hedge_costs = -sum_j c_j <= 0``.

The identity holds to rounding on every run, because market makers have an ``agents`` row every
step. Fills between linked market makers (``venue == "interdealer"``) count as quoting fills.

The decomposition is an accounting identity, not a model. The efficiency measures of
`efficiency_metrics` are descriptive statistics; where the tables force an approximation (quote
sizes are not recorded), its docstring says which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import yaml

from abm.record import RunResult
from analysis.risk_metrics import max_drawdown

MARKS = ("mid", "fundamental")
DECOMPOSITION_COLUMNS = (
    "agent_id",
    "group",
    "spread_capture",
    "adverse_selection",
    "rebalancing_cost",
    "inventory_pnl",
    "hedging_pnl",
    "hedge_costs",
    "total",
    "pnl",
)
EFFICIENCY_COLUMNS = (
    "agent_id",
    "group",
    "fill_ratio",
    "quote_uptime_both",
    "quote_uptime_any",
    "inventory_half_life",
    "time_at_limit",
    "pnl_per_volume",
    "sharpe",
    "volume",
    "n_fills",
    "max_drawdown",
)
_MARKET_MAKER = "market_maker"


# --- pure helpers --------------------------------------------------------------------------------


def mark_prices(market: pd.DataFrame, mark: str = "mid") -> np.ndarray:
    """End-of-step mark per row of ``market``: the fundamental, or the mid with its fallbacks.

    ``mark="mid"`` takes the mid where both sides are quoted, else the last trade price, else
    the fundamental (``MarketModel.reference_price``).

    Raises:
        ValueError: If ``mark`` is not one of `MARKS`.
    """
    if mark not in MARKS:
        raise ValueError(f"mark must be one of {MARKS}, got {mark!r}")
    fundamental = market["fundamental"].to_numpy(dtype=float)
    if mark == "fundamental":
        return fundamental
    mid = market["mid"].to_numpy(dtype=float)
    last = market["last_price"].to_numpy(dtype=float)
    return np.where(np.isnan(mid), np.where(np.isnan(last), fundamental, last), mid)


def ar1_half_life(series: Any) -> float:
    """Half-life (in steps) of an AR(1) fitted by least squares with an intercept.

    ``x_t = c + phi x_{t-1} + e_t``; the half-life is ``ln(0.5) / ln(phi)``. NaN when
    ``phi <= 0`` or ``phi >= 1`` (no monotone decay), when the series is constant, or when it
    has fewer than three points.
    """
    x = np.asarray(series, dtype=float)
    if x.ndim != 1 or x.size < 3:
        return math.nan
    lagged, current = x[:-1] - x[:-1].mean(), x[1:] - x[1:].mean()
    denominator = float(lagged @ lagged)
    if denominator == 0.0:
        return math.nan
    phi = float(lagged @ current) / denominator
    if not 0.0 < phi < 1.0:
        return math.nan
    return math.log(0.5) / math.log(phi)


def per_step_sharpe(pnl: Any) -> float:
    """Mean over standard deviation (ddof 1) of per-step P&L changes; not annualised.

    Multiply by ``sqrt(steps per year)`` to annualise. NaN with fewer than two changes or a zero
    standard deviation (a constant series has no defined ratio).
    """
    changes = np.diff(np.asarray(pnl, dtype=float))
    if changes.size < 2:
        return math.nan
    sd = float(changes.std(ddof=1))
    return float(changes.mean()) / sd if sd > 0.0 else math.nan


# --- per-step flows ----------------------------------------------------------------------------


def _detail_value(detail: str, key: str) -> float:
    """The float after ``key=`` in an event detail such as ``"price=1.0; cost=0.01"``."""
    for part in detail.split(";"):
        name, _, value = part.strip().partition("=")
        if name == key:
            return float(value)
    raise ValueError(f"event detail {detail!r} has no {key!r} field")


def _scenario(result: RunResult) -> Mapping[str, Any]:
    loaded = yaml.safe_load(result.scenario_yaml) if result.scenario_yaml else None
    return loaded if isinstance(loaded, Mapping) else {}


def _detail_values(events: pd.DataFrame, key: str) -> np.ndarray:
    return np.array([_detail_value(str(d), key) for d in events["detail"]], dtype=float)


def _steps_array(values: Any, steps: pd.Series, n_steps: int) -> np.ndarray:
    """Per-step sums of ``values`` over ``steps`` (0..n_steps-1)."""
    weights = np.asarray(values, dtype=float)
    return np.bincount(steps.to_numpy(dtype=np.int64), weights=weights, minlength=n_steps)


def _notional(trades: pd.DataFrame) -> np.ndarray:
    return trades["qty"].to_numpy(dtype=float) * trades["price"].to_numpy(dtype=float)


class _Flows:
    """One market maker's per-step book and hedge flows, split into quoting and rebalancing."""

    def __init__(
        self, agent_id: int, trades: pd.DataFrame, events: pd.DataFrame, n_steps: int
    ) -> None:
        bought = trades[trades["buyer"] == agent_id]
        sold = trades[trades["seller"] == agent_id]
        buy_qty = _steps_array(bought["qty"], bought["step"], n_steps)
        sell_qty = _steps_array(sold["qty"], sold["step"], n_steps)
        buy_cash = _steps_array(_notional(bought), bought["step"], n_steps)
        sell_cash = _steps_array(_notional(sold), sold["step"], n_steps)
        mine = events[events["agent_id"] == agent_id]
        rebalance = mine[mine["kind"] == "rebalance"]
        amount = rebalance["amount"].to_numpy(dtype=float)
        notional = _detail_values(rebalance, "notional")
        self.rebalance_qty = _steps_array(amount, rebalance["step"], n_steps)
        self.rebalance_cash = _steps_array(np.sign(amount) * notional, rebalance["step"], n_steps)
        # rebalancing is one market order a step, so its fills sit on one side of that step
        self.quote_qty = buy_qty - sell_qty - self.rebalance_qty
        self.quote_cash = buy_cash - sell_cash - self.rebalance_cash
        self.quote_bid_lots = buy_qty - np.maximum(self.rebalance_qty, 0.0)
        self.quote_ask_lots = sell_qty - np.maximum(-self.rebalance_qty, 0.0)
        self.volume = int(bought["qty"].sum() + sold["qty"].sum())
        self.n_fills = len(bought) + len(sold)
        hedges = mine[mine["kind"] == "hedge"]
        self.hedge_costs = math.fsum(_detail_values(hedges, "cost"))


def _checked_market(result: RunResult) -> pd.DataFrame:
    market = result.market.sort_values("step", kind="stable")
    steps = market["step"].to_numpy()
    if steps.size == 0 or not np.array_equal(steps, np.arange(steps.size)):
        raise ValueError("the market table must hold one row per step 0..T with no gaps")
    return market


def _market_makers(result: RunResult, n_steps: int) -> dict[int, pd.DataFrame]:
    agents = result.agents[result.agents["kind"] == _MARKET_MAKER]
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


def _horizon_index(n_steps: int, horizon_steps: int) -> np.ndarray:
    """``min(t - 1 + H, T)`` for ``t = 1..T``."""
    return np.minimum(np.arange(n_steps - 1) + horizon_steps, n_steps - 1)


# --- public measures ---------------------------------------------------------------------------


def pnl_decomposition(result: RunResult, *, horizon_steps: int = 10) -> pd.DataFrame:
    """Attribute each market maker's final P&L to quoting, inventory, rebalancing and hedging.

    One row per market maker, ordered by ``agent_id``, columns `DECOMPOSITION_COLUMNS`: the six
    components of the module docstring's identity (price units), their ``total``, and ``pnl``,
    the final ``pnl`` of the ``agents`` table, which ``total`` equals up to floating-point
    rounding.

    Args:
        result: A run; its ``scenario_yaml`` gives ``mark`` (``"mid"`` when absent).
        horizon_steps: Steps after the fill's starting mark at which adverse selection is read;
            0 attributes every mark move to ``inventory_pnl``.

    Raises:
        ValueError: If ``horizon_steps`` is negative, the scenario's mark is unknown, or the
            ``market`` table or a market maker's ``agents`` rows do not cover every step.
    """
    if horizon_steps < 0:
        raise ValueError(f"horizon_steps must be >= 0, got {horizon_steps}")
    market = _checked_market(result)
    n_steps = len(market)
    mark = mark_prices(market, str(_scenario(result).get("mark", "mid")))
    hedge_price = market["hedge_price"].to_numpy(dtype=float)
    before = mark[:-1]
    mark_change = np.diff(mark)
    after = mark[_horizon_index(n_steps, horizon_steps)] - before
    rows: list[dict[str, Any]] = []
    for agent_id, frame in _market_makers(result, n_steps).items():
        flows = _Flows(agent_id, result.trades, result.events, n_steps)
        inventory = frame["inventory"].to_numpy(dtype=float)
        hedge = frame["hedge"].to_numpy(dtype=float)
        quote_qty, quote_cash = flows.quote_qty[1:], flows.quote_cash[1:]
        adverse = float(quote_qty @ after)
        # a flat hedge contributes nothing even where no hedge price was recorded
        hedge_moves = np.where(hedge[:-1] != 0.0, hedge[:-1] * np.diff(hedge_price), 0.0)
        parts = {
            "spread_capture": float((quote_qty * before - quote_cash).sum()),
            "adverse_selection": adverse,
            "rebalancing_cost": float(
                (flows.rebalance_qty[1:] * before - flows.rebalance_cash[1:]).sum()
            ),
            "inventory_pnl": float(inventory[1:] @ mark_change) - adverse,
            "hedging_pnl": float(hedge_moves.sum()),
            "hedge_costs": 0.0 - flows.hedge_costs,  # 0.0, not -0.0, without hedging
        }
        total = math.fsum(parts.values())
        pnl = float(frame["pnl"].iloc[-1])
        identity: dict[str, Any] = {"agent_id": agent_id, "group": str(frame["group"].iloc[0])}
        rows.append({**identity, **parts, "total": total, "pnl": pnl})
    return pd.DataFrame(rows, columns=list(DECOMPOSITION_COLUMNS))


def efficiency_metrics(result: RunResult) -> pd.DataFrame:
    """Quoting efficiency and risk per market maker: one row each, columns `EFFICIENCY_COLUMNS`.

    Per-step measures run over steps ``1..T`` (step 0 is the state before trading).

    - ``fill_ratio``: quoting lots filled over quoting lots offered. The tables do not hold
      quote sizes, so a side counts as offered ``quote_size`` lots (the group's, from the
      scenario) in every step where it rests at the end of the step or received a quoting fill
      during it (a quote lifted in full leaves the book before the row is written). Size
      multipliers of risk regimes and gap controls are ignored. NaN without a ``quote_size``.
    - ``quote_uptime_both`` / ``quote_uptime_any``: fraction of steps with both sides / at least
      one side offered, in the same sense.
    - ``inventory_half_life``: `ar1_half_life` of the inventory ``q_0..q_T`` (steps).
    - ``time_at_limit``: fraction of steps with ``|q_t| >= max_inventory`` (the group's); NaN
      when the group has no limit.
    - ``pnl_per_volume``: final pnl per lot traded on the book (quoting and rebalancing).
    - ``sharpe``: `per_step_sharpe` of the pnl path (not annualised).
    - ``volume`` (lots) and ``n_fills``: all of the market maker's book fills.
    - ``max_drawdown``: largest fall of the pnl path from its running peak (price units, >= 0).

    Raises:
        ValueError: If the ``market`` table or a market maker's ``agents`` rows do not cover
            every step.
    """
    market = _checked_market(result)
    n_steps = len(market)
    groups = _scenario(result).get("agents") or {}
    rows = []
    for agent_id, frame in _market_makers(result, n_steps).items():
        group = str(frame["group"].iloc[0])
        spec = groups.get(group) or {}
        flows = _Flows(agent_id, result.trades, result.events, n_steps)
        bid_on = frame["bid"].notna().to_numpy()[1:] | (flows.quote_bid_lots[1:] > 0)
        ask_on = frame["ask"].notna().to_numpy()[1:] | (flows.quote_ask_lots[1:] > 0)
        quote_size = spec.get("quote_size")
        offered = (bid_on.sum() + ask_on.sum()) * quote_size if quote_size else 0
        filled = flows.quote_bid_lots.sum() + flows.quote_ask_lots.sum()
        inventory = frame["inventory"].to_numpy(dtype=float)
        limit = spec.get("max_inventory")
        pnl = frame["pnl"].to_numpy(dtype=float)
        periods = max(n_steps - 1, 1)
        rows.append(
            {
                "agent_id": agent_id,
                "group": group,
                "fill_ratio": float(filled / offered) if offered else math.nan,
                "quote_uptime_both": float((bid_on & ask_on).sum() / periods),
                "quote_uptime_any": float((bid_on | ask_on).sum() / periods),
                "inventory_half_life": ar1_half_life(inventory),
                "time_at_limit": math.nan
                if limit is None
                else float((np.abs(inventory[1:]) >= limit).sum() / periods),
                "pnl_per_volume": float(pnl[-1] / flows.volume) if flows.volume else math.nan,
                "sharpe": per_step_sharpe(pnl),
                "volume": flows.volume,
                "n_fills": flows.n_fills,
                "max_drawdown": max_drawdown(pnl).depth,
            }
        )
    return pd.DataFrame(rows, columns=list(EFFICIENCY_COLUMNS))
