"""Figures of one run, drawn from `RunResult` tables (DESIGN.md section 7).

Every function takes a table (``market`` or ``agents``) and returns a new
`matplotlib.figure.Figure`. Figures are built as plain ``Figure`` objects, never through
``pyplot``, so nothing here registers figures in pyplot's global list, selects a backend or
changes rcParams; ``figure.savefig(path)`` renders with Agg whatever the session's backend, and a
figure is freed when its last reference goes. Seaborn draws into the axes it is given (``ax=``).

Empty tables, steps where a side of the book is empty (NaN quotes) and runs without market makers
all give a figure whose empty panels say "no data"; a table that lacks a column the figure needs
raises `ValueError` naming the missing columns.

Units: times are model time in seconds (``step * dt``), prices and pnl in price units,
depths and inventories in lots.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

MARKET_MAKER_KIND = "market_maker"
"""The ``agents.kind`` label of market makers."""

MAX_LEGEND_ENTRIES = 12
"""Above this many agents a legend would hide the data, so per-agent figures omit it."""

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
    _require_columns(market, ("time", "fundamental", "best_bid", "best_ask", "mid"), "market")
    figure = Figure(figsize=_WIDE, layout="constrained")
    ax = figure.add_subplot()
    time = market["time"].to_numpy(dtype=float)
    bid = market["best_bid"].to_numpy(dtype=float)
    ask = market["best_ask"].to_numpy(dtype=float)
    if np.isfinite(bid).any() or np.isfinite(ask).any():
        ax.fill_between(time, bid, ask, color="tab:blue", alpha=0.25, lw=0, label="best bid/ask")
    drawn = _plot_lines(ax, market, "time", {"mid": "mid", "fundamental": "fundamental"})
    _finish_axes(ax, "Price", "time (s)", "price", has_data=drawn)
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
    _require_columns(market, ("time", "spread", "bid_depth", "ask_depth"), "market")
    figure = Figure(figsize=_TALL, layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    drawn = _plot_lines(top, market, "time", {"spread": "quoted spread"}, color="tab:purple")
    _finish_axes(top, "Quoted spread", None, "price", has_data=drawn, legend=False)
    depth = {"bid_depth": "bid depth", "ask_depth": "ask depth"}
    drawn = _plot_lines(bottom, market, "time", depth)
    _finish_axes(bottom, "Depth at rest", "time (s)", "lots", has_data=drawn)
    return figure


def inventory_figure(agents: pd.DataFrame, *, labels: Mapping[int, str] | None = None) -> Figure:
    """Each market maker's inventory over time, one line (one hue) per agent.

    Args:
        agents: The ``agents`` table; rows whose ``kind`` is `MARKET_MAKER_KIND` are used, with
            ``step``, ``agent_id`` and ``inventory``. Other kinds are ignored.
        labels: Optional legend label per agent id (for example its scenario group); agents not
            in it are labelled by id.

    Returns:
        A one-panel figure (step against lots); the legend is omitted above
        `MAX_LEGEND_ENTRIES` agents.

    Raises:
        ValueError: If a needed column is missing.
    """
    return _per_agent_figure(agents, "inventory", "Market-maker inventory", "lots", labels)


def pnl_figure(agents: pd.DataFrame, *, labels: Mapping[int, str] | None = None) -> Figure:
    """Each market maker's pnl (equity less initial equity, marked to market) over time.

    Args:
        agents: The ``agents`` table; rows whose ``kind`` is `MARKET_MAKER_KIND` are used, with
            ``step``, ``agent_id`` and ``pnl``. Other kinds are ignored.
        labels: Optional legend label per agent id; agents not in it are labelled by id.

    Returns:
        A one-panel figure (step against price units) with a zero line; the legend is omitted
        above `MAX_LEGEND_ENTRIES` agents.

    Raises:
        ValueError: If a needed column is missing.
    """
    figure = _per_agent_figure(agents, "pnl", "Market-maker pnl", "price units", labels)
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
    _require_columns(agents, ("step", "agent_id", "kind", value), "agents")
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
    # Seaborn has already drawn the per-agent legend (or skipped it for too many agents).
    _finish_axes(ax, title, "step", unit, has_data=bool(ids), legend=False)
    return figure


def _plot_lines(
    ax: Axes,
    frame: pd.DataFrame,
    x: str,
    columns: Mapping[str, str],
    *,
    color: str | None = None,
) -> bool:
    """Draw each of ``columns`` (name -> label) against ``x``; return whether anything was drawn."""
    xs = frame[x].to_numpy(dtype=float)
    drawn = False
    for column, label in columns.items():
        ys = frame[column].to_numpy(dtype=float)
        if np.isfinite(ys).any():
            ax.plot(xs, ys, lw=1.0, label=label, color=color)
            drawn = True
    return drawn


def _finish_axes(
    ax: Axes,
    title: str,
    xlabel: str | None,
    ylabel: str,
    *,
    has_data: bool,
    legend: bool = True,
) -> None:
    ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if not has_data:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    if legend:
        ax.legend(loc="best", fontsize="small")


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"the {table} table lacks column(s) {', '.join(missing)}; "
            f"pass the {table} table of a RunResult"
        )
