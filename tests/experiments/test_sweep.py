"""Tests for sweeps (abm.experiments.sweep*, abm.cli.sweep): plans, seeds, resume, backends, CLI.

Runs use tests/data/sweeps/tiny.yaml (46 traders, 50-300 steps). Unit-level tests execute on a
one-thread executor (no process start-up); the backend, interruption and CLI tests use real
process pools, a real Dask LocalCluster and a subprocess that is killed.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import gc
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd
import pytest
import yaml
from _helpers import run_record
from scipy import stats

from abm.bench.sweep import SweepBenchResult, format_sweep_bench
from abm.cli.bench import add_bench_sweep_arguments
from abm.cli.common import CliError
from abm.cli.sweep import register
from abm.errors import AbmError
from abm.experiments import sweep as sweep_module
from abm.experiments.sweep import (
    DATASET_TABLES,
    RunRecord,
    RunStatus,
    RunTask,
    _SweepDirectory,
    execute_run,
    link_run_tables,
    read_results,
    run_sweep,
)
from abm.experiments.sweep_spec import (
    RESERVED_COLUMNS,
    RUNS_DIR,
    SweepError,
    SweepPlan,
    is_sweep_dir,
    latin_hypercube,
    load_sweep,
    run_seed,
)
from abm.model import MarketModel
from abm.results.run_result import RunResult

DATA = Path(__file__).resolve().parents[1] / "data" / "sweeps"
TINY = DATA / "tiny.yaml"
GRID = DATA / "grid.yaml"
VOLATILE = ["wall_time_s", "worker", "steps_per_s"]


def _write_sweep(tmp_path: Path, document: dict[str, Any], name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"scenario": str(TINY), **document}), encoding="utf-8")
    return path


def _comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=[c for c in VOLATILE if c in table.columns])


def _cli(argv: list[str]) -> int:
    """What abm.cli.main.main will do once it registers the sweep subcommand."""
    parser = argparse.ArgumentParser(prog="abm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def _run_ids(out: Path) -> list[str]:
    return sorted(p.stem for p in (out / RUNS_DIR).glob("*.json"))


@pytest.fixture(scope="module")
def grid_plan() -> SweepPlan:
    return load_sweep(GRID)


@pytest.fixture(scope="module")
def one_worker_results(grid_plan: SweepPlan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweeps") / "one"
    outcome = run_sweep(grid_plan, out, workers=1)
    assert outcome.complete
    return out


# --- plans and seeds ---


def test_run_seed_is_the_seedsequence_spawn_tree() -> None:
    """run_seed(root, p, r) is the first word of SeedSequence(root).spawn(1)[0].spawn..[p]..[r]."""
    root, point, replicate = 123, 4, 2
    child = np.random.SeedSequence(root).spawn(1)[0].spawn(point + 1)[point]
    leaf = child.spawn(replicate + 1)[replicate]
    expected = int(leaf.generate_state(1, dtype=np.uint64)[0]) & ((1 << 63) - 1)
    assert run_seed(root, point, replicate) == expected


def test_run_seed_differs_between_runs() -> None:
    """The 400 runs of a 20-point, 20-replicate sweep get 400 different seeds."""
    seeds = {run_seed(5, p, r) for p in range(20) for r in range(20)}
    assert len(seeds) == 400


def test_load_sweep_grid_is_full_factorial(grid_plan: SweepPlan) -> None:
    """A 2 x 2 grid gives the 4 combinations in itertools.product order, times 2 replicates."""
    assert grid_plan.parameters == ("agents.mm.policy.gamma", "agents.informed.count")
    assert grid_plan.points == ((0.01, 0), (0.01, 4), (1.0, 0), (1.0, 4))
    assert grid_plan.n_runs == 8
    assert len({key.run_id for key in grid_plan.runs()}) == 8


def test_plan_runs_are_replicate_major(grid_plan: SweepPlan) -> None:
    """Replicate 0 of every point comes first, so an interrupted sweep covers every point."""
    assert [key.replicate for key in grid_plan.runs()] == [0, 0, 0, 0, 1, 1, 1, 1]


def test_latin_hypercube_puts_one_point_in_each_stratum() -> None:
    """Each axis of an n-point Latin hypercube has exactly one point per stratum [i/n, (i+1)/n)."""
    sample = latin_hypercube(16, 3, np.random.default_rng(0))
    assert sample.shape == (16, 3)
    for axis in range(3):
        assert sorted(np.floor(sample[:, axis] * 16).astype(int)) == list(range(16))


def test_latin_hypercube_is_determined_by_the_generator() -> None:
    """The same generator state gives the same sample; another seed gives another one."""
    first = latin_hypercube(32, 4, np.random.default_rng(5))
    assert np.array_equal(first, latin_hypercube(32, 4, np.random.default_rng(5)))
    assert not np.array_equal(first, latin_hypercube(32, 4, np.random.default_rng(6)))


def test_latin_hypercube_offsets_within_strata_are_uniform() -> None:
    """Positions inside the strata, n u - floor(n u), pass a KS test against U(0, 1)."""
    sample = latin_hypercube(500, 4, np.random.default_rng(1))
    offsets = (500 * sample) % 1.0
    assert stats.kstest(offsets.ravel(), "uniform").pvalue > 1e-3


def test_load_sweep_samples_are_reproducible() -> None:
    """Loading the same sweep file twice gives the same sampled points (seed in the file)."""
    assert load_sweep(DATA / "samples.yaml").points == load_sweep(DATA / "samples.yaml").points


def test_load_sweep_samples_respect_ranges() -> None:
    """Sampled log-scale values stay in [low, high]; integer ranges give ints in [low, high]."""
    plan = load_sweep(DATA / "samples.yaml")
    assert len(plan.points) == 5
    for gamma, count in plan.points:
        assert 0.01 <= gamma <= 1.0
        assert isinstance(count, int) and 10 <= count <= 40
    strata = sorted(int(np.log10(g / 0.01) / 2 * 5) for g, _ in plan.points)
    assert strata == [0, 1, 2, 3, 4]  # one per log-stratum: the hypercube survives scaling


def test_plan_fingerprint_ignores_metrics(grid_plan: SweepPlan) -> None:
    """Selecting other metrics changes what is reported, not what runs: same fingerprint."""
    other = SweepPlan(
        grid_plan.scenario, grid_plan.parameters, grid_plan.points, 2, 123, ("fills",)
    )
    assert other.fingerprint() == grid_plan.fingerprint()
    changed = SweepPlan(grid_plan.scenario, grid_plan.parameters, grid_plan.points, 2, 124)
    assert changed.fingerprint() != grid_plan.fingerprint()


@pytest.mark.parametrize(
    ("document", "where", "problem"),
    [
        ({"grid": {"agents.mm.policy.gammma": [0.1]}}, "grid.agents.mm.policy.gammma", "unknown"),
        ({"grid": {"agents.nobody.count": [1]}}, "agents.nobody", "unknown path"),
        ({"grid": {}}, "grid", "at least one"),
        ({"grid": {"agents.mm.count": 3}}, "grid.agents.mm.count", "must be a list"),
        ({"grid": {"agents.mm.count": []}}, "grid", "at least one value"),
        ({"grid": {"agents.mm.count": [-1]}}, "grid.agents.mm.count", "greater than or equal"),
        ({"grid": {"seed": [1, 2]}}, "grid.seed", "replicates"),
        (
            {
                "grid": {"agents.mm.count": [1]},
                "samples": {"kind": "latin_hypercube", "n": 2, "ranges": {"dt": [1, 2]}},
            },
            "<top level>",
            "exactly one of grid and samples (got both)",
        ),
        ({"replicates": 2}, "<top level>", "exactly one of grid and samples (got neither)"),
        ({"grid": {"steps": [10]}, "replicatez": 2}, "replicatez", "unknown key"),
        ({"grid": {"steps": [10]}, "replicates": 0}, "replicates", "greater than or equal"),
    ],
)
def test_load_sweep_rejects_bad_files(
    tmp_path: Path, document: dict[str, Any], where: str, problem: str
) -> None:
    """Each bad sweep file is one SweepError naming the file, the field path and the problem."""
    path = _write_sweep(tmp_path, document)
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert where in message
    assert problem in message


def test_load_sweep_records_values_as_the_scenario_reads_them(tmp_path: Path) -> None:
    """YAML reads 1e-2 as text; the plan holds the float 0.01 the run actually uses."""
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"scenario: {TINY}\ngrid:\n  agents.mm.policy.gamma: [1e-2, 1]\n", encoding="utf-8"
    )
    assert load_sweep(path).points == ((0.01,), (1.0,))


def test_load_sweep_missing_scenario_names_it(tmp_path: Path) -> None:
    """A sweep whose scenario file does not exist says so, naming both files."""
    path = tmp_path / "sweep.yaml"
    path.write_text("scenario: nowhere.yaml\ngrid: {steps: [10]}\n", encoding="utf-8")
    with pytest.raises(SweepError, match=r"sweep\.yaml: scenario: .*nowhere\.yaml: file not found"):
        load_sweep(path)


def test_load_sweep_missing_file(tmp_path: Path) -> None:
    """A sweep file that does not exist is a SweepError, not an OSError."""
    with pytest.raises(SweepError, match="file not found"):
        load_sweep(tmp_path / "absent.yaml")


# --- execution, on a one-thread executor ---


def test_execute_run_releases_its_model() -> None:
    """After a run, Mesa's Agent._ids holds no new model and no MarketModel stays alive."""
    plan = load_sweep(GRID)
    key = next(plan.runs())
    gc.collect()
    before = len(mesa.agent.Agent._ids)
    alive_before = sum(isinstance(o, MarketModel) for o in gc.get_objects())
    task = RunTask(key.run_id, 0, 0, key.seed, plan.scenario.to_yaml(), ())
    assert execute_run(task).status == RunStatus.OK
    gc.collect()
    # other tests in this process may have left models of their own: compare, not count
    assert len(mesa.agent.Agent._ids) == before
    assert sum(isinstance(o, MarketModel) for o in gc.get_objects()) == alive_before


