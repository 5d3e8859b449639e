"""Sweep files and sweep plans: which runs a parameter sweep makes, and with which seeds.

A sweep file is YAML, validated like a scenario (frozen pydantic models, unknown keys are an
error), and names a scenario plus the parameters to vary::

    scenario: ../scenarios/baseline.yaml    # relative to the sweep file
    replicates: 20                          # runs per parameter point
    seed: 123                               # root seed of every run's seed
    overrides: {steps: 500}                 # optional: fixed changes to the scenario
    grid:                                   # dotted scenario paths; full factorial
      agents.mm.policy.gamma: [0.01, 0.1, 1.0]
      agents.informed.count: [0, 10, 50]
    # or, instead of grid (exactly one of the two):
    # samples: {kind: latin_hypercube, n: 64,
    #           ranges: {agents.mm.policy.gamma: {low: 0.01, high: 1.0, scale: log}}}
    metrics: [mm_pnl_mean, spread_mean]     # optional selection from summary.json
    max_runs: 200000                        # optional: raise the plan-size ceiling

`load_sweep` turns a file into a `SweepPlan`: the scenario, the parameter points (every grid
combination, or the Latin hypercube sample) each checked against the scenario schema, and the
replicates. The plan's size (points times replicates) is counted from the file before any point
is built, and a plan of more than `MAX_RUNS` runs is refused with the count and the limit; the
sweep file's ``max_runs`` or ``load_sweep(max_runs=...)`` (``abm sweep --max-runs N``) raises
the limit. The points of a plan are held in memory (at most the limit); its runs are generated
one at a time (`SweepPlan.runs`).

Run ``(point, replicate)`` gets the seed `run_seed` derives from the root seed with
``numpy.random.SeedSequence``, so its numbers depend neither on the number of workers nor on
the order in which runs finish nor on the backend. Every problem with a file is one `SweepError`
whose lines read ``<file>: <field path>: <problem>``; a message lists at most
`MAX_PROBLEMS` problems, shows values shortened (`show_value`) and never the content of a file
named as the scenario.

This module also fixes the file names of a sweep directory (`SWEEP_FILE`, `RESULTS_FILE`,
`RUNS_DIR`, `TABLES_DIR`) so that readers such as ``analysis.ensemble`` need not import the
runner; `is_sweep_dir` tells a sweep directory from a run directory.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from scipy.stats import qmc

from abm.errors import AbmError
from abm.experiments.sweep_messages import (
    MAX_LINE_CHARS,
    MAX_PROBLEMS,
    bounded_message,
    explained_message,
    show_value,
)
from abm.experiments.sweep_schema import SWEEP_PROBLEMS, RangeSpec, SamplesSpec, SweepSpec
from abm.scenario.bundle import resolve_scenario
from abm.scenario.errors import ScenarioError, explain
from abm.scenario.schema import Scenario, load_scenario
from abm.scenario.yaml_text import parse_yaml_strict, read_yaml_file

__all__ = [
    "MAX_LINE_CHARS",
    "MAX_PROBLEMS",
    "MAX_RUNS",
    "REJECTED_DIR",
    "RESERVED_COLUMNS",
    "RESULTS_FILE",
    "RUNS_DIR",
    "SWEEP_FILE",
    "TABLES_DIR",
    "RangeSpec",
    "RunKey",
    "SamplesSpec",
    "SweepError",
    "SweepPlan",
    "SweepSpec",
    "bounded_message",
    "is_sweep_dir",
    "latin_hypercube",
    "load_sweep",
    "run_seed",
    "show_value",
]

SWEEP_FILE = "sweep.json"
"""The sweep definition, written when a sweep directory is created (`SweepPlan.definition`)."""
RESULTS_FILE = "results.parquet"
"""One row per finished run; rebuilt from `RUNS_DIR` at the end of every sweep command."""
RUNS_DIR = "runs"
"""One JSON record per finished run, named ``<run_id>.json``, each written atomically."""
TABLES_DIR = "tables"
"""With ``--keep-tables``: one run directory (`abm.results.RunResult.save`) per run id."""
RESERVED_COLUMNS = (
    "run_id",
    "point",
    "replicate",
    "seed",
    "status",
    "error",
    "wall_time_s",
    "worker",
)
"""The first columns of ``results.parquet``, in order; parameter and metric columns follow."""

REJECTED_DIR = "rejected"
"""Run record files that failed verification (edited, foreign, unreadable), moved aside."""
MAX_RUNS = 100_000
"""The default ceiling on a plan's runs (points times replicates): a larger plan is refused
before it is built. At a second a run on 8 workers it is about 3.5 hours of work; raise it with
a sweep file's ``max_runs`` or ``load_sweep(max_runs=...)`` (``abm sweep --max-runs N``)."""
FORMAT_VERSION = 1
_RUNS_BRANCH, _SAMPLES_BRANCH = 0, 1  # first spawn-key word: run seeds vs. sample draws
_SEED_MASK = (1 << 63) - 1  # seeds fit a signed 64-bit parquet column
_SOURCE = "<sweep>"


