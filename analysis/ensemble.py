"""Ensemble analysis of a parameter sweep: means and t-based confidence intervals, figures, report.

Reads what ``abm sweep`` writes (``sweep.json`` and ``results.parquet``; see
`abm.experiments.sweep`) and
never imports the model. Only runs with status ``ok`` enter the statistics.

For a metric with values ``x_1..x_n`` at one parameter point, `t_interval` gives the mean
``m``, the sample standard deviation ``s`` (``ddof=1``) and the interval
``m +/- t_{(1+c)/2, n-1} * s / sqrt(n)`` for confidence ``c``: Student's t interval for the
mean of i.i.d. normal samples (Student 1908), approximately right for other distributions by
the central limit theorem as ``n`` grows. With ``n < 2`` the interval is undefined (NaN).

Figures are plain ``matplotlib.figure.Figure`` objects (never pyplot), as in `analysis.plots`;
lines take seaborn's "deep" palette.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
import seaborn.objects as so
from matplotlib.figure import Figure
from scipy import stats

from abm.experiments.sweep_spec import RESULTS_FILE, SWEEP_FILE, is_sweep_dir
from analysis.figures import DisplayFigure, new_figure
from analysis.report import FIGURES_DIR, REPORT_NAME, ReportError, write_atomic
from analysis.report_document import png_bytes

CONFIDENCE = 0.95
SUMMARY_COLUMNS = ("metric", "n", "mean", "std", "ci_low", "ci_high")
"""Columns of `aggregate` after the parameter columns."""
HEADLINE_METRICS = ("spread_mean", "mispricing_mean", "mm_pnl_mean", "mm_pnl_std", "defaults")
"""Metrics a report shows when the sweep file selected none, if the results have them."""
MAX_REPORT_METRICS = 6
MAX_TABLE_ROWS = 200
MAX_FAILED_ROWS = 20
_VOLATILE = frozenset({"wall_time_s", "steps_per_s"})


class EnsembleError(ReportError):
    """A sweep directory cannot be analysed: it is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class SweepData:
    """A sweep's results with what describes them.

    Attributes:
        results: ``results.parquet``: one row per finished run.
        parameters: The varied dotted scenario paths (column names), in sweep-file order.
        metrics: The metric columns.
        definition: ``sweep.json`` (scenario name, points, replicates, seed, ...).
    """

    results: pd.DataFrame
    parameters: tuple[str, ...]
    metrics: tuple[str, ...]
    definition: dict[str, Any]


def load_sweep_results(sweep_dir: str | os.PathLike[str]) -> SweepData:
    """Read a sweep directory written by ``abm sweep``.

    Raises:
        EnsembleError: If the directory is not a sweep directory, lacks ``results.parquet``
            (re-running the same ``abm sweep`` command rebuilds it), or a file is unreadable.
    """
    root = Path(sweep_dir)
    if not is_sweep_dir(root):
        raise EnsembleError(f"{root} is not a sweep directory (no {SWEEP_FILE}); run abm sweep")
    if not (root / RESULTS_FILE).is_file():
        raise EnsembleError(
            f"{root} has no {RESULTS_FILE}; run the same abm sweep command again to rebuild it"
        )
    try:
        definition = json.loads((root / SWEEP_FILE).read_text(encoding="utf-8"))
        results = pd.read_parquet(root / RESULTS_FILE)
    except (OSError, ValueError) as exc:
        raise EnsembleError(f"cannot read sweep directory {root}: {exc}") from exc
    described = results.attrs.get("abm_sweep", {})
    parameters = tuple(described.get("parameters", definition.get("parameters", ())))
    metrics = tuple(described.get("metrics", ()))
    return SweepData(results, parameters, metrics, definition)


