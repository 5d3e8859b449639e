"""Tests of abm.experiments.compare: per-run measures, reduction over seeds, table, command."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

import abm
from abm.cli.common import CliError
from abm.cli.compare import register
from abm.errors import AbmError
from abm.experiments.compare import (
    COMPONENTS,
    RUN_METRICS,
    SHOCK_TAIL_STEPS,
    TABLE_COLUMNS,
    CompareError,
    compare,
    compare_runs,
    format_compare,
    run_metrics,
    shock_window,
    summarize_runs,
)
from abm.experiments.studies import replicate_seeds

ROOT = Path(__file__).resolve().parents[2]
AS_2008 = ROOT / "scenarios" / "avellaneda_stoikov_2008.yaml"
DEALER = ROOT / "scenarios" / "inventory_risk" / "rebalance_threshold.yaml"


@pytest.fixture(scope="module")
def as_scenario() -> abm.Scenario:
    return abm.load_scenario(AS_2008).override({"steps": 40})


@pytest.fixture(scope="module")
def hedged_result(as_scenario: abm.Scenario) -> abm.RunResult:
    hedged = as_scenario.override(
        {
            "agents.mm.policy": {"kind": "symmetric", "spread": 1.49},
            "agents.mm.hedge": {"kind": "band", "band": 1},
            "hedge_instrument": {"basis_sd": 0.05, "fee": 0.01},
            "shocks": [{"kind": "price_gap", "step": 30, "size": -1.0}],
        }
    )
    return abm.run(hedged, seed=3)


@pytest.fixture(scope="module")
def rebalanced_result() -> abm.RunResult:
    return abm.run(abm.load_scenario(DEALER), seed=5, steps=150)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="abm")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def _cli(*argv: str) -> int:
    args = _parser().parse_args(list(argv))
    return int(args.func(args))


# --- run_metrics ---------------------------------------------------------------------------


def test_run_metrics_components_add_up_to_pnl(hedged_result: abm.RunResult) -> None:
    """The decomposition components sum to the final P&L (the accounting identity)."""
    metrics = run_metrics(hedged_result)
    assert math.fsum(metrics[c] for c in COMPONENTS) == pytest.approx(metrics["pnl"], abs=1e-6)


def test_run_metrics_pnl_is_the_agents_table_final_pnl(hedged_result: abm.RunResult) -> None:
    """``pnl`` is the market maker's last ``pnl`` in the agents table."""
    agents = hedged_result.agents
    final = agents[agents["group"] == "mm"].sort_values("step")["pnl"].iloc[-1]
    assert run_metrics(hedged_result)["pnl"] == pytest.approx(final)


def test_run_metrics_keys_are_run_metrics(hedged_result: abm.RunResult) -> None:
    """The measures are exactly RUN_METRICS."""
    assert tuple(run_metrics(hedged_result)) == RUN_METRICS


def test_run_metrics_counts_hedge_events(hedged_result: abm.RunResult) -> None:
    """``hedge_trades`` is the number of the market maker's ``hedge`` events."""
    events = hedged_result.events
    assert run_metrics(hedged_result)["hedge_trades"] == (events["kind"] == "hedge").sum() > 0


def test_run_metrics_gap_pnl_is_net_delta_times_gap(hedged_result: abm.RunResult) -> None:
    """A gap's hit is the net delta before it times the gap (here -1.0)."""
    agents = hedged_result.agents.set_index("step")
    net_delta = float(agents[agents["group"] == "mm"].loc[29, "net_delta"])
    metrics = run_metrics(hedged_result)
    assert metrics["gap_pnl"] == pytest.approx(-net_delta)
    assert metrics["gap_abs_pnl"] == pytest.approx(abs(net_delta))


def test_run_metrics_shock_window_pnl_spans_gap_and_tail(hedged_result: abm.RunResult) -> None:
    """The window P&L runs from the step before the gap to the tail's end (clipped to 40)."""
    pnl = hedged_result.agents.query("group == 'mm'").set_index("step")["pnl"]
    expected = pnl.loc[40] - pnl.loc[29]
    assert run_metrics(hedged_result)["shock_window_pnl"] == pytest.approx(expected)