def test_run_sweep_does_not_rerun_finished_runs(tmp_path: Path, grid_plan: SweepPlan) -> None:
    """A run that already has a record is skipped: its record is kept byte for byte."""
    out = tmp_path / "sweep"
    key = list(grid_plan.runs())[3]
    with _SweepDirectory.open(out, grid_plan) as store:
        store.write(
            run_record(
                key,
                {"fills": -1, "mm_pnl_mean": 0.0, "spread_mean": 0.0, "pnl_by_group.informed": 0.0},
            )
        )
    before = (out / RUNS_DIR / f"{key.run_id}.json").read_bytes()
    with cf.ThreadPoolExecutor(1) as pool:
        outcome = run_sweep(grid_plan, out, executor=pool)
    assert (outcome.ran, outcome.ok, outcome.total) == (7, 8, 8)
    assert (out / RUNS_DIR / f"{key.run_id}.json").read_bytes() == before
    results = read_results(out)
    assert list(results["run_id"]) == sorted(k.run_id for k in grid_plan.runs())
    assert results.loc[results["run_id"] == key.run_id, "fills"].item() == -1


def test_run_sweep_records_failed_run_and_goes_on(tmp_path: Path) -> None:
    """A run that raises is recorded failed with its error; every other run still finishes."""
    plan = load_sweep(DATA / "failing.yaml")
    with cf.ThreadPoolExecutor(1) as pool:
        outcome = run_sweep(plan, tmp_path / "sweep", executor=pool)
    assert (outcome.ok, outcome.failed, outcome.missing) == (2, 2, 0)
    results = read_results(tmp_path / "sweep")
    failed = results.loc[results["status"] == "failed"]
    assert list(failed["fundamental.jump_mean"]) == [800.0, 800.0]
    assert failed["error"].str.startswith("FundamentalError: ").all()
    assert failed["spread_mean"].isna().all()
    assert results.loc[results["status"] == "ok", "error"].isna().all()


