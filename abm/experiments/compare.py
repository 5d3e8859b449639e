"""Compare scenarios over replicate seeds: what each inventory-risk tool buys, with errors.

`compare` runs every scenario on the same replicate seeds (common random numbers: a seed gives
the same fundamental path and the same taker draws in every scenario that shares them; see
`abm.model.MarketModel`), measures the market-maker group ``mm`` of each run with `run_metrics`,
and reduces the runs to one row per scenario: each measure's mean across seeds with its standard
error, and the standard deviation across seeds of the final P&L and final inventory, with
theirs. ``abm compare SCENARIO... [--seeds N]`` (`abm.cli.compare`) prints the table and saves it
as CSV.

Replicate seeds are ``numpy.random.SeedSequence(root_seed).spawn(n)`` (DESIGN.md section 6;
`abm.experiments.studies.replicate_seeds`), so a table does not depend on the machine.

Standard errors, for a measure with finite values ``x_1..x_n`` across seeds: the mean's is
``s / sqrt(n)`` (``s`` the sample standard deviation, ``ddof=1``); the standard deviation's is
the delta-method ``s * sqrt((kappa - 1) / (4 n))``, ``kappa`` the sample kurtosis, which is
``s / sqrt(2 n)`` for a normal sample (Casella & Berger 2002, section 5.5.4).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from abm.errors import AbmError
from abm.experiments.compare_defaults import DEFAULT_OUT as DEFAULT_OUT  # kept importable here
from abm.experiments.compare_defaults import DEFAULT_ROOT_SEED as DEFAULT_ROOT_SEED
from abm.experiments.compare_defaults import DEFAULT_SEEDS as DEFAULT_SEEDS
from abm.experiments.compare_defaults import MM_GROUP
from abm.experiments.studies import mean_and_std_se, replicate_seeds
from abm.results.events import EventKind
from abm.results.run_result import RunResult
from abm.run import run
from abm.scenario.schema import Scenario, load_scenario
from analysis.market_making import DECOMPOSITION_COLUMNS, efficiency_metrics, pnl_decomposition

SHOCK_TAIL_STEPS = 20
"""Steps after the last shock that `run_metrics`' ``shock_window_pnl`` still counts."""

COMPONENTS = tuple(
    c for c in DECOMPOSITION_COLUMNS if c not in {"agent_id", "group", "total", "pnl"}
)
"""The P&L decomposition components of `analysis.market_making.pnl_decomposition`."""
RUN_METRICS = (
    *["pnl", "final_abs_inventory", "final_inventory", "inventory_sd"],
    *COMPONENTS,
    *["fill_ratio", "uptime", "quoted_spread", "inventory_half_life", "time_at_limit"],
    *["hedge_trades", "rebalance_volume", "net_delta_abs_mean", "net_delta_abs_max"],
    *["gap_pnl", "gap_abs_pnl"],
    *["shock_window_pnl", "max_drawdown", "sharpe"],
)
"""Keys of `run_metrics`, in table order."""
SPREAD_METRICS = {"pnl_std": "pnl", "final_inventory_std": "final_inventory"}
"""Standard deviations across seeds in the `compare` table, and the measure each is taken of."""
_TABLE_MEASURES = (*RUN_METRICS[:1], "pnl_std", *RUN_METRICS[1:3], "final_inventory_std")
TABLE_COLUMNS = (
    "scenario",
    "n_seeds",
    *(c for m in (*_TABLE_MEASURES, *RUN_METRICS[3:]) for c in (m, f"{m}_se")),
)
"""Columns of a `compare` table: ``scenario``, ``n_seeds``, then each measure and its ``_se``."""


class CompareError(AbmError, ValueError):
    """A comparison cannot be made as asked; the message says what to change."""


# --- one run ----------------------------------------------------------------------------------