def t_interval(
    values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE
) -> tuple[int, float, float, float, float]:
    """Return ``(n, mean, std, ci_low, ci_high)`` of the finite ``values`` (module docstring).

    NaNs are left out; ``std`` and the interval are NaN when fewer than two values remain, and
    the mean is NaN when none does.

    Raises:
        ValueError: If ``confidence`` is not strictly between 0 and 1.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    data = np.asarray(values, dtype=float)
    data = data[np.isfinite(data)]
    n = int(data.size)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(data.mean())
    if n < 2:
        return n, mean, math.nan, math.nan, math.nan
    std = float(data.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * std / math.sqrt(n)
    return n, mean, std, mean - half, mean + half


def aggregate(
    results: pd.DataFrame,
    parameters: Sequence[str],
    metrics: Sequence[str],
    *,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Mean and t confidence interval of each metric at each combination of ``parameters``.

    Args:
        results: A ``results.parquet`` table; only rows with ``status == "ok"`` are used.
        parameters: Columns to group by (all varied parameters for per-point statistics, or a
            subset to average over the others).
        metrics: Metric columns (numeric or boolean).
        confidence: Confidence level of the interval.

    Returns:
        A long table: the ``parameters`` columns, then `SUMMARY_COLUMNS`; one row per
        combination and metric, sorted by parameters then metric order.

    Raises:
        ValueError: If a column is missing.
    """
    missing = [c for c in (*parameters, *metrics, "status") if c not in results.columns]
    if missing:
        raise ValueError(f"results lack column(s) {', '.join(missing)}")
    ok = results.loc[results["status"] == "ok"]
    rows: list[dict[str, Any]] = []
    groups = ok.groupby(list(parameters), sort=True, dropna=False) if parameters else [((), ok)]
    for key, group in groups:
        values = key if isinstance(key, tuple) else (key,)
        for metric in metrics:
            column = group[metric].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            n, mean, std, low, high = t_interval(column, confidence)
            rows.append(
                {**dict(zip(parameters, values, strict=True)), "metric": metric, "n": n}
                | {"mean": mean, "std": std, "ci_low": low, "ci_high": high}
            )
    return pd.DataFrame(rows, columns=[*parameters, *SUMMARY_COLUMNS])


def metric_figure(
    results: pd.DataFrame,
    metric: str,
    x: str,
    hue: str | None = None,
    *,
    confidence: float = CONFIDENCE,
    points: bool = False,
) -> Figure:
    """Mean of ``metric`` against parameter ``x`` (one line per ``hue`` value), with CI bands.

    The statistics are those of `aggregate` over ``[x, hue]``, so any other parameter is
    averaged over. A positive numeric ``x`` spanning two decades or more is drawn on a log
    axis; a non-numeric one as evenly spaced categories. ``points=True`` draws means with
    error bars instead of lines and bands, for sampled (non-grid) parameters where every ``x``
    value is a different point.

    Raises:
        ValueError: If a column is missing.
    """
    by = [x] if hue is None else [x, hue]
    table = aggregate(results, by, [metric], confidence=confidence)
    figure = new_figure((7.0, 4.5))
    ax = figure.add_subplot()
    levels = [None] if hue is None else list(pd.unique(table[hue]))
    palette = sns.color_palette("deep", n_colors=max(1, len(levels)))
    numeric = pd.api.types.is_numeric_dtype(table[x])
    categories = {value: i for i, value in enumerate(pd.unique(table[x]))}
    for level, color in zip(levels, palette, strict=False):
        part = table if hue is None else table.loc[table[hue] == level]
        part = part.sort_values(x) if numeric else part
        xs = part[x].to_numpy(dtype=float) if numeric else part[x].map(categories).to_numpy()
        label = None if hue is None else f"{hue} = {level}"
        means = part["mean"].to_numpy(dtype=float)
        low = part["ci_low"].to_numpy(dtype=float)
        high = part["ci_high"].to_numpy(dtype=float)
        if points:
            errors = [means - low, high - means]
            ax.errorbar(xs, means, yerr=errors, fmt="o", ms=3, color=color, label=label)
        else:
            ax.plot(xs, means, marker="o", ms=4, color=color, label=label)
            ax.fill_between(xs, low, high, color=color, alpha=0.2, lw=0)
    if not numeric:
        ax.set_xticks(list(categories.values()), [str(c) for c in categories])
    elif _spans_decades(table[x].to_numpy(dtype=float)):
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: mean and {confidence:.0%} t-interval")
    ax.grid(True, alpha=0.3)
    if hue is not None:
        ax.legend(loc="best", fontsize="small")
    if table["n"].sum() == 0:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    return figure


