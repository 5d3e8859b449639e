"""Fuzzing the scenario schema by mutating shipped scenarios (issue 16, "Also").

Each example takes a shipped scenario (shortened to at most 30 steps), changes its document
(a value at a random path replaced by a random YAML scalar or structure, a key dropped or
added), writes it as YAML text and loads it as ``abm validate`` does. The contract: the load
raises exactly one `ScenarioError`, or it succeeds and a short run succeeds or refuses with one
`AbmError` line naming the field at fault (what only a run can judge, such as a policy whose
parameters quote past the book's price range). Anything else (another exception, a traceback
at run time) is a bug. A run whose workload is large (many
traders or arrivals) is not attempted: bounding work is the size-budget check's concern, not
this schema's. A document that loads but passes its own ``limits`` (a mutated limit, or a
mutated record section that would hold terabytes) is refused by that check before any run, as
`abm.run` refuses it, with one ``fuzz.yaml: limits...`` line per limit passed.

Hypothesis is derandomized (the same examples every run) and bounded in examples and in
time per example.
"""

from __future__ import annotations

import contextlib
import re
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import abm
from abm.errors import AbmError
from abm.scenario.budget import ScenarioTooLargeError, check_limits
from abm.scenario.schema import Scenario, ScenarioError, load_scenario
from abm.scenario.types import MAX_LOTS

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").rglob("*.yaml"))
MAX_STEPS = 30
MAX_AGENTS = 3000
MAX_ARRIVALS_PER_STEP = 1500.0
RUN_SECONDS = 60


def _short(path: Path) -> dict[str, Any]:
    """The resolved document of a shipped scenario, at most MAX_STEPS steps long."""
    scenario = load_scenario(path)
    changes: dict[str, Any] = {"steps": min(scenario.steps, MAX_STEPS)}
    for name, group in scenario.agents.items():
        if group.kind == "pov":  # a program must start within the run
            changes[f"agents.{name}.start_step"] = 5
    return scenario.override(changes).model_dump(mode="json")


BASES = [_short(path) for path in SCENARIOS]

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(
        [0, 1, 2, 3, -1, 10, 0.0, 0.5, 1.0, -0.5, 2.5, 1e-9, 1e9, 1e300, -1e300, MAX_LOTS]
    ),
    st.sampled_from([MAX_LOTS + 1, 10**30, 10**18]),
    st.integers(min_value=-5, max_value=60),
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
    st.sampled_from(["", "x", "mid", "30", "1:30", "010", "1e9", "../x", "none", "kind"]),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["kind", "count", "rate", "x", "qty"]), inner, max_size=3),
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path (keys and list indices) into a document, the root excluded."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _copy(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_copy(value) for value in node]
    return node


def _tweaks(value: int | float) -> list[Any]:
    """Numbers of the same type as ``value``: near it, at the edges and far out."""
    if isinstance(value, int):
        return [0, 1, -1, value + 1, value - 1, 2 * value, value // 2, MAX_LOTS, 10**12]
    return [0.0, -value, value * 10.0, value / 10.0, value + 1.0, 1e-9, 1e9, 1e300]


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A shipped scenario's document with one to three random changes."""
    document = _copy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = list(_paths(document))
        action = draw(st.sampled_from(["tweak", "tweak", "tweak", "replace", "drop", "add"]))
        if action == "tweak":
            paths = [path for path in paths if _is_number(_at(document, path))] or paths
        path = draw(st.sampled_from(paths))
        parent = _at(document, path[:-1])
        value = parent[path[-1]]
        if action == "tweak" and _is_number(value):
            parent[path[-1]] = draw(st.sampled_from(_tweaks(value)))
        elif action in ("tweak", "replace"):
            parent[path[-1]] = draw(VALUES)
        elif action == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "kind", "count", "steps"]))] = draw(VALUES)
        else:
            parent.append(draw(VALUES))
    return document


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _workload_is_small(scenario: Scenario) -> bool:
    """Whether a run of ``scenario`` is cheap enough for a fuzz example."""
    groups = list(scenario.agents.values())
    if scenario.steps > MAX_STEPS or sum(group.count for group in groups) > MAX_AGENTS:
        return False
    toxic = max((s.multiplier for s in scenario.shocks if s.kind == "toxic_flow"), default=1.0)
    arrivals = 0.0
    for group in groups:
        arrival = getattr(group, "arrival", None)
        if arrival is not None and arrival.kind == "hawkes":
            per_step = arrival.mu * scenario.dt / (1.0 - arrival.branching)
        elif arrival is not None:
            per_step = group.count * arrival.rate * (2.0 if arrival.per_side else 1.0)
        else:
            per_step = float(group.count)
        arrivals += per_step * (toxic if group.kind == "informed" else 1.0)
    return arrivals <= MAX_ARRIVALS_PER_STEP


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the block runs longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise AssertionError(f"a short run took longer than {seconds} s (a hang?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@settings(
    max_examples=300,
    deadline=timedelta(seconds=RUN_SECONDS),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=mutated_documents())
def test_fuzz_mutated_scenario_is_one_error_or_a_short_run(document: dict[str, Any]) -> None:
    """A mutated shipped scenario gives one ScenarioError at load, or loads and runs."""
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    try:
        scenario = Scenario.from_yaml_text(text, source="fuzz.yaml")
    except ScenarioError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml: ")
        assert len(message) < 10_000
        event("refused at load")
        return
    try:
        check_limits(scenario, source="fuzz.yaml")
    except ScenarioTooLargeError as exc:
        # the size budget's refusal (several lines, by design): each names a limit
        lines = str(exc).splitlines()
        assert lines and all(line.startswith("fuzz.yaml: limits") for line in lines), lines
        event("refused by the size budget")
        return
    if not _workload_is_small(scenario):
        event("loaded; too large to run")
    else:
        with _time_limit(RUN_SECONDS):
            try:
                result = abm.run(scenario)
            except AbmError as exc:
                # what only the run can judge (a policy quoting past the book's price range):
                # one line naming the scenario field at fault, as `abm run` prints it
                message = str(exc)
                assert "\n" not in message and len(message) < 1_000
                assert re.match(r"^[a-z_]+(\.[A-Za-z0-9_-]+)*: ", message), message
                event("refused by the run, naming the field")
                return
        event("loaded and ran")
        assert result.market["step"].iloc[-1] == scenario.steps
