"""`abm.run` and `abm.check_determinism` check their arguments (issue 16, class 12).

``abm.run("path")`` used to raise AttributeError ('str' object has no attribute 'seed'); a
bool, float or string seed or step count went on into the scenario. The contract checked is
the docstring of `abm.run`: a Scenario, a file path or a bundled name is accepted; a wrong
type raises `RunArgumentTypeError` (an `AbmError` and a ``TypeError``), a value out of range
`RunArgumentError` (an `AbmError` and a ``ValueError``), each naming the argument on one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import abm
from abm.run import RunArgumentError, RunArgumentTypeError

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"


@pytest.fixture(scope="module")
def baseline() -> abm.Scenario:
    return abm.load_scenario(BASELINE)


@pytest.mark.parametrize("source", [str(BASELINE), BASELINE, "baseline"])
def test_run_accepts_a_path_or_bundled_name_like_load_scenario(source, baseline) -> None:
    """run(path or name) is run(load_scenario(path or name)): identical tables."""
    expected = abm.run(baseline, steps=5)
    assert abm.run(source, steps=5).equals(expected)


@pytest.mark.parametrize("scenario", [None, b"baseline", ["baseline"], 3, {"name": "x"}])
def test_run_refuses_a_scenario_of_the_wrong_type(scenario: object) -> None:
    """Anything but a Scenario, str or path raises the TypeError kind naming ``scenario``."""
    with pytest.raises(RunArgumentTypeError, match=r"^scenario: must be a Scenario") as info:
        abm.run(scenario)  # type: ignore[arg-type]
    assert isinstance(info.value, abm.AbmError) and isinstance(info.value, TypeError)


def test_run_unknown_name_is_a_scenario_error() -> None:
    """A string that is neither a file nor a bundled name is load_scenario's ScenarioError."""
    with pytest.raises(abm.ScenarioError, match="no bundled scenario has that name"):
        abm.run("no_such_scenario_anywhere")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"seed": True}, RunArgumentTypeError, r"^seed: must be a non-negative integer, got True"),
        ({"seed": 1.0}, RunArgumentTypeError, r"^seed: must be a non-negative integer, got 1.0"),
        ({"seed": "3"}, RunArgumentTypeError, r"^seed: must be a non-negative integer"),
        ({"seed": np.float64(2)}, RunArgumentTypeError, r"^seed: "),
        ({"seed": -1}, RunArgumentError, r"^seed: must be a non-negative integer, got -1$"),
        ({"steps": 0}, RunArgumentError, r"^steps: must be an integer >= 1, got 0$"),
        ({"steps": -5}, RunArgumentError, r"^steps: must be an integer >= 1, got -5$"),
        ({"steps": 2.0}, RunArgumentTypeError, r"^steps: must be an integer >= 1, got 2.0"),
        ({"steps": False}, RunArgumentTypeError, r"^steps: "),
        ({"steps": [10]}, RunArgumentTypeError, r"^steps: "),
        ({"progress": 5}, RunArgumentTypeError, r"^progress: must be a callable"),
    ],
)
def test_run_refuses_bad_seed_steps_and_progress(kwargs, error, message, baseline) -> None:
    """Each bad argument raises its own error, naming it, before anything runs."""
    with pytest.raises(error, match=message) as info:
        abm.run(baseline, **kwargs)
    assert (error is RunArgumentTypeError) == isinstance(info.value, TypeError)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


def test_run_accepts_numpy_integer_seed_and_steps(baseline) -> None:
    """Integers of numpy (as sweeps draw them) are valid; the summary holds plain ints."""
    result = abm.run(baseline, seed=np.uint64(7), steps=np.int64(3))
    assert (result.summary["seed"], result.summary["steps"]) == (7, 3)
    assert result.equals(abm.run(baseline, seed=7, steps=3))


def test_run_error_message_is_bounded_for_a_huge_argument(baseline) -> None:
    """A huge bad argument is shown cut short."""
    with pytest.raises(RunArgumentTypeError) as info:
        abm.run(baseline, seed=[0] * 100_000)
    assert len(str(info.value)) < 120


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((None,), {}, r"^scenario: "),
        ((BASELINE,), {"steps": 0}, r"^steps: "),
        ((BASELINE,), {"steps": 1.5}, r"^steps: "),
        ((BASELINE,), {"other_process": "no"}, r"^other_process: must be True or False"),
    ],
)
def test_check_determinism_refuses_bad_arguments(args, kwargs, message) -> None:
    """check_determinism checks its arguments as run does, before the first run."""
    with pytest.raises(RunArgumentError, match=message):
        abm.check_determinism(*args, **kwargs)
