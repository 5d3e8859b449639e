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
  second in the before window, from an AR(1) fit (`analysis.market_making.ar1_half_life`);
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
  ``program_executed`` (lots the program groups traded), ``halts`` (``halt`` events).

This module reads `RunResult` tables only; it never imports the model or the agents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from abm.results.events import EventKind
from abm.results.run_result import RunResult
from abm.scenario.schema import AgentGroup, PovGroup
from analysis.figures import finish_axes, new_figure, require_columns
from analysis.market_making import ar1_half_life

FLASH_CRASH_FIGURE = "flash_crash.png"
"""File name of `flash_crash_figure` in the report."""
PROGRAM_KIND = "pov"
POPULATION_KIND = "paddrik"
HFT_ROLE = "hft"
RECOVERY_LEVEL = 0.9
"""Share of its rebound the price must regain for the recovery to count as done."""


@dataclass(frozen=True, slots=True)
class FlashCrashWindows:
    """Where the event lies in a run (steps, inclusive) and the step length ``dt`` (s)."""

    dt: float
    before_first: int
    start: int
    trough: int
    end: int
    program_end: int | None


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


def trader_groups(result: RunResult) -> dict[int, str]:
    """Group of every trader, from the ``agents`` rows of step 0 (every trader has one)."""
    first = result.agents.loc[result.agents["step"] == 0, ["agent_id", "group"]]
    return dict(zip(first["agent_id"].astype(int), first["group"].astype(str), strict=True))


def class_inventory(result: RunResult) -> pd.DataFrame:
    """Aggregate inventory (lots) of each group at the end of every step.

    Rebuilt from the step-0 inventories and the ``trades`` table, so it needs no per-step
    ``agents`` rows. Index: step ``0..N`` (the ``market`` table's steps); one column per group.
    """
    groups = trader_groups(result)
    names = list(dict.fromkeys(groups.values()))
    column = {name: i for i, name in enumerate(names)}
    n_steps = int(result.market["step"].max()) + 1
    moves = np.zeros((n_steps, len(names)), dtype=np.int64)
    first = result.agents.loc[result.agents["step"] == 0]
    for group, inventory in first.groupby("group", sort=False)["inventory"].sum().items():
        moves[0, column[str(group)]] += int(inventory)
    trades = result.trades
    steps = trades["step"].to_numpy(dtype=np.int64)
    qty = trades["qty"].to_numpy(dtype=np.int64)
    buyers = np.array([column[groups[int(i)]] for i in trades["buyer"]], dtype=np.int64)
    sellers = np.array([column[groups[int(i)]] for i in trades["seller"]], dtype=np.int64)
    np.add.at(moves, (steps, buyers), qty)
    np.add.at(moves, (steps, sellers), -qty)
    return pd.DataFrame(np.cumsum(moves, axis=0), columns=names).rename_axis("step")


def class_shares(result: RunResult, first: int = 0, last: int | None = None) -> pd.DataFrame:
    """Each group's share of trade sides and of traded lots in steps ``first..last``.

    Returns:
        Index: every group (zero where it did not trade); columns ``transaction_share``,
        ``volume_share`` (each summing to one over groups, NaN without trades) and ``volume``
        (lots bought plus sold by the group).
    """
    groups = trader_groups(result)
    names = list(dict.fromkeys(groups.values()))
    trades = result.trades
    steps = trades["step"].to_numpy(dtype=np.int64)
    keep = (steps >= first) & (steps <= (steps.max(initial=0) if last is None else last))
    window = trades.loc[keep]
    sides = pd.concat(
        [
            pd.DataFrame({"group": window["buyer"].map(groups), "qty": window["qty"]}),
            pd.DataFrame({"group": window["seller"].map(groups), "qty": window["qty"]}),
        ]
    )
    counts = sides.groupby("group")["qty"].count().reindex(names, fill_value=0)
    volume = sides.groupby("group")["qty"].sum().reindex(names, fill_value=0)
    total_sides, total_lots = float(counts.sum()), float(volume.sum())
    return pd.DataFrame(
        {
            "transaction_share": counts / total_sides if total_sides else math.nan,
            "volume_share": volume / total_lots if total_lots else math.nan,
            "volume": volume.astype("int64"),
        }
    )


def hot_potato(result: RunResult, members: Sequence[str], first: int, last: int) -> tuple[int, int]:
    """Lots traded (bought plus sold) by ``members`` in steps ``first..last``, and their net.

    The net is the change of the members' aggregate position over the window (lots).
    """
    groups = trader_groups(result)
    ids = {agent_id for agent_id, group in groups.items() if group in set(members)}
    trades = result.trades
    window = trades.loc[(trades["step"] >= first) & (trades["step"] <= last)]
    bought = int(window.loc[window["buyer"].isin(ids), "qty"].sum())
    sold = int(window.loc[window["seller"].isin(ids), "qty"].sum())
    return bought + sold, bought - sold


def smoothed_price(result: RunResult, smooth_s: float = 1.0) -> np.ndarray:
    """Last trade price per step as a trailing mean over ``smooth_s`` seconds.

    Forward-filled; before the first trade, the mid, then the fundamental value.
    """
    market = result.market
    require_columns(market, ("step", "last_price", "mid", "fundamental", "bid_depth"), "market")
    price = market["last_price"].astype(float).ffill()
    price = price.fillna(market["mid"].astype(float)).fillna(market["fundamental"].astype(float))
    window = max(1, round(smooth_s / _dt(result)))
    return price.rolling(window, min_periods=1).mean().to_numpy(dtype=float)