def shock_window(shocks: Sequence[Mapping[str, Any]], n_steps: int) -> tuple[int, int] | None:
    """First and last step of the scenario's shocks plus `SHOCK_TAIL_STEPS`, within the run.

    A volatility shock spans ``step..until_step - 1``, a shock with ``duration_steps`` that many
    steps from ``step``, any other shock (a price gap, say) its own step. The window runs from
    the earliest start to the latest end plus `SHOCK_TAIL_STEPS` (the time quotes anchored on a
    stale mid take to catch up), clipped to ``n_steps - 1``.

    Args:
        shocks: The ``shocks`` list of a scenario document.
        n_steps: Rows of the run's ``market`` table (steps 0..n_steps-1).

    Returns:
        ``(first, last)``, or None without shocks or when the first starts after the run.
    """
    spans = []
    for shock in shocks:
        start = int(shock["step"])
        if "until_step" in shock:
            end = int(shock["until_step"]) - 1
        elif "duration_steps" in shock:
            end = start + int(shock["duration_steps"]) - 1
        else:
            end = start
        spans.append((start, end))
    if not spans or min(s for s, _ in spans) >= n_steps:
        return None
    last = min(max(e for _, e in spans) + SHOCK_TAIL_STEPS, n_steps - 1)
    return min(s for s, _ in spans), last


def run_metrics(result: RunResult, *, group: str = MM_GROUP) -> dict[str, float]:
    """Measures of one run's market-maker group, keyed by `RUN_METRICS`.

    Sums over the group's market makers (price units unless stated): ``pnl`` (final P&L), the
    `COMPONENTS` of `analysis.market_making.pnl_decomposition` (10-step adverse-selection
    horizon), ``hedge_trades`` (``hedge`` events), ``rebalance_volume`` (lots filled by
    ``rebalance`` events), ``gap_pnl`` and ``gap_abs_pnl`` (the signed and absolute
    ``gap_exposure`` amounts: net delta times gap, the direct hit of price gaps) and
    ``shock_window_pnl`` (P&L change from the step before `shock_window` to its last step; NaN
    without shocks).

    Means over the group's market makers: ``final_abs_inventory`` and ``final_inventory``
    (lots, last step), ``inventory_sd`` (standard deviation of inventory over steps, lots),
    ``fill_ratio``, ``uptime`` (``quote_uptime_both``), ``inventory_half_life`` (steps),
    ``time_at_limit``, ``max_drawdown`` and ``sharpe`` (per step) of
    `analysis.market_making.efficiency_metrics`; ``quoted_spread`` (ask minus bid at the end
    of steps where both quotes rest, so a quote lifted in full is missing from its step) and
    ``net_delta_abs_mean`` (mean over steps 1..T of ``|inventory + hedge|`` at the end of the
    step, lots). ``net_delta_abs_max`` is the largest such value of any of them.

    Args:
        result: A finished run.
        group: The market-maker group to measure.

    Raises:
        CompareError: If the run has no market maker in ``group``.
    """
    agents = result.agents
    rows = agents[(agents["group"] == group) & (agents["kind"] == "market_maker")]
    if rows.empty:
        raise CompareError(f"the run has no market makers in group {group!r}")
    rows = rows.sort_values(["agent_id", "step"], kind="stable")
    ids = rows["agent_id"].to_numpy(dtype=np.int64)
    mms = np.unique(ids)
    decomposition = pnl_decomposition(result)
    decomposition = decomposition[decomposition["agent_id"].isin(mms)]
    efficiency = efficiency_metrics(result)
    efficiency = efficiency[efficiency["agent_id"].isin(mms)]
    inventory = rows["inventory"].to_numpy(dtype=float)
    last = np.r_[ids[1:] != ids[:-1], True]
    later = rows["step"].to_numpy() > 0
    net_delta = np.abs(rows["net_delta"].to_numpy(dtype=float))
    spread = (rows["ask"] - rows["bid"]).to_numpy(dtype=float)
    events = result.events
    mine = events[events["agent_id"].isin(mms)]
    kinds = mine["kind"].to_numpy(dtype=object)
    amounts = mine["amount"].to_numpy(dtype=float)
    gap = amounts[kinds == EventKind.GAP_EXPOSURE]
    metrics = {
        "pnl": float(decomposition["pnl"].sum()),
        "final_abs_inventory": float(np.abs(inventory[last]).mean()),
        "final_inventory": float(inventory[last].mean()),
        "inventory_sd": float(np.mean([inventory[ids == i].std() for i in mms])),
    }
    metrics |= {c: float(decomposition[c].sum()) for c in COMPONENTS}
    metrics |= {
        "fill_ratio": float(efficiency["fill_ratio"].mean()),
        "uptime": float(efficiency["quote_uptime_both"].mean()),
        "quoted_spread": _mean_se(spread)[0],
        "inventory_half_life": float(efficiency["inventory_half_life"].mean()),
        "time_at_limit": float(efficiency["time_at_limit"].mean()),
        "hedge_trades": float(np.count_nonzero(kinds == EventKind.HEDGE)),
        "rebalance_volume": float(np.abs(amounts[kinds == EventKind.REBALANCE]).sum()),
        "net_delta_abs_mean": float(np.mean([net_delta[later & (ids == i)].mean() for i in mms])),
        "net_delta_abs_max": float(net_delta[later].max()),
        "gap_pnl": float(gap.sum()),
        "gap_abs_pnl": float(np.abs(gap).sum()),
        "shock_window_pnl": _shock_window_pnl(result, rows),
        "max_drawdown": float(efficiency["max_drawdown"].mean()),
        "sharpe": float(efficiency["sharpe"].mean()),
    }
    return metrics


