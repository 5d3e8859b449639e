"""Time-series figures of one run, drawn from `RunResult` tables (DESIGN.md section 8).

Prices (with trades and event marks), spread and depth near the mid, an order-book depth
heatmap, and market makers' inventory (with limits) and pnl. The distribution and
autocorrelation figures are in `analysis.stat_plots`; what all figures share (the
`analysis.figures.DisplayFigure` class, `finish_axes`, `require_columns`, event marks) is in
`analysis.figures`.

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
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import blended_transform_factory

from analysis.figures import (
    TALL,
    WIDE,
    DisplayFigure,
    draw_event_marks,
    event_marks,
    finish_axes,
    new_figure,
    require_columns,
    time_axis,
)
from analysis.tables import MARKET_MAKER_KIND

__all__ = [
    "DEPTH_WITHIN_TICKS",
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
    "spread_depth_figure",
    "trade_bins",
]

MAX_HEATMAP_SNAPSHOTS = 1000
"""Most snapshot columns `depth_heatmap_figure` draws; a PNG has fewer pixels than that anyway."""
MAX_TRADE_BINS = 1500
"""Most trade bins `price_figure` draws; longer runs bin several steps together."""
DEPTH_WITHIN_TICKS = 5
"""Default N of "depth within N ticks of the mid" (the market-quality tables use 5 too)."""
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


def spread_depth_figure(
    market: pd.DataFrame,
    depth: pd.DataFrame | None = None,
    *,
    tick_size: float | None = None,
    within_ticks: int = DEPTH_WITHIN_TICKS,
    window_steps: int | None = None,
) -> DisplayFigure:
    """Rolling mean of the quoted spread, over the resting depth within N ticks of the mid.

    Top panel: the quoted spread's trailing mean over ``window_steps`` steps (two-sided steps
    only), with the steps where the book is one-sided or empty shaded. Bottom panel (only when
    ``depth`` snapshots are given and not empty): lots resting on each side within
    ``within_ticks`` ticks of the mid (`depth_near_mid`). Whole-book depth is not drawn: stale
    orders far from the price make it grow while the market gets thinner.

    Args:
        market: The ``market`` table; uses ``step``, ``time``, ``spread``, ``best_bid``,
            ``best_ask`` and ``mid``.
        depth: The ``depth`` table (``step``, ``side``, ``price``, ``qty``), or None.
        tick_size: Price units per tick; None infers it from the depth table's price gaps.
        within_ticks: N, the band around the mid in ticks (at least 0).
        window_steps: Rolling-mean window; None picks `rolling_window` of the run length.

    Returns:
        A one- or two-panel figure sharing the time axis (seconds).

    Raises:
        ValueError: If a needed column is missing or an argument is out of range.
    """
    require_columns(market, ("step", "time", "spread", "best_bid", "best_ask", "mid"), "market")
    window = rolling_window(len(market)) if window_steps is None else window_steps
    if window < 1:
        raise ValueError(f"window_steps must be at least 1, got {window}")
    has_depth = depth is not None and len(depth) > 0
    figure = new_figure(TALL if has_depth else WIDE)
    axes = figure.subplots(2, 1, sharex=True) if has_depth else [figure.add_subplot()]
    top = axes[0]
    time = market["time"].to_numpy(dtype=float)
    spread = market["spread"].astype(float).rolling(window, min_periods=1).mean()
    drawn = bool(np.isfinite(spread.to_numpy()).any())
    if drawn:
        top.plot(
            time,
            spread.to_numpy(),
            color="tab:purple",
            lw=1.0,
            label=f"quoted spread, {window}-step rolling mean",
        )
    drawn = shade_one_sided(top, market) or drawn
    xlabel = None if has_depth else "time (s)"
    finish_axes(top, "Quoted spread", xlabel, "spread (price units)", has_data=drawn)
    if has_depth and depth is not None:
        require_columns(depth, ("step", "side", "price", "qty"), "depth")
        if within_ticks < 0:
            raise ValueError(f"within_ticks must be at least 0, got {within_ticks}")
        tick = tick_size if tick_size is not None else _smallest_gap(depth["price"].to_numpy(float))
        near = depth_near_mid(depth, market, within_ticks, tick)
        x = near["step"].to_numpy(dtype=float) * seconds_per_step(market)
        bottom = axes[1]
        bottom.plot(x, near["bid"], color="tab:green", lw=1.0, label="bid")
        bottom.plot(x, near["ask"], color="tab:red", lw=1.0, label="ask")
        finish_axes(
            bottom,
            f"Depth at rest within {within_ticks} ticks of the mid",
            "time (s)",
            "resting quantity (lots)",
            has_data=len(near) > 0,
        )
    return figure


def shade_one_sided(ax: Axes, market: pd.DataFrame) -> bool:
    """Shade the steps where a side of the book (or both) is empty; return whether any was.

    The legend entry gives their share of all steps.
    """
    bid = market["best_bid"].to_numpy(dtype=float)
    ask = market["best_ask"].to_numpy(dtype=float)
    one_sided = ~(np.isfinite(bid) & np.isfinite(ask))
    if not one_sided.any():
        return False
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    ax.fill_between(
        market["time"].to_numpy(dtype=float),
        0,
        1,
        where=one_sided,
        step="mid",
        transform=transform,
        color="tab:red",
        alpha=0.12,
        lw=0,
        label=f"one-sided or empty book ({one_sided.mean():.1%} of steps)",
    )
    return True


def depth_near_mid(
    depth: pd.DataFrame, market: pd.DataFrame, within_ticks: int, tick_size: float
) -> pd.DataFrame:
    """Lots resting on each side within ``within_ticks`` ticks of the mid, per depth snapshot.

    The reference is the snapshot step's mid; where a side of the book is empty (no mid) it is
    the last two-sided mid before, so an emptied side counts as zero depth rather than being
    measured from its own far-away best price. Distances are rounded to whole ticks. Snapshots
    hold only the top recorded levels per side, so depth beyond them is not counted.

    Returns:
        Columns ``step, bid, ask`` (lots), one row per snapshot step with a reference price.
    """
    if not tick_size > 0:
        raise ValueError(f"tick_size must be positive price units per tick, got {tick_size}")
    reference = pd.Series(market["mid"].to_numpy(dtype=float), index=market["step"]).ffill()
    steps = np.unique(depth["step"].to_numpy(dtype=np.int64))
    mids = reference.reindex(steps).to_numpy(dtype=float)
    keep = np.isfinite(mids)
    steps, mids = steps[keep], mids[keep]
    mid_of = pd.Series(mids, index=steps)
    out: dict[str, Any] = {"step": steps}
    rows = depth.loc[depth["step"].isin(steps)]
    away = np.rint(
        np.abs(rows["price"].to_numpy(float) - mid_of.reindex(rows["step"]).to_numpy(float))
        / tick_size
    )
    near = rows.loc[away <= within_ticks]
    for side in ("bid", "ask"):
        lots = near.loc[near["side"].astype(str) == side].groupby("step")["qty"].sum()
        out[side] = lots.reindex(steps, fill_value=0).to_numpy(dtype=float)
    return pd.DataFrame(out)


def rolling_window(n_steps: int) -> int:
    """The report's rolling-mean window: 1% of the run, at least 10 steps (steps)."""
    return max(10, n_steps // 100)


def seconds_per_step(market: pd.DataFrame) -> float:
    """Model seconds per step, read from the ``market`` table (1.0 when it cannot tell)."""
    step = market["step"].to_numpy(dtype=float)
    time = market["time"].to_numpy(dtype=float)
    moving = step > 0
    if not moving.any():
        return 1.0
    return float(np.median(time[moving] / step[moving]))


def depth_heatmap_figure(
    depth: pd.DataFrame,
    market: pd.DataFrame | None = None,
    *,
    tick_size: float | None = None,
    max_snapshots: int = MAX_HEATMAP_SNAPSHOTS,
) -> DisplayFigure:
    """Resting quantity at each price level over time, from the ``depth`` snapshots.

    Each column is one snapshot and each row one price tick; bid quantity is drawn in blue and
    ask quantity in red (the colour bar shows lots on both sides), so the spread is the white
    gap between them. Snapshots are drawn at equal widths; above ``max_snapshots`` only every
    k-th snapshot is kept (k the smallest stride that fits), which thins the picture without
    averaging levels that moved.

    Args:
        depth: The ``depth`` table; uses ``step``, ``side``, ``price`` and ``qty``. Empty when
            the run did not record depth (``record.depth_levels: 0``): the figure then says so.
        market: Optional ``market`` table; when given, the x axis is model time (its ``time``
            of each step) and its ``mid`` is drawn over the heatmap. Otherwise the x axis is
            the step.
        tick_size: Price units per tick; None infers it as the smallest gap between recorded
            prices.
        max_snapshots: Most snapshot columns drawn, at least 1.

    Returns:
        A one-panel figure (time against price units) with a colour bar in lots.

    Raises:
        ValueError: If a needed column is missing or ``tick_size``/``max_snapshots`` is not
            positive.
    """
    require_columns(depth, ("step", "side", "price", "qty"), "depth")
    if market is not None:
        require_columns(market, ("step", "time", "mid"), "market")
    if max_snapshots < 1:
        raise ValueError(f"max_snapshots must be at least 1, got {max_snapshots}")
    if tick_size is not None and not tick_size > 0:
        raise ValueError(f"tick_size must be positive price units per tick, got {tick_size}")
    figure = new_figure(WIDE)
    ax = figure.add_subplot()
    xlabel = "step (steps)" if market is None else "time (s)"
    title = "Order-book depth"
    rows = depth.loc[(depth["qty"] > 0) & np.isfinite(depth["price"].to_numpy(dtype=float))]
    if rows.empty:
        message = "no order-book depth recorded\n(set record.depth_levels > 0 in the scenario)"
        finish_axes(ax, title, xlabel, "price (price units)", has_data=False, message=message)
        return figure
    if "level" in rows.columns:
        title += f" (top {int(rows['level'].max())} levels per side)"
    steps = np.unique(rows["step"].to_numpy(dtype=np.int64))
    stride = -(-steps.size // max_snapshots)
    steps = steps[::stride]
    rows = rows.loc[rows["step"].isin(steps)]
    prices = rows["price"].to_numpy(dtype=float)
    tick = tick_size if tick_size is not None else _smallest_gap(prices)
    level = np.rint(prices / tick).astype(np.int64)
    low = int(level.min())
    signed = np.where(rows["side"].to_numpy(dtype=str) == "bid", 1.0, -1.0)
    grid = np.zeros((int(level.max()) - low + 1, steps.size))
    column = np.searchsorted(steps, rows["step"].to_numpy(dtype=np.int64))
    np.add.at(grid, (level - low, column), signed * rows["qty"].to_numpy(dtype=float))
    xs = steps.astype(float)
    if market is not None:
        time_of = pd.Series(market["time"].to_numpy(dtype=float), index=market["step"])
        xs = time_of.reindex(steps).to_numpy(dtype=float)
        xs = np.where(np.isfinite(xs), xs, steps.astype(float))
    half = 0.5 * (xs[1] - xs[0]) if xs.size > 1 else 0.5
    # A few very deep levels would wash out everything else, so the colour scale stops at the
    # 99th percentile of the non-empty cells.
    limit = float(np.percentile(np.abs(grid[grid != 0.0]), 99))
    image = ax.imshow(
        np.ma.masked_equal(grid, 0.0),
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        cmap="RdBu",
        vmin=-limit,
        vmax=limit,
        extent=(
            xs[0] - half,
            xs[-1] + half,
            (low - 0.5) * tick,
            (low + grid.shape[0] - 0.5) * tick,
        ),
    )
    bar = figure.colorbar(image, ax=ax)
    bar.set_label("resting quantity (lots): red ask, blue bid")
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{abs(value):g}"))
    drawn_mid = False
    if market is not None:
        drawn_mid = _plot_lines(ax, market, "time", {"mid": "mid"}, color="black", lw=0.8)
    finish_axes(ax, title, xlabel, "price (price units)", has_data=True, legend=drawn_mid)
    ax.grid(False)
    return figure


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
    for name, limit in shown.items():
        same = len(set(shown.values())) == 1
        label = f"limit \u00b1{limit:g} lots" + ("" if same else f" ({name})")
        ax.axhline(limit, color=colours[name], ls="--", lw=1.0, label=label)
        ax.axhline(-limit, color=colours[name], ls="--", lw=1.0)
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


def _plot_lines(
    ax: Axes,
    frame: pd.DataFrame,
    x: str,
    columns: Mapping[str, str],
    *,
    color: str | None = None,
    lw: float = 1.0,
) -> bool:
    """Draw each of ``columns`` (name -> label) against ``x``; return whether anything was drawn."""
    xs = frame[x].to_numpy(dtype=float)
    drawn = False
    for column, label in columns.items():
        ys = frame[column].to_numpy(dtype=float)
        if np.isfinite(ys).any():
            ax.plot(xs, ys, lw=lw, label=label, color=color)
            drawn = True
    return drawn


def _smallest_gap(prices: np.ndarray) -> float:
    """Smallest positive gap between distinct prices (the tick, when adjacent levels occur)."""
    gaps = np.diff(np.unique(prices))
    gaps = gaps[gaps > 0]
    # One distinct price has no gap; any positive step then draws it as a single row.
    return float(gaps.min()) if gaps.size else 1.0
