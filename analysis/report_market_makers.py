"""Report sections about market makers: per-group results, P&L attribution, contagion, flash crash.

Part of the run report (`analysis.report`); `analysis.report_sections` places these sections.
Numbers come from the ``agents`` table (`market_maker_groups`), the per-group means of
`analysis.market_making.pnl_decomposition` and `efficiency_metrics`, for contagion the run's
``summary.json``, ``events`` and ``network`` tables plus `analysis.contagion` when present.
The flash-crash section is in `analysis.report_flash_crash`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from abm.results.events import EventKind
from abm.results.run_result import RunResult
from analysis.formatting import MISSING, format_value
from analysis.market_making import efficiency_metrics
from analysis.report_document import (
    Block,
    Paragraph,
    Section,
    Table,
    attempt,
    figure_block,
    scenario_fields,
)
from analysis.stat_plots import IDENTITY_COLUMNS
from analysis.tables import MARKET_MAKER_KIND, quantity_label

MM_GROUP_COLUMNS = (
    "group",
    "policy",
    "n_agents",
    "pnl_final_mean",
    "abs_inventory_final_mean",
    "abs_inventory_max",
)
"""Columns of `market_maker_groups`."""
NETWORK_FIGURE = "network.png"
"""The contagion section's figure, drawn when `analysis.contagion` is present."""
MAX_DEFAULT_ROWS = 20
"""Defaults listed one by one in the contagion section; further ones are counted."""

_EFFICIENCY_LABELS = {
    "fill_ratio": "Fill ratio (dimensionless)",
    "quote_uptime_both": "Uptime, both sides (share of steps)",
    "quote_uptime_any": "Uptime, any side (share of steps)",
    "inventory_half_life": "Inventory half-life (steps)",
    "time_at_limit": "Time at limit (share of steps)",
    "pnl_per_volume": "Pnl per lot (price units)",
    "sharpe": "Sharpe (per step, dimensionless)",
    "volume": "Volume (lots)",
    "n_fills": "Fills (count)",
    "max_drawdown": "Max drawdown (price units)",
}


PADDRIK_KIND = "paddrik"
"""Agent kind of the Paddrik et al. (2012) trader classes; role ``market_maker`` makes markets."""
MARKET_MAKER_ROLE = "market_maker"

SIGN_CONVENTIONS = (
    "Sign convention: every term is a contribution to the market maker's P&L in price units, "
    "positive when it adds to it; the terms sum to the final pnl. Spread capture: the edge of "
    "each quoting fill against the mark when it happened (positive: bought below or sold above "
    "the mark). Adverse selection: the mark's move over the next horizon_steps after each "
    "quoting fill, times the signed fill (negative when the flow was informed). Inventory pnl: "
    "mark-to-market of the inventory held, net of the part counted as adverse selection. "
    "Rebalancing cost, forced-sale losses and interdealer: the edge of those trades against "
    "the mark (usually negative). Hedging pnl: the hedge position's gain from hedge-price "
    "moves; hedge costs (<= 0): what hedge trades paid over the hedge price. Credit "
    "write-downs (<= 0): claims on defaulted dealers written off. External: loss shocks and "
    "the edge of inventory shocks (a client's block) against the mark."
)


def market_maker_group_names(result: RunResult) -> list[str]:
    """The groups that make markets: kind ``market_maker``, and ``paddrik`` of role market_maker.

    In the scenario's document order, then any other ``market_maker`` group the ``agents``
    table names.
    """
    specs = scenario_fields(result)["agents"]
    specs = specs if isinstance(specs, Mapping) else {}
    names = [
        str(name)
        for name, spec in specs.items()
        if isinstance(spec, Mapping)
        and (
            spec.get("kind") == MARKET_MAKER_KIND
            or (spec.get("kind") == PADDRIK_KIND and spec.get("role") == MARKET_MAKER_ROLE)
        )
    ]
    tabled = result.agents.loc[(result.agents["kind"] == MARKET_MAKER_KIND).to_numpy(bool)]
    names += [g for g in dict.fromkeys(tabled["group"].astype(str)) if g not in names]
    return names


