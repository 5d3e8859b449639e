"""Time-series figures of one run, drawn from `RunResult` tables (DESIGN.md section 7).

Prices, spread and depth, an order-book depth heatmap, and market makers' inventory and pnl.
The distribution and autocorrelation figures are in `analysis.stat_plots`, which shares
`finish_axes` and `require_columns` with this module.

Every function takes a table (``market``, ``agents`` or ``depth``) and returns a new
`matplotlib.figure.Figure`. Figures are built as plain ``Figure`` objects, never through
``pyplot``, so nothing here registers figures in pyplot's global list, selects a backend or
changes rcParams; ``figure.savefig(path)`` renders with Agg whatever the session's backend, and a
figure is freed when its last reference goes. Seaborn draws into the axes it is given (``ax=``).

Empty tables, steps where a side of the book is empty (NaN quotes) and runs without market makers
all give a figure whose empty panels say "no data"; a table that lacks a column the figure needs
raises `ValueError` naming the missing columns.

Units: times are model time in seconds (``step * dt``) for ``market``-based figures and steps for
``agents``-based ones (that table has no time column); prices and pnl in price units, depths and
inventories in lots. Axis labels carry the unit in parentheses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from analysis.tables import MARKET_MAKER_KIND

MAX_LEGEND_ENTRIES = 12
"""Above this many agents a legend would hide the data, so per-agent figures omit it."""

MAX_HEATMAP_SNAPSHOTS = 1000
"""Most snapshot columns `depth_heatmap_figure` draws; a PNG has fewer pixels than that anyway."""

_WIDE = (10.0, 4.0)
_TALL = (10.0, 6.0)


def price_figure(market: pd.DataFrame) -> Figure:
    """Mid price and fundamental value over time, with the best bid/ask as a shaded band.

    Args:
        market: The ``market`` table; uses ``time``, ``fundamental``, ``best_bid``, ``best_ask``
            and ``mid``. Steps with an empty side have NaN quotes and leave a gap in the band.

    Returns:
        A one-panel figure (time in seconds against price units).

    Raises:
        ValueError: If a needed column is missing.
    """
    require_columns(market, ("time", "fundamental", "best_bid", "best_ask", "mid"), "market")
    figure = Figure(figsize=_WIDE, layout="constrained")
    ax = figure.add_subplot()
    time = market["time"].to_numpy(dtype=float)
    bid = market["best_bid"].to_numpy(dtype=float)
    ask = market["best_ask"].to_numpy(dtype=float)
    if np.isfinite(bid).any() or np.isfinite(ask).any():
        ax.fill_between(time, bid, ask, color="tab:blue", alpha=0.25, lw=0, label="best bid/ask")
    drawn = _plot_lines(ax, market, "time", {"mid": "mid", "fundamental": "fundamental"})
    finish_axes(ax, "Price", "time (s)", "price (price units)", has_data=drawn)
    return figure


def spread_depth_figure(market: pd.DataFrame) -> Figure:
    """Quoted spread (price units) over time, above the resting depth on each side (lots).

    Args:
        market: The ``market`` table; uses ``time``, ``spread``, ``bid_depth`` and ``ask_depth``.
            The spread is NaN, and not drawn, at steps where a side of the book is empty.

    Returns:
        A two-panel figure sharing the time axis.

    Raises:
        ValueError: If a needed column is missing.
    """
    require_columns(market, ("time", "spread", "bid_depth", "ask_depth"), "market")
    figure = Figure(figsize=_TALL, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    drawn = _plot_lines(top, market, "time", {"spread": "quoted spread"}, color="tab:purple")
    finish_axes(top, "Quoted spread", None, "spread (price units)", has_data=drawn, legend=False)
    depth = {"bid_depth": "bid depth", "ask_depth": "ask depth"}
    drawn = _plot_lines(bottom, market, "time", depth)
    finish_axes(bottom, "Depth at rest", "time (s)", "resting quantity (lots)", has_data=drawn)
    return figure


def depth_heatmap_figure(
    depth: pd.DataFrame,
    market: pd.DataFrame | None = None,
    *,
    tick_size: float | None = None,
    max_snapshots: int = MAX_HEATMAP_SNAPSHOTS,
) -> Figure:
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
    figure = Figure(figsize=_WIDE, layout="constrained")
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


def inventory_figure(agents: pd.DataFrame, *, labels: Mapping[int, str] | None = None) -> Figure:
    """Each market maker's inventory over time, one line (one hue) per agent.

    Args:
        agents: The ``agents`` table; rows whose ``kind`` is `MARKET_MAKER_KIND` are used, with
            ``step``, ``agent_id`` and ``inventory``. Other kinds are ignored.
        labels: Optional legend label per agent id (for example its scenario group); agents not
            in it are labelled by id.

    Returns:
        A one-panel figure (steps against lots); the legend, outside the axes, is omitted above
        `MAX_LEGEND_ENTRIES` agents.

    Raises:
        ValueError: If a needed column is missing.
    """
    return _per_agent_figure(
        agents, "inventory", "Market-maker inventory", "inventory (lots)", labels
    )


def pnl_figure(agents: pd.DataFrame, *, labels: Mapping[int, str] | None = None) -> Figure:
    """Each market maker's pnl (equity less initial equity, marked to market) over time.

    Args:
        agents: The ``agents`` table; rows whose ``kind`` is `MARKET_MAKER_KIND` are used, with
            ``step``, ``agent_id`` and ``pnl``. Other kinds are ignored.
        labels: Optional legend label per agent id; agents not in it are labelled by id.

    Returns:
        A one-panel figure (steps against price units) with a zero line; the legend is omitted
        above `MAX_LEGEND_ENTRIES` agents.

    Raises:
        ValueError: If a needed column is missing.
    """
    figure = _per_agent_figure(agents, "pnl", "Market-maker pnl", "pnl (price units)", labels)
    figure.axes[0].axhline(0.0, color="0.4", lw=0.8, zorder=0)
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
) -> Figure:
    require_columns(agents, ("step", "agent_id", "kind", value), "agents")
    figure = Figure(figsize=_WIDE, layout="constrained")
    ax = figure.add_subplot()
    makers = agents.loc[agents["kind"] == MARKET_MAKER_KIND, ["step", "agent_id", value]]
    makers = makers.astype({"step": "int64", "agent_id": "int64", value: "float64"})
    makers = makers[np.isfinite(makers[value].to_numpy())]
    ids = sorted(int(i) for i in makers["agent_id"].unique())
    if ids:
        names = {agent_id: agent_label(agent_id, labels) for agent_id in ids}
        frame = pd.DataFrame(
            {
                "step": makers["step"].to_numpy(),
                value: makers[value].to_numpy(),
                # Strings, so seaborn treats agents as categories rather than a colour scale.
                "agent": [names[int(i)] for i in makers["agent_id"]],
            }
        )
        # pyproject's mypy override follows "seaborn" but not its submodules, so the names
        # seaborn re-exports by star import are invisible to mypy.
        sns.lineplot(
            data=frame,
            x="step",
            y=value,
            hue="agent",
            hue_order=[names[i] for i in ids],
            estimator=None,
            errorbar=None,
            sort=True,
            lw=1.0,
            legend=len(ids) <= MAX_LEGEND_ENTRIES,
            ax=ax,
        )
    # Seaborn has already drawn the per-agent legend (or skipped it for too many agents); it
    # goes outside the axes, since lines that wander over the whole range leave no free corner.
    if ax.get_legend() is not None:
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    finish_axes(ax, title, "time (steps)", unit, has_data=bool(ids), legend=False)
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


def finish_axes(
    ax: Axes,
    title: str,
    xlabel: str | None,
    ylabel: str,
    *,
    has_data: bool,
    legend: bool = True,
    message: str = "no data",
) -> None:
    """Title, axis labels and a light grid; then a legend, or ``message`` when nothing was drawn.

    ``xlabel=None`` leaves the x label unset (the upper panel of a shared x axis). The legend
    is drawn at matplotlib's ``"best"`` place only if ``legend`` and ``has_data``.
    """
    ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if not has_data:
        ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
        return
    if legend:
        ax.legend(loc="best", fontsize="small")


def _smallest_gap(prices: np.ndarray) -> float:
    """Smallest positive gap between distinct prices (the tick, when adjacent levels occur)."""
    gaps = np.diff(np.unique(prices))
    gaps = gaps[gaps > 0]
    # One distinct price has no gap; any positive step then draws it as a single row.
    return float(gaps.min()) if gaps.size else 1.0


def require_columns(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Raise `ValueError` naming every one of ``columns`` that ``frame`` (the ``table``) lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"the {table} table lacks column(s) {', '.join(missing)}; "
            f"pass the {table} table of a RunResult"
        )
