"""Live dashboard of one scenario: a Mesa visualization app (needs the ``viz`` extra).

Panels: price and fundamental, spread and depth, the book ladder, the market makers'
inventories and P&L, and the contagion network coloured by status. The sidebar holds
Mesa's Reset / Play / Step controls (`mesa.visualization.solara_viz.ModelController`),
the drawing speed and the scenario's parameters: seed, steps, noise and informed trader
counts, and the market makers' quoting policy.

- Parameters take effect on Reset, which rebuilds the model from them. Until then every
  changed control is marked ``*`` and a note lists what Reset will change (from -> to).
  Each slider's label shows its value.
- Play and Step advance ``steps per draw`` steps (default `DEFAULT_STEPS_PER_DRAW`), then
  redraw once: a redraw of the five figures costs far more than a model step, so drawing
  every step made Play crawl (the fire-sale crash at step 59 took two minutes to reach).
  Set it to 1 to go one step at a time. ``pause per draw`` (default `DEFAULT_PAUSE_MS`)
  lets the page draw each frame: Play steps the model in a thread, and with no pause that
  thread takes the render lock again at once, so the page shows only the run's last frame.
- The browser tab is titled ``abm dashboard: <scenario name>``.

The page is assembled from Mesa's SolaraViz parts rather than `mesa.visualization.SolaraViz`
itself, whose parameter inputs show no values and keep the values chosen for the next Reset
where the page cannot see them (so nothing could mark them).

How to open it:

- browser: ``abm dashboard scenarios/crisis/fire_sale_spiral.yaml`` (or
  ``solara run abm.dashboard.app``: the scenario then comes from ``$ABM_DASHBOARD_SCENARIO``,
  the baseline by default);
- Jupyter: ``from abm.dashboard.app import page; page`` (baseline), or
  ``from abm.dashboard.app import dashboard; dashboard("scenarios/crisis/fire_sale_spiral.yaml")``
  as the last expression of a cell.

Only this module imports solara and ``mesa.visualization``; the rest of ``abm`` runs
without them.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

import networkx as nx
import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from abm.dashboard.model import (
    DEFAULT_SCENARIO,
    POLICY_CHOICES,
    SCENARIO_ENV,
    DashboardError,
    DashboardModel,
    MarketSnapshot,
    pending_controls,
    resolve_scenario_path,
)
from abm.model import MarketModel
from abm.scenario.schema import load_scenario
from abm.states import Regime, Status

with warnings.catch_warnings():
    # solara checks the rules of hooks when Mesa's module defines its components and warns
    # that ComponentsView calls use_state after an early return (taken only without
    # components). This page does not use ComponentsView; nothing else is silenced.
    warnings.filterwarnings(
        "ignore", message=r".*ComponentsView: `use_state` found despite early return"
    )
    from mesa.visualization.solara_viz import ModelController, ShowSteps
    from mesa.visualization.utils import update_counter

__all__ = [
    "DEFAULT_PAUSE_MS",
    "DEFAULT_SCENARIO",
    "DEFAULT_STEPS_PER_DRAW",
    "SCENARIO_ENV",
    "DashboardError",
    "DashboardModel",
    "DashboardView",
    "MarketSnapshot",
    "Page",
    "dashboard",
    "dashboard_view",
    "model_params",
    "page",
    "page_title",
]

DEFAULT_STEPS_PER_DRAW = 10  # Play and Step: steps run between two redraws
DEFAULT_PAUSE_MS = 50  # Play: pause per draw, in which the page draws the frame
FIGURE_DPI = 80
LADDER_LEVELS = 5  # per side: ten rows fit the panel
ASK_ROW, BID_ROW = "#fdecea", "#e8f5e9"  # ladder rows: light red asks, light green bids
PENDING_MARK = " *"
Row = tuple[Sequence[object], str]
STATE_COLOURS = {
    Regime.NORMAL.value: "#2ca02c",
    Regime.STRESSED.value: "#e6a700",
    Regime.CRISIS.value: "#ff7f0e",
    Status.DEFAULTED.value: "#d62728",
}


# ----- controls -------------------------------------------------------------------------


def model_params(scenario_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The page's parameter inputs for a scenario, starting at the scenario's own values.

    Mesa's format: a plain value is fixed (passed to every rebuilt model as it is), a
    dict with a ``type`` (``SliderInt``, ``InputText``, ``Select``) is an input.
    """
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


def page_title(scenario_name: str) -> str:
    """The browser tab's title."""
    return f"abm dashboard: {scenario_name}"


def pending_note(changes: Mapping[str, tuple[object, object]], params: dict[str, Any]) -> str:
    """One line saying what Reset will change, e.g. ``Steps 200 -> 300``."""
    parts = [
        f"{params[name].get('label', name)} {now} -> {chosen}"
        for name, (now, chosen) in changes.items()
    ]
    return f"{PENDING_MARK.strip()} applies on Reset: " + "; ".join(parts)


