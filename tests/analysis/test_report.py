"""Tests for analysis.report (Markdown and HTML run reports) on short real runs of the baseline."""

from __future__ import annotations

import base64
import dataclasses
import errno
import html
import math
import os
import re
import shutil
import sys
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import yaml
from _helpers import PNG_SIGNATURE, run_baseline

import abm
import analysis.report as report_module
from abm.results.run_result import RUN_FILES, RunResult, RunResultError
from analysis.market_making import pnl_decomposition
from analysis.report import (
    FIGURE_FILES,
    HTML_REPORT_NAME,
    ReportError,
    market_maker_groups,
    summary_lines,
    write_html_report,
    write_report,
)
from analysis.report_document import (
    Aligned,
    Document,
    FigureBlock,
    Section,
    render_html,
    render_markdown,
    scenario_question_and_outcome,
)
from analysis.report_sections import build_document

SECTIONS = (
    "## Headline figures",
    "## Run",
    "## Scenario",
    "## Market quality",
    "## Activity",
    "## Market makers",
    "## Stylized facts",
    "## Accounting",
    "## More figures",
)
# The baseline's market-maker groups, written out by hand from scenarios/baseline.yaml.
BASELINE_GROUPS = {
    "mm": ("avellaneda_stoikov", 4),
    "mm_glft": ("glft", 3),
    "mm_symmetric": ("symmetric", 3),
}
BASELINE_TICK = 0.01
ROOT = Path(__file__).resolve().parents[2]


def _fmt(value: float) -> str:
    """The report's documented float format: six significant digits."""
    return format(value, ".6g")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_baseline({"steps": 200, "record.depth_levels": 5})
    return result.save(tmp_path_factory.mktemp("runs") / "baseline_200")


@pytest.fixture(scope="module")
def result(run_dir: Path) -> RunResult:
    return RunResult.load(run_dir)


@pytest.fixture(scope="module")
def report_path(run_dir: Path) -> Path:
    return write_report(run_dir)


@pytest.fixture(scope="module")
def report_text(report_path: Path) -> str:
    return report_path.read_text(encoding="utf-8")


def _markdown(result: RunResult) -> str:
    """The report's Markdown without rendering figures (fast)."""
    return render_markdown(build_document(result, figures=False), {})


def _html(result: RunResult) -> str:
    return render_html(build_document(result, figures=False))


def _copy_run(run_dir: Path, target: Path) -> Path:
    ignore = shutil.ignore_patterns("figures", "report.md", HTML_REPORT_NAME)
    shutil.copytree(run_dir, target, ignore=ignore)
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
        ("Quoted spread, mean over two-sided steps", "spread_mean"),
        ("Quoted spread, median over two-sided steps", "spread_median"),
        ("Mispricing, mean abs(mid - fundamental) over two-sided steps", "mispricing_mean"),
    ):
        value = summary[key]
        row = f"| {label} | {_fmt(value)} | {_fmt(value / BASELINE_TICK)} |"
        assert row in report_text
    assert f"| Two-sided book | {_fmt(summary['two_sided_fraction'])} |" in report_text