def test_run_sweep_retry_failed_reruns_only_failed(tmp_path: Path, grid_plan: SweepPlan) -> None:
    """Failed records are kept on resume, and rerun (here: now succeeding) with retry_failed."""
    out = tmp_path / "sweep"
    with cf.ThreadPoolExecutor(1) as pool:
        run_sweep(grid_plan, out, executor=pool)
        key = list(grid_plan.runs())[5]
        with _SweepDirectory.open(out, grid_plan) as store:  # as if it had failed transiently
            store.write(
                RunRecord(
                    key.run_id,
                    key.point,
                    key.replicate,
                    key.seed,
                    "failed",
                    "OSError: disk full",
                    0.0,
                    "x:1",
                    {},
                )
            )
        again = run_sweep(grid_plan, out, executor=pool)
        assert (again.ran, again.failed) == (0, 1)
        retried = run_sweep(grid_plan, out, executor=pool, retry_failed=True)
    assert (retried.ran, retried.ok, retried.failed) == (1, 8, 0)
    assert read_results(out)["status"].eq("ok").all()


def test_run_sweep_keep_tables_saves_run_directories(tmp_path: Path) -> None:
    """With keep_tables every run's full RunResult is saved and matches its summary row."""
    plan = load_sweep(DATA / "failing.yaml")
    with cf.ThreadPoolExecutor(1) as pool:
        run_sweep(plan, tmp_path / "sweep", executor=pool, keep_tables=True)
    results = read_results(tmp_path / "sweep").set_index("run_id")
    saved = sorted(p.name for p in (tmp_path / "sweep" / "tables").iterdir())
    assert saved == sorted(results.index[results["status"] == "ok"])
    run = RunResult.load(tmp_path / "sweep" / "tables" / saved[0])
    assert run.summary["fills"] == results.at[saved[0], "fills"]
    assert run.summary["seed"] == results.at[saved[0], "seed"]


