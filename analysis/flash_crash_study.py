"""The flash-crash study over a sweep: crash amplitude and recovery, cell by cell and by factor.

``python -m analysis.flash_crash_study DIR`` reads a sweep directory written by ``abm sweep``
over ``scenarios/crisis/flash_crash_2010.yaml`` (``sweeps/flash_crash.yaml``,
``sweeps/flash_crash_gao.yaml``, ``sweeps/flash_crash_quick.yaml``) and, for each
`STUDY_METRICS` measure of `abm.results.flash_crash` the sweep kept, gives two summaries of
the replicates of every cell (parameter point) and of every level of every factor:

- the mean with its 95% Student t interval (`analysis.ensemble.t_interval`), and
- the median with the 40% and 60% quantiles, as Gao, Vytelingum, Weston, Luk and Guo (2024,
  JASSS 27(2) 8, section 5.2) summarise their Monte Carlo runs, so that our curves and theirs
  compare like for like. Quantiles are ``numpy.quantile``'s default (linear interpolation
  between order statistics, Hyndman and Fan 1996, definition 7).

When a sweep varies both fundamental classes' frequencies, only the points where they are
equal count, as one factor (`TIES`). A factor's marginal pools every run at that level, so
the other factors' levels are averaged over in the proportions of the grid (equal for a full
grid with equal replicates) and their spread is part of the interval.

It writes ``DIR/flash_crash_study_cells.csv`` and ``DIR/flash_crash_study_marginals.csv``
(one row per cell or level and metric, columns `STAT_COLUMNS`), and into ``DIR/figures/``:
``flash_crash_study_<metric>_by_<hue>.png``, the metric against the sell program's
participation, one line per level of another factor, one column of panels per level of the
pause (``circuit_breaker.enabled``) when the sweep varies it, else of the remaining factor,
the top row means with t bands and the bottom row medians with 40-60% bands; and
``flash_crash_study_<metric>_marginals.png``, one panel per factor. It prints the marginal
tables. Only runs with status ``ok`` count.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from analysis.ensemble import CONFIDENCE, EnsembleError, load_sweep_results, t_interval
from analysis.figures import new_figure
from analysis.report import FIGURES_DIR, write_atomic
from analysis.report_document import png_bytes

STUDY_METRICS = (
    "fall_pct",
    "phase1_fall_pct",
    "phase2_fall_pct",
    "rebound_fraction",
    "recovery_fraction",
    "halts",
)
"""The measures summarised (summary.json keys), when the sweep kept them."""
FIGURE_METRICS = ("fall_pct", "rebound_fraction")
"""The measures drawn by default: the amplitude and the rebound."""
QUANTILES = (0.4, 0.6)
"""The band around the median that Gao et al. (2024, section 5.2) report."""
PARTICIPATION = "agents.seller.participation"
PAUSE = "circuit_breaker.enabled"
BUYERS_FREQUENCY = "agents.fundamental_buyers.mean_interarrival_s"
SELLERS_FREQUENCY = "agents.fundamental_sellers.mean_interarrival_s"
TIES = {SELLERS_FREQUENCY: BUYERS_FREQUENCY}
"""Parameters studied as one factor: when a sweep varies a key and its value, only the points
where the two are equal count, under the value's name. A sweep file cannot tie two paths, so
``sweeps/flash_crash_gao.yaml`` sweeps both fundamental classes' frequencies and the study
keeps the diagonal: the fundamental traders' frequency of Gao et al. (2024)."""
STAT_COLUMNS = ("metric", "n", "mean", "ci_low", "ci_high", "median", "q40", "q60")
"""Columns of `summarize` after the grouping columns."""
CELLS_CSV = "flash_crash_study_cells.csv"
MARGINALS_CSV = "flash_crash_study_marginals.csv"
LABELS = {
    PARTICIPATION: "sell program's participation",
    PAUSE: "stop-logic pause",
    "agents.hft.count": "HFTs",
    "agents.hft.position_limit": "HFT inventory limit (lots)",
    "agents.mm.position_limit": "market makers' inventory limit (lots)",
    BUYERS_FREQUENCY: "fundamental traders' mean s between orders",
    SELLERS_FREQUENCY: "fundamental sellers' mean s between orders",
    "fall_pct": "fall (%)",
    "phase1_fall_pct": "phase-1 fall (%)",
    "phase2_fall_pct": "phase-2 fall (%)",
    "rebound_fraction": "fall regained in 20 min",
    "recovery_fraction": "fall regained by the end",
    "halts": "pauses a run",
}
"""Axis labels of the parameters and measures the shipped sweeps use (else the key itself)."""


