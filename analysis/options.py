"""Options runs: the smile, the dealers' Greeks and P&L attribution, the run's Heston fit.

Inputs are a run's ``options`` table (one row per series per recorded step: quotes, mid, the
Black-Scholes implied volatility of the mid, open interest, volume) and ``greeks`` table (one
row per option market maker per step: Greeks and the five P&L terms of
`abm.agents.option_pnl`, which sum to the step's equity change). Volatilities are per
sqrt(unit of model time) (the unit of the scenario's ``dt``) unless a function says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd

from abm.derivatives.calibration import HestonFit, calibrate_heston
from abm.results.run_result import RunResult

PNL_TERMS = ("pnl_theta", "pnl_gamma", "pnl_vega", "pnl_hedging", "pnl_residual")
"""The attribution columns of the ``greeks`` table, in order (they sum to the equity change)."""
GREEKS = ("delta", "gamma", "vega", "theta")
SURFACE_COLUMNS = ("expiry", "strike", "price", "type", "spot", "rate")
"""The columns `surface_rows` gives (those of `abm.derivatives.surface`'s CSV)."""


def has_options(result: RunResult) -> bool:
    """Whether the run has an options venue with recorded series."""
    return len(result.options) > 0


def _scenario_options(result: RunResult) -> tuple[float, float]:
    """The options section's rate and the run's dt."""
    options = result.scenario.options
    rate = float(options.rate) if options is not None else 0.0
    return rate, float(result.scenario.dt)


def quoted_step(result: RunResult, step: int | None = None) -> int:
    """``step`` if given, else the last recorded step with the most two-sided series.

    Raises:
        ValueError: If the run has no options rows (or none at ``step``).
    """
    table = result.options
    if table.empty:
        raise ValueError("the run has no options table rows (no options section)")
    if step is not None:
        if not (table["step"] == step).any():
            raise ValueError(f"step {step}: no options rows recorded at that step")
        return int(step)
    quoted = table[np.isfinite(table["mid"].to_numpy(dtype=float))]
    if quoted.empty:
        raise ValueError("no series had a two-sided quote at any recorded step")
    counts = quoted.groupby("step").size()
    best = counts[counts == counts.max()]
    return int(best.index.max())


def smile(result: RunResult, step: int | None = None) -> pd.DataFrame:
    """Implied volatility by strike (rows) and expiry step (columns) at one recorded step.

    Each cell is the out-of-the-money series' implied volatility (the put below the spot,
    the call at or above it, the spot being the market table's mid at that step), else the
    other type's, NaN without a quote. ``step``: see `quoted_step`.
    """
    at = quoted_step(result, step)
    rows = result.options[result.options["step"] == at]
    spot = _spot(result, at)
    out: dict[int, dict[float, float]] = {}
    for keys, group in rows.groupby(["expiry", "strike"], observed=True):
        expiry, strike = cast("tuple[int, float]", keys)
        by_type = dict(zip(group["type"].astype(str), group["implied_vol"], strict=True))
        first, second = ("put", "call") if strike < spot else ("call", "put")
        value = by_type.get(first, np.nan)
        if not np.isfinite(value):
            value = by_type.get(second, np.nan)
        out.setdefault(int(expiry), {})[float(strike)] = float(value)
    frame = pd.DataFrame(out).sort_index()
    frame.index.name = "strike"
    frame.columns.name = "expiry"
    return frame


def _spot(result: RunResult, step: int) -> float:
    market = result.market
    row = market[market["step"] == step]
    value = float(row["mid"].iloc[0]) if len(row) else np.nan
    if not np.isfinite(value):
        value = float(row["mark"].iloc[0]) if len(row) and "mark" in row else np.nan
    if not np.isfinite(value):
        raise ValueError(f"step {step}: no spot (mid or mark) recorded")
    return value


def greeks_over_time(result: RunResult) -> pd.DataFrame:
    """The option market makers' Greeks summed over dealers, per step (index: step)."""
    greeks = result.greeks
    if greeks.empty:
        raise ValueError("the run has no greeks rows (no option market makers)")
    return greeks.groupby("step")[list(GREEKS)].sum()


def pnl_attribution(result: RunResult) -> pd.DataFrame:
    """Each option market maker's P&L terms summed over the run, and their total.

    Index: agent_id; columns: the five `PNL_TERMS` and ``total`` (= the dealer's equity change
    from its first record to its last, by the attribution's construction).
    """
    greeks = result.greeks
    if greeks.empty:
        raise ValueError("the run has no greeks rows (no option market makers)")
    terms = greeks.groupby("agent_id")[list(PNL_TERMS)].sum()
    terms["total"] = terms[list(PNL_TERMS)].sum(axis=1)
    return terms


def surface_rows(
    result: RunResult, step: int | None = None, *, time_unit: float = 1.0
) -> pd.DataFrame:
    """The run's option surface at one step, as rows of a surface CSV (`SURFACE_COLUMNS`).

    One row per series with a two-sided quote and time left: ``price`` its mid, ``expiry`` the
    time left in units of ``time_unit`` model time (e.g. ``time_unit`` = the model time in a
    year gives years), ``spot`` the market mid at that step, ``rate`` the options section's
    rate per ``time_unit``. ``step``: see `quoted_step`. `DataFrame.to_csv(index=False)`
    writes a file `abm.derivatives.surface.read_surface` reads.
    """
    if not time_unit > 0.0:
        raise ValueError(f"time_unit: must be positive, got {time_unit!r}")
    at = quoted_step(result, step)
    rate, dt = _scenario_options(result)
    rows = result.options[result.options["step"] == at]
    rows = rows[np.isfinite(rows["mid"].to_numpy(dtype=float)) & (rows["expiry"] > at)]
    spot = _spot(result, at)
    return pd.DataFrame(
        {
            "expiry": (rows["expiry"].to_numpy() - at) * dt / time_unit,
            "strike": rows["strike"].to_numpy(dtype=float),
            "price": rows["mid"].to_numpy(dtype=float),
            "type": rows["type"].astype(str).to_numpy(),
            "spot": spot,
            "rate": rate * time_unit,
        },
        columns=list(SURFACE_COLUMNS),
    )


@dataclass(frozen=True, slots=True)
class RunSurfaceFit:
    """A Heston fit of a run's own option surface (`calibrate_run_surface`)."""

    step: int
    surface: pd.DataFrame
    fit: HestonFit


def calibrate_run_surface(
    result: RunResult,
    step: int | None = None,
    *,
    time_unit: float = 1.0,
    n_starts: int = 4,
    seed: int = 0,
) -> RunSurfaceFit:
    """Fit Heston (`abm.derivatives.calibration.calibrate_heston`) to the run's mids at a step.

    Parameters come out per ``time_unit`` of model time (see `surface_rows`).

    Raises:
        ValueError: No quoted step.
        abm.derivatives.calibration.CalibrationError: Too few quotes, one expiry, or a
            surface that does not identify the parameters.
    """
    at = quoted_step(result, step)
    rows = surface_rows(result, at, time_unit=time_unit)
    fit = calibrate_heston(
        float(rows["spot"].iloc[0]) if len(rows) else 1.0,
        rows["strike"].to_numpy(),
        rows["expiry"].to_numpy(),
        float(rows["rate"].iloc[0]) if len(rows) else 0.0,
        0.0,
        price=rows["price"].to_numpy(),
        is_call=(rows["type"] == "call").to_numpy(),
        n_starts=n_starts,
        seed=seed,
    )
    return RunSurfaceFit(at, rows, fit)


def options_summary_lines(result: RunResult) -> list[str]:
    """Lines for ``abm run``: the smile per expiry and each dealer's P&L attribution."""
    lines: list[str] = []
    try:
        table = smile(result)
    except ValueError as exc:
        return [f"options: {exc}"]
    at = quoted_step(result)
    lines.append(f"options: implied volatility smile at step {at} (per sqrt(model time unit))")
    strikes = "  ".join(f"{k:>9g}" for k in table.index)
    lines.append(f"  {'expiry':>8}  {strikes}")
    for expiry in table.columns:
        cells = "  ".join(
            f"{v:>9.3g}" if np.isfinite(v) else f"{'-':>9}" for v in table[expiry].to_numpy()
        )
        lines.append(f"  {expiry:>8}  {cells}")
    try:
        terms = pnl_attribution(result)
    except ValueError:
        return lines
    lines.append("option market makers' P&L attribution (price units; sums to equity change)")
    header = "".join(f"{name.removeprefix('pnl_'):>11}" for name in (*PNL_TERMS, "total"))
    lines.append(f"  {'agent':>6}{header}")
    for agent_id, row in terms.iterrows():
        cells = "".join(f"{row[name]:>11.3f}" for name in (*PNL_TERMS, "total"))
        lines.append(f"  {agent_id:>6}{cells}")
    return lines