@pytest.fixture(scope="module")
def kept_tables(grid_plan: SweepPlan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kept") / "sweep"
    with cf.ThreadPoolExecutor(1) as pool:
        assert run_sweep(grid_plan, out, executor=pool, keep_tables=True).complete
    return out


@pytest.mark.parametrize("table", DATASET_TABLES)
def test_run_sweep_keep_tables_dataset_reads_as_one_table(kept_tables: Path, table: str) -> None:
    """pandas.read_parquet(DIR/<table>) gives every run's rows, labelled by point and replicate."""
    dataset = pd.read_parquet(kept_tables / table)
    results = read_results(kept_tables)
    expected = []
    for run_id, point, replicate in results[["run_id", "point", "replicate"]].itertuples(
        index=False
    ):
        own = RunResult.load(kept_tables / "tables" / run_id).tables()[table]
        expected.append(own.assign(point=point, replicate=replicate))
    combined = pd.concat(expected, ignore_index=True)
    dataset = dataset.astype({"point": "int64", "replicate": "int64"})
    keys = ["point", "replicate"]
    dataset = dataset.sort_values(keys, kind="stable").reset_index(drop=True)
    assert list(dataset.columns) == list(combined.columns)
    assert len(dataset) == len(combined)
    for column in combined.columns:
        assert dataset[column].astype(object).equals(combined[column].astype(object)), column


def test_link_run_tables_replaces_a_redone_run(kept_tables: Path, tmp_path: Path) -> None:
    """Linking a run again (a run redone after an interruption) leaves one copy of its rows."""
    out = tmp_path / "copy"
    run_dir = next((kept_tables / "tables").iterdir())
    record = json.loads((kept_tables / RUNS_DIR / f"{run_dir.name}.json").read_text())
    for _ in range(2):
        link_run_tables(run_dir, out, record["point"], record["replicate"])
    market = pd.read_parquet(out / "market")
    assert len(market) == len(RunResult.load(run_dir).market)
    assert set(market["point"].astype(int)) == {record["point"]}


def test_run_sweep_clears_dataset_leftovers_of_killed_workers(
    tmp_path: Path, grid_plan: SweepPlan
) -> None:
    """A hidden temporary link left in a dataset partition is removed when the sweep resumes."""
    out = tmp_path / "sweep"
    with cf.ThreadPoolExecutor(1) as pool:
        run_sweep(grid_plan, out, executor=pool, keep_tables=True)
        partition = out / "agents" / "point=0" / "replicate=0"
        stale = partition / ".p0-r00000.parquet.tmp-1-abcd"
        stale.write_bytes(b"half")
        run_sweep(grid_plan, out, executor=pool, keep_tables=True)
    assert not stale.exists() and any(partition.iterdir())


def test_run_sweep_refuses_a_directory_of_another_sweep(tmp_path: Path) -> None:
    """Resuming into a directory written by a different sweep names what differs."""
    plan = load_sweep(DATA / "failing.yaml")
    with cf.ThreadPoolExecutor(1) as pool:
        run_sweep(plan, tmp_path / "sweep", executor=pool)
        other = SweepPlan(plan.scenario, plan.parameters, plan.points, plan.replicates, 8)
        with pytest.raises(SweepError, match=r"holds a different sweep.*seed"):
            run_sweep(other, tmp_path / "sweep", executor=pool)


def test_run_sweep_refuses_a_non_sweep_directory(tmp_path: Path, grid_plan: SweepPlan) -> None:
    """A non-empty directory without sweep.json is never written into."""
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SweepError, match="not a sweep directory"):
        run_sweep(grid_plan, tmp_path)


