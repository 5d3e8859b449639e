"""The flash-crash measures of a run: pure functions of its tables, reported in its summary.

A run with an execution program (a scenario group of kind ``pov``) gets these measures in its
``summary.json`` from `abm.run.run`; `analysis.flash_crash` reports and draws them. Trader
classes are the scenario's groups; what the measures need to know of the scenario (``dt``,
where each program starts, which groups are high-frequency traders) is a `FlashCrashSetup`,
taken from a validated scenario with `FlashCrashSetup.of_scenario`. The windows and the
measures are described in `analysis.flash_crash` (CFTC/SEC 2010; Kirilenko, Kyle, Samadi and
Tuzun 2017).

This module reads tables only (``market``, ``trades``, ``agents``, ``events``: any object with
those DataFrames, such as a `RunResult`); it never imports the model, the agents or analysis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from abm.results.events import EventKind
from abm.results.flash_crash_phases import REBOUND_S, ar1_pairs_half_life, flash_crash_phases

if TYPE_CHECKING:
    from abm.scenario.schema import Scenario

PROGRAM_KIND = "pov"
"""The agent kind of an execution program: a scenario with such a group is a flash-crash run."""
POPULATION_KIND = "paddrik"
HFT_ROLE = "hft"
"""The ``paddrik`` role of the high-frequency traders."""
RECOVERY_LEVEL = 0.9
"""Share of its rebound the price must regain for the recovery to count as done."""


class RunTables(Protocol):
    """The tables of a run that the measures read (a `RunResult` is one)."""

    @property
    def market(self) -> pd.DataFrame: ...  # noqa: D102

    @property
    def trades(self) -> pd.DataFrame: ...  # noqa: D102

    @property
    def agents(self) -> pd.DataFrame: ...  # noqa: D102

    @property
    def events(self) -> pd.DataFrame: ...  # noqa: D102


@dataclass(frozen=True, slots=True)
class FlashCrashSetup:
    """What the measures need to know of the scenario.

    Attributes:
        dt: Seconds per step (> 0).
        program_starts: Each execution program group (kind ``pov``, any count) and its
            ``start_step``, in scenario order; empty when the run has no program.
        hft_groups: The ``paddrik`` groups of role ``hft``, in scenario order.
    """

    dt: float
    program_starts: Mapping[str, int]
    hft_groups: tuple[str, ...]

    @classmethod
    def of_scenario(cls, scenario: Scenario) -> FlashCrashSetup:
        """The setup of a validated scenario."""
        from abm.scenario.groups import PovGroup
        from abm.scenario.paddrik import PaddrikGroup

        groups = scenario.agents.items()
        return cls(
            dt=float(scenario.dt),
            program_starts={
                name: group.start_step for name, group in groups if isinstance(group, PovGroup)
            },
            hft_groups=tuple(
                name
                for name, group in groups
                if isinstance(group, PaddrikGroup) and group.role == HFT_ROLE
            ),
        )


@dataclass(frozen=True, slots=True)
class FlashCrashWindows:
    """Where the event lies in a run (steps, inclusive) and the step length ``dt`` (s)."""

    dt: float
    before_first: int
    start: int
    trough: int
    end: int
    program_end: int | None


def trader_groups(result: RunTables) -> dict[int, str]:
    """Group of every trader, from the ``agents`` rows of step 0 (every trader has one)."""
    first = result.agents.loc[result.agents["step"] == 0, ["agent_id", "group"]]
    return dict(zip(first["agent_id"].astype(int), first["group"].astype(str), strict=True))


def class_inventory(result: RunTables) -> pd.DataFrame:
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


def class_shares(result: RunTables, first: int = 0, last: int | None = None) -> pd.DataFrame:
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


def hot_potato(result: RunTables, members: Sequence[str], first: int, last: int) -> tuple[int, int]:
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


def smoothed_price(result: RunTables, dt: float, smooth_s: float = 1.0) -> np.ndarray:
    """Last trade price per step as a trailing mean over ``smooth_s`` seconds (``dt`` s a step).

    Forward-filled; before the first trade, the mid, then the fundamental value.
    """
    market = result.market
    price = market["last_price"].astype(float).ffill()
    price = price.fillna(market["mid"].astype(float)).fillna(market["fundamental"].astype(float))
    window = max(1, round(smooth_s / dt))
    return price.rolling(window, min_periods=1).mean().to_numpy(dtype=float)


def flash_crash_windows(
    result: RunTables, setup: FlashCrashSetup, *, before_s: float = 300.0, smooth_s: float = 1.0
) -> FlashCrashWindows:
    """The before window, the program's start and end, and the trough (`analysis.flash_crash`).

    Raises:
        ValueError: If the run is not a flash-crash run, or its program starts after the run.
    """
    if not setup.program_starts:
        raise ValueError("not a flash-crash run: the scenario has no execution program (pov)")
    dt = setup.dt
    start = min(setup.program_starts.values())
    end = int(result.market["step"].max())
    if start > end:
        raise ValueError(f"the program starts at step {start}, after the run's last step {end}")
    before_first = max(1, start - round(before_s / dt))
    price = smoothed_price(result, dt, smooth_s)
    trough = start + int(np.argmin(price[start : end + 1]))
    done = result.events.loc[result.events["kind"] == EventKind.POV_DONE, "step"]
    program_end = int(done.max()) if len(done) else None
    return FlashCrashWindows(dt, before_first, max(start, 1), trough, end, program_end)


def flash_crash_summary(
    result: RunTables, setup: FlashCrashSetup, *, before_s: float = 300.0, smooth_s: float = 1.0
) -> dict[str, Any]:
    """The flash-crash measures, as ``summary.json`` keys (listed in `analysis.flash_crash`).

    Raises:
        ValueError: As `flash_crash_windows`.
    """
    w = flash_crash_windows(result, setup, before_s=before_s, smooth_s=smooth_s)
    hft = list(setup.hft_groups)
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
    summary.update(_price_measures(smoothed_price(result, setup.dt, smooth_s), w))
    programs = [name for name in setup.program_starts if name in inventory]
    change = np.zeros(0, dtype=np.int64)
    if programs:
        change = (inventory[programs].iloc[-1] - inventory[programs].iloc[0]).to_numpy()
    summary["program_start_s"] = w.start * w.dt
    summary["program_end_s"] = None if w.program_end is None else w.program_end * w.dt
    summary["program_executed"] = int(np.abs(change).sum())
    summary["halts"] = int((result.events["kind"] == EventKind.HALT).sum())
    summary.update(_phase_measures(result, setup, w, smooth_s, summary["bid_depth_before"]))
    return summary


def _phase_measures(
    result: RunTables,
    setup: FlashCrashSetup,
    w: FlashCrashWindows,
    smooth_s: float,
    depth_before: float,
) -> dict[str, float | None]:
    price = smoothed_price(result, setup.dt, smooth_s)
    phases = flash_crash_phases(price, w.start, w.end, w.dt)
    hft = list(setup.hft_groups)
    before = float(price[w.before_first : w.start].mean()) if w.start > w.before_first else math.nan
    out: dict[str, float | None] = {}
    for label, first, last in (
        ("phase1", phases.phase1_start, phases.phase1_end),
        ("phase2", phases.phase2_start, phases.phase2_end),
    ):
        shares = class_shares(result, first, last)
        gross, net = hot_potato(result, hft, first, last)
        out[f"{label}_start_s"] = first * w.dt
        out[f"{label}_duration_s"] = (last - first) * w.dt
        out[f"{label}_fall_pct"] = 100.0 * (price[first] - price[last]) / before
        out[f"{label}_hft_volume_share"] = (
            float(shares.loc[hft, "volume_share"].sum()) if hft else None
        )
        out[f"{label}_hft_net_to_gross"] = abs(net) / gross if gross else math.nan
    depth = result.market["bid_depth"].astype(float)
    smooth = depth.rolling(max(1, round(smooth_s / w.dt)), min_periods=1).mean().to_numpy()
    scale = depth_before if depth_before > 0 else math.nan
    out["phase2_bid_depth_ratio"] = (
        float(smooth[phases.phase2_start : phases.phase2_end + 1].min()) / scale
    )
    low = phases.phase1_end
    horizon = min(w.end, low + round(REBOUND_S / w.dt))
    fall = before - float(price[low])
    regained = float(price[low : horizon + 1].max()) - float(price[low])
    out["rebound_fraction"] = regained / fall if fall > 0 else math.nan
    halts = result.events.loc[result.events["kind"] == EventKind.HALT, "step"].to_numpy()
    near = halts[(halts >= phases.phase1_start) & (halts <= phases.phase1_end)]
    out["phase1_halts"] = float(len(near))
    inventory = class_inventory(result)
    out["hft_inventory_half_life_outside_s"] = (
        _half_life_outside_s(inventory, hft, w.dt, phases.phase1_start, phases.phase1_end)
        if hft
        else math.nan
    )
    return out


def _half_life_outside_s(
    inventory: pd.DataFrame, hft: Sequence[str], dt: float, first: int, last: int
) -> float:
    """AR(1) half-life of the HFTs' aggregate inventory, 1 s samples, phase 1 left out."""
    every = max(1, round(1.0 / dt))
    series = inventory[list(hft)].sum(axis=1).to_numpy(dtype=float)
    steps = np.arange(0, len(series), every)
    x = series[steps]
    keep = (steps[1:] < first) | (steps[:-1] > last)  # pairs wholly outside phase 1
    return ar1_pairs_half_life(x[:-1][keep], x[1:][keep]) * every * dt


