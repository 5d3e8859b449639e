"""Tests for analysis.ensemble: t intervals, aggregation, figures and the sweep report.

Sweep directories are written with fabricated run records of known values through the sweep's
own directory writer, so the expected numbers follow from the t-interval formula by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from _helpers import PNG_SIGNATURE, run_record
from matplotlib.figure import Figure

from abm.experiments.sweep import _SweepDirectory
from abm.experiments.sweep_spec import RESULTS_FILE, SweepPlan, load_sweep
from analysis.ensemble import (
    SUMMARY_COLUMNS,
    EnsembleError,
    aggregate,
    facet_metric_figure,
    load_sweep_results,
    metric_figure,
    t_interval,
    write_sweep_report,
)
from analysis.report import ReportError

GRID = Path(__file__).resolve().parents[1] / "data" / "sweeps" / "grid.yaml"
T_975_DF4 = 2.776  # Student t table, two-sided 95%, 4 degrees of freedom


def _sweep_dir(
    tmp_path: Path, values: Sequence[float], failed: Sequence[str] = (), replicates: int = 5
) -> tuple[Path, SweepPlan]:
    """A grid sweep directory whose run k (in plan order) has fills = values[k] (cycled)."""
    base = load_sweep(GRID)
    plan = SweepPlan(base.scenario, base.parameters, base.points, replicates, 1, ("fills",))
    out = tmp_path / "sweep"
    with _SweepDirectory.open(out, plan) as store:
        for index, key in enumerate(sorted(plan.runs(), key=lambda k: (k.point, k.replicate))):
            if key.run_id in failed:
                record = run_record(key, {}, status="failed", error="ValueError: boom")
            else:
                record = run_record(key, {"fills": values[index % len(values)]})
            store.write(record)
        store.write_results()
    return out, plan


def test_t_interval_matches_the_t_table() -> None:
    """1..5: mean 3, s = sqrt(2.5), half-width t(0.975, 4) * s / sqrt(5) = 2.776 * 0.7071."""
    n, mean, std, low, high = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (n, mean) == (5, 3.0)
    assert std == pytest.approx(math.sqrt(2.5))
    assert high - mean == pytest.approx(T_975_DF4 * math.sqrt(2.5) / math.sqrt(5), rel=1e-3)
    assert mean - low == pytest.approx(high - mean)


@pytest.mark.parametrize(
    ("confidence", "dof", "critical"),
    [
        (0.90, 5, 2.0150),
        (0.98, 5, 3.3649),
        (0.95, 1, 12.7062),
        (0.95, 10, 2.2281),
        (0.98, 30, 2.4573),
        (0.99, 3, 5.8409),
        (0.95, 120, 1.9799),
    ],
)
def test_t_interval_half_width_matches_t_table(
    confidence: float, dof: int, critical: float
) -> None:
    """Half-width / (s / sqrt n) is the two-sided critical value of Student's t table (4 dp)."""
    values = np.arange(dof + 1, dtype=float) ** 1.5  # any non-constant sample of n = dof + 1
    n, mean, std, _, high = t_interval(values, confidence)
    assert (high - mean) / (std / math.sqrt(n)) == pytest.approx(critical, abs=6e-5)


def test_t_interval_one_dof_matches_cauchy_quantile() -> None:
    """With two values the t(1) quantile is Cauchy's, tan(pi c / 2), for any confidence c."""
    for confidence in (0.5, 0.8, 0.95, 0.999):
        n, mean, std, _, high = t_interval([0.0, 1.0], confidence)
        expected = math.tan(math.pi * confidence / 2.0) * std / math.sqrt(n)
        assert high - mean == pytest.approx(expected, rel=1e-12)


