"""Market makers' P&L attribution and quoting efficiency, from the tables of one run.

Pure functions over a `RunResult` (DESIGN.md section 7); nothing here imports the model. The
per-step fills of each market maker are rebuilt by `analysis.market_maker_flows`.

Notation, for one market maker over steps ``t = 0..T``: ``q_t`` its inventory and ``h_t`` its
hedge position at the end of step ``t`` (``agents`` table), ``m_t`` the end-of-step mark and
``y_t`` the hedge price (``market`` table). The mark is the one the model used, by the
scenario's ``mark`` methodology (`abm.market.mark`), read from the ``market`` table's ``mark``
column
(rebuilt by `mark_prices` for runs saved before that column existed). A fill ``i`` at step
``t`` has signed quantity ``s_i`` (``+qty`` when the market maker buys) and price ``p_i``; a
hedge trade ``j`` has signed quantity ``k_j``, price ``x_j`` and cost
``c_j = k_j (x_j - y_t) >= 0`` (``hedge`` events). "Fills" here are every exchange of lots for
cash: book fills, inter-dealer trades, forced sales absorbed outside the book and
inventory shocks (an outside client's lots at a price ``p = notional / |qty|``).

Identity. Within step ``t`` the fundamental moves and the hedge price ``y_t`` is drawn first,
and every trade follows, so the mark that prevailed when the step began is ``m_{t-1}`` and the
step's hedge trades are costed against ``y_t``. Cash changes by
``-sum_i s_i p_i - sum_j k_j x_j - L_t``, inventory by ``sum_i s_i``, the hedge by ``sum_j k_j``
and claims on other dealers by ``-W_t``, where ``L_t`` is the step's loss shocks and ``W_t``
its write-downs as a creditor (``loss`` and ``writedown`` events). With equity
``E_t = cash_t + q_t m_t + h_t y_t + claims_t - debts_t``, expanding ``q_t m_t - q_{t-1} m_{t-1}``
and ``h_t y_t - h_{t-1} y_{t-1}`` gives, exactly,

    E_t - E_{t-1} = sum_i s_i (m_{t-1} - p_i) + q_t (m_t - m_{t-1})
                    + h_{t-1} (y_t - y_{t-1}) - sum_j c_j - L_t - W_t.

Credit-line funding (before step 0) and credit-line calls (``credit_call`` events) move cash
and claims or debts by the same amount, so they leave equity unchanged and have no term.

Summing over ``t = 1..T`` (``pnl_0 = 0``, so ``pnl_T = E_T - E_0``) and splitting the fills
into quoting fills (passive or crossing quotes on the book), rebalancing fills (``rebalance``
events), forced sales (``liquidation`` and ``margin_call`` events, on the book or absorbed
outside it), inter-dealer trades (``trades`` rows with ``venue == "interdealer"``, the hot-potato
channel) and inventory shocks (``inventory_shock`` events):

    pnl_T = spread_capture + adverse_selection + rebalancing_cost + forced_sales + interdealer
            + inventory_pnl + hedging_pnl + hedge_costs + credit_losses + external

with, for a horizon of ``H = horizon_steps`` steps and ``u(t) = min(t - 1 + H, T)``,

- ``spread_capture = sum_quoting s_i (m_{t-1} - p_i)``: the edge earned against the mark;
- ``adverse_selection = sum_quoting s_i (m_{u(t)} - m_{t-1})``: the mark move after the fills,
  a signed contribution (negative when the flow was informed);
- ``rebalancing_cost = sum_rebalancing s_i (m_{t-1} - p_i)``: usually negative;
- ``forced_sales = sum_forced s_i (m_{t-1} - p_i)``: the price concession of forced selling;
- ``interdealer = sum_interdealer s_i (m_{t-1} - p_i)``: the hot-potato concession (positive
  for the receiver, negative for the passer);
- ``inventory_pnl = sum_t q_t (m_t - m_{t-1}) - adverse_selection``: mark-to-market of the
  inventory held, net of the part already attributed to adverse selection;
- ``hedging_pnl = sum_t h_{t-1} (y_t - y_{t-1})`` and ``hedge_costs = -sum_j c_j <= 0``;
- ``credit_losses = -sum_t W_t <= 0``: write-downs of claims on defaulted borrowers;
- ``external = -sum_t L_t + sum_inventory-shock s_i (m_{t-1} - p_i)``: exogenous shocks.

The identity holds to rounding on every run, because market makers have an ``agents`` row every
step and every forced sale and inventory shock logs its signed quantity and notional. Loss
shocks move cash by whole ticks, so their logged amount is rounded to the scenario's
``tick_size`` as the model does.

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

from abm.market.mark import MARK_KINDS, MarkBase, mark_path, parse_mark
from abm.market.measures import BOOK_VENUE
from abm.results.flash_crash import ar1_half_life
from abm.results.run_result import RunResult
from analysis.market_maker_flows import MarketMakerFlows, checked_market, market_maker_rows
from analysis.risk_metrics import max_drawdown

MARKS = tuple(MARK_KINDS)
"""The kinds a scenario's ``mark`` may take (`abm.market.mark`)."""
DECOMPOSITION_COLUMNS = (
    "agent_id",
    "group",
    "spread_capture",
    "adverse_selection",
    "rebalancing_cost",
    "forced_sales",
    "interdealer",
    "inventory_pnl",
    "hedging_pnl",
    "hedge_costs",
    "credit_losses",
    "external",
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


# --- pure helpers --------------------------------------------------------------------------------


def mark_prices(
    market: pd.DataFrame,
    mark: MarkBase | str | Mapping[str, Any] = "mid",
    trades: pd.DataFrame | None = None,
) -> np.ndarray:
    """End-of-step mark per row of ``market``, by the scenario's mark methodology.

    The model records the mark it used at each step (the ``market`` table's ``mark`` column);
    that column is returned where it is filled. Rows without it (runs saved before the
    column existed load with NaN there) are rebuilt from the other columns by the model's own
    computation, `abm.market.mark.mark_path`: ``"mid"`` takes the mid where both sides are quoted,
    else the last trade price, else the fundamental; ``"fundamental"`` the fundamental; the
    other kinds as `abm.market.mark` documents (``vwap`` reads the book trades of ``trades``).

    Args:
        market: A run's ``market`` table.
        mark: The scenario's ``mark``: its spec (``result.scenario.mark``), a plain kind or
            a mapping as written in a scenario.
        trades: The run's ``trades`` table; needed only to rebuild a ``vwap`` mark.

    Raises:
        ValueError: If ``mark`` is not a valid mark (its kind not one of `MARKS`).
    """
    recorded = (
        market["mark"].to_numpy(dtype=float)
        if "mark" in market.columns
        else np.full(len(market), np.nan)
    )
    if np.isfinite(recorded).all():
        parse_mark(mark)  # the methodology must still be a valid one
        return recorded
    qty = notional = None
    if trades is not None:
        book = trades[(trades["venue"] == BOOK_VENUE).to_numpy(dtype=bool)]
        steps = market["step"].to_numpy()
        grouped = book.assign(notional=book["price"] * book["qty"]).groupby("step")
        qty = grouped["qty"].sum().reindex(steps, fill_value=0).to_numpy()
        notional = grouped["notional"].sum().reindex(steps, fill_value=0.0).to_numpy()
    rebuilt = mark_path(
        mark,
        market["fundamental"].to_numpy(dtype=float),
        market["mid"].to_numpy(dtype=float),
        market["last_price"].to_numpy(dtype=float),
        qty,
        notional,
    )
    return np.where(np.isfinite(recorded), recorded, rebuilt)


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


# --- horizon ------------------------------------------------------------------------------------


def _horizon_index(n_steps: int, horizon_steps: int) -> np.ndarray:
    """``min(t - 1 + H, T)`` for ``t = 1..T``."""
    return np.minimum(np.arange(n_steps - 1) + horizon_steps, n_steps - 1)


# --- public measures ---------------------------------------------------------------------------


def pnl_decomposition(result: RunResult, *, horizon_steps: int = 10) -> pd.DataFrame:
    """Attribute each market maker's final P&L to quoting, inventory, hedging and contagion.

    One row per market maker, ordered by ``agent_id``, columns `DECOMPOSITION_COLUMNS`: the ten
    components of the module docstring's identity (price units), their ``total``, and ``pnl``,
    the final ``pnl`` of the ``agents`` table, which ``total`` equals up to floating-point
    rounding.

    Args:
        result: A run; its `RunResult.scenario` gives the ``mark`` and the ``tick_size``.
        horizon_steps: Steps after the fill's starting mark at which adverse selection is read;
            0 attributes every mark move to ``inventory_pnl``.

    Raises:
        ValueError: If ``horizon_steps`` is negative, the scenario's mark is unknown, the
            ``market`` table or a market maker's ``agents`` rows do not cover every step, or a
            forced-sale, rebalance or inventory-shock event lacks its ``notional`` (or a hedge event
            its ``cost``).
    """
    if horizon_steps < 0:
        raise ValueError(f"horizon_steps must be >= 0, got {horizon_steps}")
    market = checked_market(result)
    n_steps = len(market)
    scenario = result.scenario
    mark = mark_prices(market, scenario.mark, result.trades)
    tick = scenario.tick_size
    hedge_price = market["hedge_price"].to_numpy(dtype=float)
    before = mark[:-1]
    mark_change = np.diff(mark)
    after = mark[_horizon_index(n_steps, horizon_steps)] - before
    rows: list[dict[str, Any]] = []
    for agent_id, frame in market_maker_rows(result, n_steps).items():
        flows = MarketMakerFlows(agent_id, result.trades, result.events, n_steps)
        inventory = frame["inventory"].to_numpy(dtype=float)
        hedge = frame["hedge"].to_numpy(dtype=float)
        adverse = float(flows.quote.qty[1:] @ after)
        # a flat hedge contributes nothing even where no hedge price was recorded
        hedge_moves = np.where(hedge[:-1] != 0.0, hedge[:-1] * np.diff(hedge_price), 0.0)
        losses = flows.loss_shocks(tick)
        parts = {
            "spread_capture": flows.quote.edge(before),
            "adverse_selection": adverse,
            "rebalancing_cost": flows.rebalance.edge(before),
            "forced_sales": flows.forced.edge(before),
            "interdealer": flows.interdealer.edge(before),
            "inventory_pnl": float(inventory[1:] @ mark_change) - adverse,
            "hedging_pnl": float(hedge_moves.sum()),
            # 0.0 - x, not -x: 0.0 rather than -0.0 when there is nothing to subtract
            "hedge_costs": 0.0 - flows.hedge_costs,
            "credit_losses": 0.0 - flows.writedowns,
            "external": flows.inventory_shock.edge(before) - losses,
        }
        total = math.fsum(parts.values())
        pnl = float(frame["pnl"].iloc[-1])
        identity: dict[str, Any] = {"agent_id": agent_id, "group": str(frame["group"].iloc[0])}
        rows.append({**identity, **parts, "total": total, "pnl": pnl})
    return pd.DataFrame(rows, columns=list(DECOMPOSITION_COLUMNS))


def efficiency_metrics(result: RunResult) -> pd.DataFrame:
    """Quoting efficiency and risk per market maker: one row each, columns `EFFICIENCY_COLUMNS`.

    Per-step measures run over steps ``1..T`` (step 0 is the state before trading).

    - ``fill_ratio``: quoting lots filled over quoting lots offered (quoting fills as in
      `pnl_decomposition`: the book fills of its quotes, `analysis.market_maker_flows.quote_leg`;
      inter-dealer trades are not quoting fills). The tables do not hold
      quote sizes, so a side counts as offered ``quote_size`` lots (the group's, from the
      scenario) in every step where it rests at the end of the step or received a quoting fill
      during it (a quote lifted in full leaves the book before the row is written). Size
      multipliers of risk regimes and gap controls are ignored. NaN without a ``quote_size``.
    - ``quote_uptime_both`` / ``quote_uptime_any``: fraction of steps with both sides / at least
      one side offered, in the same sense.
    - ``inventory_half_life``: `ar1_half_life` of the inventory ``q_0..q_T`` (steps).
    - ``time_at_limit``: fraction of steps with ``|q_t| >= max_inventory`` (the group's); NaN
      when the group has no limit.
    - ``pnl_per_volume``: final pnl per lot traded on the book (quoting, rebalancing and forced
      sales on the book; inter-dealer trades and off-book forced sales are left out).
    - ``sharpe``: `per_step_sharpe` of the pnl path (not annualised).
    - ``volume`` (lots) and ``n_fills``: all of the market maker's fills on the book
      (``venue == "book"``).
    - ``max_drawdown``: largest fall of the pnl path from its running peak (price units, >= 0).

    Raises:
        ValueError: If the ``market`` table or a market maker's ``agents`` rows do not cover
            every step.
    """
    market = checked_market(result)
    n_steps = len(market)
    groups = result.scenario.agents
    rows = []
    for agent_id, frame in market_maker_rows(result, n_steps).items():
        group = str(frame["group"].iloc[0])
        spec = groups.get(group)
        flows = MarketMakerFlows(agent_id, result.trades, result.events, n_steps)
        bid_on = frame["bid"].notna().to_numpy()[1:] | (flows.quote.bought[1:] > 0)
        ask_on = frame["ask"].notna().to_numpy()[1:] | (flows.quote.sold[1:] > 0)
        quote_size = getattr(spec, "quote_size", None)
        offered = (bid_on.sum() + ask_on.sum()) * quote_size if quote_size else 0
        filled = flows.quote.bought.sum() + flows.quote.sold.sum()
        inventory = frame["inventory"].to_numpy(dtype=float)
        limit = getattr(spec, "max_inventory", None)
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
