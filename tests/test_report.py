"""Tests for analysis.report and analysis.plots on a short real run of the baseline scenario."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import abm
from abm.record import AGENT_COLUMNS, MARKET_COLUMNS, RUN_FILES, RunResult
from analysis.plots import inventory_figure, pnl_figure, price_figure, spread_depth_figure
from analysis.report import (
    FIGURE_FILES,
    ReportError,
    market_maker_groups,
    summary_lines,
    write_report,
)

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SECTIONS = ("## Market quality", "## Activity", "## Market makers", "## Accounting", "## Figures")
# The baseline's market-maker groups, written out by hand from scenarios/baseline.yaml.
BASELINE_GROUPS = {
    "mm": ("avellaneda_stoikov", 4),
    "mm_glft": ("glft", 3),
    "mm_symmetric": ("symmetric", 3),
}
BASELINE_TICK = 0.01


def _fmt(value: float) -> str:
    """The report's documented float format: six significant digits."""
    return format(value, ".6g")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = abm.load_scenario(BASELINE).override({"steps": 200})
    return abm.run(scenario).save(tmp_path_factory.mktemp("runs") / "baseline_200")


@pytest.fixture(scope="module")
def result(run_dir: Path) -> RunResult:
    return RunResult.load(run_dir)


@pytest.fixture(scope="module")
def report_path(run_dir: Path) -> Path:
    return write_report(run_dir)


@pytest.fixture(scope="module")
def report_text(report_path: Path) -> str:
    return report_path.read_text(encoding="utf-8")


def _copy_run(run_dir: Path, target: Path) -> Path:
    shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("figures", "report.md"))
    return target


def test_write_report_returns_report_md_in_run_dir(run_dir: Path, report_path: Path) -> None:
    """By default the report is run_dir/report.md and the returned path points at it."""
    assert report_path == run_dir.absolute() / "report.md"
    assert report_path.is_file()


def test_write_report_has_section_headings(report_text: str) -> None:
    """The report has a title and every section the brief names, in order."""
    assert report_text.startswith("# Run report: baseline\n")
    positions = [report_text.index(heading + "\n") for heading in SECTIONS]
    assert positions == sorted(positions)


def test_write_report_shows_run_facts(report_text: str, result: RunResult) -> None:
    """Seed, steps and wall time come from summary.json; the description from the scenario."""
    assert "Liquid, stable market" in report_text
    assert f"| Seed | {result.summary['seed']} |" in report_text
    assert "| Steps | 200 |" in report_text
    assert f"| Wall time (s) | {_fmt(result.summary['wall_time_s'])} |" in report_text


def test_write_report_shows_market_quality_from_summary(
    report_text: str, result: RunResult
) -> None:
    """Spread and mispricing rows equal summary.json, in price units and in 0.01 ticks."""
    summary = result.summary
    for label, key in (
        ("Spread mean", "spread_mean"),
        ("Spread median", "spread_median"),
        ("Mispricing mean, abs(mid - fundamental)", "mispricing_mean"),
    ):
        value = summary[key]
        row = f"| {label} | {_fmt(value)} | {_fmt(value / BASELINE_TICK)} |"
        assert row in report_text
    assert f"Two-sided fraction of steps: {_fmt(summary['two_sided_fraction'])}" in report_text


def test_write_report_shows_activity_counts_from_summary(
    report_text: str, result: RunResult
) -> None:
    """Orders, cancels, fills and volume rows equal the integer counts of summary.json."""
    for label, key in (
        ("Orders", "orders"),
        ("Cancels", "cancels"),
        ("Fills", "fills"),
        ("Volume (lots)", "volume"),
    ):
        assert f"| {label} | {result.summary[key]} |" in report_text


def test_write_report_shows_accounting_checks(report_text: str) -> None:
    """The exchange settles both sides of each fill, so the baseline conserves cash and lots."""
    assert "| Cash | yes |" in report_text
    assert "| Inventory | yes |" in report_text


def test_write_report_lists_one_row_per_market_maker_group(report_text: str) -> None:
    """Each baseline market-maker group appears once with its policy kind and count."""
    for group, (policy, count) in BASELINE_GROUPS.items():
        assert report_text.count(f"| {group} | {policy} | {count} |") == 1