def _shock_window_pnl(result: RunResult, rows: pd.DataFrame) -> float:
    """The group's P&L change across `shock_window` (NaN without shocks)."""
    shocks = [shock.model_dump(mode="json") for shock in result.scenario.shocks]
    window = shock_window(shocks, len(result.market))
    if window is None:
        return math.nan
    first, last = window
    pnl = rows.groupby("step")["pnl"].sum()
    return float(pnl.loc[last] - pnl.loc[max(first - 1, 0)])


# --- many runs --------------------------------------------------------------------------------

ScenarioLike = str | os.PathLike[str] | Scenario


def _resolve(scenarios: Sequence[ScenarioLike]) -> list[tuple[str, Scenario]]:
    """Load scenario files and label each by its name (``name#2`` for a second use)."""
    if not scenarios:
        raise CompareError("give at least one scenario to compare")
    resolved = []
    uses: dict[str, int] = {}
    for item in scenarios:
        scenario = item if isinstance(item, Scenario) else load_scenario(item)
        groups = scenario.groups_of("market_maker")
        if MM_GROUP not in groups:
            source = scenario.name if isinstance(item, Scenario) else os.fspath(item)
            raise CompareError(
                f"{source}: no market-maker group named {MM_GROUP!r} (market-maker groups: "
                f"{', '.join(groups) or 'none'}); name the group to compare {MM_GROUP!r}"
            )
        uses[scenario.name] = uses.get(scenario.name, 0) + 1
        count = uses[scenario.name]
        resolved.append((scenario.name if count == 1 else f"{scenario.name}#{count}", scenario))
    return resolved


