"""Sweeps against bad input and damaged directories (issue 16, classes 5, 7 and 10).

Plan sizes are counted before a plan is built and refused past a ceiling; messages stay bounded
and never echo a file named as the scenario; a sweep directory's files are verified on load,
so an edited, foreign or malformed record is moved aside and its run redone, never merged;
local workers do not re-run a caller's unguarded script. Runs use tests/data/sweeps/tiny.yaml
cut to 20 steps, on a one-thread executor unless a real process pool is the point.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from abm.cli.sweep import register
from abm.errors import AbmError
from abm.experiments.sweep import RunRecord, SweepOutcome, read_results, run_sweep
from abm.experiments.sweep_spec import (
    MAX_PROBLEMS,
    MAX_RUNS,
    REJECTED_DIR,
    RUNS_DIR,
    SWEEP_FILE,
    SweepError,
    SweepPlan,
    load_sweep,
)
from abm.experiments.sweep_store import SweepWarning

DATA = Path(__file__).resolve().parents[1] / "data" / "sweeps"
TINY = DATA / "tiny.yaml"
SHORT = {"overrides": {"steps": 20}, "grid": {"agents.mm.policy.gamma": [0.01, 1.0]}}


def _write_sweep(tmp_path: Path, document: dict[str, Any], name: str = "sweep.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"scenario": str(TINY), **document}), encoding="utf-8")
    return path


def _cli(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="abm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


def _resume(plan: SweepPlan, out: Path) -> SweepOutcome:
    with cf.ThreadPoolExecutor(1) as pool:
        return run_sweep(plan, out, executor=pool)


# --- class 5: plan sizes are counted before the plan is built ---


def test_load_sweep_refuses_a_billion_replicates_with_count_and_limit(tmp_path: Path) -> None:
    """replicates: 10**9 is refused at once, naming the run count and the ceiling."""
    path = _write_sweep(tmp_path, {"replicates": 10**9, "grid": {"steps": [10]}})
    started = time.perf_counter()
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    assert time.perf_counter() - started < 10  # not a timing test: the fix answers in ms
    message = str(info.value)
    assert message.startswith(f"{path}: the plan has 1 point (grid) x 1,000,000,000 replicates")
    assert f"= 1,000,000,000 runs, more than the limit of {MAX_RUNS:,}" in message
    assert "max_runs" in message


def test_load_sweep_refuses_a_ten_million_point_grid(tmp_path: Path) -> None:
    """A 10^7-point grid (seven paths of ten values) is counted, not built, and refused."""
    paths = ["agents.mm.count", "agents.noise.count", "agents.informed.count"]
    paths += ["agents.mm.quote_size", "agents.mm.max_inventory", "steps", "tick_size"]
    grid = {path: list(range(10, 20)) for path in paths}  # every value valid on its own
    path = _write_sweep(tmp_path, {"grid": grid})
    with pytest.raises(SweepError, match=r"10,000,000 points \(grid\) x 1 replicate = "):
        load_sweep(path)


def test_load_sweep_counts_samples_too(tmp_path: Path) -> None:
    """A Latin hypercube of n points x replicates is counted against the limit as well."""
    samples = {"kind": "latin_hypercube", "n": 10**8, "ranges": {"dt": [1, 2]}}
    path = _write_sweep(tmp_path, {"samples": samples, "replicates": 3})
    with pytest.raises(SweepError, match=r"100,000,000 points \(samples\) x 3 replicates"):
        load_sweep(path)


def test_load_sweep_max_runs_field_and_argument_set_the_limit(tmp_path: Path) -> None:
    """The file's max_runs raises or lowers the ceiling; load_sweep(max_runs=) overrides it."""
    document = {**SHORT, "replicates": 3}  # 2 points x 3 replicates = 6 runs
    with pytest.raises(SweepError, match="6 runs, more than the limit of 5"):
        load_sweep(_write_sweep(tmp_path, {**document, "max_runs": 5}))
    path = _write_sweep(tmp_path, {**document, "max_runs": 6})
    assert load_sweep(path).n_runs == 6
    with pytest.raises(SweepError, match="6 runs, more than the limit of 4"):
        load_sweep(path, max_runs=4)
    with pytest.raises(SweepError, match="max_runs: must be a positive integer"):
        load_sweep(path, max_runs=0)