def facet_metric_figure(
    results: pd.DataFrame,
    metric: str,
    x: str,
    facet: str,
    hue: str | None = None,
    *,
    confidence: float = CONFIDENCE,
) -> Figure:
    """`metric_figure` split into one panel per value of ``facet`` (shared y axis).

    For a sweep over three parameters (or two, with one on the panels): each panel shows the
    mean of ``metric`` against ``x``, one line per ``hue`` value, with the t-interval of
    `aggregate` over ``[x, hue, facet]`` as a band. Drawn with seaborn's objects interface onto
    our own figure (no pyplot). A positive numeric ``x`` spanning two decades or more is on a
    log axis.

    Raises:
        ValueError: If a column is missing or ``facet`` repeats ``x`` or ``hue``.
    """
    if facet in (x, hue):
        raise ValueError(f"facet {facet!r} must differ from x and hue")
    by = [x, facet] if hue is None else [x, hue, facet]
    table = aggregate(results, by, [metric], confidence=confidence).sort_values(by)
    n_panels = max(1, table[facet].nunique())
    # no layout engine: seaborn hangs the legend off the right edge, which constrained layout
    # would not leave room for
    figure = DisplayFigure(figsize=(min(4.0 * n_panels + 1.5, 16.0), 4.0))
    plot = so.Plot(table, x=x, y="mean", ymin="ci_low", ymax="ci_high")
    if hue is not None:
        table[hue] = table[hue].astype(str)
        plot = so.Plot(table, x=x, y="mean", ymin="ci_low", ymax="ci_high", color=hue)
        levels = table[hue].nunique()
        plot = plot.scale(color=so.Nominal(sns.color_palette("deep", n_colors=levels)))
    plot = plot.facet(col=facet).add(so.Band(alpha=0.2)).add(so.Line(marker="o", pointsize=4))
    if pd.api.types.is_numeric_dtype(table[x]) and _spans_decades(table[x].to_numpy(float)):
        plot = plot.scale(x=so.Continuous(trans="log"))
    title = f"{metric}: mean and {confidence:.0%} t-interval, by {facet}"
    with warnings.catch_warnings():
        # seaborn 0.13 passes pandas' deprecated concat(copy=...): its warning, not the user's
        warnings.filterwarnings("ignore", message="The copy keyword is deprecated")
        plot.label(y=metric).on(figure).plot()
    for ax in figure.axes:  # seaborn titles each panel with the facet's value alone
        ax.set_title(f"{facet} = {ax.get_title()}")
    figure.suptitle(title, fontsize="medium")
    legend_room = 1.3 / figure.get_figwidth() if figure.legends else 0.02
    figure.subplots_adjust(left=0.07, right=1.0 - legend_room, top=0.84, bottom=0.14, wspace=0.08)
    for legend in figure.legends:  # seaborn anchors it just past the right edge: bring it in
        legend.set_bbox_to_anchor((1.0 - legend_room + 0.01, 0.5), transform=figure.transFigure)
    return figure


def _spans_decades(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size) and finite.min() > 0 and finite.max() >= 100 * finite.min()


def write_sweep_report(
    sweep_dir: str | os.PathLike[str], *, metrics: Sequence[str] | None = None
) -> Path:
    """Write ``report.md`` and ``figures/*.png`` into a sweep directory; return the report path.

    The report gives the sweep's facts (scenario, parameters, replicates, seed, run counts), a
    table of per-point means with confidence intervals, the failed runs with their errors, and
    one figure per metric against the first parameter (one line per value of the second).

    Args:
        sweep_dir: A directory written by ``abm sweep``.
        metrics: Metrics to show (default: the sweep file's selection, else the
            `HEADLINE_METRICS` present, else the first numeric metrics), at most
            `MAX_REPORT_METRICS`.

    Raises:
        EnsembleError: As `load_sweep_results`, or if a requested metric is not a column.
    """
    data = load_sweep_results(sweep_dir)
    root = Path(sweep_dir).absolute()
    shown = _report_metrics(data, metrics)
    figure_dir = root / FIGURES_DIR
    figure_dir.mkdir(exist_ok=True)
    links = []
    if data.parameters and shown:
        x, hue = data.parameters[0], (data.parameters[1] if len(data.parameters) > 1 else None)
        points = not _is_grid(data)
        for metric in shown:
            figure = metric_figure(data.results, metric, x, None if points else hue, points=points)
            target = figure_dir / f"{_slug(metric)}.png"
            write_atomic(target, png_bytes(figure))
            links.append((metric, Path(os.path.relpath(target, root)).as_posix()))
    text = _render(data, shown, links)
    report = root / REPORT_NAME
    write_atomic(report, text)
    return report


