"""Sweeps against bad input (issue 16, classes 5 and 10).

Plan sizes are counted before a plan is built and refused past a ceiling; messages stay bounded
and never echo a file named as the scenario.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from abm.cli.sweep import register
from abm.errors import AbmError
from abm.experiments.sweep_spec import (
    MAX_PROBLEMS,
    MAX_RUNS,
    SweepError,
    SweepPlan,
    load_sweep,
)

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
    """A grid value that expands to 10^6 strings is judged first, then shown shortened."""
    path = tmp_path / "bomb.yaml"
    text = f"scenario: {TINY}\ngrid:\n  steps:\n    - {_nested_aliases(6)}\n"
    path.write_text(text, encoding="utf-8")
    assert len(text) < 600
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    message = str(info.value)
    assert "grid.steps: value [[" in message
    assert "must be a valid integer" in message
    assert len(message) < 1000


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
