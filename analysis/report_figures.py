"""The figure sections of the run report: the headline figures and "More figures".

`analysis.report_sections` places them: the headline figures right after the scenario's
question and expected outcome, the others after the tables. Each entry is drawn by
`analysis.plots`, `analysis.stat_plots` or `analysis.flash_crash`; an entry the run has no
data for (no market makers, no depth snapshots, market makers recorded too sparsely) becomes
one sentence saying why, and empty panels of a multi-panel figure are removed and named.

One time unit: every time axis is model time in seconds (``step * dt``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from abm.results.run_result import RunResult
from analysis.figures import DisplayFigure
from analysis.flash_crash import FLASH_CRASH_FIGURE, flash_crash_figure, is_flash_crash_run
from analysis.plots import (
    DEPTH_WITHIN_TICKS,
    depth_heatmap_figure,
    inventory_figure,
    pnl_figure,
    price_figure,
    rolling_window,
    spread_depth_figure,
)
from analysis.report_document import (
    Block,
    FigureBlock,
    Paragraph,
    Section,
    attempt,
    png_bytes,
    scenario_fields,
)
from analysis.report_market_makers import market_maker_group_names
from analysis.stat_plots import (
    acf_figure,
    pnl_decomposition_figure,
    pnl_distribution_figure,
    return_distribution_figure,
)
from analysis.tables import MARKET_MAKER_KIND

HEADLINE_FIGURES: tuple[tuple[str, str], ...] = (
    ("price.png", "Price: quotes, trades, fundamental and events"),
    ("spread_depth.png", "Spread and depth near the mid"),
    ("inventory.png", "Market-maker inventory"),
    ("pnl.png", "Market-maker pnl"),
)
"""The headline figures that open every report, in order (the flash crash adds its own)."""
MORE_FIGURES: tuple[tuple[str, str], ...] = (
    ("depth_heatmap.png", "Order-book depth"),
    ("pnl_distribution.png", "Market-maker pnl changes, VaR and ES"),
    ("pnl_decomposition.png", "Market-maker pnl decomposition"),
    ("return_distribution.png", "Return distribution"),
    ("return_acf.png", "Return autocorrelation"),
)
"""The figures of the closing "More figures" section."""
FIGURE_FILES = tuple(name for name, _ in (*HEADLINE_FIGURES, *MORE_FIGURES))
"""Every PNG the figure sections can hold, in report order; a figure the run has no data for
is left out (the report says why in one line), so a report may hold fewer."""
MIN_AGENT_STEPS = 3
"""Fewest recorded steps per market maker for a line over time to say anything."""

Drawn = tuple[str, str, Callable[[], Figure] | str]
"""(file name, title, a function drawing the figure or the one-line reason it is left out)."""


def figure_section(title: str, figures: list[Drawn]) -> Section:
    """A section of the figures that could be drawn, and one line for each that could not."""
    blocks: list[Block] = []
    for name, caption, draw in figures:
        if isinstance(draw, str):
            blocks.append(Paragraph(f"{caption}: not drawn, {draw}."))
            continue
        figure, error = attempt(draw)
        if figure is None:
            blocks.append(Paragraph(f"{caption}: not drawn, {error}."))
            continue
        empty = list(getattr(figure, "empty_panels", []))
        why = "; ".join(f"{panel}: {message}" for panel, message in empty)
        if isinstance(figure, DisplayFigure) and not figure.drop_empty_panels():
            blocks.append(Paragraph(f"{caption}: not drawn, nothing to show ({why})."))
            continue
        # Rendering lays out the axes, which fails on values too extreme to tick.
        png, error = attempt(partial(png_bytes, figure))
        if png is None:
            blocks.append(Paragraph(f"{caption}: not drawn, {error}."))
            continue
        blocks.append(FigureBlock(caption, name, png))
        if empty:
            blocks.append(Paragraph(f"Panels left out of the figure above: {why}."))
    return Section(title, tuple(blocks))


def headline_figures(result: RunResult, scenario: Mapping[str, Any]) -> list[Drawn]:
    """Price, spread and depth near the mid, inventory, pnl (and the flash-crash figure)."""
    dt = result.scenario.dt
    tick = result.scenario.tick_size
    shocks = scenario.get("shocks") if isinstance(scenario.get("shocks"), list) else None
    market, depth = result.market, result.depth
    window = rolling_window(len(market))
    mean = f"{window}-step ({window * dt:g} s) rolling mean"
    depth_caption = f"Spread ({mean}) and depth within "
    depth_caption += f"{DEPTH_WITHIN_TICKS} ticks of the mid"
    spread_caption = depth_caption if len(depth) else f"Spread ({mean})"
    drawn: list[Drawn] = [
        (
            "price.png",
            "Price: best bid and ask, mid, trade range and VWAP, fundamental; events marked",
            lambda: price_figure(market, result.trades, result.events, shocks=shocks),
        ),
        (
            "spread_depth.png",
            spread_caption,
            lambda: spread_depth_figure(
                market, depth, tick_size=tick, within_ticks=DEPTH_WITHIN_TICKS
            ),
        ),
    ]
    if not len(depth):
        drawn.append(
            (
                "",
                "Depth near the mid",
                "the run recorded no order-book snapshots (record.depth_levels: 0)",
            )
        )
    groups = market_maker_group_names(result)
    makers = result.agents.loc[result.agents["group"].astype(str).isin(groups).to_numpy(bool)]
    recorded = int(makers.groupby("agent_id")["step"].nunique().min()) if len(makers) else 0
    limits = _inventory_limits(scenario)
    mark = _mark_name(result)
    if not groups:
        reason: str | None = "the run has no market makers"
    elif recorded < MIN_AGENT_STEPS:
        reason = (
            f"the agents table records these market makers at only {recorded} steps "
            "(record.other_agents_stride)"
        )
    else:
        reason = None
    drawn.append(
        (
            "inventory.png",
            "Market-maker inventory, by group, with the inventory limits",
            reason
            or (lambda: inventory_figure(result.agents, groups=groups, limits=limits, dt=dt)),
        )
    )
    drawn.append(
        (
            "pnl.png",
            f"Market-maker pnl, by group (marked to {mark})",
            reason or (lambda: pnl_figure(result.agents, groups=groups, dt=dt, mark=mark)),
        )
    )
    if is_flash_crash_run(result):
        drawn.append(
            (
                FLASH_CRASH_FIGURE,
                "Flash crash: price, bid depth and inventories through the event (program shaded)",
                lambda: flash_crash_figure(result),
            )
        )
    return drawn


def more_figures(
    result: RunResult,
    tick: float | None,
    decomposition: pd.DataFrame | None,
    decomposition_error: str,
) -> list[Drawn]:
    """The depth heatmap, pnl distribution and decomposition, return distribution and ACF."""
    has_makers = bool((result.agents["kind"] == MARKET_MAKER_KIND).any())
    no_makers = "the run has no market makers of kind market_maker"
    depth_reason = "the run recorded no order-book snapshots (record.depth_levels: 0)"
    return [
        (
            "depth_heatmap.png",
            "Order-book depth (resting lots per price level)",
            (lambda: depth_heatmap_figure(result.depth, result.market, tick_size=tick))
            if len(result.depth)
            else depth_reason,
        ),
        (
            "pnl_distribution.png",
            "Market-maker pnl changes per step, VaR and ES",
            (lambda: pnl_distribution_figure(result.agents)) if has_makers else no_makers,
        ),
        (
            "pnl_decomposition.png",
            "Market-maker pnl decomposition (mean per maker)",
            (lambda: pnl_decomposition_figure(decomposition))
            if decomposition is not None and not decomposition.empty
            else (
                f"the decomposition failed: {decomposition_error}"
                if decomposition is None
                else no_makers
            ),
        ),
        (
            "return_distribution.png",
            "Distribution of mid log returns",
            lambda: return_distribution_figure(result.market),
        ),
        ("return_acf.png", "Autocorrelation of mid log returns", lambda: acf_figure(result.market)),
    ]


def _inventory_limits(scenario: Mapping[str, Any]) -> dict[str, float]:
    """Each group's inventory limit (lots): ``max_inventory``, or a paddrik ``position_limit``."""
    agents = scenario.get("agents")
    limits = {}
    for name, spec in agents.items() if isinstance(agents, Mapping) else ():
        if not isinstance(spec, Mapping):
            continue
        limit = spec.get("max_inventory", spec.get("position_limit"))
        if isinstance(limit, int | float) and not isinstance(limit, bool) and limit > 0:
            limits[str(name)] = float(limit)
    return limits


def _mark_name(result: RunResult) -> str:
    """The scenario's ``mark`` in a few words (``mid``, ``ema``, ...), for figure titles."""
    mark = scenario_fields(result)["mark"]
    if isinstance(mark, Mapping):
        return str(mark.get("kind", "mark"))
    return str(mark)