def test_market_maker_groups_pnl_matches_model_summary(result: RunResult) -> None:
    """Group mean final pnl from the agents table equals the model's own pnl_by_group."""
    groups = market_maker_groups(result).set_index("group")
    assert set(groups.index) == set(BASELINE_GROUPS)
    for group, (policy, count) in BASELINE_GROUPS.items():
        assert groups.loc[group, "policy"] == policy
        assert groups.loc[group, "n_agents"] == count
        expected = result.summary["pnl_by_group"][group]
        assert groups.loc[group, "pnl_final_mean"] == pytest.approx(expected, abs=1e-9)


def test_market_maker_groups_final_inventory_matches_model_summary(result: RunResult) -> None:
    """The count-weighted mean of group mean |final inventory| is summary's overall mean."""
    groups = market_maker_groups(result)
    weighted = (groups["abs_inventory_final_mean"] * groups["n_agents"]).sum()
    overall = weighted / groups["n_agents"].sum()
    assert overall == pytest.approx(result.summary["mm_abs_inventory_final_mean"], abs=1e-12)


def test_market_maker_groups_max_inventory_bounds_final(result: RunResult) -> None:
    """The max |inventory| over the run is at least the mean |inventory| at its end."""
    groups = market_maker_groups(result)
    assert (groups["abs_inventory_max"] >= groups["abs_inventory_final_mean"]).all()


def test_market_maker_groups_follow_the_group_column(result: RunResult) -> None:
    """Groups come from the agents table's group column, whatever the scenario text says."""
    altered = dataclasses.replace(
        result, scenario_yaml=result.scenario_yaml.replace("count: 4", "count: 5", 1)
    )
    groups = market_maker_groups(altered)
    assert list(groups["group"]) == list(BASELINE_GROUPS)
    assert list(groups["n_agents"]) == [count for _, count in BASELINE_GROUPS.values()]


def test_market_maker_groups_policy_unknown_without_scenario(result: RunResult) -> None:
    """An unreadable scenario leaves the groups but labels their policy n/a."""
    groups = market_maker_groups(dataclasses.replace(result, scenario_yaml="{: not yaml"))
    assert list(groups["group"]) == list(BASELINE_GROUPS)
    assert set(groups["policy"]) == {"n/a"}


def test_write_report_figures_are_valid_pngs(run_dir: Path, report_path: Path) -> None:
    """Every figure file starts with the PNG signature, is non-trivial and decodes to pixels."""
    for name in FIGURE_FILES:
        path = run_dir / "figures" / name
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        assert len(data) > 10_000
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        # A blank canvas is one colour; drawn axes and text span dark to light.
        assert np.ptp(pixels[..., :3]) > 0.5


def test_write_report_links_every_figure(report_path: Path, report_text: str) -> None:
    """Each figure is linked by a relative path that resolves to the written file."""
    for name in FIGURE_FILES:
        link = f"(figures/{name})"
        assert link in report_text
        assert (report_path.parent / "figures" / name).is_file()


def test_write_report_leaves_no_temporary_files(run_dir: Path, report_path: Path) -> None:
    """Atomic writes rename their temporaries away: only final names remain."""
    names = {p.name for p in run_dir.iterdir()} | {p.name for p in (run_dir / "figures").iterdir()}
    assert names == {*RUN_FILES, "report.md", "figures", *FIGURE_FILES}


def test_write_report_out_dir_leaves_run_dir_untouched(run_dir: Path, tmp_path: Path) -> None:
    """With out_dir, report and figures go there and the run directory is only read."""
    source = _copy_run(run_dir, tmp_path / "run")
    out = tmp_path / "out" / "nested"
    report = write_report(source, out_dir=out)
    assert report == out.absolute() / "report.md"
    assert {p.name for p in out.iterdir()} == {"report.md", *FIGURE_FILES}
    assert {p.name for p in source.iterdir()} == set(RUN_FILES)
    assert f"({FIGURE_FILES[0]})" in report.read_text(encoding="utf-8")


def test_write_report_says_no_when_conservation_failed(result: RunResult, tmp_path: Path) -> None:
    """A summary with cash_conserved False is reported as "no", not hidden."""
    broken = dataclasses.replace(result, summary={**result.summary, "cash_conserved": False})
    text = write_report(broken.save(tmp_path / "broken")).read_text(encoding="utf-8")
    assert "| Cash | no |" in text
    assert "| Inventory | yes |" in text


def test_write_report_raises_on_missing_directory(tmp_path: Path) -> None:
    """A directory that does not exist gives a ReportError naming it."""
    missing = tmp_path / "no_such_run"
    with pytest.raises(ReportError, match="no_such_run"):
        write_report(missing)