def compare_runs(
    scenarios: Sequence[ScenarioLike],
    *,
    seeds: int,
    root_seed: int,
    steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run every scenario on the same replicate seeds; one row of `run_metrics` per run.

    Args:
        scenarios: Scenario files, or scenarios (with overrides applied, say).
        seeds: Replicate runs per scenario (>= 2).
        root_seed: Root of the seeds, ``SeedSequence(root_seed).spawn(seeds)`` (>= 0).
        steps: Run this many steps instead of each scenario's own.
        progress: Called as ``progress(done, total)`` after every run.

    Returns:
        Columns ``scenario`` (its name), ``seed``, then `RUN_METRICS`; scenario-major order.

    Raises:
        CompareError: If ``seeds < 2``, ``root_seed < 0`` or ``steps < 1``, if no scenario is
            given, or if a scenario has no market-maker group named ``mm``.
        ScenarioError: If a scenario file cannot be read or is invalid.
    """
    if seeds < 2:
        raise CompareError(f"seeds must be >= 2 to estimate standard errors, got {seeds}")
    if root_seed < 0:
        raise CompareError(f"root_seed must be >= 0, got {root_seed}")
    if steps is not None and steps < 1:
        raise CompareError(f"steps must be >= 1, got {steps}")
    resolved = _resolve(scenarios)
    replicates = replicate_seeds(seeds, root_seed)
    rows = []
    for label, scenario in resolved:
        for seed in replicates:
            result = run(scenario, seed=seed, steps=steps)  # frees its model (Mesa 3.3)
            rows.append({"scenario": label, "seed": seed, **run_metrics(result)})
            if progress is not None:
                progress(len(rows), len(resolved) * seeds)
    return pd.DataFrame(rows, columns=["scenario", "seed", *RUN_METRICS])


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean of the finite values and its standard error (NaN where undefined)."""
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return (float(finite.mean()) if finite.size else math.nan), math.nan
    mean, mean_se, _, _ = mean_and_std_se(finite)
    return mean, mean_se


def _std_se(values: np.ndarray) -> tuple[float, float]:
    """Sample sd (ddof 1) of the finite values and its delta-method standard error."""
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return math.nan, math.nan
    _, _, std, std_se = mean_and_std_se(finite)
    return std, std_se


def summarize_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Reduce `compare_runs` rows to the `compare` table, one row per scenario in order.

    A measure's value is its mean over the seeds where it is finite; ``pnl_std`` and
    ``final_inventory_std`` are standard deviations across seeds (`SPREAD_METRICS`). Standard
    errors as in the module docstring (NaN with fewer than two finite values).
    """
    rows = []
    for label, frame in runs.groupby("scenario", sort=False):
        row: dict[str, Any] = {"scenario": label, "n_seeds": len(frame)}
        for name in RUN_METRICS:
            row[name], row[f"{name}_se"] = _mean_se(frame[name].to_numpy(dtype=float))
        for name, source in SPREAD_METRICS.items():
            row[name], row[f"{name}_se"] = _std_se(frame[source].to_numpy(dtype=float))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def compare(
    scenario_paths: Sequence[ScenarioLike],
    *,
    seeds: int,
    root_seed: int,
    steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Each scenario's market-maker measures over common replicate seeds, with standard errors.

    `compare_runs` then `summarize_runs`: one row per scenario, columns `TABLE_COLUMNS`
    (``pnl``, ``pnl_std`` across seeds, the other `RUN_METRICS` averaged across seeds,
    ``final_inventory_std`` across seeds; each with its ``_se``). Arguments and exceptions are
    those of `compare_runs`.
    """
    return summarize_runs(
        compare_runs(
            scenario_paths, seeds=seeds, root_seed=root_seed, steps=steps, progress=progress
        )
    )


# --- text -------------------------------------------------------------------------------------


def _number(value: float, digits: int = 4) -> str:
    if not math.isfinite(value):
        return "nan"
    return "0" if value == 0 else f"{value:.{digits}g}"


def format_compare(df: pd.DataFrame) -> str:
    """Render a `compare` table as text: one line per measure, one column per scenario.

    Cells read ``mean +-standard error``. Measures that are zero or undefined in every scenario
    (the decomposition components of tools no scenario uses, say) are left out.

    Raises:
        CompareError: If ``df`` has no rows, no ``scenario`` column, or a measure without its
            ``_se`` column.
    """
    if df.empty or "scenario" not in df.columns:
        raise CompareError("not a compare table: it needs rows and a 'scenario' column")
    names = [c for c in df.columns if c not in {"scenario", "n_seeds"} and not c.endswith("_se")]
    missing = [f"{name}_se" for name in names if f"{name}_se" not in df.columns]
    if missing:
        raise CompareError(f"not a compare table: missing {', '.join(missing)}")
    lines = [["measure", *(str(s) for s in df["scenario"])]]
    for name in names:
        values = df[name].to_numpy(dtype=float)
        if not np.any(np.isfinite(values) & (values != 0)):
            continue
        errors = df[f"{name}_se"].to_numpy(dtype=float)
        lines.append(
            [name]
            + [
                _number(v) + (f" +-{_number(e, 2)}" if math.isfinite(e) else "")
                for v, e in zip(values, errors, strict=True)
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    pad = [str.ljust, *[str.rjust] * (len(widths) - 1)]
    text = ["  ".join(p(c, w) for p, c, w in zip(pad, line, widths, strict=True)) for line in lines]
    text.insert(1, "-" * len(text[0]))
    if "n_seeds" in df.columns:
        counts = ", ".join(str(n) for n in sorted({int(n) for n in df["n_seeds"]}))
        text.append(f"seeds per scenario: {counts}; cells: mean +-standard error across seeds")
    return "\n".join(text)