def test_run_sweep_resumes_a_start_cut_before_its_definition(
    tmp_path: Path, grid_plan: SweepPlan
) -> None:
    """A directory holding only a lock file and an empty runs/ (a start cut short) is resumed."""
    (tmp_path / "sweep" / RUNS_DIR).mkdir(parents=True)
    (tmp_path / "sweep" / ".lock").touch()
    with cf.ThreadPoolExecutor(1) as pool:
        assert run_sweep(grid_plan, tmp_path / "sweep", executor=pool).complete


def test_run_sweep_refuses_a_locked_directory(tmp_path: Path, grid_plan: SweepPlan) -> None:
    """While one sweep holds a directory, a second sweep into it is refused."""
    with (
        _SweepDirectory.open(tmp_path / "sweep", grid_plan),
        pytest.raises(SweepError, match="in use by another abm sweep"),
    ):
        run_sweep(grid_plan, tmp_path / "sweep")


def _misspelt_metric_sweep(tmp_path: Path) -> Path:
    return _write_sweep(
        tmp_path,
        {
            "overrides": {"steps": 20},
            "grid": {"steps": [20]},
            "replicates": 3,
            "metrics": ["spread_maen"],
        },
    )


def test_run_sweep_unknown_metric_stops_before_the_first_run(tmp_path: Path) -> None:
    """A metric that is not a summary key is refused before any run, and nothing is written."""
    with (
        cf.ThreadPoolExecutor(1) as pool,
        pytest.raises(
            SweepError, match=r"spread_maen not in the run summary; available: .*spread_mean"
        ),
    ):
        plan = load_sweep(_misspelt_metric_sweep(tmp_path))
        run_sweep(plan, tmp_path / "out", executor=pool, max_in_flight=1)
    assert not (tmp_path / "out").exists()