def test_run_metrics_net_delta_stays_in_band_plus_fills(hedged_result: abm.RunResult) -> None:
    """Band 1 and one-lot quotes: end-of-step |net delta| never exceeds 1 + 1 lots."""
    assert run_metrics(hedged_result)["net_delta_abs_max"] <= 2


def test_run_metrics_rebalance_volume_is_filled_lots(rebalanced_result: abm.RunResult) -> None:
    """``rebalance_volume`` sums the absolute filled lots of ``rebalance`` events."""
    events = rebalanced_result.events
    lots = events.loc[events["kind"] == "rebalance", "amount"].abs().sum()
    metrics = run_metrics(rebalanced_result)
    assert metrics["rebalance_volume"] == lots > 0
    assert metrics["rebalancing_cost"] < 0


def test_run_metrics_without_shocks_has_nan_window(rebalanced_result: abm.RunResult) -> None:
    """No shocks: the shock-window P&L is undefined, the gap hit zero."""
    metrics = run_metrics(rebalanced_result)
    assert math.isnan(metrics["shock_window_pnl"])
    assert metrics["gap_pnl"] == 0.0


def test_run_metrics_rejects_a_missing_group(hedged_result: abm.RunResult) -> None:
    """Measuring a group that has no market makers is an error naming the group."""
    with pytest.raises(CompareError, match="'dealers'"):
        run_metrics(hedged_result, group="dealers")


# --- shock_window --------------------------------------------------------------------------


def test_shock_window_volatility_spans_its_window_and_tail() -> None:
    """A volatility shock spans step..until_step-1, then the tail."""
    shocks = [{"kind": "volatility", "step": 10, "until_step": 20, "multiplier": 2.0}]
    assert shock_window(shocks, 1000) == (10, 19 + SHOCK_TAIL_STEPS)


def test_shock_window_covers_all_shocks_and_clips_to_run() -> None:
    """Several shocks: earliest start to latest end plus tail, clipped to the last step."""
    shocks = [
        {"kind": "price_gap", "step": 50, "size": 1.0},
        {"kind": "toxic_flow", "step": 30, "duration_steps": 5, "multiplier": 2.0},
    ]
    assert shock_window(shocks, 60) == (30, 59)


def test_shock_window_none_without_shocks_in_the_run() -> None:
    """No shocks, or none starting within the run: no window."""
    assert shock_window([], 100) is None
    assert shock_window([{"kind": "price_gap", "step": 100, "size": 1.0}], 100) is None


# --- summarize_runs ------------------------------------------------------------------------


