"""Tests for analysis.flash_crash_study: cell and factor statistics, figures, the command line.

The sweep directories hold fabricated run records of known values, written through the
sweep's own directory writer, so every expected number is computed here by hand: Student t
intervals from ``scipy.stats.t``, quantiles from ``numpy.quantile``.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import PNG_SIGNATURE, run_record
from scipy import stats

from abm.experiments.sweep import _SweepDirectory
from abm.experiments.sweep_spec import SweepPlan, load_sweep
from analysis.ensemble import EnsembleError
from analysis.flash_crash_study import (
    BUYERS_FREQUENCY,
    CELLS_CSV,
    MARGINALS_CSV,
    PARTICIPATION,
    PAUSE,
    SELLERS_FREQUENCY,
    figure_layouts,
    log_log_slopes,
    main,
    marginals,
    quantile_band,
    study_figure,
    summarize,
    tie,
    write_study,
)

GRID = Path(__file__).resolve().parents[1] / "data" / "sweeps" / "grid.yaml"
SWEEPS = Path(__file__).resolve().parents[2] / "sweeps"
HFTS = "agents.hft.count"
LEVELS = {PARTICIPATION: (0.02, 0.09, 0.3), HFTS: (3, 7), PAUSE: (True, False)}
REPLICATES = 4


def _fall(point: tuple[float, int, bool], replicate: int) -> float:
    """A made-up fall: grows with participation, less with the pause, spread by replicate."""
    participation, hfts, pause = point
    return 100.0 * participation * (1.0 + 0.1 * hfts) - (0.5 if pause else 0.0) + replicate**1.5


def _sweep_dir(tmp_path: Path, failed: tuple[str, ...] = ()) -> tuple[Path, SweepPlan]:
    """A 3 x 2 x 2 flash-crash-like sweep of 4 replicates with `_fall` as fall_pct."""
    base = load_sweep(GRID)
    points = tuple(itertools.product(*LEVELS.values()))
    metrics = ("fall_pct", "rebound_fraction")
    plan = SweepPlan(base.scenario, tuple(LEVELS), points, REPLICATES, 1, metrics)
    out = tmp_path / "sweep"
    with _SweepDirectory.open(out, plan) as store:
        for key in plan.runs():
            if key.run_id in failed:
                record = run_record(key, {}, status="failed", error="ValueError: boom")
            else:
                fall = _fall(points[key.point], key.replicate)
                rebound = None if key.replicate == 0 else 0.1 * key.replicate
                record = run_record(key, {"fall_pct": fall, "rebound_fraction": rebound})
            store.write(record)
        store.write_results()
    return out, plan


def _by_hand(values: list[float]) -> dict[str, float]:
    """Mean, 95% t interval (scipy.stats.t), median and 40/60% quantiles (numpy) of values."""
    data = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, data.size - 1) * data.std(ddof=1) / math.sqrt(data.size)
    q40, median, q60 = np.quantile(data, [0.4, 0.5, 0.6])
    mean = data.mean()
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "median": median} | {
        "q40": q40,
        "q60": q60,
    }


def test_quantile_band_matches_numpy_and_drops_nan() -> None:
    """Median and 40/60% quantiles are numpy.quantile's (linear) of the finite values."""
    values = [5.0, 1.0, math.nan, 4.0, 2.5, 9.0, 3.0]
    finite = [v for v in values if not math.isnan(v)]
    n, median, low, high = quantile_band(values)
    assert n == 6
    assert median == pytest.approx(np.median(finite))
    assert (low, high) == pytest.approx(tuple(np.quantile(finite, [0.4, 0.6])))
    # by hand: sorted 1, 2.5, 3, 4, 5, 9; the 40% point sits at rank 0.4 * 5 = 2 -> 3.0
    assert low == pytest.approx(3.0)
    assert quantile_band([math.nan])[0] == 0 and math.isnan(quantile_band([])[1])


def test_quantile_band_rejects_quantiles_that_do_not_bracket_the_median() -> None:
    """A band must run from at most the median to at least it."""
    with pytest.raises(ValueError, match="quantiles"):
        quantile_band([1.0, 2.0], (0.6, 0.7))


def test_summarize_per_cell_matches_scipy_t_and_numpy_quantiles(tmp_path: Path) -> None:
    """Each cell's mean, t interval and quantiles equal those computed from its four runs."""
    out, plan = _sweep_dir(tmp_path)
    results = pd.read_parquet(out / "results.parquet")
    cells = summarize(results, plan.parameters, ["fall_pct"])
    assert len(cells) == len(plan.points)
    for point in plan.points:
        row = cells.loc[
            (cells[PARTICIPATION] == point[0])
            & (cells[HFTS] == point[1])
            & (cells[PAUSE] == point[2])
        ].iloc[0]
        expected = _by_hand([_fall(point, r) for r in range(REPLICATES)])
        assert row["n"] == REPLICATES
        for column, value in expected.items():
            assert row[column] == pytest.approx(value), column


