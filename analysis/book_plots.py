"""Figures of the order book of one run: spread and depth near the mid, the depth heatmap.

Conventions as `analysis.plots` (which re-exports these functions): each returns a new
`analysis.figures.DisplayFigure`, time on the x axis is model time in seconds from the
``market`` table, prices in price units, quantities in lots.

Depth is measured from the ``depth`` table's snapshots (the top ``record.depth_levels`` levels
per side every ``record.depth_stride`` steps), never from the whole-book totals of the
``market`` table: stale orders far from the price make those grow while the market thins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from analysis.figures import (
    TALL,
    WIDE,
    DisplayFigure,
    finish_axes,
    new_figure,
    require_columns,
    seconds_per_step,
    shade_one_sided,
)

MAX_HEATMAP_SNAPSHOTS = 1000
"""Most snapshot columns `depth_heatmap_figure` draws; a PNG has fewer pixels than that anyway."""
MAX_HEATMAP_LEVELS = 100_000
"""Most price rows (ticks) `depth_heatmap_figure` lays out; a wider span is refused, not drawn."""
DEPTH_WITHIN_TICKS = 5
"""Default N of "depth within N ticks of the mid" (the market-quality tables use 5 too)."""


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
        window_steps: Rolling-mean window; None picks `rolling_window` of the run length. The
            mean is drawn where at least half the window's steps are two-sided.

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
    # defined once half the window has two-sided steps: the opening steps, while the book
    # fills, would otherwise stretch the axis with a one-step mean
    spread = market["spread"].astype(float).rolling(window, min_periods=max(1, window // 2)).mean()
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
        ValueError: If a needed column is missing, ``tick_size``/``max_snapshots`` is not
            positive, or the prices span `MAX_HEATMAP_LEVELS` ticks or more (a damaged or
            runaway run: the grid would not fit in memory).
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
    span = (prices.max() - prices.min()) / tick
    if not span < MAX_HEATMAP_LEVELS:
        raise ValueError(
            f"the depth snapshots span {span:.6g} ticks, more than the {MAX_HEATMAP_LEVELS} "
            "price rows a heatmap draws"
        )
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
