"""Live dashboard of one scenario: a Mesa SolaraViz app (needs the ``viz`` extra).

Panels: price and fundamental, spread and depth, the book ladder, the market makers'
inventories and P&L, and the contagion network coloured by status. The sidebar holds
Mesa's Reset / Play / Step controls and the parameters: seed, steps, noise and informed
trader counts, and the market makers' quoting policy. Reset rebuilds the model from them.

How to open it:

- browser: ``abm dashboard scenarios/crisis/fire_sale_spiral.yaml`` (or
  ``solara run abm.app``: the scenario then comes from ``$ABM_DASHBOARD_SCENARIO``,
  the baseline by default);
- Jupyter: ``from abm.app import page; page`` (baseline), or
  ``from abm.app import dashboard; dashboard("scenarios/crisis/fire_sale_spiral.yaml")``
  as the last expression of a cell.

Only this module imports solara and ``mesa.visualization``; the rest of ``abm`` runs
without them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import networkx as nx
import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from abm.agents.base import Regime, Status
from abm.dashboard_model import (
    DEFAULT_SCENARIO,
    POLICY_CHOICES,
    SCENARIO_ENV,
    DashboardError,
    DashboardModel,
    MarketSnapshot,
    resolve_scenario_path,
)
from abm.model import MarketModel
from abm.scenario import load_scenario

__all__ = [
    "DEFAULT_SCENARIO",
    "SCENARIO_ENV",
    "DashboardError",
    "DashboardModel",
    "MarketSnapshot",
    "Page",
    "dashboard",
    "dashboard_view",
    "model_params",
    "page",
]

LADDER_LEVELS = 5  # per side: ten rows fit the panel
ASK_ROW, BID_ROW = "#fdecea", "#e8f5e9"  # ladder rows: light red asks, light green bids
Row = tuple[Sequence[object], str]
STATE_COLOURS = {
    Regime.NORMAL.value: "#2ca02c",
    Regime.STRESSED.value: "#e6a700",
    Regime.CRISIS.value: "#ff7f0e",
    Status.DEFAULTED.value: "#d62728",
}


# ----- controls -------------------------------------------------------------------------


def model_params(scenario_path: str | os.PathLike[str]) -> dict[str, Any]:
    """SolaraViz controls for a scenario, starting at the scenario's own values."""
    path = resolve_scenario_path(scenario_path)
    scenario = load_scenario(path)
    params: dict[str, Any] = {
        "scenario_path": str(path),
        "seed": {"type": "InputText", "value": str(scenario.seed), "label": "Seed"},
        "steps": {
            "type": "SliderInt",
            "value": scenario.steps,
            "min": 10,
            "max": max(5000, scenario.steps),
            "step": 10,
            "label": "Steps",
        },
    }
    for kind, control, label in (
        ("noise", "n_noise", "Noise traders"),
        ("informed", "informed_count", "Informed traders"),
    ):
        groups = list(scenario.groups_of(kind).values())
        if len(groups) == 1:
            count = groups[0].count
            params[control] = {
                "type": "SliderInt",
                "value": count,
                "min": 0,
                "max": max(100, 2 * count),
                "step": 1,
                "label": label,
            }
    if scenario.groups_of("market_maker"):
        params["mm_policy"] = {
            "type": "Select",
            "value": "scenario",
            "values": list(POLICY_CHOICES),
            "label": "Market-maker policy",
        }
    return params


# ----- panels ---------------------------------------------------------------------------


def _series(model: DashboardModel) -> dict[str, np.ndarray]:
    """The snapshots as float arrays (NaN where a side of the book was empty)."""
    rows = list(model.history)

    def column(values: list[float | None]) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=float)

    bid = column([r.best_bid for r in rows])
    ask = column([r.best_ask for r in rows])
    return {
        "step": np.array([r.step for r in rows], dtype=float),
        "fundamental": column([r.fundamental for r in rows]),
        "bid": bid,
        "ask": ask,
        "last": column([r.last_price for r in rows]),
        "mid": (bid + ask) / 2,
        "spread_ticks": (ask - bid) / model.tick_size,
        "bid_depth": np.array([r.bid_depth for r in rows], dtype=float),
        "ask_depth": np.array([r.ask_depth for r in rows], dtype=float),
    }