@dataclass(frozen=True)
class StudyOutputs:
    """What `write_study` wrote.

    Attributes:
        cells: Per-cell statistics (`summarize` over every varied parameter).
        marginals: Per-level statistics of each factor (`marginals`).
        files: The CSV and PNG files written, in writing order.
    """

    cells: pd.DataFrame
    marginals: pd.DataFrame
    files: tuple[Path, ...]


def quantile_band(
    values: Sequence[float] | np.ndarray, quantiles: tuple[float, float] = QUANTILES
) -> tuple[int, float, float, float]:
    """Return ``(n, median, q_low, q_high)`` of the finite ``values`` (NaN when none is).

    Raises:
        ValueError: If the quantiles are not ``0 <= low <= 0.5 <= high <= 1``.
    """
    low, high = quantiles
    if not 0.0 <= low <= 0.5 <= high <= 1.0:
        raise ValueError(f"quantiles must satisfy 0 <= low <= 0.5 <= high <= 1, got {quantiles}")
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return 0, math.nan, math.nan, math.nan
    q_low, median, q_high = np.quantile(data, [low, 0.5, high])
    return int(data.size), float(median), float(q_low), float(q_high)


def summarize(
    results: pd.DataFrame,
    by: Sequence[str],
    metrics: Sequence[str],
    *,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Mean, t interval, median and 40-60% quantiles of each metric per group of ``by``.

    Args:
        results: A ``results.parquet`` table; only rows with ``status == "ok"`` are used.
        by: Columns to group by (none: one group of every run).
        metrics: Metric columns; missing values (a measure a run could not define) are left
            out, so ``n`` may differ between metrics of one group.
        confidence: Confidence level of the t interval.

    Returns:
        The ``by`` columns, then `STAT_COLUMNS`; one row per group and metric, sorted by group.

    Raises:
        ValueError: If a column is missing.
    """
    missing = [c for c in (*by, *metrics, "status") if c not in results.columns]
    if missing:
        raise ValueError(f"results lack column(s) {', '.join(missing)}")
    ok = results.loc[results["status"] == "ok"]
    groups = ok.groupby(list(by), sort=True, dropna=False) if by else [((), ok)]
    rows: list[dict[str, Any]] = []
    for key, group in groups:
        values = key if isinstance(key, tuple) else (key,)
        for metric in metrics:
            column = group[metric].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            n, mean, _, low, high = t_interval(column, confidence)
            _, median, q_low, q_high = quantile_band(column)
            rows.append(
                dict(zip(by, values, strict=True))
                | {"metric": metric, "n": n, "mean": mean, "ci_low": low, "ci_high": high}
                | {"median": median, "q40": q_low, "q60": q_high}
            )
    return pd.DataFrame(rows, columns=[*by, *STAT_COLUMNS])


def marginals(
    results: pd.DataFrame, factors: Sequence[str], metrics: Sequence[str]
) -> pd.DataFrame:
    """`summarize` by each factor alone, stacked: columns ``factor``, ``level``, `STAT_COLUMNS`.

    Raises:
        ValueError: If a column is missing.
    """
    parts = []
    for factor in factors:
        table = summarize(results, [factor], metrics).rename(columns={factor: "level"})
        table.insert(0, "factor", factor)
        parts.append(table.astype({"level": object}))
    columns = ["factor", "level", *STAT_COLUMNS]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def study_figure(
    results: pd.DataFrame,
    metric: str,
    x: str,
    hue: str | None = None,
    facet: str | None = None,
) -> Figure:
    """``metric`` against ``x``: means with 95% t bands (top row), medians with 40-60% bands.

    Each row's statistic is named in its y label, each column's ``facet`` level in its title.

    One line per level of ``hue`` and one column of panels per level of ``facet``; any other
    varied parameter is averaged over (`summarize` over ``[x, hue, facet]``). The axes of a
    row share their y range.

    Raises:
        ValueError: If a column is missing or ``hue`` / ``facet`` repeats another axis.
    """
    axes_keys = [k for k in (x, hue, facet) if k is not None]
    if len(set(axes_keys)) != len(axes_keys):
        raise ValueError(f"x, hue and facet must differ, got {x!r}, {hue!r}, {facet!r}")
    table = summarize(results, axes_keys, [metric])
    facets = [None] if facet is None else sorted(pd.unique(table[facet]), key=_order)
    levels = [None] if hue is None else sorted(pd.unique(table[hue]), key=_order)
    palette = sns.color_palette("deep", n_colors=max(1, len(levels)))
    figure = new_figure((min(4.2 * len(facets) + 1.0, 16.0), 6.4))
    grid = figure.subplots(2, len(facets), sharex=True, sharey="row", squeeze=False)
    rows = (("mean", "ci_low", "ci_high"), ("median", "q40", "q60"))
    names = (f"mean, {CONFIDENCE:.0%} t-interval", "median, 40-60% quantiles")
    for column, level_f in enumerate(facets):
        part_f = table if facet is None else table.loc[table[facet] == level_f]
        for row, (centre, low, high) in enumerate(rows):
            ax = grid[row][column]
            for level, color in zip(levels, palette, strict=False):
                part = part_f if hue is None else part_f.loc[part_f[hue] == level]
                part = part.sort_values(x)
                xs = part[x].to_numpy(dtype=float)
                label = None if hue is None else f"{_label(hue)} = {_show(level)}"
                ax.plot(
                    xs, part[centre].to_numpy(float), marker="o", ms=4, color=color, label=label
                )
                band = part[[low, high]].to_numpy(dtype=float)
                ax.fill_between(xs, band[:, 0], band[:, 1], color=color, alpha=0.18, lw=0)
            if row == 0 and facet is not None:
                ax.set_title(f"{_label(facet)} = {_show(level_f)}", fontsize="small")
            ax.grid(True, alpha=0.3)
            if column == 0:
                ax.set_ylabel(f"{_label(metric)}\n{names[row]}", fontsize="small")
            if row == 1:
                ax.set_xlabel(_label(x))
            _percent_axis(ax, x)
    if hue is not None:
        grid[0][0].legend(loc="best", fontsize="x-small")
    n_runs = int(results["status"].eq("ok").sum())
    figure.suptitle(f"{_label(metric)} by {_label(x)} ({n_runs} runs)", fontsize="medium")
    return figure


def marginal_figure(results: pd.DataFrame, metric: str, factors: Sequence[str]) -> Figure:
    """One panel per factor: ``metric``'s mean with its t band and median with 40-60% quantiles.

    Raises:
        ValueError: If a column is missing.
    """
    table = marginals(results, factors, [metric])
    figure = new_figure((min(3.6 * max(1, len(factors)) + 0.6, 16.0), 3.6))
    grid = figure.subplots(1, max(1, len(factors)), sharey=True, squeeze=False)[0]
    mean_color, median_color = sns.color_palette("deep", n_colors=2)
    for ax, factor in zip(grid, factors, strict=False):
        part = table.loc[table["factor"] == factor]
        order = sorted(range(len(part)), key=lambda i: _order(part["level"].iloc[i]))
        part = part.iloc[order]
        numeric = all(isinstance(v, int | float | np.number) for v in part["level"])
        numeric = numeric and not any(isinstance(v, bool | np.bool_) for v in part["level"])
        xs = part["level"].to_numpy(dtype=float) if numeric else np.arange(len(part))
        for offset, (centre, low, high, color, name) in enumerate(
            (
                ("mean", "ci_low", "ci_high", mean_color, f"mean, {CONFIDENCE:.0%} t-interval"),
                ("median", "q40", "q60", median_color, "median, 40-60%"),
            )
        ):
            ys = part[centre].to_numpy(float)
            band = part[[low, high]].to_numpy(dtype=float)
            if numeric:
                ax.plot(xs, ys, marker="o", ms=4, color=color, label=name)
                ax.fill_between(xs, band[:, 0], band[:, 1], color=color, alpha=0.18, lw=0)
            else:  # categories: no line between them, the two statistics side by side
                errors = [ys - band[:, 0], band[:, 1] - ys]
                shifted = xs + 0.08 * (offset - 0.5)
                ax.errorbar(
                    shifted, ys, yerr=errors, fmt="o", ms=4, capsize=3, color=color, label=name
                )
        if not numeric:
            ax.set_xticks(xs, [_show(v) for v in part["level"]])
            ax.set_xlim(-0.5, len(part) - 0.5)
        ax.set_xlabel(_label(factor), fontsize="small")
        ax.grid(True, alpha=0.3)
        _percent_axis(ax, factor)
    grid[0].set_ylabel(_label(metric))
    grid[0].legend(loc="best", fontsize="x-small")
    figure.suptitle(f"{_label(metric)} by factor, the others pooled", fontsize="medium")
    return figure


def tie(results: pd.DataFrame, parameters: Sequence[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Apply `TIES`: keep the runs where each tied pair is equal; drop the tied key.

    Returns:
        The kept rows of ``results`` and the parameters left (in their order); both unchanged
        when the sweep does not vary both members of a pair.
    """
    kept, left = results, list(parameters)
    for key, partner in TIES.items():
        if key in left and partner in left:
            kept = kept.loc[kept[key] == kept[partner]]
            left.remove(key)
    return kept, tuple(left)


def figure_layouts(parameters: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """The ``(x, hue, facet)`` of each study figure for a sweep over ``parameters``.

    ``x`` is the participation (else the first parameter). The panels split by the pause when
    it is varied; then one figure per other parameter as ``hue``. Without the pause, the
    panels split by one other parameter and the lines by another, both ways round. With one
    other parameter only, it gives the lines.
    """
    if not parameters:
        return []
    x = PARTICIPATION if PARTICIPATION in parameters else parameters[0]
    others = [p for p in parameters if p != x]
    if PAUSE in others:
        rest = [p for p in others if p != PAUSE]
        return [(x, hue, PAUSE) for hue in rest] or [(x, PAUSE, None)]
    if len(others) >= 2:
        return [(x, hue, next(p for p in others if p != hue)) for hue in others]
    return [(x, others[0] if others else None, None)]


def write_study(
    sweep_dir: str | os.PathLike[str], metrics: Sequence[str] = FIGURE_METRICS
) -> StudyOutputs:
    """Write the study's CSV tables and figures into a sweep directory (module docstring).

    Args:
        sweep_dir: A directory written by ``abm sweep``.
        metrics: The measures to draw; each must be a column of the results.

    Raises:
        EnsembleError: If the directory is not a finished sweep directory, has no varied
            parameter, or lacks a requested measure.
    """
    data = load_sweep_results(sweep_dir)
    root = Path(sweep_dir)
    if not data.parameters:
        raise EnsembleError(f"{root}: the sweep varies no parameter; nothing to compare")
    absent = [m for m in metrics if m not in data.results.columns]
    if absent:
        raise EnsembleError(f"{root}: measures not in the results: {', '.join(absent)}")
    kept = [m for m in STUDY_METRICS if m in data.results.columns]
    kept += [m for m in metrics if m not in kept]
    results, parameters = tie(data.results, data.parameters)
    cells = summarize(results, parameters, kept)
    factor_table = marginals(results, parameters, kept)
    files = [root / CELLS_CSV, root / MARGINALS_CSV]
    write_atomic(files[0], cells.to_csv(index=False))
    write_atomic(files[1], factor_table.to_csv(index=False))
    figure_dir = root / FIGURES_DIR
    figure_dir.mkdir(exist_ok=True)
    for metric in metrics:
        for x, hue, facet in figure_layouts(parameters):
            name = f"flash_crash_study_{metric}_by_{_slug(hue or x)}"
            if facet is not None and PAUSE not in (hue, facet):
                name += f"_per_{_slug(facet)}"
            files.append(figure_dir / f"{name}.png")
            write_atomic(files[-1], png_bytes(study_figure(results, metric, x, hue, facet)))
        files.append(figure_dir / f"flash_crash_study_{metric}_marginals.png")
        write_atomic(files[-1], png_bytes(marginal_figure(results, metric, parameters)))
    return StudyOutputs(cells, factor_table, tuple(files))


def log_log_slopes(levels: Sequence[float], values: Sequence[float]) -> list[float]:
    """The slope of ``log(value)`` against ``log(level)`` between successive levels.

    A slope of 1 is proportional growth, above 1 faster than proportional (convex in the
    level), below 1 slower; NaN where a level or value is not positive.
    """
    slopes = []
    for (x0, y0), (x1, y1) in itertools.pairwise(zip(levels, values, strict=True)):
        positive = min(x0, y0, x1, y1) > 0 and x1 != x0
        slopes.append(math.log(y1 / y0) / math.log(x1 / x0) if positive else math.nan)
    return slopes


def format_marginals(table: pd.DataFrame) -> str:
    """The marginal table as text: per factor and level, each metric's mean and median.

    For a numeric factor, a last line per metric gives the `log_log_slopes` of the median.
    """
    lines = []
    for factor in pd.unique(table["factor"]):
        part = table.loc[table["factor"] == factor]
        lines.append(f"{factor} (mean [95% t-interval]; median [40%, 60%]; n)")
        for metric in pd.unique(part["metric"]):
            lines.append(f"  {metric}")
            rows = part.loc[part["metric"] == metric]
            order = sorted(range(len(rows)), key=lambda i: _order(rows["level"].iloc[i]))
            for _, r in rows.iloc[order].iterrows():
                lines.append(
                    f"    {_show(r['level']):>8}  {_num(r['mean'])} [{_num(r['ci_low'])}, "
                    f"{_num(r['ci_high'])}];  {_num(r['median'])} [{_num(r['q40'])}, "
                    f"{_num(r['q60'])}];  n={int(r['n'])}"
                )
            levels = list(rows.iloc[order]["level"])
            if all(_is_number(v) for v in levels):
                medians = rows.iloc[order]["median"].to_numpy(dtype=float)
                slopes = log_log_slopes([float(v) for v in levels], list(medians))
                text = ", ".join(
                    f"{_show(a)}-{_show(b)} {s:.2f}"
                    for a, b, s in zip(levels, levels[1:], slopes, strict=False)
                )
                lines.append(f"    log-log slope of the median: {text}")
    return "\n".join(lines)


def format_two_way(results: pd.DataFrame, x: str, by: str, metrics: Sequence[str]) -> str:
    """``metrics`` per level of ``x`` and ``by`` (the others pooled): mean [t] and median."""
    table = summarize(results, [x, by], metrics)
    lines = [f"{x} x {by} (the other factors pooled; mean [95% t-interval]; median; n)"]
    for metric in metrics:
        lines.append(f"  {metric}")
        for _, r in table.loc[table["metric"] == metric].iterrows():
            lines.append(
                f"    {_show(r[x]):>8} {_show(r[by]):>5}  {_num(r['mean'])} "
                f"[{_num(r['ci_low'])}, {_num(r['ci_high'])}];  {_num(r['median'])};  "
                f"n={int(r['n'])}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the study into DIR and print its marginal tables; exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.flash_crash_study",
        description="Per-cell and per-factor statistics and figures of a flash-crash sweep.",
    )
    parser.add_argument("sweep_dir", metavar="DIR", help="a directory written by abm sweep")
    parser.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help=f"a measure to draw (repeatable; default: {', '.join(FIGURE_METRICS)})",
    )
    args = parser.parse_args(argv)
    try:
        outputs = write_study(args.sweep_dir, tuple(args.metric or FIGURE_METRICS))
    except EnsembleError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    data = load_sweep_results(args.sweep_dir)
    results, parameters = tie(data.results, data.parameters)
    for key, partner in TIES.items():
        if key in data.parameters and partner in data.parameters:
            print(f"{key} tied to {partner}: {len(results)} of {len(data.results)} runs kept")
    print(format_marginals(outputs.marginals))
    pair = [m for m in ("fall_pct", "rebound_fraction", "halts") if m in data.results.columns]
    if PAUSE in parameters and PARTICIPATION in parameters:
        print(format_two_way(results, PARTICIPATION, PAUSE, pair))
    for key, partner in TIES.items():
        if key in data.parameters and partner in data.parameters:  # every pair, untied
            print(format_two_way(data.results, partner, key, pair))
    for path in outputs.files:
        print(f"wrote {path}")
    return 0


def _order(value: Any) -> tuple[int, Any]:
    """Sort key: numbers by value, then everything else by its text."""
    if isinstance(value, bool | np.bool_):
        return (0, int(value))
    if isinstance(value, int | float | np.number):
        return (0, float(value))
    return (1, str(value))


def _percent_axis(ax: Axes, key: str) -> None:
    """Show the participation, a fraction, in percent."""
    if key == PARTICIPATION:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _label(key: str) -> str:
    return LABELS.get(key, key)


def _show(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "on" if value else "off"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _num(value: float) -> str:
    return format(float(value), "7.3f") if math.isfinite(value) else "    n/a"


def _slug(key: str) -> str:
    """A file-name part for a dotted key: its last two parts (``agents.hft.count``: hft_count)."""
    return "_".join(key.split(".")[-2:])


if __name__ == "__main__":
    raise SystemExit(main())
