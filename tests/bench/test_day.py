"""Tests for abm.bench.day and `abm bench day`: the RMSC04-like day, whole-process figures."""

from __future__ import annotations

import pytest

import abm
from abm.bench.day import (
    ABIDES_RMSC04,
    PYMARKETSIM_ZI,
    DayBenchResult,
    DayRun,
    format_day_bench,
    run_day_bench,
)
from abm.cli.main import main

SHORT_STEPS = 300


def test_run_day_bench_reports_the_counts_of_the_same_run_in_process() -> None:
    """A child process's order, cancel and fill counts are those abm.run gives here."""
    result = run_day_bench(steps=SHORT_STEPS, repeats=1)
    (child,) = result.runs
    summary = abm.run(abm.load_scenario("bench/rmsc04_like"), steps=SHORT_STEPS).summary
    assert (child.orders, child.cancels, child.fills) == (
        summary["orders"],
        summary["cancels"],
        summary["fills"],
    )
    assert result.steps == SHORT_STEPS
    assert 0 < child.loop_s <= child.run_s < child.process_s
    assert child.peak_mib > 0


def test_run_day_bench_refuses_zero_repeats() -> None:
    """Zero whole-process runs would have no median: ValueError naming repeats."""
    with pytest.raises(ValueError, match="repeats"):
        run_day_bench(steps=10, repeats=0)


def test_format_day_bench_compares_with_abides_measured_figures() -> None:
    """Hand-made runs: medians, the counts against ABIDES's 43,466 messages and 18,730 fills."""
    runs = tuple(
        DayRun(process, loop, loop + 0.1, 100.0, orders=30_000, cancels=13_466, fills=18_730)
        for process, loop in ((2.0, 1.0), (4.0, 3.0), (2.5, 1.5))
    )
    text = format_day_bench(DayBenchResult("bench/rmsc04_like", 23_400, None, runs))
    assert "43,466 (+0.0% vs ABIDES RMSC04's 43,466)" in text
    assert "18,730 (+0.0% vs ABIDES RMSC04's 18,730)" in text
    assert "2.50 s wall" in text  # median whole process (a whole day: compared)
    assert f"{ABIDES_RMSC04.process_s / 2.5:.1f}x faster" in text
    assert "1.50 s wall" in text  # median loop
    assert f"{43_466 / 2.5:,.0f} messages/s" in text
    assert "figures are fixed" in text  # the peer was not timed in this sitting: said so


def test_cli_bench_day_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """`abm bench day` on a short day prints counts, times and memory beside ABIDES's."""
    assert main(["bench", "day", "--steps", "50", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for phrase in ("order messages", "whole process", "loop", "peak resident memory", "fills/s"):
        assert phrase in out


def test_cli_bench_day_bad_repeats_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A non-positive --repeats is refused before any process starts."""
    assert main(["bench", "day", "--repeats", "0"]) == 2
    assert "--repeats: must be a positive integer" in capsys.readouterr().err


@pytest.mark.slow
def test_rmsc04_like_day_matches_abides_counts_within_five_percent() -> None:
    """Issue 17: the day's order messages and fills are within 5% of ABIDES's RMSC04 day."""
    summary = abm.run(abm.load_scenario("bench/rmsc04_like")).summary
    messages = summary["orders"] + summary["cancels"]
    assert abs(messages / ABIDES_RMSC04.messages - 1) <= 0.05
    assert abs(summary["fills"] / ABIDES_RMSC04.fills - 1) <= 0.05


def test_format_day_bench_of_a_shorter_day_claims_no_speed_ratio() -> None:
    """ABIDES's figures are for 23,400 steps: a shorter run is not said to be faster."""
    run = DayRun(1.0, 0.5, 0.6, 100.0, orders=10, cancels=5, fills=3)
    text = format_day_bench(DayBenchResult("bench/rmsc04_like", 300, None, (run,)))
    assert "faster" not in text
    assert "ABIDES RMSC04's whole day: 20.35 s" in text


def test_format_zi_bench_compares_orders_with_pymarketsim_and_nothing_it_did_not_report() -> None:
    """PyMarketSim reports orders, not cancels or fills: only orders are compared."""
    runs = (DayRun(2.0, 1.0, 1.1, 90.0, orders=125_000, cancels=90_000, fills=17_000),)
    result = DayBenchResult("bench/zero_intelligence_500", 50_000, None, runs, PYMARKETSIM_ZI)
    text = format_day_bench(result)
    assert "against PyMarketSim" in text
    assert "125,000 (+0.0% vs PyMarketSim's 125,000)" in text
    assert "order messages           : 215,000\n" in text
    assert "fills                    : 17,000\n" in text
    assert f"{PYMARKETSIM_ZI.process_s / 2.0:.1f}x faster" in text
    slower = (DayRun(4.58, 1.0, 1.1, 90.0, orders=125_000, cancels=90_000, fills=17_000),)
    text = format_day_bench(
        DayBenchResult("bench/zero_intelligence_500", 50_000, None, slower, PYMARKETSIM_ZI)
    )
    assert "PyMarketSim 2.29 s: 2.0x slower" in text


def test_zi_scenario_sends_about_pymarketsims_order_count() -> None:
    """500 traders x 0.01 x 50,000 steps, half of them limit orders: within 5% of 125,000."""
    summary = abm.run("bench/zero_intelligence_500", steps=5_000).summary
    assert abs(summary["orders"] * 10 / PYMARKETSIM_ZI.orders - 1) < 0.05  # type: ignore[operator]


def test_cli_bench_zi_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """`abm bench zi` on a short run prints the counts beside PyMarketSim's."""
    assert main(["bench", "zi", "--steps", "50", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "benchmark against PyMarketSim: scenario 'bench/zero_intelligence_500'" in out