def test_t_interval_matches_cornish_fisher_expansion_for_many_values() -> None:
    """The 95% critical value at 10^6 values matches the Cornish-Fisher expansion to 1e-12.

    t_{0.975}(nu) = z + (z^3 + z) / (4 nu) + (5 z^5 + 16 z^3 + 3 z) / (96 nu^2) + O(nu^-3)
    (Abramowitz & Stegun 26.7.5); the neglected term is below 1e-17 here.
    """
    values = np.random.default_rng(0).standard_normal(1_000_000)
    n, mean, std, _, high = t_interval(values)
    z, nu = 1.959963984540054, n - 1.0
    expected = z + (z**3 + z) / (4 * nu) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * nu**2)
    assert (high - mean) / (std / math.sqrt(n)) == pytest.approx(expected, rel=1e-12)


def test_t_interval_widens_with_confidence() -> None:
    """A 99% interval contains the 95% interval of the same data."""
    data = [0.3, 1.2, -0.4, 2.2, 0.9, 1.1]
    _, _, _, low95, high95 = t_interval(data, 0.95)
    _, _, _, low99, high99 = t_interval(data, 0.99)
    assert low99 < low95 < high95 < high99


def test_t_interval_needs_two_values() -> None:
    """One value has a mean but no spread or interval; none has nothing; NaNs are dropped."""
    assert t_interval([4.0])[:2] == (1, 4.0)
    assert all(math.isnan(v) for v in t_interval([4.0])[2:])
    assert t_interval([])[0] == 0
    assert t_interval([1.0, math.nan, 3.0])[:2] == (2, 2.0)


def test_t_interval_rejects_bad_confidence() -> None:
    """A confidence outside (0, 1) is a ValueError."""
    with pytest.raises(ValueError, match="confidence"):
        t_interval([1.0, 2.0], 1.0)


def test_aggregate_groups_by_point_and_skips_failed_runs(tmp_path: Path) -> None:
    """Per point: the 5 replicates' fills give mean 3 and the t-table interval; failures skipped."""
    out, plan = _sweep_dir(tmp_path, [1.0, 2.0, 3.0, 4.0, 5.0], failed=["p000001-r00000"])
    data = load_sweep_results(out)
    table = aggregate(data.results, data.parameters, ["fills"])
    assert list(table.columns) == [*plan.parameters, *SUMMARY_COLUMNS]
    assert len(table) == 4
    full = table.loc[
        (table["agents.mm.policy.gamma"] == 0.01) & (table["agents.informed.count"] == 0)
    ]
    assert full["n"].item() == 5
    assert full["mean"].item() == 3.0
    half = T_975_DF4 * math.sqrt(2.5) / math.sqrt(5)
    assert full["ci_high"].item() == pytest.approx(3.0 + half, rel=1e-3)
    partial = table.loc[
        (table["agents.informed.count"] == 4) & (table["agents.mm.policy.gamma"] == 0.01)
    ]
    assert partial["n"].item() == 4  # replicate 0 failed


def test_aggregate_averages_over_other_parameters() -> None:
    """Grouping by one parameter pools the runs of every value of the other."""
    results = pd.DataFrame(
        {"a": [1, 1, 2, 2], "b": [0, 1, 0, 1], "m": [1.0, 3.0, 5.0, 7.0], "status": ["ok"] * 4}
    )
    table = aggregate(results, ["a"], ["m"])
    assert list(table["mean"]) == [2.0, 6.0]
    assert list(table["n"]) == [2, 2]


def test_aggregate_missing_column_is_an_error() -> None:
    """Asking for a column the results lack names it."""
    results = pd.DataFrame({"a": [1], "status": ["ok"]})
    with pytest.raises(ValueError, match=r"lack column.*nope"):
        aggregate(results, ["a"], ["nope"])


def test_metric_figure_draws_a_line_per_hue_without_pyplot(tmp_path: Path) -> None:
    """One mean line and one band per hue value (informed count); nothing goes to pyplot."""
    out, _ = _sweep_dir(tmp_path, [1.0, 2.0, 4.0])
    results = load_sweep_results(out).results
    before = plt.get_fignums()
    figure = metric_figure(results, "fills", "agents.mm.policy.gamma", "agents.informed.count")
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == before
    ax = figure.axes[0]
    assert len(ax.get_lines()) == 2
    assert len(ax.collections) == 2
    # runs in (point, replicate) order take fills 1, 2, 4, 1, 2, 4, ...: point means 2, 2.4, 2.6, 2
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [2.0, 2.6], rtol=1e-12)
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [2.4, 2.0], rtol=1e-12)