def test_write_report_shows_activity_counts_from_summary(
    report_text: str, result: RunResult
) -> None:
    """Orders, cancels, fills and volume rows equal the integer counts of summary.json."""
    for label, key in (
        ("Orders (count)", "orders"),
        ("Cancels (count)", "cancels"),
        ("Fills (count)", "fills"),
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


def test_market_maker_groups_unreadable_scenario_raises(result: RunResult) -> None:
    """An unreadable scenario is reported as one (RunResult.scenario), not read as empty."""
    broken = dataclasses.replace(result, scenario_yaml="{: not yaml")
    with pytest.raises(RunResultError, match="does not validate"):
        market_maker_groups(broken)


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
    assert names == {*RUN_FILES, "report.md", HTML_REPORT_NAME, "figures", *FIGURE_FILES}


def _stub_figures(result: RunResult) -> Document:
    """The report with placeholder figures: file placement tests need no real rendering."""
    document = build_document(result, figures=False)
    stubs = tuple(FigureBlock(name, name, PNG_SIGNATURE) for name in FIGURE_FILES)
    return dataclasses.replace(document, sections=(*document.sections, Section("Figures", stubs)))


def test_write_report_out_dir_leaves_run_dir_untouched(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With out_dir, both reports and the figures go there and the run directory is only read."""
    monkeypatch.setattr(report_module, "build_document", _stub_figures)
    source = _copy_run(run_dir, tmp_path / "run")
    out = tmp_path / "out" / "nested"
    report = write_report(source, out_dir=out)
    assert report == out.absolute() / "report.md"
    assert {p.name for p in out.iterdir()} == {"report.md", HTML_REPORT_NAME, *FIGURE_FILES}
    assert {p.name for p in source.iterdir()} == set(RUN_FILES)
    assert f"({FIGURE_FILES[0]})" in report.read_text(encoding="utf-8")


def test_report_says_no_when_conservation_failed(result: RunResult) -> None:
    """A summary with cash_conserved False is reported as "no", not hidden."""
    broken = dataclasses.replace(result, summary={**result.summary, "cash_conserved": False})
    text = _markdown(broken)
    assert "| Cash | no |" in text
    assert "| Inventory | yes |" in text
    assert "Held instruments" not in text  # the baseline holds none: no row


def test_report_says_no_when_held_instruments_were_not_conserved(result: RunResult) -> None:
    """A run with held instruments gets their row, and a failed check reads "no"."""
    summary = {**result.summary, "held_instruments": 3, "holdings_conserved": False}
    text = _markdown(dataclasses.replace(result, summary=summary))
    assert "| Held instruments (3: pool shares, option series) | no |" in text


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


@pytest.mark.parametrize(
    ("block", "make"),
    [("report.md", "dir"), ("report.html", "dir"), ("figures", "file")],
)
def test_write_report_refuses_output_paths_of_the_wrong_kind(
    run_dir: Path, tmp_path: Path, block: str, make: str
) -> None:
    """report.md as a directory or figures as a file: one-line ReportError, nothing written."""
    source = _copy_run(run_dir, tmp_path / "run")
    if make == "dir":
        (source / block).mkdir()
    else:
        (source / block).write_text("x")
    before = sorted(p.name for p in source.iterdir())
    with pytest.raises(ReportError, match=re.escape(str(source / block))) as info:
        write_report(source)
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in source.iterdir()) == before


def test_write_report_on_a_full_disk_is_a_report_error(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while writing (a test double for a full disk): ReportError, no temporary left."""
    source = _copy_run(run_dir, tmp_path / "run")
    (source / "report.md").write_text("the old report", encoding="utf-8")

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ReportError, match="No space left on device") as info:
        write_report(source)
    monkeypatch.undo()
    assert str(source) in str(info.value) and "\n" not in str(info.value)
    assert (source / "report.md").read_text(encoding="utf-8") == "the old report"
    leftovers = [p for p in source.rglob(".*") if ".tmp-" in p.name]
    assert leftovers == []


def test_cli_report_on_a_full_disk_exits_2(
    run_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`abm report` on a full disk prints one line and exits 2 instead of a traceback."""
    from abm.cli.main import main

    source = _copy_run(run_dir, tmp_path / "run")

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert main(["report", str(source)]) == 2
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err


def test_report_of_extreme_finite_values_completes(result: RunResult) -> None:
    """Values too extreme to tick or bin (a runaway or damaged run) leave figures out, named.

    A mid of 1e300 in one step made the return histogram's Freedman-Diaconis edges too many
    to allocate, and a spread of 1e308 made matplotlib's tick layout fail, both as tracebacks.
    """
    market = result.market.copy()
    market.loc[market.index[5], "mid"] = 1e300
    market["spread"] = 1e308
    document = build_document(dataclasses.replace(result, market=market))
    assert "not drawn" in render_html(document)


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


@pytest.fixture(scope="module")
def html_text(report_path: Path) -> str:
    return (report_path.parent / HTML_REPORT_NAME).read_text(encoding="utf-8")


def test_write_report_writes_html_next_to_markdown(report_path: Path) -> None:
    """report.html is written beside report.md, which stays the returned path."""
    assert (report_path.parent / HTML_REPORT_NAME).is_file()


def test_html_report_is_self_contained(html_text: str) -> None:
    """No external resources or scripts: every image is an inline PNG data URI."""
    assert not re.search(r"https?://", html_text)
    assert "<script" not in html_text
    assert "<link" not in html_text
    sources = re.findall(r'src="([^"]*)"', html_text)
    assert len(sources) == len(FIGURE_FILES)
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :])[:8] == PNG_SIGNATURE


def test_html_report_is_well_formed(html_text: str) -> None:
    """Every opened element is closed in order (void elements aside)."""
    checker = _TagBalance()
    checker.feed(html_text)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []


def test_html_report_has_the_markdown_sections(html_text: str) -> None:
    """The HTML page has the same sections as report.md, in the same order."""
    headings = re.findall(r"<h2>(.*?)</h2>", html_text)
    assert [f"## {h}" for h in headings] == list(SECTIONS)


def test_html_report_escapes_text(result: RunResult) -> None:
    """Markup in the scenario's description shows as text, in the intro and in the YAML."""
    hostile = '<script>alert("x")</script> & <b>bold</b>'
    scenario = yaml.safe_load(result.scenario_yaml)
    scenario["description"] = hostile
    page = _html(dataclasses.replace(result, scenario_yaml=yaml.safe_dump(scenario)))
    assert "<script" not in page and "<b>" not in page
    assert html.escape(hostile) in page


def test_markdown_tables_escape_pipes(report_text: str) -> None:
    """A "|" inside a cell is escaped, so every row of a table has its header's cell count."""
    assert "\\|returns\\|" in report_text
    separator = re.compile(r"(?<!\\)\|")
    for table in re.findall(r"(?:^\|.*\n)+", report_text, flags=re.MULTILINE):
        counts = {len(separator.findall(row)) for row in table.splitlines()}
        assert len(counts) == 1, table


def test_write_html_report_writes_only_the_page(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_html_report writes report.html alone into out_dir and returns its path."""
    # Placement is under test, not the figures: skip rendering them.
    monkeypatch.setattr(report_module, "build_document", partial(build_document, figures=False))
    out = tmp_path / "html"
    page = write_html_report(run_dir, out_dir=out)
    assert page == out.absolute() / HTML_REPORT_NAME
    assert [p.name for p in out.iterdir()] == [HTML_REPORT_NAME]
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_shows_scenario_parameters_and_yaml(report_text: str, result: RunResult) -> None:
    """The scenario section lists key parameters and holds the resolved YAML, collapsed."""
    assert "| Tick size (price units) | 0.01 |" in report_text
    assert (
        "| mm | market_maker | 4 | avellaneda_stoikov (gamma=0.01, k=60, T=4000) |" in report_text
    )
    assert "<details><summary>Resolved scenario (scenario.yaml)</summary>" in report_text
    assert result.scenario_yaml.strip() in report_text


def test_report_shows_detailed_market_quality(report_text: str) -> None:
    """market_quality_summary rows appear with units, including depth-table measures."""
    assert "| Effective spread (ticks) |" in report_text
    assert "| Bid depth at the touch, mean (lots) |" in report_text


def test_report_decomposition_final_pnl_matches_model_summary(
    report_text: str, result: RunResult
) -> None:
    """The decomposition's final pnl per group is the model's own pnl_by_group."""
    table = pnl_decomposition(result).groupby("group")["pnl"].mean()
    for group in BASELINE_GROUPS:
        expected = result.summary["pnl_by_group"][group]
        assert table[group] == pytest.approx(expected, abs=1e-9)
        row = next(
            line
            for line in report_text.split("### P&L decomposition")[1].splitlines()
            if line.startswith(f"| {group} |")
        )
        assert row.rstrip(" |").endswith(_fmt(table[group]))


def test_report_has_efficiency_table(report_text: str) -> None:
    """The efficiency table has one row per market-maker group."""
    section = report_text.split("### Quoting efficiency and risk")[1].split("##")[0]
    groups = [line.split("|")[1].strip() for line in section.splitlines()[4:] if line]
    assert groups == list(BASELINE_GROUPS)


def test_report_flags_short_series_in_stylized_facts(report_text: str) -> None:
    """200 steps are fewer than 1000 returns: the scorecard is shown but flagged indicative."""
    section = report_text.split("## Stylized facts")[1].split("## Accounting")[0]
    assert "Only 199 mid returns" in section
    for fact in ("absence of autocorrelation", "heavy tails", "volatility clustering"):
        assert f"| {fact} |" in section


def test_report_has_no_contagion_section_without_network(report_text: str) -> None:
    """The baseline has neither defaults nor a network, so no contagion section."""
    assert "## Contagion" not in report_text


@pytest.fixture(scope="module")
def networked() -> RunResult:
    overrides = {
        "steps": 60,
        "network": {"topology": {"kind": "complete"}},
        "shocks": [{"kind": "default", "step": 30, "targets": [0]}],
    }
    return run_baseline(overrides)


def test_report_contagion_section_for_networked_run(networked: RunResult) -> None:
    """A complete network on 10 market makers has 10 x 9 = 90 edges, reported with its size."""
    text = _markdown(networked)
    section = text.split("## Contagion")[1].split("## Accounting")[0]
    assert "| Network edges | 90 |" in section
    assert "| Network nodes | 10 |" in section


def test_report_contagion_section_lists_defaults_and_crisis(networked: RunResult) -> None:
    """A default shock to node 0 at step 30 is listed and is the crisis summary's shock step."""
    section = _markdown(networked).split("## Contagion")[1].split("## Accounting")[0]
    defaults = section.split("### Defaults")[1].split("###")[0]
    first = next(line for line in defaults.splitlines() if line.startswith("| 30 |"))
    assert first.split("|")[3].strip() == "0"  # network node
    assert first.split("|")[5].strip() == "0"  # the default's wave: a default shock
    assert "| shock step (step) | 30 |" in section.split("### Crisis summary")[1]


def test_report_contagion_section_without_contagion_module(
    networked: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If analysis.contagion cannot be imported the section still renders and says so."""
    monkeypatch.setitem(sys.modules, "analysis.contagion", None)
    section = _markdown(networked).split("## Contagion")[1]
    assert "analysis.contagion (absent)" in section
    assert "| Network edges | 90 |" in section


class _TagBalance(HTMLParser):
    """Records elements closed out of order; void elements never open a scope."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.errors.append(tag)


# --- layout: question and outcome first, headline figures, one name per quantity ---


def test_report_opens_with_the_scenario_question_and_outcome(report_text: str) -> None:
    """The baseline header's 'Question' / 'Expected outcome' paragraphs open the report."""
    body = report_text.split("\n", 2)[2]
    assert body.startswith("**Question.** in one liquid market with informed and noise flow")
    outcome = body.split("\n\n")[1]
    assert outcome.startswith("**Expected outcome (measured, seed 20260101, 2000 steps).** a two")
    assert body.index("**Expected outcome") < body.index("## Headline figures")


def test_report_says_when_the_header_has_no_question(result: RunResult) -> None:
    """A scenario.yaml without header comments gets one line saying what is missing."""
    bare = dataclasses.replace(result, scenario_yaml=result.scenario_yaml.split("\nname:", 1)[1])
    bare = dataclasses.replace(bare, scenario_yaml="name:" + bare.scenario_yaml)
    text = _markdown(bare)
    assert "**Question.**" not in text
    assert "states no question or expected outcome" in text


def test_report_states_the_mark_from_the_summary_when_present(result: RunResult) -> None:
    """summary['mark'] (the marks helper's description) is what the report says P&L uses."""
    described = "index: fundamental + EMA of the basis (halflife 20 steps)"
    marked = dataclasses.replace(result, summary={**result.summary, "mark": described})
    assert f"marked to: {described}." in _markdown(marked)
    assert "marked to: mid (last trade while one side is empty)." in _markdown(result)


def test_report_shows_dislocation_and_book_state_keys_when_present(result: RunResult) -> None:
    """The marks helper's summary keys get rows when summary.json has them."""
    extra = {
        "max_trade_dislocation": 28.8,
        "max_mid_dislocation": 0.3,
        "one_sided_fraction": 0.75,
        "empty_book_fraction": 0.0,
    }
    text = _markdown(dataclasses.replace(result, summary={**result.summary, **extra}))
    assert "| Largest abs(trade price - fundamental) | 28.8 | 2880 |" in text
    assert "| One-sided book (one side empty) | 0.75 |" in text
    assert "| Empty book (both sides empty) | 0 |" in text


def test_report_states_the_pnl_sign_convention(report_text: str) -> None:
    """The market-maker section says how each P&L term is signed."""
    section = report_text.split("## Market makers")[1].split("## Stylized facts")[0]
    assert "Sign convention:" in section
    for term in ("Spread capture", "Adverse selection", "Inventory pnl", "Hedging pnl"):
        assert term in section


def test_report_leaves_out_a_figure_without_data_and_says_why() -> None:
    """Without depth snapshots there is no heatmap and no depth panel, and one line says why."""
    bare = run_baseline({"steps": 80, "record.depth_levels": 0})
    document = build_document(bare)
    names = [figure.file_name for figure in document.figures()]
    assert "depth_heatmap.png" not in names
    assert "price.png" in names
    text = render_markdown(document, {name: name for name in names})
    assert "not drawn, the run recorded no order-book snapshots (record.depth_levels: 0)" in text


def test_report_uses_one_name_for_credit_write_downs(networked: RunResult) -> None:
    """The default channel's losses are 'credit write-downs' in every table."""
    text = _markdown(networked)
    assert "credit write-downs" in text
    assert "writedown" not in text
    assert "Losses: default" not in text


def test_market_maker_groups_include_paddrik_market_makers() -> None:
    """The flash crash's paddrik group of role market_maker is a market-maker group."""
    scenario = abm.load_scenario(ROOT / "scenarios" / "crisis" / "flash_crash_2010.yaml")
    short = abm.run(scenario.override({"steps": 300, "agents.seller.start_step": 100}))
    groups = market_maker_groups(short)
    assert groups["group"].tolist() == ["mm"]
    assert groups["policy"].tolist() == ["paddrik market_maker"]
    assert groups["n_agents"].tolist() == [19]
    assert "No market makers in this run" not in _markdown(short)


def test_html_report_escapes_the_header_question(result: RunResult) -> None:
    """Markup in the header's question shows as text in the page's question note."""
    headed = dataclasses.replace(
        result, scenario_yaml="# Question: is <b>x</b> & y?\n" + result.scenario_yaml
    )
    page = _html(headed)
    assert "<b>x</b>" not in page
    assert '<div class="note"><strong>Question.</strong> is &lt;b&gt;x&lt;/b&gt; &amp; y?' in page


def test_report_keeps_a_header_table_aligned() -> None:
    """A column-aligned table in a header's outcome stays one verbatim block, apart from prose."""
    header = (
        "# Expected outcome (seed 1, 10 steps): prose that wraps\n"
        "# onto a second line.\n"
        "#                  none    full\n"
        "#   pnl            3.98   -13.7\n"
        "#   trades            0     499\n"
        "# Closing prose.\n"
        "name: x\n"
    )
    _, outcome = scenario_question_and_outcome(header)
    assert outcome is not None
    assert outcome.lines == (
        "prose that wraps onto a second line.",
        Aligned(
            "               none    full\npnl            3.98   -13.7\ntrades            0     499"
        ),
        "Closing prose.",
    )


def test_report_keeps_labelled_items_as_prose() -> None:
    """An indented 'label:   text' item (one wide gap, no table under it) stays a prose line."""
    header = (
        "# Expected outcome (seed 1, 10 steps):\n"
        "#   calm twin:   HFTs 30% of volume; their\n"
        "#                inventory half-life 5-20 s.\n"
        "#   passive:     a fall of 1.2%.\n"
        "name: x\n"
    )
    _, outcome = scenario_question_and_outcome(header)
    assert outcome is not None
    assert outcome.lines == (
        "calm twin:   HFTs 30% of volume; their inventory half-life 5-20 s.",
        "passive:     a fall of 1.2%.",
    )