def market_maker_groups(result: RunResult) -> pd.DataFrame:
    """Per market-maker group statistics, one row per scenario group (columns `MM_GROUP_COLUMNS`).

    ``pnl_final_mean`` is the mean over the group's agents of pnl at each agent's last recorded
    step (price units); ``abs_inventory_final_mean`` the mean of |inventory| there (lots);
    ``abs_inventory_max`` the largest |inventory| any agent of the group held at a recorded step.

    The groups are `market_maker_group_names` (so a ``paddrik`` group of role
    ``market_maker`` counts). Agents are matched to groups by the ``agents`` table's ``group``
    column; the policy kind comes from the scenario (``paddrik market_maker`` for that class;
    ``n/a`` if it cannot be read).
    """
    names = market_maker_group_names(result)
    makers = result.agents.loc[result.agents["group"].astype(str).isin(names).to_numpy(bool)]
    makers = makers.assign(group=makers["group"].astype(str))
    specs = scenario_fields(result)["agents"]
    specs = specs if isinstance(specs, Mapping) else {}
    rows = []
    for group, frame in makers.groupby("group", sort=False):
        spec = specs.get(group)
        policy = spec.get("policy") if isinstance(spec, Mapping) else None
        kind = policy.get("kind") if isinstance(policy, Mapping) else None
        if isinstance(spec, Mapping) and spec.get("kind") == PADDRIK_KIND:
            kind = f"{PADDRIK_KIND} {spec.get('role')}"
        final = frame.sort_values(["agent_id", "step"], kind="stable").groupby("agent_id").tail(1)
        rows.append(
            {
                "group": str(group),
                "policy": str(kind or MISSING),
                "n_agents": int(frame["agent_id"].nunique()),
                "pnl_final_mean": float(final["pnl"].to_numpy(dtype=float).mean()),
                "abs_inventory_final_mean": float(
                    np.abs(final["inventory"].to_numpy(dtype=float)).mean()
                ),
                "abs_inventory_max": float(np.abs(frame["inventory"].to_numpy(dtype=float)).max()),
            }
        )
    return pd.DataFrame(rows, columns=list(MM_GROUP_COLUMNS))


def market_maker_section(
    result: RunResult, decomposition: pd.DataFrame | None, decomposition_error: str
) -> Section:
    """The "Market makers" section: per-group table, P&L decomposition and efficiency means.

    Args:
        result: The run.
        decomposition: Its `analysis.market_making.pnl_decomposition`, or None if that failed.
        decomposition_error: Why it failed (shown instead of the table).
    """
    groups = market_maker_groups(result)
    if groups.empty:
        return Section("Market makers", (Paragraph("No market makers in this run."),))
    header = (
        "Group",
        "Policy",
        "Count (agents)",
        "Mean final pnl (price units)",
        "Mean abs final inventory (lots)",
        "Max abs inventory (lots)",
    )
    rows = tuple(
        (
            str(row.group),
            str(row.policy),
            format_value(row.n_agents),
            format_value(row.pnl_final_mean),
            format_value(row.abs_inventory_final_mean),
            format_value(row.abs_inventory_max),
        )
        for row in groups.itertuples(index=False)
    )
    mark = result.summary.get("mark")
    if not (isinstance(mark, str) and mark.strip()):
        spec = scenario_fields(result)["mark"]
        mark = spec.get("kind", "mark") if isinstance(spec, Mapping) else str(spec)
    blocks: list[Block] = [
        Paragraph(f"Pnl is equity less initial equity, with positions marked to: {mark}."),
        Table(header, rows),
    ]
    uncovered = "it covers kind market_maker, which records an agents row every step"
    if decomposition is None:
        blocks.append(Paragraph(f"P&L decomposition unavailable: {decomposition_error}"))
    elif decomposition.empty:
        blocks.append(Paragraph(f"P&L decomposition not computed for these groups: {uncovered}."))
    else:
        terms = [c for c in decomposition.columns if c not in IDENTITY_COLUMNS]
        means = decomposition.groupby("group", sort=False)[[*terms, "total", "pnl"]].mean()
        zero = [c for c in terms if not bool((means[c].abs() > 0).any())]
        shown = [c for c in means.columns if c not in zero]
        caption = "P&L decomposition (mean per maker, price units)"
        labels = {c: quantity_label(c).capitalize() for c in shown}
        labels["pnl"] = "Final pnl"
        blocks.append(_group_table(means[shown], labels, caption))
        note = "Terms of the identity pnl = sum of terms (analysis.market_making)."
        if zero:
            note += f" Zero for every group, not shown: {', '.join(map(quantity_label, zero))}."
        blocks.append(Paragraph(note))
        blocks.append(Paragraph(SIGN_CONVENTIONS))
    efficiency, error = attempt(lambda: efficiency_metrics(result))
    if efficiency is None:
        blocks.append(Paragraph(f"Efficiency metrics unavailable: {error}"))
    elif efficiency.empty:
        blocks.append(Paragraph(f"Efficiency metrics not computed for these groups: {uncovered}."))
    else:
        columns = [c for c in efficiency.columns if c not in ("agent_id", "group")]
        means = efficiency.groupby("group", sort=False)[columns].mean()
        caption = "Quoting efficiency and risk (mean per maker)"
        blocks.append(_group_table(means, _EFFICIENCY_LABELS, caption))
    return Section("Market makers", tuple(blocks))


