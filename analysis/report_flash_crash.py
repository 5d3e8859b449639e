"""The report's "Flash crash" section, for runs with an execution program.

Measures and windows are those of `analysis.flash_crash` (CFTC/SEC 2010; Kirilenko et al.
2017); the section's figure is among the report's headline figures (`analysis.report_figures`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from abm.results.flash_crash_phases import HISTORICAL
from abm.results.run_result import RunResult
from analysis.flash_crash import (
    FLASH_CRASH_FIGURE,
    class_shares,
    flash_crash_figure,
    flash_crash_summary,
    flash_crash_windows,
)
from analysis.formatting import MISSING, format_value
from analysis.report_document import (
    Block,
    Paragraph,
    Section,
    Table,
    attempt,
    figure_block,
    scenario_fields,
)

_FLASH_CRASH_ROWS = (
    ("program_start_s", "Program start (s)"),
    ("program_end_s", "Program done (s)"),
    ("program_executed", "Program executed (lots)"),
    ("halts", "Trading halts (count)"),
    ("price_before", "Price before the program, 5 min mean (price units)"),
    ("price_trough", "Price at the trough (price units)"),
    ("fall_pct", "Fall (% of the price before)"),
    ("fall_duration_s", "Fall duration, program start to trough (s)"),
    ("recovery_pct", "Recovery after the trough (% of the price before)"),
    ("recovery_fraction", "Recovery, share of the fall regained (dimensionless)"),
    ("recovery_duration_s", "Recovery duration, trough to 90% of the rebound (s)"),
    ("bid_depth_before", "Bid depth before the program, mean (lots)"),
    ("bid_depth_fall_min_ratio", "Bid depth in the fall, lowest / before (dimensionless)"),
    ("bid_depth_fall_mean_ratio", "Bid depth in the fall, mean / before (dimensionless)"),
    ("hft_volume_share", "HFT share of volume, whole run (dimensionless)"),
    ("hft_volume_share_fall", "HFT share of volume, fall (dimensionless)"),
    ("hft_inventory_half_life_s", "HFT aggregate inventory half-life, before (s)"),
    (
        "hot_potato_ratio_before",
        "Hot-potato ratio, HFT lots traded / net change, before (dimensionless)",
    ),
    ("hot_potato_ratio_fall", "Hot-potato ratio, fall (dimensionless)"),
    ("hft_net_to_gross_before", "HFT net change / lots traded, before (dimensionless)"),
    ("hft_net_to_gross_fall", "HFT net change / lots traded, fall (dimensionless)"),
)
_PHASE_ROWS = (
    ("phase1_start_s", "Phase 1 (plunge) start (s)"),
    ("phase1_duration_s", "Phase 1 duration (s)"),
    ("phase1_fall_pct", "Phase 1 fall (% of the price before)"),
    ("phase1_hft_volume_share", "Phase 1 HFT share of volume (dimensionless)"),
    ("phase1_hft_net_to_gross", "Phase 1 HFT net change / lots traded (dimensionless)"),
    ("phase2_duration_s", "Phase 2 (hot potato) duration (s)"),
    ("phase2_fall_pct", "Phase 2 fall (% of the price before)"),
    ("phase2_hft_volume_share", "Phase 2 HFT share of volume (dimensionless)"),
    ("phase2_hft_net_to_gross", "Phase 2 HFT net change / lots traded (dimensionless)"),
    ("phase2_bid_depth_ratio", "Phase 2 lowest bid depth / before (dimensionless)"),
    ("rebound_fraction", "Share of the fall regained within 20 min of phase 1 (dimensionless)"),
    ("hft_inventory_half_life_outside_s", "HFT inventory half-life outside phase 1 (s)"),
)


def flash_crash_section(result: RunResult, *, figures: bool) -> Section:
    """The "Flash crash" section: event measures, each class's shares, the event figure.

    Measures and windows are those of `analysis.flash_crash` (CFTC/SEC 2010; Kirilenko et al.
    2017); a run that cannot support them gets a sentence saying why.
    """
    title = "Flash crash"
    measures, error = attempt(lambda: flash_crash_summary(result))
    if measures is None:
        return Section(title, (Paragraph(f"Flash-crash measures unavailable: {error}"),))
    windows = flash_crash_windows(result)
    intro = Paragraph(
        "Windows: 'before' is the five minutes before the execution program starts; 'fall' "
        f"runs from its start (step {windows.start}) to the trough of the 1-second mean price "
        f"(step {windows.trough}). Sources: CFTC/SEC (2010); Kirilenko et al. (2017)."
    )
    scenario = scenario_fields(result)
    breaker = scenario.get("circuit_breaker")
    if isinstance(breaker, Mapping) and breaker.get("enabled", True):
        when = "before the trade (stop logic)" if breaker.get("stop_logic") else "after it"
        switch = (
            f"on: halt {breaker.get('halt_steps')} steps after a {breaker.get('fall_pct')}% "
            f"fall within {breaker.get('window_steps')} steps, checked {when}; "
            f"{breaker.get('on_halt')}, reopening by {breaker.get('reopening', 'auction')}"
        )
    else:
        switch = "off"
    rows = (
        ("Circuit breaker", switch),
        *((label, format_value(measures.get(key))) for key, label in _FLASH_CRASH_ROWS),
    )
    blocks: list[Block] = [intro, Table(("Measure", "Value"), rows, "The event")]
    phase_rows = tuple(
        (label, format_value(measures.get(key)), format_value(HISTORICAL.get(key)))
        for key, label in _PHASE_ROWS
    )
    blocks.append(
        Paragraph(
            "Phase 1 is the largest fall of the 1-second mean price within five minutes after "
            "the program starts, phase 2 the largest fall within 60 s inside it (at least 15 s), "
            "both found from the run's price. Historical values: CFTC/SEC (2010), Kirilenko et "
            "al. (2017); net change, depth and half-life there are orders of magnitude, the "
            "rebound a lower bound."
        )
    )
    blocks.append(Table(("Measure", "This run", "May 6, 2010"), phase_rows, "The two phases"))
    specs = scenario.get("agents")
    specs = specs if isinstance(specs, Mapping) else {}
    run_shares = class_shares(result)
    fall_shares = class_shares(result, windows.start, windows.trough)
    columns = [
        run_shares["transaction_share"].to_numpy(dtype=float),
        run_shares["volume_share"].to_numpy(dtype=float),
        fall_shares["transaction_share"].to_numpy(dtype=float),
        fall_shares["volume_share"].to_numpy(dtype=float),
    ]
    class_rows = []
    for i, group in enumerate(run_shares.index):
        spec = specs.get(group)
        spec = spec if isinstance(spec, Mapping) else {}
        role = str(spec.get("role") or spec.get("kind") or MISSING)
        shares = tuple(format_value(float(column[i])) for column in columns)
        class_rows.append((str(group), role, format_value(spec.get("count")), *shares))
    header = (
        "Class",
        "Role",
        "Count (agents)",
        "Share of transactions",
        "Share of volume",
        "Share of transactions, fall",
        "Share of volume, fall",
    )
    blocks.append(Table(header, tuple(class_rows), "Trader classes (shares of trade sides)"))
    if figures:
        caption = "Price, bid depth and inventories through the event (program shaded)"
        draw = functools.partial(flash_crash_figure, result)
        blocks.append(figure_block("Flash-crash", caption, FLASH_CRASH_FIGURE, draw))
    return Section(title, tuple(blocks))
