"""The content of the run report: one `Section` per topic, built from a `RunResult`.

`build_document` assembles the `analysis.report_document.Document` that `analysis.report`
renders to Markdown and HTML. Sources of the numbers:

- run facts, the headline market-quality rows, activity counts and conservation checks:
  ``summary.json`` (the model's own metrics);
- detailed market quality: `analysis.market_quality.market_quality_summary`;
- market makers, contagion (only for runs with defaults or a network) and the flash crash
  (only for runs with an execution program): see `analysis.report_market_makers`;
- stylized facts: `analysis.stylized_facts.scorecard` on the mid (Cont 2001);
- figures: `analysis.plots` and `analysis.stat_plots`.

A measure the run cannot support (an analysis raising `ValueError`) becomes a sentence saying
why, so one unusual run never stops the whole report. This module never imports the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from abm.record import RunResult
from analysis.figures import DisplayFigure
from analysis.flash_crash import FLASH_CRASH_FIGURE, flash_crash_figure, is_flash_crash_run
from analysis.market_making import pnl_decomposition
from analysis.market_quality import market_quality_summary
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
    MISSING,
    Block,
    Collapsible,
    Document,
    FigureBlock,
    Paragraph,
    Section,
    Table,
    attempt,
    format_value,
    png_bytes,
    scenario_mapping,
    scenario_question_and_outcome,
    tick_size_of,
    ticks,
    yes_no,
)
from analysis.report_market_makers import (
    contagion_section,
    flash_crash_section,
    has_contagion,
    market_maker_group_names,
    market_maker_section,
)
from analysis.stat_plots import (
    acf_figure,
    pnl_decomposition_figure,
    pnl_distribution_figure,
    return_distribution_figure,
)
from analysis.stylized_facts import scorecard
from analysis.tables import MARKET_MAKER_KIND

STYLIZED_FACTS_MIN_RETURNS = 1000
"""Below this many mid returns the scorecard is flagged as indicative: its longest sampling
interval (50 steps) then leaves fewer than 20 returns for the aggregational-Gaussianity test."""

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

_QUALITY_ROWS = (
    ("quoted_spread", "Quoted spread (price units)"),
    ("quoted_spread_ticks", "Quoted spread (ticks)"),
    ("quoted_spread_bps", "Quoted spread (bps of mid)"),
    ("effective_spread", "Effective spread (price units)"),
    ("effective_spread_ticks", "Effective spread (ticks)"),
    ("effective_spread_bps", "Effective spread (bps)"),
    ("realized_spread", "Realized spread (price units)"),
    ("realized_spread_bps", "Realized spread (bps)"),
    ("price_impact", "Price impact (price units)"),
    ("price_impact_bps", "Price impact (bps)"),
    ("bid_depth_mean", "Bid depth, mean (lots)"),
    ("ask_depth_mean", "Ask depth, mean (lots)"),
    ("depth_bid_touch_mean", "Bid depth at the touch, mean (lots)"),
    ("depth_ask_touch_mean", "Ask depth at the touch, mean (lots)"),
    ("depth_bid_within_mean", "Bid depth within 5 ticks, mean (lots)"),
    ("depth_ask_within_mean", "Ask depth within 5 ticks, mean (lots)"),
    ("kyle_lambda", "Kyle's lambda (price units per lot)"),
    ("kyle_lambda_se", "Kyle's lambda, standard error (price units per lot)"),
    ("kyle_lambda_r2", "Kyle's lambda, R^2 (dimensionless)"),
    ("kyle_lambda_n", "Kyle's lambda, intervals (count)"),
    ("ofi", "Order-flow imbalance slope (price units per lot)"),
    ("ofi_se", "Order-flow imbalance slope, standard error (price units per lot)"),
    ("ofi_r2", "Order-flow imbalance slope, R^2 (dimensionless)"),
    ("ofi_n", "Order-flow imbalance slope, intervals (count)"),
    ("amihud_illiquidity", "Amihud illiquidity (per price unit traded)"),
    ("resiliency_shocks", "Spread shocks (count)"),
    ("resiliency_mean_recovery_steps", "Spread recovery, mean (steps)"),
    ("resiliency_half_life_steps", "Spread recovery, half-life (steps)"),
    ("variance_ratio", "Variance ratio of the mid (dimensionless)"),
    ("variance_ratio_z", "Variance ratio, z statistic (dimensionless)"),
)
# Parameters of the measures, and numbers the headline table already shows.
_QUALITY_SKIPPED = frozenset(
    {"horizon_steps", "tick_size", "two_sided_fraction", "mispricing_mean", "mispricing_mean_ticks"}
)


def build_document(result: RunResult, *, figures: bool = True) -> Document:
    """The run report of ``result``.

    Order: the scenario's question and expected outcome (from its header comments), its
    description and the mark; the headline figures; then the tables (run, scenario, market
    quality, activity, market makers, stylized facts, flash crash and contagion where they
    apply, accounting); then the remaining figures. A figure the run has no data for is left
    out and one line says why.

    Args:
        result: The run.
        figures: Whether to render the figures (PNG at `FIGURE_DPI`); without them the
            document is text and tables only, which is much faster.
    """
    scenario = scenario_mapping(result.scenario_yaml)
    tick = tick_size_of(scenario)
    decomposition, decomposition_error = attempt(lambda: pnl_decomposition(result))
    intro: list[Block] = []
    question, outcome = scenario_question_and_outcome(result.scenario_yaml)
    intro += [note for note in (question, outcome) if note is not None]
    if question is None and outcome is None:
        intro.append(
            Paragraph(
                "The scenario's header states no question or expected outcome (comment "
                "paragraphs starting '# Question:' and '# Expected outcome')."
            )
        )
    if scenario.get("description"):
        intro.append(Paragraph(str(scenario["description"]).strip()))
    intro.append(Paragraph(f"P&L and equity are marked to: {mark_description(result)}."))
    sections = []
    if figures:
        sections.append(_figure_section("Headline figures", _headline(result, scenario)))
    sections += [
        Section("Run", (_run_table(result),)),
        _scenario_section(result, scenario),
        _market_quality_section(result, tick),
        _activity_section(result.summary),
        market_maker_section(result, decomposition, decomposition_error),
        _stylized_facts_section(result.market),
    ]
    if is_flash_crash_run(result):
        sections.append(flash_crash_section(result, figures=False))
    if has_contagion(result):
        sections.append(contagion_section(result, figures=figures))
    sections.append(_accounting_section(result.summary))
    if figures:
        more = _more(result, tick, decomposition, decomposition_error)
        sections.append(_figure_section("More figures", more))
    title = f"Run report: {scenario.get('name') or 'unnamed run'}"
    return Document(title, tuple(intro), tuple(sections))


Drawn = tuple[str, str, Callable[[], Figure] | str]
"""(file name, title, a function drawing the figure or the one-line reason it is left out)."""


def _figure_section(title: str, figures: list[Drawn]) -> Section:
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
        blocks.append(FigureBlock(caption, name, png_bytes(figure)))
        if empty:
            blocks.append(Paragraph(f"Panels left out of the figure above: {why}."))
    return Section(title, tuple(blocks))


def _headline(result: RunResult, scenario: Mapping[str, Any]) -> list[Drawn]:
    dt = _dt(scenario)
    tick = tick_size_of(scenario)
    shocks = scenario.get("shocks") if isinstance(scenario.get("shocks"), list) else None
    market, depth = result.market, result.depth
    window = rolling_window(len(market))
    depth_caption = f"Spread ({window}-step rolling mean) and depth within "
    depth_caption += f"{DEPTH_WITHIN_TICKS} ticks of the mid"
    spread_caption = depth_caption if len(depth) else f"Spread ({window}-step rolling mean)"
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


def _more(
    result: RunResult,
    tick: float | None,
    decomposition: pd.DataFrame | None,
    decomposition_error: str,
) -> list[Drawn]:
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
            if decomposition is not None
            else f"the decomposition failed: {decomposition_error}",
        ),
        (
            "return_distribution.png",
            "Distribution of mid log returns",
            lambda: return_distribution_figure(result.market),
        ),
        ("return_acf.png", "Autocorrelation of mid log returns", lambda: acf_figure(result.market)),
    ]


def _dt(scenario: Mapping[str, Any]) -> float:
    dt = scenario.get("dt", 1.0)
    return float(dt) if isinstance(dt, int | float) and not isinstance(dt, bool) and dt > 0 else 1.0


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
    mark = scenario_mapping(result.scenario_yaml).get("mark", "mid")
    if isinstance(mark, Mapping):
        return str(mark.get("kind", "mark"))
    return str(mark)


def mark_description(result: RunResult) -> str:
    """How the run marks positions: the summary's ``mark`` text, else the scenario's ``mark``."""
    described = result.summary.get("mark")
    if isinstance(described, str) and described.strip():
        return described.strip()
    mark = scenario_mapping(result.scenario_yaml).get("mark", "mid")
    return _inline(mark) if isinstance(mark, Mapping) else str(mark)


def _run_table(result: RunResult) -> Table:
    summary, meta = result.summary, result.meta
    rows = (
        ("Seed", format_value(summary.get("seed", meta.get("seed")))),
        ("Steps", format_value(summary.get("steps"))),
        ("Wall time (s)", format_value(summary.get("wall_time_s", meta.get("wall_time_s")))),
        ("Steps per second", format_value(summary.get("steps_per_s"))),
        ("Scenario digest", format_value(meta.get("scenario_digest"))),
    )
    return Table(("Run", "Value"), rows)


def _scenario_section(result: RunResult, scenario: Mapping[str, Any]) -> Section:
    # seed and steps are in the run table above
    keys = (
        ("Name", "name"),
        ("Step length dt (s)", "dt"),
        ("Tick size (price units)", "tick_size"),
    )
    rows = [(label, format_value(scenario.get(key))) for label, key in keys]
    rows.append(("Mark (equity, P&L, margin)", mark_description(result)))
    rows.append(("Fundamental", _inline(scenario.get("fundamental"))))
    network = scenario.get("network")
    if isinstance(network, Mapping):
        rows.append(("Network topology", _inline(network.get("topology"))))
        rows.append(("Network exposure", _inline(network.get("exposure"))))
        channels = network.get("channels")
        if isinstance(channels, Mapping):
            names = ", ".join(str(name) for name, spec in channels.items() if spec) or "none"
            rows.append(("Contagion channels", names))
    rows.append(("Recording", _inline(scenario.get("record"))))
    agents = scenario.get("agents")
    group_rows = [
        (
            str(name),
            format_value(spec.get("kind")),
            format_value(spec.get("count")),
            _inline(spec.get("policy")) if spec.get("policy") else _inline(spec.get("arrival")),
        )
        for name, spec in (agents.items() if isinstance(agents, Mapping) else ())
        if isinstance(spec, Mapping)
    ]
    blocks: list[Block] = [Table(("Parameter", "Value"), tuple(rows), "Key parameters")]
    if group_rows:
        header = ("Group", "Kind", "Count", "Policy or arrival process")
        blocks.append(Table(header, tuple(group_rows), "Agent groups"))
    text = result.scenario_yaml
    blocks.append(Collapsible("Resolved scenario (scenario.yaml)", text, "yaml"))
    return Section("Scenario", tuple(blocks))


def _inline(spec: Any) -> str:
    """One-line rendering of a spec mapping: ``kind (key=value, ...)``, nested specs by kind."""
    if not isinstance(spec, Mapping):
        return format_value(spec)
    parts = []
    for key, value in spec.items():
        if key == "kind" or value is None:
            continue
        if isinstance(value, Mapping):
            value = value.get("kind", "...")
        elif isinstance(value, list):
            value = f"[{len(value)} items]"
        parts.append(f"{key}={format_value(value)}")
    kind = str(spec.get("kind", "")).strip()
    inner = ", ".join(parts)
    return f"{kind} ({inner})" if kind and inner else kind or inner or MISSING


def _market_quality_section(result: RunResult, tick: float | None) -> Section:
    summary = result.summary
    metrics = (
        ("Quoted spread, mean over two-sided steps", "spread_mean"),
        ("Quoted spread, median over two-sided steps", "spread_median"),
        ("Mispricing, mean abs(mid - fundamental) over two-sided steps", "mispricing_mean"),
        ("Largest abs(mid - fundamental)", "max_mid_dislocation"),
        ("Largest abs(trade price - fundamental)", "max_trade_dislocation"),
        ("Largest abs(price - fundamental), summary max_dislocation", "max_dislocation"),
    )
    rows = tuple(
        (label, format_value(summary.get(key)), format_value(ticks(summary.get(key), tick)))
        for label, key in metrics
        if key in summary
    )
    shares = (
        ("Two-sided book", "two_sided_fraction"),
        ("One-sided book (one side empty)", "one_sided_fraction"),
        ("Empty book (both sides empty)", "empty_book_fraction"),
    )
    share_rows = tuple(
        (label, format_value(summary.get(key))) for label, key in shares if key in summary
    )
    blocks: list[Block] = [
        Table(("Metric", "Price units", "Ticks"), rows, "Headline (summary.json)"),
        Table(("Book state", "Share of steps"), share_rows, "How often the book was two-sided"),
    ]
    quality, error = attempt(lambda: market_quality_summary(result, tick_size=tick))
    if quality is None:
        blocks.append(Paragraph(f"Detailed market-quality measures unavailable: {error}"))
        return Section("Market quality", tuple(blocks))
    labelled = dict(_QUALITY_ROWS)
    keys = [key for key, _ in _QUALITY_ROWS if key in quality]
    keys += [k for k in quality if k not in labelled and k not in _QUALITY_SKIPPED]
    detail = tuple((labelled.get(k, k), format_value(quality[k])) for k in keys)
    horizon = format_value(quality.get("horizon_steps"))
    caption = f"Detailed measures (trade-based measures at a {horizon}-step horizon)"
    blocks.append(Table(("Measure", "Value"), detail, caption))
    return Section("Market quality", tuple(blocks))


def _activity_section(summary: Mapping[str, Any]) -> Section:
    counts = (
        ("Orders (count)", "orders"),
        ("Cancels (count)", "cancels"),
        ("Fills (count)", "fills"),
        ("Volume (lots)", "volume"),
        ("Defaults (count of traders)", "defaults"),
    )
    rows = tuple((label, format_value(summary.get(key))) for label, key in counts)
    return Section("Activity", (Table(("Count", "Value"), rows),))


def _stylized_facts_section(market: pd.DataFrame) -> Section:
    title = "Stylized facts"
    intro = Paragraph(
        "Four stylized facts of Cont (2001) tested on the mid price, one log return per step "
        "(analysis.stylized_facts.scorecard)."
    )
    card, error = attempt(lambda: scorecard(market["mid"].to_numpy(dtype=float)))
    if card is None:
        return Section(title, (intro, Paragraph(f"Scorecard unavailable: {error}")))
    blocks: list[Block] = [intro]
    mid = market["mid"].to_numpy(dtype=float)
    n_returns = int(np.isfinite(np.diff(mid)).sum())
    if n_returns < STYLIZED_FACTS_MIN_RETURNS:
        blocks.append(
            Paragraph(
                f"Only {n_returns} mid returns (fewer than {STYLIZED_FACTS_MIN_RETURNS}): the "
                "series is too short for these tests to have much power, so read the scorecard "
                "as indicative; run more steps for a verdict."
            )
        )
    header = ("Fact", "Statistic", "Value", "Threshold", "Passed", "Note")
    rows = tuple(
        (
            str(row.fact).replace("_", " "),
            str(row.statistic),
            format_value(row.value),
            format_value(row.threshold),
            format_value(bool(row.passed)),
            str(row.note),
        )
        for row in card.itertuples(index=False)
    )
    blocks.append(Table(header, rows))
    return Section(title, tuple(blocks))


def _accounting_section(summary: Mapping[str, Any]) -> Section:
    rows = (
        ("Cash", yes_no(summary.get("cash_conserved"))),
        ("Inventory", yes_no(summary.get("inventory_conserved"))),
    )
    return Section("Accounting", (Table(("Check", "Conserved"), rows),))