def test_cli_sweep_max_runs_refuses_and_writes_nothing(tmp_path: Path) -> None:
    """`abm sweep --max-runs N` refuses a bigger plan with an AbmError (exit 2); no DIR appears."""
    path = _write_sweep(tmp_path, {**SHORT, "replicates": 3})
    out = tmp_path / "out"
    with pytest.raises(AbmError, match="6 runs, more than the limit of 2"):
        _cli(["sweep", str(path), "--out", str(out), "--max-runs", "2"])
    assert not out.exists()


def test_load_sweep_alias_bomb_grid_value_gives_a_short_message(tmp_path: Path) -> None:
    """A grid value that expands to 10^5 strings is judged first, then shown shortened."""
    path = tmp_path / "bomb.yaml"
    text = f"scenario: {TINY}\ngrid:\n  steps:\n    - {_nested_aliases(5)}\n"
    path.write_text(text, encoding="utf-8")
    assert len(text) < 600
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    message = str(info.value)
    assert "grid.steps: value [[" in message
    assert "must be a valid integer" in message
    assert len(message) < 1000


def test_load_sweep_alias_bomb_past_the_yaml_limit_is_refused_while_parsing(
    tmp_path: Path,
) -> None:
    """10^6 values through aliases pass the YAML reader's expansion limit: refused at parse."""
    path = tmp_path / "bomb.yaml"
    path.write_text(f"scenario: {TINY}\ngrid:\n  steps:\n    - {_nested_aliases(6)}\n")
    with pytest.raises(SweepError, match="invalid YAML: expands to more than"):
        load_sweep(path)


def _nested_aliases(depth: int) -> str:
    """One flow-style YAML node that reads as a list of 10**depth strings via aliases."""
    node = "&a0 [x, x, x, x, x, x, x, x, x, x]"
    for level in range(1, depth):
        node = f"&a{level} [{node}, " + ", ".join([f"*a{level - 1}"] * 9) + "]"
    return node


def test_plan_runs_are_generated_lazily() -> None:
    """runs() yields keys one by one: a plan of 10^12 runs gives its first keys at once."""
    plan = load_sweep(DATA / "grid.yaml")
    huge = SweepPlan(plan.scenario, plan.parameters, plan.points, 10**12, 1)
    runs = huge.runs()
    assert isinstance(runs, Iterator)
    first = [next(runs) for _ in range(5)]
    assert [key.point for key in first] == [0, 1, 2, 3, 0]
    assert huge.key(3, 10**12 - 1).run_id == "p000003-r999999999999"


# --- class 10: bounded messages that never echo a file's content ---


def test_load_sweep_never_echoes_a_non_scenario_file(tmp_path: Path) -> None:
    """A scenario path naming a text file says what it is, not what it holds."""
    secret = tmp_path / "notes.txt"
    secret.write_text("TOPSECRET token 1234\nsecond line of the file\n", encoding="utf-8")
    path = _write_sweep(tmp_path, {"grid": {"steps": [10]}})
    path.write_text(f"scenario: {secret}\ngrid: {{steps: [10]}}\n", encoding="utf-8")
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    message = str(info.value)
    assert "TOPSECRET" not in message
    assert f"scenario: {secret}: not a scenario file: its top level is text" in message


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs /etc/passwd")
def test_load_sweep_scenario_etc_passwd_is_not_echoed(tmp_path: Path) -> None:
    """The issue's reproducer: scenario: /etc/passwd shows no line of that file."""
    path = tmp_path / "sweep.yaml"
    path.write_text("scenario: /etc/passwd\ngrid: {steps: [10]}\n", encoding="utf-8")
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    first_line = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]
    assert first_line[:8] not in str(info.value)
    assert "not a scenario file" in str(info.value)


def test_load_sweep_caps_the_list_of_problems(tmp_path: Path) -> None:
    """A thousand unknown keys give MAX_PROBLEMS lines and a count of the rest."""
    path = _write_sweep(tmp_path, {"grid": {"steps": [10]}, **{f"k{i}": 1 for i in range(1000)}})
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    lines = str(info.value).splitlines()
    assert len(lines) == MAX_PROBLEMS + 1
    assert lines[-1] == f"... and {1000 - MAX_PROBLEMS} more problems"


def test_load_sweep_cuts_a_long_echoed_value(tmp_path: Path) -> None:
    """A 100,000-character scenario path is not repeated whole in the message."""
    path = tmp_path / "sweep.yaml"
    path.write_text(f"scenario: {'x' * 100_000}\ngrid: {{steps: [10]}}\n", encoding="utf-8")
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    assert len(str(info.value)) < 1000