@pytest.mark.parametrize("name", ["summary.json", "market.parquet"])
def test_write_report_raises_on_missing_file(run_dir: Path, tmp_path: Path, name: str) -> None:
    """A run directory without one of its files gives a ReportError naming path and file."""
    source = _copy_run(run_dir, tmp_path / "partial")
    (source / name).unlink()
    with pytest.raises(ReportError, match=re.escape(name)) as info:
        write_report(source)
    assert str(source) in str(info.value)
    assert not (source / "report.md").exists()


def test_write_report_raises_on_corrupt_file(run_dir: Path, tmp_path: Path) -> None:
    """An unreadable run file gives a ReportError (a ValueError), not a library exception."""
    source = _copy_run(run_dir, tmp_path / "corrupt")
    (source / "summary.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"summary\.json") as info:
        write_report(source)
    assert isinstance(info.value, ReportError)


def test_summary_lines_report_headline_numbers(result: RunResult) -> None:
    """The CLI lines carry steps, fills, spread (price and ticks), mm pnl and conservation."""
    text = "\n".join(summary_lines(result))
    summary = result.summary
    assert text.startswith("steps: 200 in ")
    assert f"({_fmt(summary['steps_per_s'])} steps/s)" in text
    assert f"fills: {summary['fills']} " in text
    spread = summary["spread_mean"]
    assert f"spread mean: {_fmt(spread)} ({_fmt(spread / BASELINE_TICK)} ticks)" in text
    assert f"market-maker pnl mean: {_fmt(summary['mm_pnl_mean'])}" in text
    assert "conserved: cash yes, inventory yes" in text


def test_summary_lines_show_missing_values_as_na(result: RunResult) -> None:
    """JSON nulls (a run without quotes has no spread) print as n/a rather than failing."""
    empty = dataclasses.replace(result, summary={**result.summary, "spread_mean": math.nan})
    assert "spread mean: n/a (n/a ticks)" in summary_lines(empty)


FigureFunction = Callable[[pd.DataFrame], Figure]
MARKET_FIGURES: list[FigureFunction] = [price_figure, spread_depth_figure]
AGENT_FIGURES: list[FigureFunction] = [inventory_figure, pnl_figure]


def _empty(columns: tuple[str, ...], like: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=like[column].dtype) for column in columns})
    assert list(frame.columns) == list(columns)
    return frame


@pytest.mark.parametrize("draw", MARKET_FIGURES + AGENT_FIGURES, ids=lambda f: f.__name__)
def test_figure_functions_accept_empty_tables(
    draw: FigureFunction, result: RunResult, tmp_path: Path
) -> None:
    """An empty table with the contract columns gives a figure that renders to PNG."""
    market = draw in MARKET_FIGURES
    columns, like = (MARKET_COLUMNS, result.market) if market else (AGENT_COLUMNS, result.agents)
    figure = draw(_empty(columns, like))
    assert isinstance(figure, Figure)
    figure.savefig(tmp_path / "empty.png")
    assert (tmp_path / "empty.png").read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize("draw", MARKET_FIGURES, ids=lambda f: f.__name__)
def test_market_figures_accept_one_sided_book(draw: FigureFunction, result: RunResult) -> None:
    """Steps with an empty side (NaN quotes, spread and mid) are drawn as gaps, not errors."""
    market = result.market.copy()
    market[["best_bid", "mid", "spread"]] = math.nan
    assert isinstance(draw(market), Figure)


@pytest.mark.parametrize("draw", AGENT_FIGURES, ids=lambda f: f.__name__)
def test_agent_figures_draw_one_line_per_market_maker(
    draw: FigureFunction, result: RunResult
) -> None:
    """Only market makers are drawn, one line each (the baseline has ten)."""
    figure = draw(result.agents)
    # The pnl figure's zero line has two points; agent lines have one per recorded step.
    lines = [line for line in figure.axes[0].get_lines() if len(np.asarray(line.get_xydata())) > 2]
    assert len(lines) == sum(count for _, count in BASELINE_GROUPS.values())


@pytest.mark.parametrize("draw", MARKET_FIGURES + AGENT_FIGURES, ids=lambda f: f.__name__)
def test_figure_functions_reject_missing_columns(draw: FigureFunction) -> None:
    """A table without the needed columns raises ValueError naming a missing column."""
    with pytest.raises(ValueError, match="lacks column"):
        draw(pd.DataFrame({"step": [0, 1]}))