@solara.component
def ParameterInputs(
    model: DashboardModel, params: dict[str, Any], chosen: solara.Reactive[dict[str, Any]]
) -> None:
    """The scenario's inputs; changed ones are marked until Reset applies them."""
    inputs = {name: spec for name, spec in params.items() if isinstance(spec, dict)}
    changes = pending_controls(model, chosen.value)

    def setter(name: str) -> Callable[[Any], None]:
        def set_value(value: Any) -> None:
            chosen.value = {**chosen.value, name: value}

        return set_value

    for name, spec in inputs.items():
        value = chosen.value[name]
        mark = PENDING_MARK if name in changes else ""
        label = spec.get("label", name)
        if spec["type"] == "SliderInt":
            solara.SliderInt(
                f"{label}: {value}{mark}",
                value=int(value),
                on_value=setter(name),
                min=spec["min"],
                max=spec["max"],
                step=spec["step"],
            )
        elif spec["type"] == "InputText":
            solara.InputText(
                f"{label}{mark}", value=str(value), on_value=setter(name), continuous_update=False
            )
        else:
            solara.Select(
                f"{label}{mark}", value=value, values=spec["values"], on_value=setter(name)
            )
    if changes:
        solara.Warning(pending_note(changes, params), dense=True, classes=["abm-pending"])


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
        "pool": column([r.pool_price for r in rows]),
    }


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()


def _show(build: Callable[[], Figure], dependencies: list[Any]) -> None:
    """Draw ``build()`` as a PNG, again only when one of ``dependencies`` changes."""
    solara.Image(solara.use_memo(lambda: _png(build()), dependencies), format="png")


def _figure(width: float = 6.4, height: float = 3.4) -> Figure:
    # fixed margins (set per figure) instead of constrained layout, which doubles the
    # cost of every redraw
    return Figure(figsize=(width, height))


def _step_axis(ax: Any, data: dict[str, np.ndarray]) -> None:
    """Steps on the x axis, integer ticks, at least one step wide (a lone point at step 0)."""
    first, last = data["step"][0], data["step"][-1]
    ax.set_xlim(first, max(last, first + 1))
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def price_figure(model: DashboardModel) -> Figure:
    """Mid with the best bid/ask band, the fundamental and the last trade, over the history."""
    data = _series(model)
    figure = _figure()
    figure.subplots_adjust(left=0.14, right=0.98, bottom=0.14, top=0.9)
    ax = figure.subplots()
    ax.fill_between(data["step"], data["bid"], data["ask"], color="#1f77b4", alpha=0.2)
    ax.plot(data["step"], data["mid"], color="#1f77b4", lw=1.2, label="mid (band: bid-ask)")
    ax.plot(data["step"], data["fundamental"], color="black", lw=1, ls="--", label="fundamental")
    # the last trade stays visible while one side of the book is empty (no mid)
    ax.plot(data["step"], data["last"], ".", color="#ff7f0e", ms=2.5, label="last trade")
    if np.isfinite(data["pool"]).any():  # an AMM pool beside the book
        ax.plot(data["step"], data["pool"], color="#2ca02c", lw=1.2, label="AMM pool price")
    _step_axis(ax, data)
    ax.set_ylabel("price")
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.legend(loc="best", fontsize=8)
    last = model.history[-1]
    mid = model.mid_price()
    parts = [f"step {last.step}", "no mid" if mid is None else f"mid {mid:.2f}"]
    if last.last_price is not None:
        parts.append(f"last {last.last_price:.2f}")
    parts.append(f"fundamental {last.fundamental:.2f}")
    ax.set_title(", ".join(parts), fontsize=10)
    return figure


@solara.component
def PriceChart(model: DashboardModel) -> None:
    """Mid, best bid/ask band and fundamental value over the recent steps."""
    update_counter.get()
    with solara.Card("Price and fundamental", classes=["abm-price-chart"]):
        _show(lambda: price_figure(model), [model, model.step_index])


def spread_depth_figure(model: DashboardModel) -> Figure:
    """Quoted spread (ticks) above resting depth per side (lots), over the history."""
    data = _series(model)
    figure = _figure()
    figure.subplots_adjust(left=0.13, right=0.98, bottom=0.14, top=0.96, hspace=0.12)
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(data["step"], data["spread_ticks"], color="#9467bd", lw=1)
    top.set_ylabel("spread (ticks)")
    bottom.plot(data["step"], data["bid_depth"], color="#2ca02c", lw=1, label="bid depth")
    bottom.plot(data["step"], data["ask_depth"], color="#d62728", lw=1, label="ask depth")
    bottom.set_ylabel("lots")
    _step_axis(bottom, data)
    bottom.legend(loc="upper left", fontsize=8)
    return figure


@solara.component
def SpreadDepthChart(model: DashboardModel) -> None:
    """Quoted spread (ticks) and resting depth per side (lots) over the recent steps."""
    update_counter.get()
    with solara.Card("Spread and depth", classes=["abm-spread-chart"]):
        _show(lambda: spread_depth_figure(model), [model, model.step_index])


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


