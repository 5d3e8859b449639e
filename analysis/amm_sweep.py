"""A volatility x fee sweep of an AMM scenario against the LVR closed forms.

Reads what ``abm sweep`` writes for a sweep of a scenario with a pool
(``sweeps/amm_fee_volatility.yaml``: `analysis.ensemble.load_sweep_results`) and puts the
measured rates beside the closed forms of `analysis.amm`, per cell (sigma, fee):

* measured: ``amm_arbitrage_rate``, the arbitrageurs' pool-swap profit at the fundamental per
  unit of model time per unit of pool value, and ``amm_lvr_rate``, the LPs' loss-versus-
  rebalancing on the same scale (`abm.results.amm_summary.amm_figures`); mean and 95% t
  interval over the replicates (`analysis.ensemble.t_interval`);
* closed forms, with ``sigma`` the relative volatility per square root of model time (a
  ``gbm`` fundamental's ``sigma``; an ``arithmetic`` one's ``sigma / s0``, the price staying
  near ``s0`` over such runs), ``f`` the pool fee and ``dt_b = block_steps * dt`` the block
  interval: LVR ``sigma**2 / 8`` (`analysis.amm.lvr_rate`, Milionis, Moallemi, Roughgarden &
  Zhang 2022); arbitrage profit with fixed blocks ``sigma**2 / 8 / (1 + sqrt(2 pi) /
  |zeta(1/2)| f / (sigma sqrt(dt_b)))`` (`analysis.amm.fixed_block_arbitrage_factor`,
  Nezlobin & Tassy 2025), the model's case; and with Poisson blocks of the same rate ``1 /
  dt_b``, ``sigma**2 / 8 / (1 + sqrt(2 / dt_b) f / sigma)`` (`analysis.amm.arbitrage_probability`,
  Milionis, Moallemi & Roughgarden 2023), for comparison.

The closed forms are for a pool that only arbitrageurs trade; a scenario's other traders
(noise routed to the pool) move the pool too, which the arbitrageurs then reverse, so at a
low fee the measured arbitrage rate sits above them. `lvr_sweep_table` is the per-cell table,
`lvr_sweep_figure` the figure (one panel per fee), `write_lvr_sweep_figure` saves both into
the sweep directory; ``python -m analysis.amm_sweep DIR`` does that and prints the table.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import NullFormatter

from abm.fundamental import ArithmeticSpec, GBMSpec
from abm.scenario.schema import Scenario
from analysis.amm import arbitrage_probability, fixed_block_arbitrage_factor, lvr_rate
from analysis.ensemble import CONFIDENCE, SweepData, load_sweep_results, t_interval
from analysis.figures import DisplayFigure, new_figure
from analysis.report import FIGURES_DIR, write_atomic
from analysis.report_document import png_bytes

__all__ = [
    "FIGURE_NAME",
    "TABLE_NAME",
    "lvr_sweep_figure",
    "lvr_sweep_table",
    "main",
    "write_lvr_sweep_figure",
]

FIGURE_NAME = "amm_lvr_sweep.png"
"""The figure `write_lvr_sweep_figure` writes under the sweep directory's ``figures/``."""
TABLE_NAME = "amm_lvr_sweep.csv"
"""The per-cell table it writes beside the figure."""
_MEASURED = ("amm_arbitrage_rate", "amm_lvr_rate")
CLOSED_FORM_PARAMETERS = frozenset(
    {"fundamental.sigma", "fundamental.s0", "amm.fee_pips", "amm.block_steps", "dt"}
)
"""Sweep parameters the closed forms read; any other one splits the figure's markers."""


def _cell_setup(scenario: Scenario) -> tuple[float, float, float]:
    """``(sigma relative per sqrt(time), fee fraction, block interval)`` of a scenario."""
    if scenario.amm is None:
        raise ValueError("the sweep's scenario has no amm section")
    fundamental = scenario.fundamental
    if isinstance(fundamental, GBMSpec):
        sigma = float(fundamental.sigma)
    elif isinstance(fundamental, ArithmeticSpec):
        sigma = float(fundamental.sigma) / float(fundamental.s0)
    else:
        raise ValueError(
            f"closed forms need an arithmetic or gbm fundamental, not {fundamental.kind!r}"
        )
    return sigma, scenario.amm.fee_pips / 1e6, scenario.amm.block_steps * scenario.dt


