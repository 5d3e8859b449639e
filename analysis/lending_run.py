"""The lending pool of a run: liquidations, where their collateral was sold, its price impact.

Reads a run's ``lending``, ``liquidations``, ``trades`` and ``market`` tables
(`abm.results.recorder`); `analysis.lending` holds the same measures for the offline cascade
simulator's tables. Conventions:

* money columns of the ``lending`` and ``liquidations`` tables are ticks and are reported here
  in price units (times the scenario's tick size); collateral is in lots;
* a liquidation *sale* is a trade whose ``purpose`` is ``liquidation`` (the liquidators
  selling seized collateral), on whichever venue best execution sent it to;
* the *price impact* of liquidation flow is measured block by block: the book mid's log
  return from one block end (a row of the ``lending`` table) to the next, in excess of the
  fundamental's over the same block (so a scheduled fall of the value is not counted as
  impact), regressed on the lots that liquidators sold within the block (ordinary least
  squares, bps per lot); the blocks without sales give the excess return the market had
  anyway.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps

from abm.results.lending_summary import lending_summary
from analysis.figures import TALL, DisplayFigure, finish_axes, new_figure, require_columns

__all__ = [
    "has_lending",
    "lending_figure",
    "lending_measures",
    "liquidation_impact",
    "liquidation_sales",
]

LIQUIDATION_PURPOSE = "liquidation"
"""The ``purpose`` of a liquidator's sale of seized collateral in the ``trades`` table."""


def has_lending(result: Any) -> bool:
    """Whether the run has a lending pool (rows in its ``lending`` table)."""
    return len(getattr(result, "lending", ())) > 0


def _sales(trades: pd.DataFrame) -> pd.DataFrame:
    require_columns(trades, ("step", "price", "qty", "venue", "purpose"), "trades")
    return trades[trades["purpose"].astype(str) == LIQUIDATION_PURPOSE]


def liquidation_sales(trades: pd.DataFrame) -> pd.DataFrame:
    """Per venue: lots of seized collateral sold, cash received, trades and mean price.

    Index ``venue``; columns ``lots``, ``cash`` (price units), ``trades``, ``vwap`` and
    ``share`` (of all liquidation lots). Empty when no liquidator sold anything.
    """
    sales = _sales(trades)
    if sales.empty:
        return pd.DataFrame(columns=["lots", "cash", "trades", "vwap", "share"])
    frame = pd.DataFrame(
        {
            "venue": sales["venue"].astype(str).to_numpy(),
            "lots": sales["qty"].to_numpy(dtype=np.int64),
            "cash": (sales["price"] * sales["qty"]).to_numpy(dtype=float),
        }
    )
    table = frame.groupby("venue").agg(
        lots=("lots", "sum"), cash=("cash", "sum"), trades=("lots", "size")
    )
    table["vwap"] = table["cash"] / table["lots"]
    table["share"] = table["lots"] / table["lots"].sum()
    return table


def liquidation_impact(
    lending: pd.DataFrame, market: pd.DataFrame, trades: pd.DataFrame
) -> dict[str, float]:
    """The book mid's move per block, in excess of the fundamental's, against liquidation lots.

    Returns ``slope_bps_per_lot`` (OLS of the block's excess log return, bps, on its lots sold;
    NaN with fewer than two distinct sale sizes), ``return_with_sales_bps`` and
    ``return_without_sales_bps`` (mean excess return of blocks with and without sales; NaN if
    there are none) and ``blocks_with_sales``.
    """
    require_columns(lending, ("step",), "lending")
    require_columns(market, ("step", "mid", "fundamental"), "market")
    ends = np.unique(lending["step"].to_numpy(dtype=np.int64))
    by_step = market.set_index("step")
    mid = by_step["mid"].astype(float).reindex(ends).ffill().to_numpy()
    value = by_step["fundamental"].astype(float).reindex(ends).ffill().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = (np.diff(np.log(mid)) - np.diff(np.log(value))) * 1e4
    sales = _sales(trades)
    # a sale at step s belongs to the block (end[i-1], end[i]]
    block_of_sale = np.searchsorted(ends, sales["step"].to_numpy(dtype=np.int64), side="left")
    lots = np.bincount(
        block_of_sale, weights=sales["qty"].to_numpy(dtype=float), minlength=len(ends) + 1
    )[1 : len(ends)]
    usable = np.isfinite(returns)
    returns, lots = returns[usable], lots[usable]
    hit = lots > 0
    slope = np.nan
    if np.unique(lots).size >= 2:
        slope = float(np.polyfit(lots, returns, 1)[0])
    return {
        "slope_bps_per_lot": slope,
        "return_with_sales_bps": float(returns[hit].mean()) if hit.any() else np.nan,
        "return_without_sales_bps": float(returns[~hit].mean()) if (~hit).any() else np.nan,
        "blocks_with_sales": float(hit.sum()),
    }


