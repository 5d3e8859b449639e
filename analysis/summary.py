"""The few lines ``abm run`` prints after a run, without importing a plotting library.

`analysis.report` (which draws figures, so imports matplotlib and seaborn) re-exports
`summary_lines`; the command line imports it from here so that a run that writes no report
starts no plotting library (issue 17).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abm.results.run_result import RunResult
from analysis.formatting import format_value, ticks, yes_no


def summary_lines(result: RunResult) -> list[str]:
    """A few lines for a command line to print after a run.

    Covers steps, wall time and steps per second; fills and volume; mean spread (price units
    and ticks); mean market-maker pnl; the conservation checks (cash, inventory, and the
    held instruments of a run with any); and for a run with an AMM pool (``amm_`` keys,
    `abm.results.amm_summary`) its swaps, the takers' share and the LPs' fees against LVR; for
    a run with a lending pool (`abm.results.lending_summary`) its liquidations, the collateral
    they seized, bad debt and the cascade's depth.
    """
    return headline_lines(result.summary, result.scenario.tick_size)


def headline_lines(summary: Mapping[str, Any], tick_size: float) -> list[str]:
    """`summary_lines` of a run's ``summary.json`` and its scenario's tick size."""
    tick = tick_size
    spread = summary.get("spread_mean")
    cash = yes_no(summary.get("cash_conserved"))
    inventory = yes_no(summary.get("inventory_conserved"))
    fmt = format_value
    return [
        f"steps: {fmt(summary.get('steps'))} in {fmt(summary.get('wall_time_s'))} s "
        f"({fmt(summary.get('steps_per_s'))} steps/s)",
        f"fills: {fmt(summary.get('fills'))} (volume {fmt(summary.get('volume'))} lots)",
        f"spread mean: {fmt(spread)} ({fmt(ticks(spread, tick))} ticks)",
        f"market-maker pnl mean: {fmt(summary.get('mm_pnl_mean'))}",
        f"conserved: cash {cash}, inventory {inventory}{_held(summary)}",
        *_pool(summary),
        *_lending(summary),
    ]


def _pool(summary: Mapping[str, Any]) -> list[str]:
    """Two lines on the AMM pool of a run with one (its ``amm_`` summary keys), else none."""
    if "amm_swaps" not in summary:
        return []
    fmt = format_value
    share = summary.get("amm_taker_share")
    percent = None if share is None else 100.0 * share
    return [
        f"amm pool: {fmt(summary.get('amm_swaps'))} swaps "
        f"({fmt(summary.get('amm_arbitrage_swaps'))} arbitrage), "
        f"{fmt(percent)}% of the takers' lots",
        f"amm LPs: fees {fmt(summary.get('amm_fees'))} - LVR {fmt(summary.get('amm_lvr'))} "
        f"= {fmt(summary.get('amm_fees_minus_lvr'))} (price units); arbitrage profit "
        f"{fmt(summary.get('amm_arbitrage_profit'))}",
    ]


def _lending(summary: Mapping[str, Any]) -> list[str]:
    """One line on the lending pool of a run with one (its four summary keys), else none."""
    if "liquidations" not in summary:
        return []
    fmt = format_value
    return [
        f"lending pool: {fmt(summary['liquidations'])} liquidations seized "
        f"{fmt(summary.get('liquidated_collateral'))} lots; bad debt "
        f"{fmt(summary.get('bad_debt'))} (price units); cascade depth "
        f"{fmt(summary.get('liquidation_rounds'))} rounds",
    ]


def _held(summary: Mapping[str, Any]) -> str:
    """The held instruments' check (pool shares, option series), when any is open or it failed."""
    if not summary.get("held_instruments") and summary.get("holdings_conserved", True):
        return ""
    count = summary["held_instruments"]
    return f", held instruments ({count}) {yes_no(summary.get('holdings_conserved'))}"