def _runs_frame(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for label, column in values.items():
        for i, value in enumerate(column):
            rows.append({"scenario": label, "seed": i, **dict.fromkeys(RUN_METRICS, value)})
    return pd.DataFrame(rows)


def test_summarize_runs_mean_and_standard_error() -> None:
    """Values 1, 2, 3, 4: mean 2.5, standard error sd/sqrt(4) = 1.2910/2."""
    table = summarize_runs(_runs_frame({"a": [1.0, 2.0, 3.0, 4.0]}))
    assert table.loc[0, "pnl"] == 2.5
    assert table.loc[0, "pnl_se"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)


def test_summarize_runs_std_se_is_zero_for_a_two_point_sample() -> None:
    """A balanced two-point sample has kurtosis 1, so the delta-method SE of its sd is 0."""
    table = summarize_runs(_runs_frame({"a": [-1.0, 1.0, -1.0, 1.0]}))
    assert table.loc[0, "pnl_std"] == pytest.approx(np.std([-1, 1, -1, 1], ddof=1))
    assert table.loc[0, "pnl_std_se"] == pytest.approx(0.0, abs=1e-12)


def test_summarize_runs_std_se_matches_normal_theory() -> None:
    """For a large normal sample the SE of the sd is close to sd / sqrt(2 n)."""
    sample = np.random.default_rng(1).standard_normal(20_000).tolist()
    table = summarize_runs(_runs_frame({"a": sample}))
    expected = table.loc[0, "pnl_std"] / math.sqrt(2 * len(sample))
    assert table.loc[0, "pnl_std_se"] == pytest.approx(expected, rel=0.05)


def test_summarize_runs_skips_undefined_values() -> None:
    """NaN values (a measure undefined on a seed) are left out of the mean."""
    frame = _runs_frame({"a": [1.0, 3.0, 5.0]})
    frame.loc[2, "inventory_half_life"] = math.nan
    table = summarize_runs(frame)
    assert table.loc[0, "inventory_half_life"] == 2.0
    assert table.loc[0, "pnl"] == 3.0


def test_summarize_runs_keeps_scenario_order_and_columns() -> None:
    """One row per scenario in first-seen order, with the documented columns."""
    table = summarize_runs(_runs_frame({"zeta": [1.0, 2.0], "alpha": [3.0, 4.0]}))
    assert list(table["scenario"]) == ["zeta", "alpha"]
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert list(table["n_seeds"]) == [2, 2]


# --- compare -------------------------------------------------------------------------------


def test_compare_runs_uses_common_seeds(as_scenario: abm.Scenario) -> None:
    """Every scenario runs on SeedSequence(root).spawn(n): the same seeds in the same order."""
    symmetric = {"kind": "symmetric", "spread": 1.5}
    other = as_scenario.override({"name": "symmetric", "agents.mm.policy": symmetric})
    runs = compare_runs([as_scenario, other], seeds=3, root_seed=11)
    expected = replicate_seeds(3, 11)
    for _, frame in runs.groupby("scenario"):
        assert frame["seed"].tolist() == expected


def test_compare_runs_common_seeds_give_equal_flow(as_scenario: abm.Scenario) -> None:
    """A hedge does not change quoting, so on common seeds the quoting P&L is identical."""
    hedged = as_scenario.override({"name": "hedged", "agents.mm.hedge": {"kind": "full"}})
    runs = compare_runs([as_scenario, hedged], seeds=2, root_seed=4)
    plain, full = (
        frame.reset_index(drop=True) for _, frame in runs.groupby("scenario", sort=False)
    )
    assert plain["spread_capture"].tolist() == full["spread_capture"].tolist()
    assert (full["hedge_trades"] > 0).all()


def test_compare_runs_is_deterministic(as_scenario: abm.Scenario) -> None:
    """The same call twice gives identical tables."""
    first = compare_runs([as_scenario], seeds=2, root_seed=5, steps=20)
    second = compare_runs([as_scenario], seeds=2, root_seed=5, steps=20)
    pd.testing.assert_frame_equal(first, second)


def test_compare_runs_reports_progress(as_scenario: abm.Scenario) -> None:
    """Progress is called once per run, ending at (total, total)."""
    calls: list[tuple[int, int]] = []
    compare_runs(
        [as_scenario, as_scenario],
        seeds=2,
        root_seed=0,
        steps=5,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_compare_runs_labels_repeated_names(as_scenario: abm.Scenario) -> None:
    """A scenario given twice is labelled name and name#2."""
    runs = compare_runs([as_scenario, as_scenario], seeds=2, root_seed=0, steps=5)
    assert list(dict.fromkeys(runs["scenario"])) == [as_scenario.name, f"{as_scenario.name}#2"]


def test_compare_runs_releases_models(as_scenario: abm.Scenario) -> None:
    """No model stays registered in Mesa's class-level Agent._ids after a comparison."""
    before = len(mesa.agent.Agent._ids)
    compare_runs([as_scenario], seeds=2, root_seed=0, steps=5)
    assert len(mesa.agent.Agent._ids) == before


def test_compare_runs_applies_steps(as_scenario: abm.Scenario) -> None:
    """``steps`` overrides the scenario's own: the window clips to the shorter run."""
    gap = as_scenario.override({"shocks": [{"kind": "price_gap", "step": 5, "size": 1.0}]})
    runs = compare_runs([gap], seeds=2, root_seed=0, steps=8)
    assert runs["shock_window_pnl"].notna().all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seeds": 1, "root_seed": 0}, "seeds must be >= 2"),
        ({"seeds": 2, "root_seed": -1}, "root_seed must be >= 0"),
        ({"seeds": 2, "root_seed": 0, "steps": 0}, "steps must be >= 1"),
    ],
)
def test_compare_rejects_bad_arguments(
    as_scenario: abm.Scenario, kwargs: dict[str, int], message: str
) -> None:
    """Too few seeds, a negative root or no steps are errors that say what to change."""
    with pytest.raises(CompareError, match=message):
        compare([as_scenario], **kwargs)