def _show(figure: Figure, model: DashboardModel) -> None:
    # the figure is redrawn only when the step or the model (after Reset) changes
    solara.FigureMatplotlib(
        figure, format="png", dpi=100, dependencies=[model, model.step_index, update_counter.value]
    )


@solara.component
def PriceChart(model: DashboardModel) -> None:
    """Mid, best bid/ask band and fundamental value over the recent steps."""
    update_counter.get()
    data = _series(model)
    figure = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = figure.subplots()
    ax.fill_between(data["step"], data["bid"], data["ask"], color="#1f77b4", alpha=0.2)
    ax.plot(data["step"], data["mid"], color="#1f77b4", lw=1.2, label="mid (band: bid-ask)")
    ax.plot(data["step"], data["fundamental"], color="black", lw=1, ls="--", label="fundamental")
    # the last trade stays visible while one side of the book is empty (no mid)
    ax.plot(data["step"], data["last"], ".", color="#ff7f0e", ms=2.5, label="last trade")
    ax.set_xlabel("step")
    ax.set_ylabel("price")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.legend(loc="best", fontsize=8)
    last = model.history[-1]
    mid = model.mid_price()
    parts = [f"step {last.step}", "no mid" if mid is None else f"mid {mid:.2f}"]
    if last.last_price is not None:
        parts.append(f"last {last.last_price:.2f}")
    parts.append(f"fundamental {last.fundamental:.2f}")
    ax.set_title(", ".join(parts), fontsize=10)
    with solara.Card("Price and fundamental", classes=["abm-price-chart"]):
        _show(figure, model)