class SweepError(AbmError, ValueError):
    """A sweep file, plan or directory is unusable; the message says where and what to change."""


def is_sweep_dir(path: str | os.PathLike[str]) -> bool:
    """Return whether ``path`` is a sweep directory (it holds `SWEEP_FILE`), not a run directory."""
    return (Path(path) / SWEEP_FILE).is_file()


def run_seed(root_seed: int, point: int, replicate: int) -> int:
    """Return the seed of run ``(point, replicate)`` of a sweep with root seed ``root_seed``.

    The seed is the first 64-bit word generated by ``SeedSequence(root_seed, spawn_key=(0,
    point, replicate))``, masked to 63 bits: the child ``SeedSequence(root_seed).spawn(1)[0]
    .spawn(point + 1)[point].spawn(replicate + 1)[replicate]`` would give the same word. It
    depends on nothing but the three integers, hence not on scheduling or backend.

    Raises:
        SweepError: If an argument is negative.
    """
    if min(root_seed, point, replicate) < 0:
        raise SweepError(f"seeds need non-negative integers, got {(root_seed, point, replicate)}")
    sequence = np.random.SeedSequence(root_seed, spawn_key=(_RUNS_BRANCH, point, replicate))
    return int(sequence.generate_state(1, dtype=np.uint64)[0]) & _SEED_MASK