def test_metric_figure_categorical_x() -> None:
    """A text parameter is drawn at evenly spaced positions labelled with its values."""
    results = pd.DataFrame(
        {"policy": ["as", "as", "glft", "glft"], "m": [1.0, 2.0, 3.0, 5.0], "status": ["ok"] * 4}
    )
    figure = metric_figure(results, "m", "policy")
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["as", "glft"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [1.5, 4.0])


def test_write_sweep_report_writes_markdown_and_figures(tmp_path: Path) -> None:
    """report.md has the facts, the per-point table, the failures and one PNG per metric."""
    out, _ = _sweep_dir(tmp_path, [1.0, 2.0, 3.0, 4.0, 5.0], failed=["p000003-r00004"])
    report = write_sweep_report(out)
    assert report == out.absolute() / "report.md"
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Sweep report: tiny\n")
    assert "| Runs | 20: 19 ok, 1 failed, 0 missing |" in text
    half = T_975_DF4 * math.sqrt(2.5) / math.sqrt(5)
    assert f"| 0.01 | 0 | 5 | 3 [{3 - half:.3f}" in text
    assert "| p000003-r00004 | 1 | 4 | ValueError: boom |" in text
    assert "![fills](figures/fills.png)" in text
    assert (out / "figures" / "fills.png").read_bytes().startswith(PNG_SIGNATURE)


def test_write_sweep_report_is_a_report_error_outside_a_sweep(tmp_path: Path) -> None:
    """A directory without sweep.json raises EnsembleError, a ReportError (abm report's)."""
    with pytest.raises(EnsembleError, match="not a sweep directory") as info:
        write_sweep_report(tmp_path)
    assert isinstance(info.value, ReportError)


def test_write_sweep_report_without_results_says_how_to_rebuild(tmp_path: Path) -> None:
    """A sweep directory whose results.parquet is gone asks to re-run the sweep command."""
    out, _ = _sweep_dir(tmp_path, [1.0])
    (out / RESULTS_FILE).unlink()
    with pytest.raises(EnsembleError, match="run the same abm sweep command again"):
        write_sweep_report(out)


def _three_parameter_results() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = [
        {
            "gamma": g,
            "count": c,
            "k": k,
            "replicate": r,
            "status": "ok",
            "m": g * k + c + rng.normal(),
        }
        for g in (0.01, 0.1, 1.0)
        for c in (10, 90)
        for k in (1, 2)
        for r in range(4)
    ]
    return pd.DataFrame(rows)


def test_facet_metric_figure_draws_each_facet_with_the_aggregate_means() -> None:
    """One panel per facet value; each hue line's points are aggregate()'s means there."""
    results = _three_parameter_results()
    figure = facet_metric_figure(results, "m", "gamma", "k", hue="count")
    table = aggregate(results, ["gamma", "count", "k"], ["m"])
    assert len(figure.axes) == 2
    for ax, k in zip(figure.axes, (1, 2), strict=True):
        drawn = sorted(tuple(np.round(line.get_ydata(), 9)) for line in ax.get_lines())
        expected = sorted(
            tuple(np.round(part.sort_values("gamma")["mean"].to_numpy(), 9))
            for _, part in table.loc[table["k"] == k].groupby("count")
        )
        assert drawn == expected
        assert len(ax.collections) + len(ax.patches) == 2  # one t-interval band per line
    assert figure.legends and figure.legends[0].get_texts()


def test_facet_metric_figure_rejects_a_facet_equal_to_x() -> None:
    """Faceting on the x parameter is refused with the parameter named."""
    with pytest.raises(ValueError, match="facet 'gamma'"):
        facet_metric_figure(_three_parameter_results(), "m", "gamma", "gamma")