# --- class 7: the store verifies its files ---


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[SweepPlan, Path]:
    """A finished 2-run sweep (2 points x 1 replicate) to copy and damage."""
    root = tmp_path_factory.mktemp("finished")
    plan = load_sweep(_write_sweep(root, {**SHORT, "metrics": ["fills", "spread_mean"]}))
    assert _resume(plan, root / "out").complete
    return plan, root / "out"


@pytest.fixture
def damaged(finished: tuple[SweepPlan, Path], tmp_path: Path) -> tuple[SweepPlan, Path]:
    plan, out = finished
    shutil.copytree(out, tmp_path / "out")
    return plan, tmp_path / "out"


def _record_file(out: Path, point: int) -> Path:
    return out / RUNS_DIR / f"p{point:06d}-r00000.json"


def _edit(path: Path, **changes: Any) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    document.update(changes)
    path.write_text(json.dumps(document), encoding="utf-8")


def test_run_sweep_refuses_a_definition_that_is_a_list(damaged: tuple[SweepPlan, Path]) -> None:
    """sweep.json holding [] is a SweepError naming the file, not an AttributeError."""
    plan, out = damaged
    (out / SWEEP_FILE).write_text("[]", encoding="utf-8")
    with pytest.raises(SweepError, match=r"sweep\.json: not a sweep definition \(a JSON list\)"):
        _resume(plan, out)


def test_run_sweep_redoes_a_record_with_an_unknown_point(
    damaged: tuple[SweepPlan, Path],
) -> None:
    """A record saying point 99 is moved aside with a warning and its run is redone."""
    plan, out = damaged
    before = read_results(out)
    _edit(_record_file(out, 1), point=99)
    with pytest.warns(SweepWarning, match="p000001-r00000.json: not merged"):
        outcome = _resume(plan, out)
    assert (outcome.ran, outcome.ok, len(outcome.rejected)) == (1, 2, 1)
    assert (out / REJECTED_DIR / "p000001-r00000.json").is_file()
    after = read_results(out)
    assert list(after["fills"]) == list(before["fills"])


def test_run_sweep_redoes_a_record_whose_metric_was_edited(
    damaged: tuple[SweepPlan, Path],
) -> None:
    """An edited metric fails the checksum: the run is redone and the real value reported."""
    plan, out = damaged
    before = read_results(out)
    path = _record_file(out, 0)
    document = json.loads(path.read_text(encoding="utf-8"))
    _edit(path, summary={**document["summary"], "fills": 10**6})
    with pytest.warns(SweepWarning, match="checksum mismatch"):
        outcome = _resume(plan, out)
    assert outcome.ran == 1
    assert list(read_results(out)["fills"]) == list(before["fills"])
    assert 10**6 not in set(read_results(out)["fills"])


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("p999999-r00000.json", {"run_id": "p999999-r00000", "point": 999999}),
        ("p000000-r00005.json", {"run_id": "p000000-r00005", "replicate": -5}),
        ("p000000-r00000-copy.json", {}),
    ],
)
def test_run_sweep_never_merges_a_foreign_record(
    damaged: tuple[SweepPlan, Path], name: str, changes: dict[str, Any]
) -> None:
    """A record of no run of the plan (unknown id, replicate -5, a copy) adds no row."""
    plan, out = damaged
    foreign = out / RUNS_DIR / name
    shutil.copyfile(_record_file(out, 0), foreign)
    _edit(foreign, **changes)
    with pytest.warns(SweepWarning, match="not merged"):
        outcome = _resume(plan, out)
    assert (outcome.ran, outcome.total, len(outcome.rejected)) == (0, 2, 1)
    assert list(read_results(out)["run_id"]) == ["p000000-r00000", "p000001-r00000"]
    assert not foreign.exists()


def test_run_sweep_refuses_records_of_another_sweep(
    damaged: tuple[SweepPlan, Path], tmp_path: Path
) -> None:
    """A record with a valid checksum written for another sweep (other seed) is not merged."""
    plan, out = damaged
    other = SweepPlan(plan.scenario, plan.parameters, plan.points, 1, plan.seed + 1)
    key = next(plan.runs())
    record = RunRecord(key.run_id, 0, 0, key.seed, "ok", None, 0.1, "h:1", {"fills": 1})
    _record_file(out, 0).write_text(record.to_json(other.fingerprint()), encoding="utf-8")
    with pytest.warns(SweepWarning, match="belongs to another sweep"):
        outcome = _resume(plan, out)
    assert outcome.ran == 1
    assert 1 not in set(read_results(out)["fills"])