def test_summarize_leaves_out_failed_runs_and_undefined_measures(tmp_path: Path) -> None:
    """A failed run counts nowhere; a measure a run left undefined is dropped for that measure."""
    out, plan = _sweep_dir(tmp_path, failed=("p000000-r00001",))
    results = pd.read_parquet(out / "results.parquet")
    cells = summarize(results, plan.parameters, ["fall_pct", "rebound_fraction"])
    first = cells.loc[
        (cells[PARTICIPATION] == 0.02) & (cells[HFTS] == 3) & (cells[PAUSE])
    ].set_index("metric")
    assert first.at["fall_pct", "n"] == 3
    assert first.at["fall_pct", "mean"] == pytest.approx(
        np.mean([_fall(plan.points[0], r) for r in (0, 2, 3)])
    )
    assert first.at["rebound_fraction", "n"] == 2  # replicate 0 has none, replicate 1 failed
    assert first.at["rebound_fraction", "median"] == pytest.approx(0.25)


def test_marginals_pool_every_run_at_a_level(tmp_path: Path) -> None:
    """A factor's level summarises all runs there, over every level of the other factors."""
    out, plan = _sweep_dir(tmp_path)
    results = pd.read_parquet(out / "results.parquet")
    table = marginals(results, plan.parameters, ["fall_pct"])
    assert sorted(pd.unique(table["factor"])) == sorted(plan.parameters)
    for level in LEVELS[PARTICIPATION]:
        pooled = [_fall(p, r) for p in plan.points if p[0] == level for r in range(REPLICATES)]
        row = table.loc[(table["factor"] == PARTICIPATION) & (table["level"] == level)].iloc[0]
        assert row["n"] == len(pooled) == 16
        for column, value in _by_hand(pooled).items():
            assert row[column] == pytest.approx(value), column


def test_tie_keeps_the_diagonal_of_the_two_fundamental_frequencies(tmp_path: Path) -> None:
    """Buyers and sellers swept apart: only equal pairs stay, as the buyers' factor."""
    base = load_sweep(GRID)
    grid = (0.02, 0.3), (20.0, 40.0, 80.0), (20.0, 40.0, 80.0)
    parameters = (PARTICIPATION, BUYERS_FREQUENCY, SELLERS_FREQUENCY)
    points = tuple(itertools.product(*grid))
    plan = SweepPlan(base.scenario, parameters, points, 2, 1, ("fall_pct",))
    out = tmp_path / "sweep"
    with _SweepDirectory.open(out, plan) as store:
        for key in plan.runs():
            _, buyers, sellers = points[key.point]
            store.write(run_record(key, {"fall_pct": sellers / buyers + key.replicate}))
        store.write_results()
    results = pd.read_parquet(out / "results.parquet")
    kept, left = tie(results, parameters)
    assert left == (PARTICIPATION, BUYERS_FREQUENCY)
    assert len(kept) == 2 * 3 * 2  # participation x the diagonal x replicates
    assert (kept[BUYERS_FREQUENCY] == kept[SELLERS_FREQUENCY]).all()
    table = write_study(out, ["fall_pct"]).marginals
    row = table.loc[(table["factor"] == BUYERS_FREQUENCY) & (table["level"] == 40.0)].iloc[0]
    assert (row["n"], row["mean"]) == (4, pytest.approx(1.5))  # 1 + replicate 0 or 1
    assert tie(results, (PARTICIPATION, BUYERS_FREQUENCY)) == (results, left)


def test_log_log_slopes_give_the_power_of_a_power_law() -> None:
    """A power law 3 x^2 has slope 2 everywhere, 5 x slope 1; a zero value has no slope."""
    levels = [0.02, 0.05, 0.09, 0.3]
    assert log_log_slopes(levels, [3 * x**2 for x in levels]) == pytest.approx([2.0] * 3)
    assert log_log_slopes(levels, [5 * x for x in levels]) == pytest.approx([1.0] * 3)
    slopes = log_log_slopes([1.0, 2.0, 4.0], [0.0, 1.0, 2.0])
    assert math.isnan(slopes[0]) and slopes[1] == pytest.approx(1.0)