def latin_hypercube(n: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """Draw a Latin hypercube sample of ``n`` points in ``[0, 1)^dims`` (McKay et al. 1979).

    Each axis is cut into ``n`` equal strata and every stratum holds exactly one point, placed
    uniformly inside it; strata are paired across axes by independent random permutations. The
    sample is `scipy.stats.qmc.LatinHypercube` driven by ``rng``, so the same generator state
    gives the same sample.

    Returns:
        An array of shape ``(n, dims)``.
    """
    return np.asarray(qmc.LatinHypercube(d=dims, rng=rng).random(n), dtype=float)


# --- the plan ---


@dataclass(frozen=True, slots=True)
class RunKey:
    """One run of a sweep: parameter point index, replicate index, run id and seed."""

    point: int
    replicate: int
    run_id: str
    seed: int


@dataclass(frozen=True)
class SweepPlan:
    """Every run of a sweep, fully resolved; build it with `load_sweep` or directly.

    Attributes:
        scenario: The base scenario (the sweep's ``overrides`` already applied).
        parameters: The varied dotted scenario paths, in file order.
        points: One tuple of values (in ``parameters`` order) per parameter point; a plan
            without parameters has the single point ``()``.
        replicates: Runs per point (>= 1), differing only in their seed.
        seed: Root seed (>= 0) of `run_seed`.
        metrics: Summary keys kept in ``results.parquet`` (flattened with dots, e.g.
            ``pnl_by_group.mm``); ``None`` keeps every key.
        source: Where the plan came from; starts every error message.
    """

    scenario: Scenario
    parameters: tuple[str, ...]
    points: tuple[tuple[Any, ...], ...]
    replicates: int
    seed: int
    metrics: tuple[str, ...] | None = None
    source: str = _SOURCE

    def __post_init__(self) -> None:
        if self.replicates < 1 or self.seed < 0:
            raise SweepError(f"{self.source}: replicates must be >= 1 and seed >= 0")
        if not self.points or any(len(p) != len(self.parameters) for p in self.points):
            raise SweepError(f"{self.source}: every point needs one value per parameter")

    @property
    def n_runs(self) -> int:
        """The number of runs: points times replicates."""
        return len(self.points) * self.replicates

    def overrides(self, point: int) -> dict[str, Any]:
        """Return the scenario changes of parameter point ``point``."""
        return dict(zip(self.parameters, self.points[point], strict=True))

    def runs(self) -> Iterator[RunKey]:
        """Every run, replicate-major: replicate 0 of every point first, then replicate 1, ...

        That order makes an interrupted sweep cover every point with a few replicates. The
        keys are generated one at a time, so a plan of many replicates costs no memory.
        """
        for replicate in range(self.replicates):
            for point in range(len(self.points)):
                yield self.key(point, replicate)

    def key(self, point: int, replicate: int) -> RunKey:
        """Return run ``(point, replicate)`` of the plan.

        Raises:
            SweepError: If the plan has no such point or replicate.
        """
        if not (0 <= point < len(self.points) and 0 <= replicate < self.replicates):
            raise SweepError(
                f"{self.source}: no run (point {point}, replicate {replicate}) in a plan of "
                f"{len(self.points)} points x {self.replicates} replicates"
            )
        width = max(6, len(str(len(self.points) - 1)))
        run_id = f"p{point:0{width}d}-r{replicate:05d}"
        return RunKey(point, replicate, run_id, run_seed(self.seed, point, replicate))

    def definition(self) -> dict[str, Any]:
        """Return the JSON document saved as `SWEEP_FILE` (includes `fingerprint`)."""
        return {
            "format": FORMAT_VERSION,
            "fingerprint": self.fingerprint(),
            "source": self.source,
            "scenario_name": self.scenario.name,
            "scenario_digest": self.scenario.digest(),
            "scenario_yaml": self.scenario.to_yaml(),
            "parameters": list(self.parameters),
            "points": [list(point) for point in self.points],
            "replicates": self.replicates,
            "seed": self.seed,
            "n_runs": self.n_runs,
            "metrics": None if self.metrics is None else list(self.metrics),
        }

    def identity(self) -> dict[str, Any]:
        """Return what decides the runs' numbers: scenario, parameters, points, replicates, seed.

        Metrics and file locations are left out: they change what is reported, not what runs.
        """
        return {
            "format": FORMAT_VERSION,
            "scenario_digest": self.scenario.digest(),
            "parameters": list(self.parameters),
            "points": [list(point) for point in self.points],
            "replicates": self.replicates,
            "seed": self.seed,
        }

    def fingerprint(self) -> str:
        """Return the sha256 hex digest of `identity` as canonical JSON."""
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return sha256(text.encode("utf-8")).hexdigest()


def load_sweep(path: str | os.PathLike[str], *, max_runs: int | None = None) -> SweepPlan:
    """Read a sweep file, check it against its scenario, and return its plan.

    The plan's size is counted first, from the file alone: a plan of more runs than the
    limit (``max_runs``, else the file's ``max_runs``, else `MAX_RUNS`) is refused before
    anything is built. Then every grid value (and every full combination of them), every
    sampled point and the ``overrides`` are applied to the scenario and validated by the
    scenario schema, so an unknown dotted path or an out-of-range value is reported here,
    before anything runs.

    Raises:
        SweepError: Naming the file and the field path, if the file is missing or unreadable,
            is not valid YAML, breaks the schema, plans more runs than the limit, its scenario
            is missing or invalid, or a parameter is unknown to the scenario or overlaps
            another; or if ``max_runs`` is not a positive integer.
    """
    source = os.fspath(path)
    if max_runs is not None and (
        isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1
    ):
        raise SweepError(f"max_runs: must be a positive integer, got {show_value(max_runs)}")
    spec = _read_spec(Path(path), source)
    _check_size(spec, source, max_runs)
    scenario_path = Path(path).parent / spec.scenario
    try:
        base = load_scenario(scenario_path)
    except ScenarioError as exc:
        raise SweepError(_scenario_problem(exc, scenario_path, source)) from exc
    except OSError as exc:  # a path the OS refuses to look at (a name too long, say)
        raise SweepError(
            f"{source}: scenario: {_cut(os.fspath(scenario_path))}: cannot read file: "
            f"{exc.strerror or type(exc).__name__}"
        ) from exc
    try:
        base = base.override(spec.overrides)
    except ScenarioError as exc:
        raise SweepError(_relabel(exc, f"{source}: overrides")) from exc
    if spec.grid is not None:
        parameters = tuple(spec.grid)
        _check_paths(parameters, source, "grid")
        checked = []
        for name, values in spec.grid.items():
            column = []
            for value in values:
                try:  # the value is judged before it is shown: it may be an alias bomb
                    column.append(_point_values(base, {name: value})[0])
                except ScenarioError as exc:
                    where = f"{source}: grid.{name}: value {show_value(value)}"
                    raise SweepError(_relabel(exc, where)) from exc
            checked.append(column)
        points: Iterator[tuple[Any, ...]] = itertools.product(*checked)
    else:
        assert spec.samples is not None
        parameters = tuple(spec.samples.ranges)
        _check_paths(parameters, source, "samples.ranges")
        rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(_SAMPLES_BRANCH,)))
        unit = latin_hypercube(spec.samples.n, len(parameters), rng)
        ranges = list(spec.samples.ranges.values())
        points = (
            tuple(r.scale_unit(float(u)) for r, u in zip(ranges, row, strict=True)) for row in unit
        )
    resolved = []
    for index, point in enumerate(points):
        changes = dict(zip(parameters, point, strict=True))
        try:
            resolved.append(_point_values(base, changes))
        except ScenarioError as exc:
            where = f"{source}: point {index} {_show_point(changes)}"
            raise SweepError(_relabel(exc, where)) from exc
    metrics = None if spec.metrics is None else tuple(spec.metrics)
    clash = sorted(set(metrics or ()) & (set(parameters) | set(RESERVED_COLUMNS)))
    if clash:
        raise SweepError(
            f"{source}: metrics: {', '.join(clash)} would clash with a results column "
            f"(reserved: {', '.join(RESERVED_COLUMNS)}, and the parameters); remove it"
        )
    return SweepPlan(base, parameters, tuple(resolved), spec.replicates, spec.seed, metrics, source)