def test_run_sweep_unknown_metric_without_probe_stops_after_first_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the probe run cannot run, the first ok run checks the metrics; it is kept."""
    monkeypatch.setattr(sweep_module, "_probe_metrics", lambda plan: False)
    with (
        cf.ThreadPoolExecutor(1) as pool,
        pytest.raises(SweepError, match=r"spread_maen not in the run summary"),
    ):
        plan = load_sweep(_misspelt_metric_sweep(tmp_path))
        run_sweep(plan, tmp_path / "out", executor=pool, max_in_flight=1)
    assert len(_run_ids(tmp_path / "out")) == 1


def test_results_table_columns(one_worker_results: Path, grid_plan: SweepPlan) -> None:
    """results.parquet: reserved columns, parameters, selected metrics; one row per run."""
    results = read_results(one_worker_results)
    expected = [*RESERVED_COLUMNS, *grid_plan.parameters, *(grid_plan.metrics or ())]
    assert list(results.columns) == expected
    assert len(results) == grid_plan.n_runs
    assert results["run_id"].is_unique
    assert list(results["seed"]) == [run_seed(123, p, r) for p in range(4) for r in range(2)]
    assert results.attrs["abm_sweep"]["parameters"] == list(grid_plan.parameters)


def test_is_sweep_dir(one_worker_results: Path, tmp_path: Path) -> None:
    """A sweep directory is recognised by its sweep.json; a run directory is not one."""
    assert is_sweep_dir(one_worker_results)
    assert not is_sweep_dir(tmp_path)


# --- backends, through the command-line entry ---


def test_sweep_identical_on_one_worker_two_workers_and_dask(
    one_worker_results: Path, tmp_path: Path
) -> None:
    """1 local worker, 2 local workers and a 2-process Dask LocalCluster give equal results."""
    pytest.importorskip("distributed")
    assert (
        _cli(["sweep", str(GRID), "--out", str(tmp_path / "two"), "--workers", "2", "--quiet"]) == 0
    )
    assert (
        _cli(["sweep", str(GRID), "--out", str(tmp_path / "dask"), "--dask-local", "2", "--quiet"])
        == 0
    )
    reference = _comparable(read_results(one_worker_results))
    for name in ("two", "dask"):
        results = read_results(tmp_path / name)
        assert _comparable(results).equals(reference), name


def test_dask_executor_refuses_multithreaded_workers() -> None:
    """A scheduler whose worker runs 2 threads is refused, saying how to start workers."""
    distributed = pytest.importorskip("distributed")
    from abm.experiments.sweep import dask_executor

    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    )
    with (
        cluster,
        pytest.raises(SweepError, match="--nthreads 1"),
        dask_executor(cluster.scheduler_address),
    ):
        pass


def test_dask_executor_unreachable_scheduler() -> None:
    """An address where no scheduler listens is a SweepError naming it."""
    pytest.importorskip("distributed")
    from abm.experiments.sweep import dask_executor

    with (
        pytest.raises(SweepError, match=r"cannot reach the Dask scheduler tcp://127\.0\.0\.1:9"),
        dask_executor("tcp://127.0.0.1:9", timeout_s=1),
    ):
        pass


def test_cli_sweep_bad_file_is_a_cli_error(tmp_path: Path) -> None:
    """A bad sweep file raises an AbmError (abm.cli.main.main prints it and exits 2)."""
    path = _write_sweep(tmp_path, {"grid": {"agents.mm.policy.gammma": [0.1]}})
    with pytest.raises(AbmError, match=r"sweep\.yaml: grid\.agents\.mm\.policy\.gammma"):
        _cli(["sweep", str(path), "--out", str(tmp_path / "out")])


def test_cli_sweep_rejects_bad_flag_values(tmp_path: Path) -> None:
    """--workers 0 is a CliError; --workers with --scheduler is an argparse error (exit 2)."""
    with pytest.raises(CliError, match="--workers: must be a positive integer"):
        _cli(["sweep", str(GRID), "--out", str(tmp_path), "--workers", "0"])
    with pytest.raises(SystemExit) as info:
        _cli(["sweep", str(GRID), "--out", str(tmp_path), "--workers", "2", "--dask-local", "2"])
    assert info.value.code == 2


def test_cli_sweep_exit_code_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With failed runs the command exits 1 and says how to rerun them."""
    code = _cli(["sweep", str(DATA / "failing.yaml"), "--out", str(tmp_path), "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "sweep: 4 runs: 2 ok, 2 failed, 0 missing (4 run now)" in out
    assert "--retry-failed" in out


# --- interruptions, in a subprocess ---

_SUBPROCESS = (
    "import argparse, sys\n"
    "from abm.cli.sweep import register\n"
    "p = argparse.ArgumentParser(prog='abm')\n"
    "register(p.add_subparsers(dest='command', required=True))\n"
    "a = p.parse_args(sys.argv[1:])\n"
    "sys.exit(a.func(a))\n"
)


def _long_sweep(tmp_path: Path) -> Path:
    return _write_sweep(
        tmp_path,
        {
            "replicates": 8,
            "seed": 3,
            "overrides": {"steps": 250},
            "grid": {"agents.mm.policy.gamma": [0.01, 1.0]},
            "metrics": ["fills", "spread_mean"],
        },
    )


def _start(sweep: Path, out: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", _SUBPROCESS, "sweep", str(sweep), "--out", str(out)]
    return subprocess.Popen(
        [*argv, "--workers", "2", "--quiet"],
        start_new_session=True,
        # a shell without job control starts background jobs with SIGINT ignored; undo that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@contextlib.contextmanager
def _running(sweep: Path, out: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`_start` the sweep; on the way out SIGKILL its process group if the parent still runs."""
    process = _start(sweep, out)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def _wait_for_records(out: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len(_run_ids(out)) < count:
        assert process.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _workers(pid: int) -> list[int]:
    """The pool worker processes (not the resource tracker) among the children of ``pid``."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    children = [int(c) for c in path.read_text().split()] if path.exists() else []
    return [c for c in children if b"spawn_main" in _cmdline(c)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running after up to 5 s (zombies and reused pids aside)."""
    deadline = time.monotonic() + 5
    while True:
        alive = [p for p in pids if b"spawn_main" in _cmdline(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_sweep_resumes_after_killed_parent(tmp_path: Path) -> None:
    """Kill -9 the parent mid-way, resume: one row per run, earlier records untouched."""
    sweep, out = _long_sweep(tmp_path), tmp_path / "out"
    process = _start(sweep, out)
    workers: list[int] = []
    try:
        _wait_for_records(out, 3, process)
        workers = _workers(process.pid)
        os.kill(process.pid, signal.SIGKILL)  # the parent only, as the OOM killer would
        process.wait()
        assert workers
        assert not _alive(workers)  # orphaned workers notice their parent's death and exit
    finally:
        if process.poll() is None or _alive(workers):
            os.killpg(process.pid, signal.SIGKILL)
    done = {run_id: (out / RUNS_DIR / f"{run_id}.json").read_bytes() for run_id in _run_ids(out)}
    plan = load_sweep(sweep)
    assert 3 <= len(done) < plan.n_runs
    outcome = run_sweep(plan, out, workers=2)
    assert (outcome.ok, outcome.ran) == (plan.n_runs, plan.n_runs - len(done))
    results = read_results(out)
    assert sorted(results["run_id"]) == sorted(key.run_id for key in plan.runs())
    for run_id, text in done.items():
        assert (out / RUNS_DIR / f"{run_id}.json").read_bytes() == text
    # a run finished after the resume has the numbers of a fresh in-process run
    key = next(k for k in plan.runs() if k.run_id not in done)
    task = RunTask(
        key.run_id,
        key.point,
        key.replicate,
        key.seed,
        plan.scenario.to_yaml(),
        tuple(plan.overrides(key.point).items()),
    )
    row = results.set_index("run_id").loc[key.run_id]
    assert row["fills"] == execute_run(task).summary["fills"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_sweep_ctrl_c_stops_workers_and_keeps_finished_runs(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group) ends parent and workers, keeping finished runs."""
    sweep, out = _long_sweep(tmp_path), tmp_path / "out"
    with _running(sweep, out) as process:
        _wait_for_records(out, 1, process)
        workers = _workers(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode != 0
    assert workers
    assert not _alive(workers)
    assert sorted(read_results(out)["run_id"]) == _run_ids(out)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")
def test_sweep_survives_a_killed_worker(tmp_path: Path) -> None:
    """Killing one worker process mid-sweep loses no run: the pool is restarted, all finish."""
    sweep, out = _long_sweep(tmp_path), tmp_path / "out"
    with _running(sweep, out) as process:
        _wait_for_records(out, 2, process)
        workers = _workers(process.pid)
        assert workers
        os.kill(workers[0], signal.SIGKILL)
        assert process.wait(timeout=120) == 0
    results = read_results(out)
    assert len(results) == load_sweep(sweep).n_runs
    assert results["run_id"].is_unique
    assert results["status"].eq("ok").all()
    assert results["worker"].nunique() >= 3  # the 2 first workers, then a new pool's


# --- benchmark ---


def test_add_bench_sweep_arguments_shares_existing_options() -> None:
    """On a parser that already has --steps/--scenario/--seed only --runs/--workers are added."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=None)
    add_bench_sweep_arguments(parser)
    args = parser.parse_args(["--runs", "4", "--seed", "9"])
    assert (args.runs, args.workers, args.steps, args.seed, args.scenario) == (4, 2, None, 9, None)


def test_format_sweep_bench_reports_speedup_and_overhead() -> None:
    """Speed-up is 1-worker over N-worker time; overhead is (1-worker - in-process) / runs."""
    result = SweepBenchResult("s", 100, 8, 2, 16.0, 1.5, 16.8, 8.8, 20.0, True)
    assert result.speedup == pytest.approx(16.8 / 8.8)
    assert result.overhead_per_run_s == pytest.approx(0.1)
    text = format_sweep_bench(result)
    assert "1.91x" in text
    assert "100.0 ms" in text


@pytest.mark.slow
def test_bench_sweep_runs_and_reports(capsys: pytest.CaptureFixture[str]) -> None:
    """Abm bench sweep on short runs completes with identical results across configurations."""
    from abm.cli.bench import bench_sweep

    parser = argparse.ArgumentParser()
    add_bench_sweep_arguments(parser)
    args = parser.parse_args(["--runs", "4", "--steps", "200", "--scenario", str(TINY)])
    assert bench_sweep(args) == 0
    assert "identical results             : yes" in capsys.readouterr().out


def test_run_record_json_round_trip() -> None:
    """A record survives to_json/from_json unchanged."""
    record = RunRecord("p1-r2", 1, 2, 3, "ok", None, 0.5, "h:1", {"a": 1.5, "b.c": None})
    assert RunRecord.from_json(record.to_json("f" * 64), "f" * 64) == record
    with pytest.raises(ValueError, match="not a run record"):
        RunRecord.from_json(json.dumps({"run_id": "x"}), "f" * 64)
