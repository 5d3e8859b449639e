"""The flash-crash measures of one run: the quantities the official accounts of May 6, 2010 discuss.

A run is a flash-crash run when its scenario has an execution program (a group of kind ``pov``,
even with ``count: 0``, as in the calm twin): its ``start_step`` dates the event. Trader
classes are the scenario's groups; the high-frequency traders are the ``paddrik`` groups of
role ``hft``. Sources: CFTC/SEC (2010), "Findings regarding the market events of May 6, 2010";
Kirilenko, Kyle, Samadi and Tuzun (2017), "The Flash Crash: high-frequency trading in an
electronic market", Journal of Finance 72(3).

Windows (steps; ``dt`` seconds each):

- *before*: the ``before_s`` seconds before the program starts;
- *fall*: from the program's start to the trough, the lowest point of the price after it;
- the price is the last trade price (forward-filled) smoothed by a trailing mean over
  ``smooth_s`` seconds, so that one stray print is not a trough.

Measures (`flash_crash_summary` keys):

- ``transaction_share_by_group`` / ``volume_share_by_group`` (whole run) and the ``_fall_``
  variants: each class's share of trade sides (a fill has a buy side and a sell side, so the
  shares sum to one) and of traded lots (Kirilenko et al. 2017, Table II);
- ``hft_volume_share``, ``hft_volume_share_fall``: the same for all high-frequency groups;
- ``hft_inventory_half_life_s``: half-life of the HFTs' aggregate inventory, sampled every
  second in the before window, from an AR(1) fit (`abm.results.flash_crash.ar1_half_life`);
  Kirilenko et al. (2017, section 3.C) report that HFT inventories mean-revert within minutes;
- ``hot_potato_ratio_before`` / ``_fall``: HFT lots traded (bought plus sold) over the absolute
  change of their aggregate position in the window (inf if it did not change; JSON ``null``),
  and its inverse ``hft_net_to_gross_before`` / ``_fall``; the CFTC/SEC report: HFTs traded over
  27,000 contracts in 14 seconds while buying only about 200 net;
- ``bid_depth_before`` (mean resting buy quantity, lots), ``bid_depth_fall_min_ratio`` and
  ``bid_depth_fall_mean_ratio``: the fall window's smallest (1-second mean) and mean bid depth
  over it; the CFTC/SEC report: E-mini buy-side depth fell to about 1% of its morning level;
- ``price_before``, ``price_trough``, ``fall_pct`` (percent of the before price),
  ``fall_duration_s`` (program start to trough), ``recovery_pct`` (rise from the trough to the
  highest price after it, percent of the before price), ``recovery_fraction`` (that rise over
  the fall), ``recovery_duration_s`` (trough to the first time 90% of that rise is reached);
- ``program_start_s``, ``program_end_s`` (``pov_done``; None if unfinished or no program),
  ``program_executed`` (lots the program groups traded), ``halts`` (``halt`` events);
- the two phases, found from the price (`abm.results.flash_crash_phases`; Kirilenko et al.
  2017, section 2): phase 1, the largest fall within five minutes after the program starts,
  and phase 2, the hot potato, the largest fall within 60 s inside it (at least 15 s):
  ``phase1_`` / ``phase2_`` ``start_s``, ``duration_s``, ``fall_pct`` (percent of the before
  price), ``hft_volume_share``, ``hft_net_to_gross``; ``phase2_bid_depth_ratio`` (lowest
  1-second bid depth in phase 2 over the before mean); ``phase1_halts`` (halts in phase 1);
  ``rebound_fraction`` (the highest price within 20 minutes after phase 1's low, less that low,
  over the fall from the before price to it); ``hft_inventory_half_life_outside_s`` (the
  AR(1) half-life of the HFTs' inventory over the whole run, phase 1 left out).
  `HISTORICAL` holds May 6's values beside which the report shows them.

The measures are computed by `abm.results.flash_crash`, the engine's side, which also puts them
in the run's ``summary.json``; this module adds the scenario's setup, the comparison table and
the figure. It reads `RunResult` tables only; it never imports the model or the agents.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from abm.results import flash_crash as measures
from abm.results.events import EventKind
from abm.results.flash_crash import (
    HFT_ROLE,
    POPULATION_KIND,
    PROGRAM_KIND,
    RECOVERY_LEVEL,
    FlashCrashSetup,
    FlashCrashWindows,
    class_inventory,
    class_shares,
    hot_potato,
    trader_groups,
)
from abm.results.flash_crash_phases import HISTORICAL, flash_crash_phases
from abm.results.run_result import RunResult
from abm.scenario.schema import AgentGroup
from analysis.figures import finish_axes, new_figure, require_columns

FLASH_CRASH_FIGURE = "flash_crash.png"
"""File name of `flash_crash_figure` in the report."""
_PRICE_COLUMNS = ("step", "last_price", "mid", "fundamental", "bid_depth")
__all__ = [
    "COMPARISON_COLUMNS",
    "FLASH_CRASH_FIGURE",
    "HFT_ROLE",
    "HISTORICAL",
    "POPULATION_KIND",
    "PROGRAM_KIND",
    "RECOVERY_LEVEL",
    "FlashCrashWindows",
    "class_inventory",
    "class_shares",
    "flash_crash_figure",
    "flash_crash_phases",
    "flash_crash_setup",
    "flash_crash_summary",
    "flash_crash_table",
    "flash_crash_windows",
    "hft_groups",
    "hot_potato",
    "is_flash_crash_run",
    "smoothed_price",
    "trader_groups",
]


def is_flash_crash_run(result: RunResult) -> bool:
    """True when the scenario has an execution program group (kind ``pov``, any count)."""
    return bool(_groups_of_kind(result, PROGRAM_KIND))


def hft_groups(result: RunResult) -> list[str]:
    """Names of the ``paddrik`` groups of role ``hft``, in scenario order."""
    return [
        name
        for name, spec in _groups_of_kind(result, POPULATION_KIND).items()
        if getattr(spec, "role", None) == HFT_ROLE
    ]


def smoothed_price(result: RunResult, smooth_s: float = 1.0) -> np.ndarray:
    """Last trade price per step as a trailing mean over ``smooth_s`` seconds.

    Forward-filled; before the first trade, the mid, then the fundamental value.
    """
    require_columns(result.market, _PRICE_COLUMNS, "market")
    return measures.smoothed_price(result, _dt(result), smooth_s)


def flash_crash_setup(result: RunResult) -> FlashCrashSetup:
    """What the measures need of the run's scenario: ``dt``, program starts, HFT groups."""
    return FlashCrashSetup.of_scenario(result.scenario)


