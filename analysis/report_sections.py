"""The content of the run report: one `Section` per topic, built from a `RunResult`.

`build_document` assembles the `analysis.report_document.Document` that `analysis.report`
renders to Markdown and HTML. Sources of the numbers:

- run facts, the headline market-quality rows, activity counts and conservation checks:
  ``summary.json`` (the model's own metrics);
- detailed market quality: `analysis.market_quality.market_quality_summary`;
- market makers, contagion (only for runs with defaults or a network) and the flash crash
  (only for runs with an execution program): see `analysis.report_market_makers`;
- stylized facts: `analysis.stylized_facts.scorecard` on the mid (Cont 2001);
- options (only for runs with an options venue): `analysis.report_options`;
- lending (only for runs with a lending pool): `analysis.report_lending`;
- figures: `analysis.report_figures` (drawn by `analysis.plots` and `analysis.stat_plots`).

Layout: the scenario's question and expected outcome (`scenario_question_and_outcome` reads them
from the header comments that `abm.scenario.schema.Scenario.to_yaml` keeps at the top of the run's
scenario.yaml), its description and the mark; the headline figures; the tables; the other
figures.

A measure the run cannot support (an analysis raising `ValueError`) becomes a sentence saying
why, so one unusual run never stops the whole report. This module never imports the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from abm.results.run_result import RunResult
from analysis.flash_crash import is_flash_crash_run
from analysis.formatting import MISSING, format_value, ticks, yes_no
from analysis.market_making import pnl_decomposition
from analysis.market_quality import market_quality_summary
from analysis.options import has_options
from analysis.report_amm import amm_section, has_pool
from analysis.report_document import (
    Block,
    Collapsible,
    Document,
    Paragraph,
    Section,
    Table,
    attempt,
    scenario_fields,
    scenario_question_and_outcome,
)
from analysis.report_figures import (
    figure_section,
    headline_figures,
    more_figures,
)
from analysis.report_flash_crash import flash_crash_section
from analysis.report_lending import has_lending, lending_section
from analysis.report_market_makers import (
    contagion_section,
    has_contagion,
    market_maker_section,
)
from analysis.report_options import options_section
from analysis.stylized_facts import scorecard

STYLIZED_FACTS_MIN_RETURNS = 1000
"""Below this many mid returns the scorecard is flagged as indicative: its longest sampling
interval (50 steps) then leaves fewer than 20 returns for the aggregational-Gaussianity test."""

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
    scenario = scenario_fields(result)
    tick = result.scenario.tick_size
    decomposition, decomposition_error = attempt(lambda: pnl_decomposition(result))
    intro: list[Block] = []
    question, outcome = scenario_question_and_outcome(result.scenario.header)
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
        sections.append(figure_section("Headline figures", headline_figures(result, scenario)))
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
    if has_pool(result):
        sections.append(amm_section(result, figures=figures))
    if has_options(result):
        sections.append(options_section(result, figures=figures))
    if has_lending(result):
        sections.append(lending_section(result, figures=figures))
    sections.append(_accounting_section(result.summary))
    if figures:
        more = more_figures(result, tick, decomposition, decomposition_error)
        sections.append(figure_section("More figures", more))
    title = f"Run report: {scenario.get('name') or 'unnamed run'}"
    return Document(title, tuple(intro), tuple(sections))


def mark_description(result: RunResult) -> str:
    """How the run marks positions: the summary's ``mark`` text, else the scenario's ``mark``."""
    described = result.summary.get("mark")
    if isinstance(described, str) and described.strip():
        return described.strip()
    mark = scenario_fields(result)["mark"]
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
        ("Largest abs(price - fundamental), mids and trades", "max_dislocation"),
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
    rows = [
        ("Cash", yes_no(summary.get("cash_conserved"))),
        ("Inventory", yes_no(summary.get("inventory_conserved"))),
    ]
    if summary.get("held_instruments") or not summary.get("holdings_conserved", True):
        label = f"Held instruments ({summary['held_instruments']}: pool shares, option series)"
        rows.append((label, yes_no(summary.get("holdings_conserved"))))
    return Section("Accounting", (Table(("Check", "Conserved"), tuple(rows)),))