def _group_table(means: pd.DataFrame, labels: Mapping[str, str], caption: str) -> Table:
    header = ("Group", *(labels.get(c, c.replace("_", " ").capitalize()) for c in means.columns))
    rows = tuple(
        (str(group), *(format_value(v) for v in values))
        for group, values in zip(means.index, means.to_numpy(dtype=float), strict=True)
    )
    return Table(header, rows, caption)


def has_contagion(result: RunResult) -> bool:
    """Whether the run had a default (summary or events) or a contagion network."""
    defaults = result.summary.get("defaults")
    logged = (
        bool((result.events["kind"] == EventKind.DEFAULT).any()) if len(result.events) else False
    )
    return bool(defaults) or logged or len(result.network) > 0


def contagion_section(result: RunResult, *, figures: bool) -> Section:
    """The "Contagion" section: summary counts, the network's size, defaults, crisis summary.

    The crisis summary and, with ``figures``, the network figure come from
    `analysis.contagion` (``crisis_summary(result)``, ``network_figure(result)``) when that
    module is present; otherwise a sentence says they are absent.
    """
    summary = result.summary
    keys = (
        ("Defaults", "defaults"),
        ("Cascade waves", "cascade_waves"),
        ("Forced-sale volume (lots)", "forced_sale_volume"),
        ("Interdealer volume (lots)", "interdealer_volume"),
        ("Max dislocation, abs(price - fundamental) (price units)", "max_dislocation"),
    )
    rows = [(label, format_value(summary.get(key))) for label, key in keys]
    losses = summary.get("losses_by_channel")
    if isinstance(losses, Mapping):
        rows += [
            (f"Losses: {quantity_label(channel)} (price units)", format_value(v))
            for channel, v in losses.items()
        ]
    network = result.network
    rows.append(("Network edges", format_value(len(network))))
    if len(network):
        nodes = pd.concat([network["source"], network["target"]]).nunique()
        rows.append(("Network nodes", format_value(int(nodes))))
        rows.append(
            ("Total exposure (price units)", format_value(float(network["exposure"].sum())))
        )
    blocks: list[Block] = [Table(("Measure", "Value"), tuple(rows), "From the run summary")]
    defaults = result.events.loc[result.events["kind"] == EventKind.DEFAULT]
    if len(defaults):
        # Network node i is the i-th market maker created, i.e. in agent-id order; the network
        # figure labels nodes that way.
        makers = result.agents.loc[result.agents["kind"] == MARKET_MAKER_KIND, "agent_id"]
        node_of = {int(agent): node for node, agent in enumerate(sorted(makers.unique()))}
        shown = defaults.head(MAX_DEFAULT_ROWS)
        default_rows = tuple(
            (
                format_value(step),
                format_value(agent),
                format_value(None if agent is pd.NA else node_of.get(int(agent))),
                format_value(amount),
                format_value(None if wave is pd.NA else int(wave)),
            )
            for step, agent, amount, wave in zip(
                shown["step"].tolist(),
                shown["agent_id"].tolist(),
                shown["amount"].tolist(),
                shown["wave"].tolist(),
                strict=True,
            )
        )
        header = ("Step", "Agent", "Network node", "Equity at default (price units)", "Wave")
        blocks.append(Table(header, default_rows, "Defaults"))
        if len(defaults) > MAX_DEFAULT_ROWS:
            blocks.append(Paragraph(f"{len(defaults) - MAX_DEFAULT_ROWS} further defaults."))
    blocks += _contagion_module_blocks(result, figures=figures)
    return Section("Contagion", tuple(blocks))