def test_compare_rejects_no_scenarios() -> None:
    """An empty list of scenarios is an error."""
    with pytest.raises(CompareError, match="at least one scenario"):
        compare([], seeds=2, root_seed=0)


def test_compare_rejects_a_scenario_without_mm_group(as_scenario: abm.Scenario) -> None:
    """The market makers to compare must be the group named mm."""
    document = as_scenario.model_dump()
    document["agents"] = {"dealer" if k == "mm" else k: v for k, v in document["agents"].items()}
    renamed = abm.Scenario.from_dict(document)
    with pytest.raises(CompareError, match=r"no market-maker group named .mm.*dealer"):
        compare([renamed], seeds=2, root_seed=0)


def test_compare_table_has_one_row_per_scenario(as_scenario: abm.Scenario) -> None:
    """The table holds n_seeds and finite P&L statistics for each scenario."""
    table = compare([as_scenario], seeds=3, root_seed=2, steps=30)
    assert len(table) == 1
    assert table.loc[0, "n_seeds"] == 3
    assert np.isfinite(table.loc[0, ["pnl", "pnl_se", "pnl_std", "pnl_std_se"]].astype(float)).all()


# --- format_compare ------------------------------------------------------------------------


def test_format_compare_shows_mean_and_error_per_scenario() -> None:
    """Each kept measure is one line with ``mean +-se`` under each scenario."""
    text = format_compare(summarize_runs(_runs_frame({"a": [1.0, 3.0], "b": [2.0, 2.0]})))
    pnl_line = next(line for line in text.splitlines() if line.startswith("pnl "))
    assert "2 +-1" in pnl_line
    assert "2 +-0" in pnl_line
    assert text.splitlines()[0].split() == ["measure", "a", "b"]


def test_format_compare_omits_measures_zero_everywhere() -> None:
    """A measure that is zero in every scenario is left out."""
    frame = _runs_frame({"a": [1.0, 3.0]})
    frame["hedge_trades"] = 0.0
    text = format_compare(summarize_runs(frame))
    assert "hedge_trades" not in text
    assert "rebalance_volume" in text


def test_format_compare_rejects_other_tables() -> None:
    """A frame that is not a compare table is an error."""
    with pytest.raises(CompareError, match="not a compare table"):
        format_compare(pd.DataFrame({"scenario": ["a"], "pnl": [1.0]}))
    with pytest.raises(CompareError, match="not a compare table"):
        format_compare(pd.DataFrame())


# --- command line --------------------------------------------------------------------------


def test_cli_compare_prints_and_saves_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``abm compare`` prints the table and writes the same rows as CSV."""
    out = tmp_path / "tables" / "cmp.csv"
    code = _cli(
        "compare", str(AS_2008), "--seeds", "2", "--steps", "10", "--out", str(out), "--quiet"
    )
    printed = capsys.readouterr().out
    saved = pd.read_csv(out)
    assert code == 0
    assert list(saved["scenario"]) == ["avellaneda_stoikov_2008"]
    assert list(saved.columns) == list(TABLE_COLUMNS)
    assert "avellaneda_stoikov_2008" in printed and f"table: {out}" in printed


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--seeds", "1"], "--seeds"),
        (["--seed", "-3"], "--seed"),
        (["--steps", "0"], "--steps"),
    ],
)
def test_cli_compare_rejects_bad_flags(flags: list[str], message: str) -> None:
    """Bad flag values are user errors naming the flag."""
    with pytest.raises(CliError, match=message):
        _cli("compare", str(AS_2008), *flags)


def test_cli_compare_rejects_missing_scenario(tmp_path: Path) -> None:
    """A missing scenario file is a user error (an AbmError, printed by abm) naming it."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(AbmError, match=r"nope\.yaml"):
        _cli("compare", str(missing), "--seeds", "2", "--quiet", "--out", str(tmp_path / "t.csv"))


def test_cli_compare_rejects_directory_out(tmp_path: Path) -> None:
    """``--out`` must name a file, not a directory."""
    with pytest.raises(CliError, match="is a directory"):
        _cli("compare", str(AS_2008), "--seeds", "2", "--out", str(tmp_path))