@pytest.mark.parametrize("content", ["", "{", "[]", "[" * 100_000, "\xff\xfe"])
def test_run_sweep_redoes_unreadable_records(damaged: tuple[SweepPlan, Path], content: str) -> None:
    """Empty, truncated, non-object, deeply nested or non-UTF-8 records are redone."""
    plan, out = damaged
    _record_file(out, 1).write_bytes(content.encode("latin-1"))
    with pytest.warns(SweepWarning):
        outcome = _resume(plan, out)
    assert (outcome.ran, outcome.ok) == (1, 2)


def test_cli_sweep_reports_a_rejected_record_on_stderr(
    damaged: tuple[SweepPlan, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`abm sweep` prints one 'abm: warning:' line per record set aside, and a summary line.

    Through the console script's entry point (`abm.cli.main.main`), which formats warnings.
    """
    from abm.cli.main import main

    plan, out = damaged
    _edit(_record_file(out, 0), wall_time_s=-1.0)
    sweep_file = Path(plan.source)
    assert main(["sweep", str(sweep_file), "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    warning = [line for line in captured.err.splitlines() if line.startswith("abm: warning:")]
    assert len(warning) == 1
    assert "p000000-r00000.json: not merged" in warning[0]
    assert "1 record files failed verification" in captured.out


# --- a plain script with no main guard ---


def test_run_sweep_works_from_a_script_without_main_guard(tmp_path: Path) -> None:
    """Spawned workers do not re-run the caller's script: its top level runs exactly once."""
    sweep = _write_sweep(tmp_path, SHORT)
    script = tmp_path / "plain.py"
    script.write_text(
        "from abm.experiments.sweep import run_sweep\n"
        "from abm.experiments.sweep_spec import load_sweep\n"
        "print('top level ran', flush=True)\n"
        f"outcome = run_sweep(load_sweep({str(sweep)!r}), {str(tmp_path / 'out')!r}, workers=2)\n"
        "print('complete', outcome.complete, outcome.ok)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("top level ran") == 1
    assert "complete True 2" in done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("field", ["grid", "metrics"])
def test_load_sweep_checks_long_lists_in_linear_time(tmp_path: Path, field: str) -> None:
    """30,000 grid paths or 200,000 metrics are judged without comparing every pair."""
    if field == "grid":
        document = {"grid": {f"agents.mm.x{i}": [1] for i in range(30_000)}}
        problem = "grid.agents.mm.x0"
    else:
        document = {"grid": {"steps": [10]}, "metrics": ["fills"] * 200_000}
        problem = "metrics: lists fills more than once"
    path = _write_sweep(tmp_path, document)
    started = time.perf_counter()
    with pytest.raises(SweepError, match=problem):
        load_sweep(path)
    assert time.perf_counter() - started < 60  # the pairwise checks took hours


def test_load_sweep_refuses_overlapping_paths(tmp_path: Path) -> None:
    """A path inside another varied path is refused, naming both (prefix lookup, not pairs)."""
    grid = {"agents.mm.policy.gamma": [0.1], "agents.mm": [{"kind": "noise"}]}
    path = _write_sweep(tmp_path, {"grid": grid})
    with pytest.raises(SweepError, match=r"grid\.agents\.mm\.policy\.gamma: overlaps agents\.mm"):
        load_sweep(path)


def test_dask_local_cluster_works_from_a_script_without_main_guard(tmp_path: Path) -> None:
    """A local Dask cluster's worker processes skip the caller's script too (they failed)."""
    pytest.importorskip("distributed")
    sweep = _write_sweep(tmp_path, SHORT)
    script = tmp_path / "plain_dask.py"
    script.write_text(
        "from abm.experiments.sweep import dask_executor, run_sweep\n"
        "from abm.experiments.sweep_spec import load_sweep\n"
        "print('top level ran', flush=True)\n"
        "with dask_executor(local_workers=1, timeout_s=60) as (executor, _):\n"
        f"    outcome = run_sweep(load_sweep({str(sweep)!r}), {str(tmp_path / 'out')!r},"
        " executor=executor)\n"
        "print('complete', outcome.complete, outcome.ok)\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("top level ran") == 1
    assert "complete True 2" in done.stdout