def _contagion_module_blocks(result: RunResult, *, figures: bool) -> list[Block]:
    module = _optional_module("analysis.contagion")
    if module is None:
        return [Paragraph("Crisis summary and network figure need analysis.contagion (absent).")]
    blocks: list[Block] = []
    # crisis_summary measures around the run's shock step; a run without a shock has none
    infer = getattr(module, "infer_shock_step", None)
    crisis, error = attempt(lambda: module.crisis_summary(result))
    if infer is not None and attempt(lambda: infer(result))[0] is None:
        blocks.append(Paragraph("No crisis summary: the run had no shock to measure around."))
    elif crisis is None:
        blocks.append(Paragraph(f"Crisis summary not computed: {error}"))
    else:
        if isinstance(crisis, Mapping):
            crisis = _crisis_rows(crisis)
        blocks.append(_any_table(crisis, "Crisis summary (analysis.contagion)"))
    if figures:
        draw = functools.partial(module.network_figure, result)
        blocks.append(figure_block("Network", "Contagion network", NETWORK_FIGURE, draw))
    return blocks


_CRISIS_SHOWN_ABOVE = frozenset(
    {"defaults", "cascade_depth", "forced_sale_volume", "interdealer_volume", "max_dislocation"}
)
"""Crisis-summary keys the run-summary table already shows (``cascade_depth`` is its waves)."""
_CRISIS_UNITS = {
    "shock_step": "step",
    "first_default_step": "step",
    "spread_before": "price units",
    "spread_during": "price units",
    "spread_after": "price units",
    "depth_before": "lots",
    "depth_during": "lots",
    "depth_after": "lots",
    "debtrank": "dimensionless",
    "debtrank_shock": "dimensionless",
    "spread_recovery_steps": "steps",
    "max_dislocation_after": "price units",
    "hot_potato_passes": "count",
    "hot_potato_max_hops": "count",
    "interdealer_multiplier": "dimensionless",
    "losses_by_channel": "price units",
}


def _crisis_rows(crisis: Mapping[str, Any]) -> dict[str, Any]:
    """The crisis summary without what the table above shows, each label with its unit."""
    rows: dict[str, Any] = {}
    for key, value in crisis.items():
        if key in _CRISIS_SHOWN_ABOVE:
            continue
        unit = _CRISIS_UNITS.get(key, "lots" if key.endswith("_volume") else None)
        label = quantity_label(key) + (f" ({unit})" if unit else "")
        rows[label] = value
    return rows


def _any_table(value: Any, caption: str) -> Block:
    """A table of a mapping (key, value rows) or a DataFrame; other values as a paragraph."""
    if isinstance(value, pd.DataFrame):
        rows = tuple(tuple(format_value(v) for v in row) for row in value.itertuples(index=False))
        return Table(tuple(str(c) for c in value.columns), rows, caption)
    if isinstance(value, Mapping):
        return Table(("Measure", "Value"), tuple(_flat_rows(value, "")), caption)
    return Paragraph(f"{caption}: {value}")


def _flat_rows(mapping: Mapping[Any, Any], prefix: str) -> list[tuple[str, str]]:
    """``(label, value)`` rows of a mapping; nested mappings as ``outer: inner`` labels."""
    rows = []
    for key, value in mapping.items():
        label = prefix + quantity_label(str(key))
        if isinstance(value, Mapping):
            rows += _flat_rows(value, f"{label}: ")
        else:
            rows.append((label, format_value(value)))
    return rows


def _optional_module(name: str) -> ModuleType | None:
    """Import ``name``, or None if that module itself is absent (its own bugs still raise)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        return None