def flash_crash_windows(
    result: RunResult, *, before_s: float = 300.0, smooth_s: float = 1.0
) -> FlashCrashWindows:
    """The before window, the program's start and end, and the trough (see the module docstring).

    Raises:
        ValueError: If the run is not a flash-crash run, or its program starts after the run.
    """
    programs = _groups_of_kind(result, PROGRAM_KIND)
    if not programs:
        raise ValueError("not a flash-crash run: the scenario has no execution program (pov)")
    dt = _dt(result)
    start = min(spec.start_step for spec in programs.values() if isinstance(spec, PovGroup))
    end = int(result.market["step"].max())
    if start > end:
        raise ValueError(f"the program starts at step {start}, after the run's last step {end}")
    before_first = max(1, start - round(before_s / dt))
    price = smoothed_price(result, smooth_s)
    trough = start + int(np.argmin(price[start : end + 1]))
    done = result.events.loc[result.events["kind"] == EventKind.POV_DONE, "step"]
    program_end = int(done.max()) if len(done) else None
    return FlashCrashWindows(dt, before_first, max(start, 1), trough, end, program_end)


def flash_crash_summary(
    result: RunResult, *, before_s: float = 300.0, smooth_s: float = 1.0
) -> dict[str, Any]:
    """The measures of the module docstring, as ``summary.json`` keys.

    Raises:
        ValueError: As `flash_crash_windows`.
    """
    w = flash_crash_windows(result, before_s=before_s, smooth_s=smooth_s)
    hft = hft_groups(result)
    run_shares = class_shares(result)
    fall_shares = class_shares(result, w.start, w.trough)
    inventory = class_inventory(result)
    summary: dict[str, Any] = {
        "transaction_share_by_group": run_shares["transaction_share"].to_dict(),
        "volume_share_by_group": run_shares["volume_share"].to_dict(),
        "transaction_share_fall_by_group": fall_shares["transaction_share"].to_dict(),
        "volume_share_fall_by_group": fall_shares["volume_share"].to_dict(),
        "hft_volume_share": float(run_shares.loc[hft, "volume_share"].sum()) if hft else None,
        "hft_volume_share_fall": float(fall_shares.loc[hft, "volume_share"].sum()) if hft else None,
        "hft_inventory_half_life_s": _half_life_s(inventory, hft, w),
    }
    for label, (first, last) in (
        ("before", (w.before_first, w.start - 1)),
        ("fall", (w.start, w.trough)),
    ):
        gross, net = hot_potato(result, hft, first, last)
        summary[f"hot_potato_ratio_{label}"] = gross / abs(net) if net else math.inf
        summary[f"hft_net_to_gross_{label}"] = abs(net) / gross if gross else math.nan
    summary.update(_depth_measures(result, w, smooth_s))
    summary.update(_price_measures(smoothed_price(result, smooth_s), w))
    programs = [name for name in _groups_of_kind(result, PROGRAM_KIND) if name in inventory]
    change = np.zeros(0, dtype=np.int64)
    if programs:
        change = (inventory[programs].iloc[-1] - inventory[programs].iloc[0]).to_numpy()
    summary["program_start_s"] = w.start * w.dt
    summary["program_end_s"] = None if w.program_end is None else w.program_end * w.dt
    summary["program_executed"] = int(np.abs(change).sum())
    summary["halts"] = int((result.events["kind"] == EventKind.HALT).sum())
    return summary


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


def _half_life_s(inventory: pd.DataFrame, hft: Sequence[str], w: FlashCrashWindows) -> float:
    if not hft:
        return math.nan
    every = max(1, round(1.0 / w.dt))
    series = inventory[list(hft)].sum(axis=1).to_numpy(dtype=float)
    sampled = series[w.before_first : w.start : every]
    return ar1_half_life(sampled) * every * w.dt


def _depth_measures(result: RunResult, w: FlashCrashWindows, smooth_s: float) -> dict[str, float]:
    depth = result.market["bid_depth"].astype(float)
    smooth = depth.rolling(max(1, round(smooth_s / w.dt)), min_periods=1).mean().to_numpy()
    before = (
        float(depth.iloc[w.before_first : w.start].mean()) if w.start > w.before_first else math.nan
    )
    fall = smooth[w.start : w.trough + 1]
    scale = before if before > 0 else math.nan
    return {
        "bid_depth_before": before,
        "bid_depth_fall_min_ratio": float(fall.min()) / scale,
        "bid_depth_fall_mean_ratio": float(depth.iloc[w.start : w.trough + 1].mean()) / scale,
    }


def _price_measures(price: np.ndarray, w: FlashCrashWindows) -> dict[str, float | None]:
    before = float(price[w.before_first : w.start].mean()) if w.start > w.before_first else math.nan
    trough = float(price[w.trough])
    after = price[w.trough : w.end + 1]
    peak = float(after.max())
    rise = peak - trough
    fall = before - trough
    reached = np.flatnonzero(after >= trough + RECOVERY_LEVEL * rise) if rise > 0 else np.zeros(0)
    return {
        "price_before": before,
        "price_trough": trough,
        "fall_pct": 100.0 * fall / before,
        "fall_duration_s": (w.trough - w.start) * w.dt,
        "recovery_pct": 100.0 * rise / before,
        "recovery_fraction": rise / fall if fall > 0 else math.nan,
        "recovery_duration_s": float(reached[0]) * w.dt if len(reached) else 0.0,
    }


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
    program's window (start to ``pov_done``, or the end of the run) is shaded and each trading
    halt is a vertical orange line.

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
    halts = result.events.loc[result.events["kind"] == EventKind.HALT, "step"].to_numpy(float)
    for ax in axes:
        if programs:
            ax.axvspan(w.start * w.dt, end * w.dt, color="0.85", zorder=0, lw=0)
        for step in halts:
            ax.axvline(step * w.dt, color="tab:orange", lw=0.8, alpha=0.7)
    return figure