def flash_crash_windows(
    result: RunResult, *, before_s: float = 300.0, smooth_s: float = 1.0
) -> FlashCrashWindows:
    """The before window, the program's start and end, and the trough (see the module docstring).

    Raises:
        ValueError: If the run is not a flash-crash run, or its program starts after the run.
    """
    setup = flash_crash_setup(result)
    if setup.program_starts:
        require_columns(result.market, _PRICE_COLUMNS, "market")
    return measures.flash_crash_windows(result, setup, before_s=before_s, smooth_s=smooth_s)


def flash_crash_summary(
    result: RunResult, *, before_s: float = 300.0, smooth_s: float = 1.0
) -> dict[str, Any]:
    """The measures of the module docstring, as ``summary.json`` keys.

    Raises:
        ValueError: As `flash_crash_windows`.
    """
    setup = flash_crash_setup(result)
    if setup.program_starts:
        require_columns(result.market, _PRICE_COLUMNS, "market")
    return measures.flash_crash_summary(result, setup, before_s=before_s, smooth_s=smooth_s)


COMPARISON_COLUMNS = (
    "halts",
    "fall_pct",
    "fall_duration_s",
    "recovery_fraction",
    "recovery_duration_s",
    "bid_depth_fall_min_ratio",
    "hft_volume_share_fall",
    "hft_net_to_gross_fall",
    "program_end_s",
)
"""Columns of `flash_crash_table`."""


def flash_crash_table(results: Mapping[str, RunResult]) -> pd.DataFrame:
    """The headline measures of several runs side by side (with and without a breaker, say).

    Args:
        results: Label -> run; each must be a flash-crash run.

    Returns:
        One row per label, columns `COMPARISON_COLUMNS`.

    Raises:
        ValueError: As `flash_crash_windows`, for any run.
    """
    rows = {label: flash_crash_summary(result) for label, result in results.items()}
    return pd.DataFrame.from_dict(
        {label: {key: row[key] for key in COMPARISON_COLUMNS} for label, row in rows.items()},
        orient="index",
        columns=list(COMPARISON_COLUMNS),
    )


def _groups_of_kind(result: RunResult, kind: str) -> dict[str, AgentGroup]:
    return result.scenario.groups_of(kind)


def _dt(result: RunResult) -> float:
    return result.scenario.dt