def ar1_half_life(series: Any) -> float:
    """Half-life (in steps) of an AR(1) fitted by least squares with an intercept.

    ``x_t = c + phi x_{t-1} + e_t``; the half-life is ``ln(0.5) / ln(phi)``. NaN when
    ``phi <= 0`` or ``phi >= 1`` (no monotone decay), when the series is constant, or when it
    has fewer than three points.
    """
    x = np.asarray(series, dtype=float)
    if x.ndim != 1 or x.size < 3:
        return math.nan
    lagged, current = x[:-1] - x[:-1].mean(), x[1:] - x[1:].mean()
    denominator = float(lagged @ lagged)
    if denominator == 0.0:
        return math.nan
    phi = float(lagged @ current) / denominator
    if not 0.0 < phi < 1.0:
        return math.nan
    return math.log(0.5) / math.log(phi)


def _half_life_s(inventory: pd.DataFrame, hft: Sequence[str], w: FlashCrashWindows) -> float:
    if not hft:
        return math.nan
    every = max(1, round(1.0 / w.dt))
    series = inventory[list(hft)].sum(axis=1).to_numpy(dtype=float)
    sampled = series[w.before_first : w.start : every]
    return ar1_half_life(sampled) * every * w.dt


def _depth_measures(result: RunTables, w: FlashCrashWindows, smooth_s: float) -> dict[str, float]:
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
