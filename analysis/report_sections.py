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
from analysis.flash_crash import is_flash_crash_run
from analysis.market_making import pnl_decomposition
from analysis.market_quality import market_quality_summary
from analysis.plots import (
    depth_heatmap_figure,
    inventory_figure,
    pnl_figure,
    price_figure,
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
    tick_size_of,
    ticks,
    yes_no,
)
from analysis.report_market_makers import (
    contagion_section,
    flash_crash_section,
    has_contagion,
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

_FIGURES: tuple[tuple[str, str], ...] = (
    ("price.png", "Price"),
    ("spread_depth.png", "Spread and depth"),
    ("depth_heatmap.png", "Order-book depth"),
    ("inventory.png", "Market-maker inventory"),
    ("pnl.png", "Market-maker pnl"),
    ("pnl_distribution.png", "Market-maker pnl changes, VaR and ES"),
    ("pnl_decomposition.png", "Market-maker pnl decomposition"),
    ("return_distribution.png", "Return distribution"),
    ("return_acf.png", "Return autocorrelation"),
)
FIGURE_FILES = tuple(name for name, _ in _FIGURES)
"""The PNG files of the "Figures" section, in report order."""

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
    ("kyle_lambda_se", "Kyle's lambda, standard error"),
    ("kyle_lambda_r2", "Kyle's lambda, R^2"),
    ("kyle_lambda_n", "Kyle's lambda, intervals"),
    ("ofi", "Order-flow imbalance slope (price units per lot)"),
    ("ofi_se", "Order-flow imbalance slope, standard error"),
    ("ofi_r2", "Order-flow imbalance slope, R^2"),
    ("ofi_n", "Order-flow imbalance slope, intervals"),
    ("amihud_illiquidity", "Amihud illiquidity (per price unit traded)"),
    ("resiliency_shocks", "Spread shocks (count)"),
    ("resiliency_mean_recovery_steps", "Spread recovery, mean (steps)"),
    ("resiliency_half_life_steps", "Spread recovery, half-life (steps)"),
    ("variance_ratio", "Variance ratio of the mid"),
    ("variance_ratio_z", "Variance ratio, z statistic"),
)
# Parameters of the measures, and numbers the headline table already shows.
_QUALITY_SKIPPED = frozenset(
    {"horizon_steps", "tick_size", "two_sided_fraction", "mispricing_mean", "mispricing_mean_ticks"}
)


def build_document(result: RunResult, *, figures: bool = True) -> Document:
    """The run report of ``result``: title, run facts, the sections of the module docstring.

    Args:
        result: The run.
        figures: Whether to render the figures (PNG at `FIGURE_DPI`); without them the
            document is text and tables only, which is much faster.
    """
    scenario = scenario_mapping(result.scenario_yaml)
    tick = tick_size_of(scenario)
    decomposition, decomposition_error = attempt(lambda: pnl_decomposition(result))
    intro: list[Block] = []
    if scenario.get("description"):
        intro.append(Paragraph(str(scenario["description"]).strip()))
    intro.append(_run_table(result))
    sections = [
        _scenario_section(result, scenario),
        _market_quality_section(result, tick),
        _activity_section(result.summary),
        market_maker_section(result, decomposition, decomposition_error),
        _stylized_facts_section(result.market),
    ]
    if is_flash_crash_run(result):
        sections.append(flash_crash_section(result, figures=figures))
    if has_contagion(result):
        sections.append(contagion_section(result, figures=figures))
    sections.append(_accounting_section(result.summary))
    if figures:
        makers = result.agents.loc[result.agents["kind"] == MARKET_MAKER_KIND]
        makers = makers.drop_duplicates("agent_id")
        labels = dict(zip(makers["agent_id"].astype(int), makers["group"].astype(str), strict=True))
        empty = pd.DataFrame(columns=["group", "pnl"])
        draw: dict[str, Callable[[], Figure]] = {
            "price.png": lambda: price_figure(result.market),
            "spread_depth.png": lambda: spread_depth_figure(result.market),
            "depth_heatmap.png": lambda: depth_heatmap_figure(
                result.depth, result.market, tick_size=tick
            ),
            "inventory.png": lambda: inventory_figure(result.agents, labels=labels),
            "pnl.png": lambda: pnl_figure(result.agents, labels=labels),
            "pnl_distribution.png": lambda: pnl_distribution_figure(result.agents),
            "pnl_decomposition.png": lambda: pnl_decomposition_figure(
                empty if decomposition is None else decomposition
            ),
            "return_distribution.png": lambda: return_distribution_figure(result.market),
            "return_acf.png": lambda: acf_figure(result.market),
        }
        blocks = tuple(
            FigureBlock(title, name, png_bytes(draw[name]())) for name, title in _FIGURES
        )
        sections.append(Section("Figures", blocks))
    title = f"Run report: {scenario.get('name') or 'unnamed run'}"
    return Document(title, tuple(intro), tuple(sections))


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
        ("Mark", "mark"),
    )
    rows = [(label, format_value(scenario.get(key))) for label, key in keys]
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
        ("Spread mean", "spread_mean"),
        ("Spread median", "spread_median"),
        ("Mispricing mean, abs(mid - fundamental)", "mispricing_mean"),
    )
    rows = tuple(
        (label, format_value(summary.get(key)), format_value(ticks(summary.get(key), tick)))
        for label, key in metrics
    )
    two_sided = f"Two-sided fraction of steps: {format_value(summary.get('two_sided_fraction'))}"
    blocks: list[Block] = [Table(("Metric", "Price units", "Ticks"), rows), Paragraph(two_sided)]
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
        ("Orders", "orders"),
        ("Cancels", "cancels"),
        ("Fills", "fills"),
        ("Volume (lots)", "volume"),
        ("Defaults", "defaults"),
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