def lvr_sweep_table(sweep: SweepData | str | os.PathLike[str]) -> pd.DataFrame:
    """One row per sweep point: measured rates (mean, interval) and the closed forms.

    Columns: the sweep's parameters, ``sigma`` (relative), ``fee``, ``block_interval``, ``n``
    (finished runs), for each of ``amm_arbitrage_rate`` and ``amm_lvr_rate`` its ``_mean``,
    ``_low`` and ``_high`` (95% t interval), then ``lvr_closed_form``,
    ``arbitrage_fixed_blocks`` and ``arbitrage_poisson_blocks`` (per unit time per unit of
    pool value), and ``arbitrage_over_fixed`` (measured mean over the fixed-block form).

    Raises:
        EnsembleError: As `analysis.ensemble.load_sweep_results`.
        ValueError: If the results lack the ``amm_`` rate metrics (add them to the sweep
            file's ``metrics``), or the scenario has no pool or another fundamental.
    """
    data = sweep if isinstance(sweep, SweepData) else load_sweep_results(sweep)
    missing = [name for name in _MEASURED if name not in data.results.columns]
    if missing:
        raise ValueError(f"the sweep's results lack {missing}: add them to its metrics")
    base = Scenario.from_yaml_text(data.definition["scenario_yaml"])
    ok = data.results.loc[data.results["status"] == "ok"]
    parameters = list(data.parameters)
    rows: list[dict[str, Any]] = []
    groups = ok.groupby(parameters, sort=True) if parameters else [((), ok)]
    for key, group in groups:
        values = key if isinstance(key, tuple) else (key,)
        point = dict(zip(parameters, values, strict=True))
        overrides = {name: _plain(value) for name, value in point.items()}
        sigma, fee, interval = _cell_setup(base.override(overrides) if overrides else base)
        row: dict[str, Any] = {**point, "sigma": sigma, "fee": fee, "block_interval": interval}
        for metric in _MEASURED:
            column = group[metric].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            n, mean, _, low, high = t_interval(column, CONFIDENCE)
            row |= {"n": n, f"{metric}_mean": mean, f"{metric}_low": low, f"{metric}_high": high}
        lvr = float(lvr_rate(sigma, 1.0))
        fixed = lvr * fixed_block_arbitrage_factor(sigma, interval, fee) if sigma > 0 else 0.0
        poisson = lvr * arbitrage_probability(sigma, 1.0 / interval, fee) if sigma > 0 else 0.0
        row |= {
            "lvr_closed_form": lvr,
            "arbitrage_fixed_blocks": fixed,
            "arbitrage_poisson_blocks": poisson,
            "arbitrage_over_fixed": row["amm_arbitrage_rate_mean"] / fixed if fixed else math.nan,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def _plain(value: Any) -> Any:
    """A numpy scalar from a results column as the Python scalar an override takes."""
    return value.item() if isinstance(value, np.generic) else value


def _series(table: pd.DataFrame, parameters: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    """The table's rows split by the sweep parameters the closed forms do not read."""
    others = [p for p in parameters if p not in CLOSED_FORM_PARAMETERS and p in table.columns]
    if not others:
        return [("", table)]
    return [
        (", ".join(f"{p} = {v}" for p, v in zip(others, key, strict=True)), part)
        for key, part in table.groupby(others, sort=False)
    ]


def lvr_sweep_figure(sweep: SweepData | str | os.PathLike[str]) -> DisplayFigure:
    """Measured arbitrage profit and LVR rates against sigma, one panel per fee, closed forms drawn.

    Log-log axes, the rates per unit time per unit of pool value; markers are the replicate
    means with their 95% t intervals, lines the closed forms on a fine sigma grid (module
    docstring). Sweep parameters other than those the closed forms read (say the noise
    traders' venue) give one marker series each, side by side. A cell with no arbitrage trade
    at all (a rate of 0) cannot sit on the log axis: it is listed in its panel instead.

    Raises:
        As `lvr_sweep_table`.
    """
    data = sweep if isinstance(sweep, SweepData) else load_sweep_results(sweep)
    table = lvr_sweep_table(data)
    series = _series(table, data.parameters)
    fees = sorted(table["fee"].unique())
    figure = new_figure((4.6 * len(fees), 4.8))
    axes = figure.subplots(1, len(fees), sharey=True, squeeze=False)[0]
    colors = sns.color_palette("deep", n_colors=8)
    positive = table[["amm_arbitrage_rate_mean", "amm_lvr_rate_mean"]].to_numpy(dtype=float)
    floor = float(np.nanmin(np.where(positive > 0, positive, np.nan))) / 3.0
    dodge = np.exp(np.linspace(-0.04, 0.04, len(series))) if len(series) > 1 else [1.0]
    for ax, fee in zip(axes, fees, strict=True):
        cells = table.loc[table["fee"] == fee]
        sigmas = np.sort(cells["sigma"].unique())
        grid = np.geomspace(sigmas.min() / 1.3, sigmas.max() * 1.3, 100)
        lvr = np.asarray(lvr_rate(grid, 1.0))
        ax.plot(grid, lvr, color="0.2", lw=1.2, label="LVR closed form, sigma^2/8 (no fee)")
        for interval in sorted(cells["block_interval"].unique()):
            fixed = [fixed_block_arbitrage_factor(s, interval, fee) for s in grid]
            poisson = [arbitrage_probability(s, 1.0 / interval, fee) for s in grid]
            ax.plot(
                grid, lvr * np.array(fixed), color="0.45", lw=1.2, label="arbitrage, fixed blocks"
            )
            ax.plot(
                grid,
                lvr * np.array(poisson),
                color="0.45",
                lw=1.0,
                ls="--",
                label="arbitrage, Poisson blocks",
            )
        zero = []
        for index, ((name, part), factor) in enumerate(zip(series, dodge, strict=True)):
            rows = part.loc[part["fee"] == fee].sort_values("sigma")
            xs = rows["sigma"].to_numpy(dtype=float) * factor
            suffix = f" ({name})" if name else ""
            for metric, color, marker, label in (
                ("amm_arbitrage_rate", colors[2 * index], "o", "measured arbitrage profit"),
                ("amm_lvr_rate", colors[2 * index + 1], "s", "measured LP LVR"),
            ):
                mean = rows[f"{metric}_mean"].to_numpy(dtype=float)
                low = np.maximum(rows[f"{metric}_low"].to_numpy(dtype=float), floor)
                high = rows[f"{metric}_high"].to_numpy(dtype=float)
                shown = mean > 0
                what = "no arbitrage profit" if metric == "amm_arbitrage_rate" else "no LVR"
                zero += [f"{what}{suffix} at sigma {s:.2g}" for s in rows["sigma"][~shown]]
                errors = np.vstack([mean - low, high - mean])[:, shown]
                ax.errorbar(
                    xs[shown],
                    mean[shown],
                    yerr=np.where(np.isfinite(errors), np.maximum(errors, 0.0), 0.0),
                    fmt=marker,
                    ms=5,
                    capsize=3,
                    color=color,
                    mfc=color if marker == "o" else "none",
                    label=label + suffix,
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sigmas, [f"{s:.2g}" for s in sigmas])
        ax.xaxis.set_minor_formatter(NullFormatter())
        intervals = ", ".join(f"{i:g}" for i in sorted(cells["block_interval"].unique()))
        ax.set_title(f"fee {fee:.2%}, blocks every {intervals} time unit", fontsize=10)
        ax.set_xlabel("sigma (relative, per sqrt(time))")
        ax.grid(True, which="both", alpha=0.25)
        if zero:
            ax.text(0.03, 0.97, "\n".join(zero), transform=ax.transAxes, va="top", fontsize=7)
    axes[0].set_ylabel("rate per unit time per unit of pool value")
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    figure.legend(
        list(unique.values()), list(unique.keys()), loc="outside lower center", ncols=3, fontsize=8
    )
    figure.suptitle(
        f"Arbitrage profit and LVR against the closed forms (mean and {CONFIDENCE:.0%} "
        "t-interval over replicates)",
        fontsize=10,
    )
    return figure


def write_lvr_sweep_figure(sweep_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write `FIGURE_NAME` and `TABLE_NAME` into ``sweep_dir/figures``; return their paths.

    Raises:
        As `lvr_sweep_table`.
    """
    root = Path(sweep_dir).absolute()
    data = load_sweep_results(root)
    target = root / FIGURES_DIR
    target.mkdir(exist_ok=True)
    figure_path, table_path = target / FIGURE_NAME, target / TABLE_NAME
    write_atomic(figure_path, png_bytes(lvr_sweep_figure(data)))
    write_atomic(table_path, lvr_sweep_table(data).to_csv(index=False))
    return figure_path, table_path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis.amm_sweep DIR``: write the figure and table, print the table."""
    parser = argparse.ArgumentParser(prog="python -m analysis.amm_sweep", description=__doc__)
    parser.add_argument("sweep_dir", help="a directory written by abm sweep")
    args = parser.parse_args(argv)
    try:
        figure_path, table_path = write_lvr_sweep_figure(args.sweep_dir)
    except (OSError, ValueError) as exc:
        print(f"analysis.amm_sweep: {exc}", file=sys.stderr)
        return 2
    data = load_sweep_results(args.sweep_dir)
    others = [name for name in data.parameters if name not in CLOSED_FORM_PARAMETERS]
    columns = [
        *others,
        "sigma",
        "fee",
        "n",
        "amm_arbitrage_rate_mean",
        "arbitrage_fixed_blocks",
        "arbitrage_poisson_blocks",
        "amm_lvr_rate_mean",
        "lvr_closed_form",
    ]
    table = lvr_sweep_table(data)[columns]
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))
    print(f"figure: {figure_path}\ntable: {table_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
