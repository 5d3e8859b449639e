"""Time-series figures of one run, drawn from `RunResult` tables (DESIGN.md section 8).

Prices (with trades and event marks) and market makers' inventory (with limits) and pnl here;
the order-book figures (spread and depth near the mid, the depth heatmap) are in
`analysis.book_plots` and re-exported here. The distribution and autocorrelation figures are in
`analysis.stat_plots`; what all figures share (the `analysis.figures.DisplayFigure` class,
`finish_axes`, `require_columns`, event marks) is in `analysis.figures`.

Every function takes tables and returns a new `analysis.figures.DisplayFigure`: a plain
matplotlib ``Figure``, never built through ``pyplot`` (nothing here registers figures in
pyplot's global list, selects a backend or changes rcParams), which Jupyter displays as a PNG.

Empty tables, steps where a side of the book is empty (NaN quotes) and runs without market makers
all give a figure whose empty panels say "no data" (and are listed in the figure's
``empty_panels``); a table that lacks a column the figure needs raises `ValueError` naming the
missing columns.

Units: one time unit, model time in seconds (``step * dt``): ``market``-based figures read it
from the ``time`` column, ``agents``-based ones take ``dt`` (without it they fall back to
steps and say so on the axis). Prices and pnl in price units, depths and inventories in lots.
Axis labels carry the unit in parentheses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.book_plots import (
    DEPTH_WITHIN_TICKS,
    MAX_HEATMAP_SNAPSHOTS,
    depth_heatmap_figure,
    depth_near_mid,
    rolling_window,
    spread_depth_figure,
)
from analysis.figures import (
    WIDE,
    DisplayFigure,
    draw_event_marks,
    event_marks,
    finish_axes,
    new_figure,
    require_columns,
    seconds_per_step,
    shade_one_sided,
    time_axis,
)
from analysis.tables import MARKET_MAKER_KIND

__all__ = [
    "DEPTH_WITHIN_TICKS",
    "MAX_HEATMAP_SNAPSHOTS",
    "DisplayFigure",
    "agent_label",
    "depth_heatmap_figure",
    "depth_near_mid",
    "finish_axes",
    "inventory_figure",
    "pnl_figure",
    "price_figure",
    "require_columns",
    "rolling_window",
    "seconds_per_step",
    "shade_one_sided",
    "spread_depth_figure",
    "trade_bins",
]

MAX_TRADE_BINS = 1500
"""Most trade bins `price_figure` draws; longer runs bin several steps together."""
GROUP_COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "tab:gray",
)
"""One colour per market-maker group, in order of first appearance."""


def price_figure(
    market: pd.DataFrame,
    trades: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    *,
    shocks: Sequence[Mapping[str, Any]] | None = None,
) -> DisplayFigure:
    """Mid, best bid and ask, the traded price range and VWAP, and the fundamental over time.

    The best bid and ask are drawn as separate lines, so a side that empties shows as its line
    stopping (and the mid with it) while the other side and the trades go on. Trades are binned
    by step (`trade_bins`): the shaded band is each bin's lowest to highest trade price and the
    line through it the bin's volume-weighted average price, so a print far from the quotes
    (a sale sweeping an empty book) is visible. Shocks, defaults, halts, regime changes and an
    execution program's start and end are marked on the time axis (`event_marks`).

    Args:
        market: The ``market`` table; uses ``step``, ``time``, ``fundamental``, ``best_bid``,
            ``best_ask`` and ``mid``. Steps with an empty side have NaN quotes (gaps).
        trades: The ``trades`` table (``step``, ``price``, ``qty``; only ``venue == "book"``
            when it has a ``venue`` column); None draws no trades.
        events: The ``events`` table, for the marks; None marks nothing but ``shocks``.
        shocks: The scenario's ``shocks`` list; None reads shocks from ``events``.

    Returns:
        A one-panel figure (time in seconds against price units), legend outside the axes.

    Raises:
        ValueError: If a needed column is missing.
    """
    columns = ("step", "time", "fundamental", "best_bid", "best_ask", "mid")
    require_columns(market, columns, "market")
    figure = new_figure(WIDE)
    ax = figure.add_subplot()
    seconds = seconds_per_step(market)
    drawn = False
    if trades is not None and len(trades):
        require_columns(trades, ("step", "price", "qty"), "trades")
        bins = trade_bins(trades, len(market))
        if len(bins):
            x = bins["step"].to_numpy(dtype=float) * seconds
            width = f"{bins.attrs['bin_steps']}-step" if bins.attrs["bin_steps"] > 1 else "per-step"
            ax.fill_between(
                x,
                bins["low"],
                bins["high"],
                step="mid",
                color="tab:orange",
                alpha=0.3,
                lw=0,
                label=f"trade range ({width} low-high)",
            )
            ax.plot(x, bins["vwap"], color="tab:orange", lw=0.9, label=f"VWAP ({width})")
            drawn = True
    lines = {
        "best_bid": ("best bid", "tab:green", 0.7, "-"),
        "best_ask": ("best ask", "tab:red", 0.7, "-"),
        "mid": ("mid", "tab:blue", 1.1, "-"),
        "fundamental": ("fundamental", "black", 1.0, "--"),
    }
    time = market["time"].to_numpy(dtype=float)
    for column, (label, color, lw, ls) in lines.items():
        ys = market[column].to_numpy(dtype=float)
        if np.isfinite(ys).any():
            ax.plot(time, ys, color=color, lw=lw, ls=ls, label=label, zorder=3)
            drawn = True
    if drawn:
        shade_one_sided(ax, market)
        draw_event_marks(ax, event_marks(events, shocks), seconds)
    finish_axes(ax, "Price", "time (s)", "price (price units)", has_data=drawn, legend=False)
    if drawn:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return figure


def trade_bins(
    trades: pd.DataFrame, n_steps: int, *, max_bins: int = MAX_TRADE_BINS
) -> pd.DataFrame:
    """Low, high and volume-weighted average trade price per bin of steps (book trades only).

    Bins are ``k`` steps wide, ``k`` the smallest width that gives at most ``max_bins`` bins
    over ``n_steps`` steps (1 for short runs); a bin is labelled by its first step. Bins
    without trades are absent. ``attrs["bin_steps"]`` holds ``k``.

    Returns:
        Columns ``step, low, high, vwap, qty`` (price units, lots), sorted by step.
    """
    if max_bins < 1:
        raise ValueError(f"max_bins must be at least 1, got {max_bins}")
    rows = trades
    if "venue" in rows.columns:
        rows = rows.loc[(rows["venue"].astype(str) == "book").to_numpy(dtype=bool)]
    width = max(1, -(-max(n_steps, 1) // max_bins))
    step = rows["step"].to_numpy(dtype=np.int64) // width * width
    price = rows["price"].to_numpy(dtype=float)
    qty = rows["qty"].to_numpy(dtype=float)
    frame = pd.DataFrame({"step": step, "price": price, "qty": qty, "notional": price * qty})
    grouped = frame.groupby("step", sort=True)
    out = pd.DataFrame(
        {
            "low": grouped["price"].min(),
            "high": grouped["price"].max(),
            "vwap": grouped["notional"].sum() / grouped["qty"].sum(),
            "qty": grouped["qty"].sum(),
        }
    ).reset_index()
    out.attrs["bin_steps"] = width
    return out


def inventory_figure(
    agents: pd.DataFrame,
    *,
    labels: Mapping[int, str] | None = None,
    groups: Iterable[str] | None = None,
    limits: Mapping[str, float] | None = None,
    dt: float | None = None,
) -> DisplayFigure:
    """Each market maker's inventory over time, coloured by group, with the inventory limits.

    Args:
        agents: The ``agents`` table; uses ``step``, ``agent_id``, ``kind``, ``group`` and
            ``inventory``.
        labels: Optional group label per agent id, replacing the ``group`` column.
        groups: The groups to draw; None draws the rows of kind `MARKET_MAKER_KIND`.
        limits: Inventory limit (lots) per group, drawn as dashed lines at +-limit.
        dt: Seconds per step; the x axis is model time with it, steps without.

    Returns:
        A one-panel figure (time against lots), one legend entry per group, outside the axes.

    Raises:
        ValueError: If a needed column is missing.
    """
    figure, colours = _per_agent_figure(
        agents, "inventory", "Market-maker inventory", "inventory (lots)", labels, groups, dt
    )
    ax = figure.axes[0]
    shown = {name: float(v) for name, v in (limits or {}).items() if name in colours and v > 0}
    same = len(set(shown.values())) == 1
    for name, limit in shown.items():
        # one shared limit is drawn once, in grey; different limits in their group's colour
        colour = "0.35" if same else colours[name]
        label = f"limit \u00b1{limit:g} lots" + ("" if same else f" ({name})")
        ax.axhline(limit, color=colour, ls="--", lw=1.0, label=label)
        ax.axhline(-limit, color=colour, ls="--", lw=1.0)
        if same:
            break
    if ax.get_lines():
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return figure


def pnl_figure(
    agents: pd.DataFrame,
    *,
    labels: Mapping[int, str] | None = None,
    groups: Iterable[str] | None = None,
    dt: float | None = None,
    mark: str | None = None,
) -> DisplayFigure:
    """Each market maker's pnl (equity less initial equity, marked to market), by group.

    Args:
        agents: The ``agents`` table; uses ``step``, ``agent_id``, ``kind``, ``group`` and
            ``pnl``.
        labels: Optional group label per agent id, replacing the ``group`` column.
        groups: The groups to draw; None draws the rows of kind `MARKET_MAKER_KIND`.
        dt: Seconds per step; the x axis is model time with it, steps without.
        mark: How positions are marked, named in the title when given.

    Returns:
        A one-panel figure (time against price units) with a zero line.

    Raises:
        ValueError: If a needed column is missing.
    """
    title = "Market-maker pnl" + (f" (marked to {mark})" if mark else "")
    figure, _ = _per_agent_figure(agents, "pnl", title, "pnl (price units)", labels, groups, dt)
    ax = figure.axes[0]
    ax.axhline(0.0, color="0.4", lw=0.8, zorder=0)
    if ax.get_legend() is not None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return figure


def agent_label(agent_id: int, labels: Mapping[int, str] | None = None) -> str:
    """Return the legend label of ``agent_id``: ``"<label> #<id>"``, or ``"#<id>"`` unlabelled."""
    if labels is not None and agent_id in labels:
        return f"{labels[agent_id]} #{agent_id}"
    return f"#{agent_id}"


def _per_agent_figure(
    agents: pd.DataFrame,
    value: str,
    title: str,
    unit: str,
    labels: Mapping[int, str] | None,
    groups: Iterable[str] | None,
    dt: float | None,
) -> tuple[DisplayFigure, dict[str, str]]:
    """One line per agent, one colour and one legend entry per group; returns the colours."""
    require_columns(agents, ("step", "agent_id", "kind", value), "agents")
    seconds, xlabel = time_axis(dt)
    figure = new_figure(WIDE)
    ax = figure.add_subplot()
    if groups is None:
        rows = agents.loc[(agents["kind"] == MARKET_MAKER_KIND).to_numpy(dtype=bool)]
    else:
        require_columns(agents, ("group",), "agents")
        wanted = [str(g) for g in groups]
        rows = agents.loc[agents["group"].astype(str).isin(wanted).to_numpy(dtype=bool)]
    rows = rows.loc[np.isfinite(rows[value].to_numpy(dtype=float))]
    ids = rows["agent_id"].to_numpy(dtype=np.int64)
    if labels is not None:
        key = np.array([labels.get(int(i), f"#{int(i)}") for i in ids], dtype=object)
    elif "group" in rows.columns:
        key = rows["group"].astype(str).to_numpy(dtype=object)
    else:
        key = np.array(["market makers"] * len(rows), dtype=object)
    names = list(dict.fromkeys(key.tolist()))
    colours = {name: GROUP_COLOURS[i % len(GROUP_COLOURS)] for i, name in enumerate(names)}
    steps = rows["step"].to_numpy(dtype=float)
    values = rows[value].to_numpy(dtype=float)
    for name in names:
        in_group = key == name
        agent_ids = np.unique(ids[in_group])
        for n, agent_id in enumerate(agent_ids):
            mine = in_group & (ids == agent_id)
            order = np.argsort(steps[mine], kind="stable")
            label = f"{name} ({agent_ids.size} agent{'s' if agent_ids.size != 1 else ''})"
            ax.plot(
                steps[mine][order] * seconds,
                values[mine][order],
                color=colours[name],
                lw=0.9,
                alpha=0.8,
                label=label if n == 0 else None,
            )
    finish_axes(ax, title, xlabel, unit, has_data=bool(names), legend=False)
    if names:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return figure, colours