def test_figure_layouts_follow_the_shipped_sweeps() -> None:
    """Participation on x; the pause on the panels if varied; each other factor as the lines."""
    issue = ("agents.seller.participation", HFTS, "agents.hft.position_limit", PAUSE)
    assert figure_layouts(issue) == [
        (PARTICIPATION, HFTS, PAUSE),
        (PARTICIPATION, "agents.hft.position_limit", PAUSE),
    ]
    gao = (
        PARTICIPATION,
        "agents.mm.position_limit",
        "agents.fundamental_buyers.mean_interarrival_s",
    )
    assert figure_layouts(gao) == [
        (PARTICIPATION, gao[1], gao[2]),
        (PARTICIPATION, gao[2], gao[1]),
    ]
    assert figure_layouts((PARTICIPATION, PAUSE)) == [(PARTICIPATION, PAUSE, None)]
    assert figure_layouts(()) == []


def test_study_figure_draws_means_and_medians_per_pause_panel(tmp_path: Path) -> None:
    """Two rows (mean, median) by one column per pause level; each line's points are the stats."""
    out, _ = _sweep_dir(tmp_path)
    results = pd.read_parquet(out / "results.parquet")
    figure = study_figure(results, "fall_pct", PARTICIPATION, HFTS, PAUSE)
    assert len(figure.axes) == 4
    table = summarize(results, [PARTICIPATION, HFTS, PAUSE], ["fall_pct"])
    # panels: row 0 = means, row 1 = medians; column 0 = pause off (False sorts first)
    mean_off, median_off = figure.axes[0], figure.axes[2]
    part = table.loc[(table[HFTS] == 7) & (~table[PAUSE].astype(bool))].sort_values(PARTICIPATION)
    assert mean_off.lines[1].get_ydata() == pytest.approx(part["mean"].to_numpy())
    assert median_off.lines[1].get_ydata() == pytest.approx(part["median"].to_numpy())
    assert mean_off.get_title().endswith("= off") and "median" in median_off.get_ylabel()


def test_write_study_writes_the_tables_and_figures(tmp_path: Path) -> None:
    """The CSVs hold the per-cell and per-level statistics; every figure is a PNG in figures/."""
    out, plan = _sweep_dir(tmp_path)
    outputs = write_study(out, ["fall_pct"])
    cells = pd.read_csv(out / CELLS_CSV)
    assert len(cells) == len(plan.points) * 2  # fall_pct and rebound_fraction, the kept measures
    assert cells["mean"].to_numpy() == pytest.approx(outputs.cells["mean"].to_numpy())
    assert len(pd.read_csv(out / MARGINALS_CSV)) == (3 + 2 + 2) * 2
    pngs = [p for p in outputs.files if p.suffix == ".png"]
    assert [p.name for p in pngs] == [
        "flash_crash_study_fall_pct_by_hft_count.png",
        "flash_crash_study_fall_pct_marginals.png",
    ]
    assert all(p.parent == out / "figures" and p.read_bytes()[:8] == PNG_SIGNATURE for p in pngs)


def test_write_study_rejects_a_measure_the_sweep_did_not_keep(tmp_path: Path) -> None:
    """Asking for a measure that is not a results column names it."""
    out, _ = _sweep_dir(tmp_path)
    with pytest.raises(EnsembleError, match="halts"):
        write_study(out, ["halts"])


def test_main_on_a_run_directory_exits_2_with_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a sweep directory: one error line naming it, exit code 2, no traceback."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "is not a sweep directory" in err and "Traceback" not in err


def test_main_prints_the_marginals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command prints each factor's levels and the files it wrote."""
    out, _ = _sweep_dir(tmp_path)
    assert main([str(out), "--metric", "fall_pct"]) == 0
    text = capsys.readouterr().out
    assert "agents.seller.participation (mean [95% t-interval]; median [40%, 60%]; n)" in text
    assert f"wrote {out / CELLS_CSV}" in text
    assert "log-log slope of the median: 0.02-0.09" in text
    assert "agents.seller.participation x circuit_breaker.enabled" in text


@pytest.mark.parametrize(
    ("name", "runs"),
    [("flash_crash.yaml", 360), ("flash_crash_gao.yaml", 405), ("flash_crash_quick.yaml", 18)],
)
def test_shipped_flash_crash_sweeps_validate_against_the_scenario(name: str, runs: int) -> None:
    """Every grid path of the shipped study sweeps exists in the scenario; the header's count."""
    plan = load_sweep(SWEEPS / name)
    assert plan.n_runs == runs
    assert plan.parameters[0] == PARTICIPATION