@solara.component
def SpreadDepthChart(model: DashboardModel) -> None:
    """Quoted spread (ticks) and resting depth per side (lots) over the recent steps."""
    update_counter.get()
    data = _series(model)
    figure = Figure(figsize=(6.4, 3.4), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(data["step"], data["spread_ticks"], color="#9467bd", lw=1)
    top.set_ylabel("spread (ticks)")
    bottom.plot(data["step"], data["bid_depth"], color="#2ca02c", lw=1, label="bid depth")
    bottom.plot(data["step"], data["ask_depth"], color="#d62728", lw=1, label="ask depth")
    bottom.set_ylabel("lots")
    bottom.set_xlabel("step")
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.legend(loc="upper left", fontsize=8)
    with solara.Card("Spread and depth", classes=["abm-spread-chart"]):
        _show(figure, model)


def _table(caption: str, header: Sequence[str], rows: Sequence[Row], align: str) -> str:
    """An HTML table (values escaped); rows are ``(cells, background colour or "")``.

    ``align`` has one letter per column, ``l`` or ``r``. HTML rather than solara.Markdown:
    Markdown loads KaTeX from a CDN whenever it is shown.
    """
    styles = [
        "padding:1px 10px;font-variant-numeric:tabular-nums;text-align:"
        + ("left" if a == "l" else "right")
        for a in align
    ]
    head = "".join(
        f'<th style="{st}">{escape(h)}</th>' for st, h in zip(styles, header, strict=True)
    )
    body = "".join(
        f'<tr style="background:{colour}">'
        + "".join(
            f'<td style="{st}">{escape(str(c))}</td>' for st, c in zip(styles, cells, strict=True)
        )
        + "</tr>"
        for cells, colour in rows
    )
    return (
        f'<p style="margin-bottom:6px">{escape(caption)}</p>'
        '<table style="border-collapse:collapse;margin:auto;font-size:13px;line-height:1.3">'
        f"<tr>{head}</tr>{body}</table>"
    )


def ladder_rows(model: MarketModel, levels: int = LADDER_LEVELS) -> list[tuple[str, str, str]]:
    """The top ``levels`` of each side as ``(bid lots, price, ask lots)``, asks above bids."""
    asks = [
        ("", f"{price:.2f}", str(qty)) for price, qty in reversed(model.book.depth("sell", levels))
    ]
    bids = [(str(qty), f"{price:.2f}", "") for price, qty in model.book.depth("buy", levels)]
    return (asks or [("", "no asks", "")]) + (bids or [("", "no bids", "")])


def ladder_html(model: MarketModel, levels: int = LADDER_LEVELS) -> str:
    """The ladder as an HTML table headed by the step and the quoted spread."""
    bid, ask = model.book.best_bid(), model.book.best_ask()
    spread = "-" if bid is None or ask is None else f"{(ask - bid) / model.tick_size:.0f} ticks"
    rows = [(r, ASK_ROW if r[2] else BID_ROW) for r in ladder_rows(model, levels)]
    return _table(
        f"Step {model.step_index}, spread {spread}", ("bid lots", "price", "ask lots"), rows, "rrr"
    )


@solara.component
def BookLadder(model: DashboardModel) -> None:
    """The order book's top levels, read from the live book."""
    update_counter.get()
    with solara.Card("Order book", classes=["abm-book-ladder"]):
        solara.HTML(unsafe_innerHTML=ladder_html(model))


@solara.component
def MarketMakerChart(model: DashboardModel) -> None:
    """Each market maker's inventory (lots) and P&L (price units), coloured by group.

    P&L is equity marked at the scenario's mark (and the hedge venue's price) minus the
    opening equity; defaulted market makers' bars are hatched in red.
    """
    update_counter.get()
    mark, hedge_mark = model.mark_price(), model.hedge_venue.price
    makers = model.market_makers
    groups = list(dict.fromkeys(mm.group for mm in makers))
    colours = [f"C{groups.index(mm.group) % 10}" for mm in makers]
    x = np.arange(len(makers))
    inventory = [mm.inventory for mm in makers]
    pnl = [mm.equity(mark=mark, hedge_mark=hedge_mark) - mm.initial_equity for mm in makers]
    defaulted = sum(mm.status is Status.DEFAULTED for mm in makers)
    figure = Figure(figsize=(6.4, 3.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    for ax, values, label in (
        (left, inventory, "inventory (lots)"),
        (right, pnl, "P&L (price units)"),
    ):
        bars = ax.bar(x, values, color=colours)
        for bar, mm in zip(bars, makers, strict=True):
            if mm.status is Status.DEFAULTED:
                bar.set_hatch("//")
                bar.set_edgecolor(STATE_COLOURS[Status.DEFAULTED.value])
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("market maker")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles = [Patch(color=f"C{i % 10}", label=group) for i, group in enumerate(groups)]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(groups), fontsize=8)
    figure.suptitle(f"{len(makers)} market makers, {defaulted} defaulted", fontsize=10)
    with solara.Card("Market makers", classes=["abm-market-makers"]):
        _show(figure, model)


def node_states(model: MarketModel) -> list[str]:
    """Each market maker's colour key: ``DEFAULTED``, else its regime."""
    return [
        Status.DEFAULTED.value if mm.status is Status.DEFAULTED else mm.regime.value
        for mm in model.market_makers
    ]


@solara.component
def NetworkChart(model: DashboardModel) -> None:
    """The contagion network (edge i -> j: i lent to j), nodes coloured by status."""
    update_counter.get()
    graph = model.network
    states = node_states(model)
    pos = nx.circular_layout(graph)
    figure = Figure(figsize=(5.0, 3.4), layout="constrained")
    ax = figure.subplots()
    ax.set_axis_off()
    exposures = [data.get("exposure", 0.0) for _, _, data in graph.edges(data=True)]
    if exposures:
        top = max(max(exposures), 1e-12)
        nx.draw_networkx_edges(
            graph,
            pos,
            ax=ax,
            edge_color="#888888",
            arrowsize=8,
            width=[0.4 + 2.0 * e / top for e in exposures],
        )
    nx.draw_networkx_nodes(
        graph,
        pos,
        ax=ax,
        node_size=220 if len(states) <= 30 else 60,
        node_color=[STATE_COLOURS[state] for state in states],
    )
    if len(states) <= 30:
        nx.draw_networkx_labels(graph, pos, ax=ax, font_size=7)
    for state, colour in STATE_COLOURS.items():
        ax.scatter([], [], color=colour, label=f"{state.lower()} ({states.count(state)})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    if model.scenario.network is None:
        ax.set_title("no network in this scenario: market makers only", fontsize=10)
    else:
        ax.set_title(f"{graph.number_of_edges()} credit lines (i -> j: i lent to j)", fontsize=10)
    with solara.Card("Contagion network", classes=["abm-network"]):
        _show(figure, model)


def run_html(model: MarketModel) -> str:
    """The scenario behind the run: clock, seed and every agent group, as HTML."""
    scenario = model.scenario
    caption = (
        f"{scenario.name}: step {model.step_index} of {scenario.steps} "
        f"(dt {scenario.dt:g}, tick {scenario.tick_size:g}), seed {model.seed}"
    )
    rows = [
        ((name, group.kind, group.count, getattr(getattr(group, "policy", None), "kind", "")), "")
        for name, group in scenario.agents.items()
    ]
    return _table(caption, ("group", "kind", "count", "policy"), rows, "llrl")


@solara.component
def RunInfo(model: DashboardModel) -> None:
    """What is running: the scenario with the controls applied (sliders show no values)."""
    update_counter.get()
    with solara.Card("Run", classes=["abm-run"]):
        solara.HTML(unsafe_innerHTML=run_html(model))


COMPONENTS = (
    PriceChart,
    SpreadDepthChart,
    BookLadder,
    MarketMakerChart,
    NetworkChart,
    RunInfo,
)


# ----- the page -------------------------------------------------------------------------


def dashboard_view(
    model: solara.Reactive[DashboardModel], params: dict[str, Any]
) -> solara.Element:
    """The SolaraViz element for ``model`` with the controls ``params`` (`model_params`).

    Reset puts the rebuilt model into ``model``; the caller reads it from there.
    """
    return SolaraViz(
        model,
        components=[(component, 0) for component in COMPONENTS],
        model_params=params,
        name=f"abm: {model.value.scenario.name}",
    )


def _release(model: MarketModel) -> None:
    # Mesa 3.3's class-level Agent._ids keeps every model alive (PITFALLS.md); a dashboard
    # that is reset many times would hold all of them until the server stops
    model.release()


def release_replaced_models(model: solara.Reactive[DashboardModel]) -> Callable[[], None]:
    """Free each model that Reset replaces, and the last one on unmount (a `use_effect`)."""

    def on_change(new: DashboardModel, old: DashboardModel) -> None:
        if old is not new:
            _release(old)

    unsubscribe = model.subscribe_change(on_change)

    def cleanup() -> None:
        unsubscribe()
        _release(model.value)

    return cleanup


@solara.component
def Page(scenario_path: str | None = None) -> None:
    """The dashboard of ``scenario_path`` (default: ``$ABM_DASHBOARD_SCENARIO``, else baseline)."""
    path = str(resolve_scenario_path(scenario_path or os.environ.get(SCENARIO_ENV)))
    params = solara.use_memo(lambda: model_params(path), [path])
    initial = solara.use_memo(lambda: DashboardModel(scenario_path=path), [path])
    model = solara.use_reactive(initial)
    solara.use_effect(lambda: release_replaced_models(model), [model])
    dashboard_view(model, params)


def dashboard(scenario_path: str | os.PathLike[str] | None = None) -> solara.Element:
    """The dashboard as an element to display in Jupyter (baseline when no path is given)."""
    return Page(scenario_path=None if scenario_path is None else os.fspath(scenario_path))


page = Page()