def lending_measures(result: Any) -> dict[str, float]:
    """Headline lending figures of a run (a `abm.results.run_result.RunResult` with a pool).

    The four ``summary.json`` keys (`abm.results.lending_summary.lending_summary`), then the
    refused liquidations, gas paid, peak utilisation and borrow rate, the debt at the start
    and its peak, the lots liquidators sold per venue, the liquidation sales' price discount
    against the oracle price they were triggered at, and `liquidation_impact`.
    """
    tick = result.scenario.tick_size
    lending, liquidations = result.lending, result.liquidations
    require_columns(
        lending,
        ("utilisation", "borrow_rate", "total_debt", "refused", "gas_paid"),
        "lending",
    )
    measures: dict[str, float] = {
        key: float(value)
        for key, value in lending_summary(result.scenario, lambda: lending, tick).items()
    }
    measures["refused_liquidations"] = float(lending["refused"].sum())
    measures["gas_paid"] = float(lending["gas_paid"].sum()) * tick
    measures["peak_utilisation"] = float(lending["utilisation"].max())
    measures["peak_borrow_rate"] = float(lending["borrow_rate"].max())
    measures["debt_peak"] = float(lending["total_debt"].max()) * tick
    measures["debt_end"] = float(lending["total_debt"].iloc[-1]) * tick
    sales = liquidation_sales(result.trades)
    for venue in ("book", "amm"):
        measures[f"sold_{venue}"] = float(sales["lots"].get(venue, 0))
    sold = float(sales["lots"].sum()) if len(sales) else 0.0
    if sold and len(liquidations):
        trigger = float(
            np.average(liquidations["oracle_price"], weights=liquidations["collateral_seized"])
        )
        measures["sale_discount"] = float(sales["cash"].sum()) / sold / trigger - 1.0
    else:
        measures["sale_discount"] = np.nan
    measures.update(liquidation_impact(lending, result.market, result.trades))
    return measures


def lending_figure(result: Any) -> DisplayFigure:
    """Four panels: prices and oracle, liquidations by round, debt and rate, sales by venue.

    Top left, the fundamental, the book mid, the pool price (with an AMM) and the lending
    pool's oracle reading, liquidation steps ticked along the bottom; top right,
    liquidations per block coloured by cascade round (viridis: dark is round 1, light the
    deepest, one legend entry per round); bottom left, outstanding debt and cumulative bad
    debt, borrow rate (dotted) on the right axis; bottom right, cumulative lots of seized
    collateral sold, per venue.
    """
    tick = result.scenario.tick_size
    lending, market = result.lending, result.market
    require_columns(lending, ("step", "oracle_price", "liquidations", "round_index"), "lending")
    figure = new_figure(TALL)
    (prices, counts), (debt, sold) = figure.subplots(2, 2)
    prices.plot(
        market["step"], market["fundamental"], color="0.5", ls="--", lw=0.8, label="fundamental"
    )
    prices.plot(market["step"], market["mid"], color="C0", lw=0.8, label="book mid")
    pools = getattr(result, "pools", None)
    if pools is not None and len(pools):
        prices.step(
            pools["step"], pools["price"], where="post", color="C1", lw=0.8, label="pool price"
        )
    prices.step(
        lending["step"], lending["oracle_price"], where="post", color="C3", lw=1.0, label="oracle"
    )
    steps = result.liquidations["step"].to_numpy() if len(result.liquidations) else []
    if len(steps):
        prices.plot(
            steps,
            np.full(len(steps), np.nanmin(market["mid"])),
            "|",
            color="k",
            markersize=8,
            label="liquidation",
        )
    finish_axes(prices, "Prices and the pool's oracle", "step", "price", has_data=len(market) > 0)

    hit = lending[lending["liquidations"] > 0]
    width = max(1.0, _block_width(lending))
    deepest = int(hit["round_index"].max()) if len(hit) else 1
    for level, blocks in hit.groupby("round_index"):
        shade = 0.85 * (int(level) - 1) / max(deepest - 1, 1)
        counts.bar(
            blocks["step"],
            blocks["liquidations"],
            width=width,
            color=colormaps["viridis"](shade),
            label=f"round {int(level)}",
        )
    finish_axes(
        counts,
        f"Liquidations per block (cascade depth {int(lending['round_index'].max())})",
        "step",
        "liquidations",
        has_data=len(hit) > 0,
        message="no liquidation",
    )

    debt.plot(lending["step"], lending["total_debt"] * tick, color="C0", label="debt outstanding")
    debt.plot(
        lending["step"],
        lending["bad_debt"].cumsum() * tick,
        color="C3",
        label="bad debt (cumulative)",
    )
    rate = debt.twinx()
    rate.plot(lending["step"], lending["borrow_rate"] * 100, color="C2", lw=0.8, ls=":")
    rate.set_ylabel("borrow rate, % a year", color="C2")
    finish_axes(debt, "Debt and the borrow rate", "step", "price units", has_data=len(lending) > 0)

    sales = _sales(result.trades)
    for colour, (venue, group) in zip(
        ("C0", "C1", "C4"), sales.groupby(sales["venue"].astype(str)), strict=False
    ):
        sold.step(group["step"], group["qty"].cumsum(), where="post", color=colour, label=venue)
    finish_axes(
        sold,
        "Seized collateral sold, by venue",
        "step",
        "lots (cumulative)",
        has_data=len(sales) > 0,
        message="no liquidation sale",
    )
    return figure


def _block_width(lending: pd.DataFrame) -> float:
    gaps = np.diff(lending["step"].to_numpy(dtype=float))
    return float(np.median(gaps)) if gaps.size else 1.0