def flash_crash_figure(result: RunResult, *, smooth_s: float = 1.0) -> Figure:
    """Price, bid depth and every class's inventory through the event, program window shaded.

    Four panels sharing the time axis (seconds): the smoothed last price (trough marked); the
    resting bid depth (lots, 1-second mean); the aggregate inventory of each class with a
    position limit, as a share of the class's combined limit (count x limit), so that seven
    HFTs and 180 opportunistic traders share one scale; and the change since the program's
    start of every other class's inventory (lots; the program's own position included). The
    program's window (start to ``pov_done``, or the end of the run) is shaded grey, phase 1
    (the plunge) light red and phase 2 (the hot potato) purple, and each trading pause
    (halt to reopening) orange.

    Raises:
        ValueError: As `flash_crash_windows`, or if a needed column is missing.
    """
    w = flash_crash_windows(result, smooth_s=smooth_s)
    time = result.market["step"].to_numpy(dtype=float) * w.dt
    price = smoothed_price(result, smooth_s)
    depth = result.market["bid_depth"].astype(float)
    depth_mean = depth.rolling(max(1, round(smooth_s / w.dt)), min_periods=1).mean()
    inventory = class_inventory(result)
    specs = _groups_of_kind(result, POPULATION_KIND)
    programs = [name for name in _groups_of_kind(result, PROGRAM_KIND) if name in inventory]
    figure = new_figure((10.0, 10.0))
    axes = figure.subplots(4, 1, sharex=True)
    axes[0].plot(time, price, lw=1.0, color="tab:blue", label="last trade (1 s mean)")
    axes[0].plot([w.trough * w.dt], [price[w.trough]], "v", color="tab:red", label="trough")
    finish_axes(axes[0], "Price", None, "price (price units)", has_data=True)
    axes[1].plot(time, depth_mean.to_numpy(), lw=1.0, color="tab:green", label="bid depth")
    finish_axes(axes[1], "Bid depth at rest", None, "bid depth (lots)", has_data=True, legend=False)
    limited = {}
    for name in inventory.columns:
        spec = specs.get(name)
        limit = getattr(spec, "position_limit", None)
        count = getattr(spec, "count", None)
        if isinstance(limit, int) and isinstance(count, int) and limit > 0 and count > 0:
            limited[name] = limit * count
    for name, capacity in limited.items():
        share = inventory[name].to_numpy(dtype=float) / capacity
        axes[2].plot(time, share, lw=1.0, label=f"{name} (/{capacity} lots)")
    finish_axes(
        axes[2],
        "Inventory of classes with a limit",
        None,
        "share of limit (dimensionless)",
        has_data=bool(limited),
    )
    others = [name for name in inventory.columns if name not in limited]
    base = inventory.iloc[min(w.start, len(inventory) - 1)]
    for name in others:
        style = {"color": "black", "lw": 1.4} if name in programs else {"lw": 1.0}
        axes[3].plot(time, (inventory[name] - base[name]).to_numpy(), label=name, **style)
    finish_axes(
        axes[3],
        "Inventory change since the program's start",
        "time (s)",
        "inventory change (lots)",
        has_data=True,
    )
    for ax in axes[2:]:
        if ax.get_legend() is not None:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    end = w.end if w.program_end is None else w.program_end
    events = result.events
    halts = events.loc[events["kind"] == EventKind.HALT, "step"].to_numpy(float)
    reopens = events.loc[events["kind"] == EventKind.REOPEN, "step"].to_numpy(float)
    phases = flash_crash_phases(price, w.start, w.end, w.dt)
    spans = (
        (phases.phase1_start, phases.phase1_end, "tab:red", 0.25, "phase 1 (plunge)"),
        (phases.phase2_start, phases.phase2_end, "tab:purple", 0.45, "phase 2 (hot potato)"),
    )
    # the phases are also drawn as two stacked strips along the top of the price panel
    # (phase 1 above phase 2), so that they stay visible where a cluster of pauses covers
    # their shading
    for row, (first, last, color, _, _) in enumerate(spans):
        top = 1.0 - 0.05 * row
        axes[0].axvspan(first * w.dt, last * w.dt, ymin=top - 0.05, ymax=top, color=color, lw=0)
    for i, ax in enumerate(axes):
        if programs:
            ax.axvspan(w.start * w.dt, end * w.dt, color="0.92", zorder=0, lw=0)
        for first, last, color, alpha, label in spans:
            ax.axvspan(
                first * w.dt,
                last * w.dt,
                color=color,
                alpha=alpha,
                lw=0,
                label=label if i == 0 else None,
            )
        for j, step in enumerate(halts):
            stop = next((r for r in reopens if r >= step), step)
            ax.axvspan(
                step * w.dt,
                stop * w.dt,
                color="tab:orange",
                alpha=0.8,
                lw=1.0,
                label="trading pause" if i == 0 and j == 0 else None,
            )
            ax.axvline(step * w.dt, color="tab:orange", lw=0.8, alpha=0.7)
    axes[0].legend(loc="lower left", fontsize="small")
    return figure