def _check_size(spec: SweepSpec, source: str, max_runs: int | None) -> None:
    """Refuse a plan of more runs than the limit, counting them without building the plan."""
    limit = max_runs or spec.max_runs or MAX_RUNS
    points = spec.planned_points()
    runs = points * spec.replicates
    if runs > limit:
        design = "grid" if spec.grid is not None else "samples"
        raise SweepError(
            f"{source}: the plan has {_count(points, 'point')} ({design}) x "
            f"{_count(spec.replicates, 'replicate')} = {_count(runs, 'run')}, more than the limit "
            f"of {limit:,}; make the sweep smaller, or raise the limit with max_runs: N in the "
            "sweep file (abm sweep --max-runs N)"
        )


def _cut(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _count(n: int, noun: str) -> str:
    # A grid of 100 parameters has a 100-digit size: say how big, not every digit.
    number = f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"
    return f"{number} {noun}{'' if n == 1 else 's'}"


def _scenario_problem(exc: ScenarioError, path: Path, source: str) -> str:
    """The message for a sweep whose scenario does not load; never the scenario file's text.

    A file that is YAML but not a mapping (``/etc/passwd`` reads as one long string) is named
    with the kind of its top level only: its content is not the sweep author's to echo.
    """
    try:
        data = parse_yaml_strict(read_yaml_file(resolve_scenario(path), what="scenario"), "")
    except (ScenarioError, OSError):
        data = {}  # unreadable: the scenario's own message says why, naming no content
    if data is None or isinstance(data, Mapping):
        return _relabel(exc, f"{source}: scenario")
    kinds = {str: "text", list: "a list", bool: "a boolean", int: "a number", float: "a number"}
    kind = kinds.get(type(data), "a scalar")
    return (
        f"{source}: scenario: {_cut(os.fspath(path))}: not a scenario file: its top level "
        f"is {kind}, not a mapping of scenario fields (name, fundamental, agents, ...)"
    )


def _read_spec(path: Path, source: str) -> SweepSpec:
    try:
        text = read_yaml_file(path, what="sweep")
        data = parse_yaml_strict(text, source)
    except ScenarioError as exc:
        raise SweepError(str(exc)) from exc
    if not isinstance(data, Mapping):
        got = "an empty document" if data is None else f"a {type(data).__name__}"
        raise SweepError(
            f"{source}: <top level>: must be a mapping with scenario, grid or samples, ... "
            f"(got {got})"
        )
    try:
        return SweepSpec.model_validate(dict(data))
    except ValidationError as exc:
        problems = explain(exc, SweepSpec, problems=SWEEP_PROBLEMS)
        raise SweepError(explained_message(source, problems)) from exc


def _check_paths(parameters: Sequence[str], source: str, field: str) -> None:
    for name in parameters:
        if name == "seed":
            raise SweepError(
                f"{source}: {field}.seed: the run seed is derived from the sweep's seed; "
                "vary it with replicates instead"
            )
    # Each path's dotted prefixes are looked up, not every pair compared: a file may name
    # 100,000 paths.
    names = set(parameters)
    for other in parameters:
        keys = other.split(".")
        for end in range(1, len(keys)):
            name = ".".join(keys[:end])
            if name in names:
                raise SweepError(
                    f"{source}: {field}.{other}: overlaps {name} (one replaces the other); "
                    "keep one of them"
                )


def _point_values(base: Scenario, changes: Mapping[str, Any]) -> tuple[Any, ...]:
    """Validate ``changes`` on ``base``; return the values as the scenario holds them.

    The validated values are the ones a run uses (YAML's ``1e-2`` is text until a float field
    reads it as 0.01), so they are what the results should show.

    Raises:
        ScenarioError: If the changed scenario is invalid.
    """
    document = base.override(changes).model_dump(mode="json")
    values = []
    for path in changes:
        node: Any = document
        for key in path.split("."):
            node = node[int(key)] if isinstance(node, list) else node[key]
        values.append(node)
    return tuple(values)


def _relabel(exc: ScenarioError, where: str) -> str:
    # The scenario's own lines start with its file (or <scenario> for overrides); keep the
    # scenario file's name, which says where to look, but drop the placeholder.
    lines = str(exc).splitlines()
    return bounded_message([f"{where}: {line.removeprefix('<scenario>: ')}" for line in lines])


def _show_point(changes: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={show_value(v)}" for k, v in changes.items()) + "}"