def market_maker_figure(model: DashboardModel) -> Figure:
    """Each market maker's inventory (lots) and P&L (price units), coloured by group.

    P&L is equity marked at the scenario's mark (and the hedge venue's price) minus the
    opening equity; defaulted market makers' bars are hatched in red.
    """
    mark, hedge_mark = model.mark_price(), model.hedge_venue.price
    makers = model.market_makers
    groups = list(dict.fromkeys(mm.group for mm in makers))
    colours = [f"C{groups.index(mm.group) % 10}" for mm in makers]
    x = np.arange(len(makers))
    inventory = [mm.inventory for mm in makers]
    pnl = [mm.equity(mark=mark, hedge_mark=hedge_mark) - mm.initial_equity for mm in makers]
    defaulted = sum(mm.status is Status.DEFAULTED for mm in makers)
    figure = _figure()
    figure.subplots_adjust(left=0.1, right=0.98, bottom=0.24, top=0.84, wspace=0.35)
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
    figure.legend(handles=handles, loc="lower center", ncols=len(groups), fontsize=8)
    figure.suptitle(f"{len(makers)} market makers, {defaulted} defaulted", fontsize=10)
    return figure


@solara.component
def MarketMakerChart(model: DashboardModel) -> None:
    """Each market maker's inventory and P&L (see `market_maker_figure`)."""
    update_counter.get()
    with solara.Card("Market makers", classes=["abm-market-makers"]):
        _show(lambda: market_maker_figure(model), [model, model.step_index])


def node_states(model: MarketModel) -> list[str]:
    """Each market maker's colour key: ``DEFAULTED``, else its regime."""
    return [
        Status.DEFAULTED.value if mm.status is Status.DEFAULTED else mm.regime.value
        for mm in model.market_makers
    ]


def _exposures(graph: nx.DiGraph) -> list[float]:
    return [data.get("exposure", 0.0) for _, _, data in graph.edges(data=True)]


def network_figure(model: DashboardModel) -> Figure:
    """The contagion network (edge i -> j: i lent to j), nodes coloured by status."""
    graph = model.network
    states = node_states(model)
    pos = nx.circular_layout(graph)
    figure = _figure(5.0, 3.4)
    figure.subplots_adjust(left=0.01, right=0.72, bottom=0.02, top=0.9)
    ax = figure.subplots()
    ax.set_axis_off()
    exposures = _exposures(graph)
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
    return figure


@solara.component
def NetworkChart(model: DashboardModel) -> None:
    """The contagion network (see `network_figure`), redrawn only when it changes."""
    update_counter.get()
    # states and exposures change rarely (defaults, regime switches): skip identical redraws
    key = (tuple(node_states(model)), tuple(_exposures(model.network)))
    with solara.Card("Contagion network", classes=["abm-network"]):
        _show(lambda: network_figure(model), [model, key])


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
    """What is running: the scenario with the controls applied at the last Reset."""
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


@solara.component
def DashboardView(model: solara.Reactive[DashboardModel], params: dict[str, Any]) -> None:
    """The page for ``model`` with the parameter inputs ``params`` (`model_params`).

    Reset puts the model rebuilt from the chosen parameters into ``model``.
    """
    chosen = solara.use_reactive(
        {name: spec["value"] if isinstance(spec, dict) else spec for name, spec in params.items()}
    )
    steps_per_draw = solara.use_reactive(DEFAULT_STEPS_PER_DRAW)
    pause_ms = solara.use_reactive(DEFAULT_PAUSE_MS)
    use_threads = solara.use_reactive(False)
    name = model.value.scenario.name
    solara.Title(page_title(name))
    with solara.AppBar():
        solara.AppBarTitle(f"abm: {name}")
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls", classes=["abm-controls"]):
            solara.SliderInt(
                f"Steps per draw: {steps_per_draw.value}", value=steps_per_draw, min=1, max=100
            )
            solara.SliderInt(
                f"Pause per draw: {pause_ms.value} ms", value=pause_ms, min=0, max=1000, step=10
            )
            ModelController(
                model,
                model_parameters=chosen,
                play_interval=pause_ms,
                render_interval=steps_per_draw,
                use_threads=use_threads,
            )
            solara.Text(f"Step and Play advance {steps_per_draw.value} steps per draw.")
        with solara.Card("Scenario parameters", classes=["abm-parameters"]):
            ParameterInputs(model.value, params, chosen)
        with solara.Card("Information"):
            ShowSteps(model.value)
    with solara.GridFixed(columns=2):
        for component in COMPONENTS:
            component(model.value)


def dashboard_view(
    model: solara.Reactive[DashboardModel], params: dict[str, Any]
) -> solara.Element:
    """The dashboard element for ``model`` with the inputs ``params`` (`model_params`).

    Reset puts the rebuilt model into ``model``; the caller reads it from there.
    """
    return DashboardView(model, params)


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
