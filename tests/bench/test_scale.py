"""Tests for abm.bench.scale and `abm bench scale`: what each row builds, runs and reports.

Sizes are tiny (a few hundred traders, a few steps) so that the tests take seconds; no test
asserts a timing.
"""

from __future__ import annotations

import pytest

import abm
import abm.bench.scale as scale
from abm.bench.scale import (
    MAKER_SHARES,
    TABLE_COLUMNS,
    TOTAL_ARRIVALS_PER_STEP,
    ScaleResult,
    ScaleRow,
    format_scale_bench,
    run_scale_bench,
    run_scale_row,
    scale_scenario,
)
from abm.cli.main import main
from abm.model import MarketModel
from abm.scenario.errors import ScenarioError

TINY = (ScaleRow(200, 3), ScaleRow(300, 5, stride=2))


def test_scale_scenario_is_the_baseline_repopulated() -> None:
    """2,000 traders, 20 makers: 1,800 noise and 200 informed, makers 8/6/6, baseline's rules."""
    baseline = abm.load_scenario("baseline")
    scenario = scale_scenario(ScaleRow(2_000, 20), steps=7)
    groups = scenario.agents
    assert (groups["noise"].count, groups["informed"].count) == (1_800, 200)
    assert [groups[name].count for name, _ in MAKER_SHARES] == [8, 6, 6]
    assert scenario.steps == 7
    assert scenario.record.other_agents_stride is None
    for name, group in groups.items():  # only the counts and the arrival rates differ
        changed = {"count"} | ({"arrival"} if name in ("noise", "informed") else set())
        assert group.model_dump(exclude=changed) == baseline.agents[name].model_dump(
            exclude=changed
        )


@pytest.mark.parametrize("traders", [1_000, 50_000, 1_000_000])
def test_scale_scenario_keeps_the_total_order_flow(traders: int) -> None:
    """Expected taker arrivals a step (count x rate, summed) are the same at every size."""
    groups = scale_scenario(ScaleRow(traders, 10), steps=2).agents
    flow = sum(groups[name].count * groups[name].arrival.rate for name in ("noise", "informed"))
    assert flow == pytest.approx(TOTAL_ARRIVALS_PER_STEP, rel=1e-12)


def test_scale_scenario_refuses_a_row_past_its_limits() -> None:
    """A row whose estimated memory passes the bench's limits is a one-line ScenarioError."""
    with pytest.raises(ScenarioError, match=r"limits\.max_memory_gib"):
        scale_scenario(ScaleRow(100_000_000, 10), steps=2)


def test_run_scale_row_counts_the_actions_of_the_timed_steps_only() -> None:
    """Actions reported = the model's activations after warm-up + steps minus after warm-up."""
    row = ScaleRow(200, 3)
    figures = run_scale_row(row, steps=4, warmup=3, seed=5)
    model = MarketModel(scale_scenario(row, steps=8, seed=5))
    for _ in range(3):
        model.step()
    before = model.activations
    for _ in range(4):
        model.step()
    assert figures["activations"] == model.activations - before
    assert figures["activations"] >= 4 * row.makers  # every maker acts every step
    assert figures["loop_s"] > 0 and figures["build_s"] > 0


def test_scale_result_snapshots_are_the_stride_records_of_the_timed_steps() -> None:
    """Against the agents table: the steps at which the takers were recorded, timed ones only."""
    row, warmup, steps = ScaleRow(200, 3, stride=3), 4, 7
    model = MarketModel(scale_scenario(row, steps=warmup + steps + 1))
    while model.running:
        model.step()
    agents = model.recorder.table("agents")
    takers = agents[agents["kind"] != "market_maker"]
    timed = {s for s in takers["step"] if warmup < s <= warmup + steps}
    result = ScaleResult(row, steps, warmup, 0.1, 1.0, 1.0, 1, 0.0, 1)
    assert result.snapshots == len(timed) == 2  # steps 6 and 9


def test_run_scale_bench_reports_every_row_it_ran() -> None:
    """Fresh processes per row: the rows come back in order with what each child ran."""
    results = run_scale_bench(TINY, steps=3, warmup=2, seed=1)
    assert [r.row for r in results] == list(TINY)
    for r in results:
        assert (r.steps, r.warmup, r.repeats) == (3, 2, 1)
        assert r.activations >= 3 * r.row.makers
        assert r.step_us > 0 and r.step_cpu_us > 0 and r.build_s > 0
        assert r.agents == r.row.traders + r.row.makers
    assert (
        results[0].activations == run_scale_row(TINY[0], steps=3, warmup=2, seed=1)["activations"]
    )


def test_run_scale_bench_refuses_zero_steps() -> None:
    """No timed step, no figure per step: ValueError naming steps."""
    with pytest.raises(ValueError, match="steps"):
        run_scale_bench(TINY, steps=0)


def test_format_scale_bench_prints_one_line_per_row_under_the_columns() -> None:
    """Hand-made results: the header names the order flow, the columns, and each row's cells."""
    results = [
        ScaleResult(ScaleRow(1_000_000, 10), 200, 50, 18.5, 420.0, 400.0, 6_000, 950.0, 1),
        ScaleResult(ScaleRow(100_000, 10, stride=100), 200, 50, 1.2, 900.0, 880.0, 6_000, 90.0, 1),
    ]
    lines = format_scale_bench(results).splitlines()
    assert f"{TOTAL_ARRIVALS_PER_STEP:g} taker arrivals a step" in lines[0]
    assert "50 warm-up steps, then 200 timed" in lines[1]
    assert lines[2].split() == " ".join(TABLE_COLUMNS).split()
    assert len(lines) == 3 + len(results)
    first, second = (line.split() for line in lines[3:])
    assert first == [
        *("scale", "1,000,000", "10", "-", "0"),
        *("18.50", "420", "400", "0.4", "30.0", "950"),
    ]
    assert second[:5] == ["recording", "100,000", "10", "100", "2"]
    assert second[8] == f"{900.0 / 100.01:.1f}"  # us per step per 1k agents (100,010 agents)


def test_cli_bench_scale_prints_the_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`abm bench scale --quick` runs the quick rows (here two tiny ones) and prints the table."""
    monkeypatch.setattr(scale, "QUICK_ROWS", TINY)
    assert main(["bench", "scale", "--quick", "--steps", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split() == " ".join(TABLE_COLUMNS).split()
    assert [line.split()[1] for line in lines[3:]] == ["200", "300"]


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--repeats", "0"], "--repeats"),
        (["--steps", "0"], "--steps"),
        (["--seed", "-1"], "seed"),
        (["--scenario", "baseline"], "--scenario"),
    ],
)
def test_cli_bench_scale_bad_input_is_one_line_and_exit_2(
    argv: list[str], field: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad count or seed: exit code 2 and one error line naming the field, no run."""
    assert main(["bench", "scale", "--quick", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0]


def test_cli_bench_scale_past_the_limits_is_one_line_naming_the_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Steps whose estimated memory passes BENCH_LIMITS: exit 2, one line, no process run."""
    assert main(["bench", "scale", "--quick", "--steps", "10000000"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "limits.max_memory_gib" in err[0] and "--steps" in err[0]
    assert captured.out == ""