def _report_metrics(data: SweepData, requested: Sequence[str] | None) -> list[str]:
    columns = set(data.results.columns)
    if requested is not None:
        missing = [m for m in requested if m not in columns]
        if missing:
            raise EnsembleError(f"metrics not in the results: {', '.join(missing)}")
        return list(requested)[:MAX_REPORT_METRICS]
    chosen = data.definition.get("metrics") or [m for m in HEADLINE_METRICS if m in columns]
    if not chosen:
        numeric = [m for m in data.metrics if m not in _VOLATILE and m in columns]
        chosen = [m for m in numeric if pd.api.types.is_numeric_dtype(data.results[m])]
    return [m for m in chosen if m in columns][:MAX_REPORT_METRICS]


def _is_grid(data: SweepData) -> bool:
    """A full factorial has as many points as the product of each parameter's distinct values."""
    points = data.definition.get("points") or []
    if not points or not data.parameters:
        return True
    distinct = [len({json.dumps(p[i]) for p in points}) for i in range(len(data.parameters))]
    return math.prod(distinct) == len(points)


def _render(data: SweepData, metrics: Sequence[str], links: Sequence[tuple[str, str]]) -> str:
    d, results = data.definition, data.results
    status = results["status"].value_counts() if len(results) else pd.Series(dtype=int)
    total = int(d.get("n_runs", len(results)))
    ok, failed = int(status.get("ok", 0)), int(status.get("failed", 0))
    lines = [f"# Sweep report: {d.get('scenario_name', 'sweep')}", ""]
    facts = [
        ("Sweep file", f"`{d.get('source', 'n/a')}`"),
        ("Scenario digest", f"`{d.get('scenario_digest', 'n/a')}`"),
        ("Parameters", ", ".join(f"`{p}`" for p in data.parameters) or "none"),
        ("Parameter points", _fmt(len(d.get("points") or []))),
        ("Replicates", _fmt(d.get("replicates"))),
        ("Root seed", _fmt(d.get("seed"))),
        ("Runs", f"{total}: {ok} ok, {failed} failed, {total - ok - failed} missing"),
        ("Worker time (s)", _fmt(float(results["wall_time_s"].sum()) if len(results) else None)),
    ]
    lines += _table(("Sweep", "Value"), facts)
    lines += [f"## Means and {CONFIDENCE:.0%} t-intervals by parameter point", ""]
    if metrics and ok:
        table = aggregate(results, data.parameters, metrics)
        rows = _point_rows(table, data.parameters, metrics)
        header = (*data.parameters, "n", *metrics)
        lines += _table(header, rows[:MAX_TABLE_ROWS])
        if len(rows) > MAX_TABLE_ROWS:
            lines += [f"({len(rows) - MAX_TABLE_ROWS} more points in results.parquet)", ""]
    else:
        lines += ["No finished run to summarise.", ""]
    failures = results.loc[results["status"] == "failed"]
    if len(failures):
        lines += ["## Failed runs", ""]
        rows = [
            (str(r["run_id"]), *(_fmt(r[p]) for p in data.parameters), str(r["error"])[:200])
            for _, r in failures.head(MAX_FAILED_ROWS).iterrows()
        ]
        lines += _table(("Run", *data.parameters, "Error"), rows)
    if links:
        lines += ["## Figures", ""]
        for metric, path in links:
            lines += [f"### {metric}", "", f"![{metric}]({path})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _point_rows(
    table: pd.DataFrame, parameters: Sequence[str], metrics: Sequence[str]
) -> list[tuple[str, ...]]:
    """One row per point: parameter values, n, and ``mean [low, high]`` per metric."""
    rows = []
    keys = table[list(parameters)].drop_duplicates() if parameters else pd.DataFrame([{}])
    for _, key in keys.iterrows():
        mask = np.ones(len(table), dtype=bool)
        for p in parameters:
            mask &= (table[p] == key[p]).to_numpy(dtype=bool, na_value=False)
        part = table.loc[mask].set_index("metric")
        cells = [
            f"{_fmt(part.at[m, 'mean'])} "
            f"[{_fmt(part.at[m, 'ci_low'])}, {_fmt(part.at[m, 'ci_high'])}]"
            for m in metrics
        ]
        n = int(part["n"].max()) if len(part) else 0
        rows.append((*(_fmt(key[p]) for p in parameters), str(n), *cells))
    return rows


def _fmt(value: Any) -> str:
    if value is None or value is pd.NA:
        return "n/a"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return format(float(value), ".4g") if math.isfinite(value) else "n/a"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
