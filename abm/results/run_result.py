"""`RunResult`: everything one run produced, and its run directory on disk.

A `RunResult` is saved as a run directory (DESIGN.md section 8)::

    market.parquet trades.parquet agents.parquet events.parquet network.parquet
    depth.parquet summary.json scenario.yaml meta.json

Tables keep the dtypes of `abm.results.recorder` (the schema). ``meta.json`` carries
``results_format_version``, `RESULTS_FORMAT_VERSION`: `RunResult.load` reads only runs of
this version and refuses others with a `RunResultError` that says to re-run the scenario.

JSON conventions (``summary.json`` and ``meta.json``): numpy scalars become Python scalars,
numpy arrays and tuples become lists, and non-finite floats (NaN, +inf, -inf) become ``null``
(``None`` in memory), because JSON has no spelling for them. `RunResult` applies this on
construction, so a saved and reloaded result compares equal to the original.

Failures are `RunResultError` lines naming the path: `RunResult.save` turns every refusal of
the file system into one (nothing is left behind), and `RunResult.load` validates what it
reads (UTF-8 text, JSON objects of bounded depth, the scenario, table columns and dtypes,
finite floats, steps within the run) so that a damaged directory is refused, not half-read.
How a run directory is replaced, and recovered after a writer was killed, is
`abm.results.run_directory`.

This module does I/O and tables only; it never imports the model or the agents.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from pyarrow.lib import ArrowException

from abm.results.atomic import writer_lock
from abm.results.recorder import (
    COLUMNS,
    TABLES,
    Recorder,
    label_categorical,
    nullable_column,
    table_schema,
)
from abm.results.run_directory import (
    RUN_FILES,
    RunDirectoryBusyError,
    RunDirectoryExistsError,
    RunResultError,
    aside_path,
    carry_over,
    check_replaceable,
    describe_os_error,
    fsync_directory,
    make_parent,
    pause_for_fault_test,
    recover,
    recover_if_interrupted,
    remove_created,
    retire,
    staging_path,
)
from abm.scenario.schema import Scenario, ScenarioError

__all__ = [
    "FORMAT_KEY",
    "MAX_JSON_DEPTH",
    "RESULTS_FORMAT_VERSION",
    "RUN_FILES",
    "WALL_TIME_KEYS",
    "RunDirectoryBusyError",
    "RunDirectoryExistsError",
    "RunResult",
    "RunResultError",
    "collect_meta",
]

RESULTS_FORMAT_VERSION = 2
"""The version of the run-directory format this abm writes and reads. Version 2 replaced the
``events.detail`` text by typed columns (`abm.results.events.EventFields`); runs saved
before it carry no version (format 1). Raise it whenever a table's columns or meaning change."""
FORMAT_KEY = "results_format_version"
"""The ``meta.json`` key holding the run's results-format version."""
MAX_JSON_DEPTH = 64
"""The deepest nesting `RunResult.load` reads in ``summary.json`` and ``meta.json`` (a run
writes a few levels); deeper is a damaged file, refused before anything recurses over it."""
MESSAGE_LIMIT = 400
"""The longest quotation of another error (a scenario's problems) in a `RunResultError`."""
WALL_TIME_KEYS = ("wall_time_s", "steps_per_s")
"""Top-level `summary` and `meta` keys that differ between identical runs (timings), which
`RunResult.equals` skips when ``ignore_wall_time``."""

_META_PACKAGES = ("abm", "mesa", "numpy", "pandas", "networkx", "pydantic", "pyarrow")
_DISTRIBUTIONS = {"abm": "abm-microstructure"}
"""Distribution names that differ from the import name (abm's PyPI name is taken)."""


@dataclass(eq=False)
class RunResult:
    """Everything one run produced. Compare two results with `equals`, not ``==``.

    Attributes:
        market: One row per step, columns `MARKET_COLUMNS`.
        trades: One row per fill, columns `TRADE_COLUMNS`.
        agents: Agent states, columns `AGENT_COLUMNS`.
        events: Risk and contagion events, columns `EVENT_COLUMNS`.
        network: Contagion graph edges, columns `NETWORK_COLUMNS`.
        depth: Order-book snapshots (top levels of each side at a stride; empty unless the
            scenario asks for them), columns `DEPTH_COLUMNS`; level 1 is the touch.
        summary: Headline metrics (JSON conventions of this module applied on construction).
        scenario_yaml: The resolved scenario, as YAML text.
        meta: Versions, seed, scenario digest, wall time (JSON conventions applied), and
            ``results_format_version``: `RESULTS_FORMAT_VERSION`, set on construction (a
            result in memory has the tables of this version of abm).
    """

    market: pd.DataFrame
    trades: pd.DataFrame
    agents: pd.DataFrame
    events: pd.DataFrame
    network: pd.DataFrame
    depth: pd.DataFrame
    summary: dict[str, Any]
    scenario_yaml: str
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.scenario_yaml, str):
            raise TypeError(
                f"scenario_yaml must be YAML text, got {type(self.scenario_yaml).__name__}"
            )
        self.summary = _jsonable(self.summary, "summary")
        self.meta = {**_jsonable(self.meta, "meta"), FORMAT_KEY: RESULTS_FORMAT_VERSION}

    @cached_property
    def scenario(self) -> Scenario:
        """The validated scenario of the run, parsed from `scenario_yaml` once (then cached).

        Analysis reads scenario fields here (``result.scenario.dt``, ``.tick_size``,
        ``.mark``, ``.agents``) rather than parsing the text, so every default is the
        schema's. The parsed scenario is cached on the instance: treat ``scenario_yaml`` as
        fixed once this has been read, and copy a result with `dataclasses.replace` (which
        parses the new text afresh), not ``RunResult(**vars(result))``.

        Raises:
            RunResultError: If the result carries no scenario text (a result built by hand
                with ``scenario_yaml=""``) or the text is not a valid scenario (a run saved
                by a version of abm whose schema differed).
        """
        if not self.scenario_yaml.strip():
            raise RunResultError(
                "this RunResult has no scenario text (scenario_yaml is empty); build it with "
                "RunResult.from_recorder(recorder, scenario_yaml=scenario.to_yaml(), ...) "
                "to read its scenario"
            )
        return _parse_scenario(self.scenario_yaml, "<RunResult scenario>")

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name, in `TABLES` order."""
        return {table: getattr(self, table) for table in TABLES}

    def save(
        self, directory: str | os.PathLike[str], *, overwrite: bool = True, force: bool = False
    ) -> Path:
        """Write the run directory atomically and return its absolute path.

        The save holds the directory's writer lock (`abm.results.atomic.writer_lock`)
        throughout, and first recovers what a killed writer of it left
        (`abm.results.run_directory.recover`: an interrupted replacement is rolled back,
        stale temporaries deleted). Every file is written and fsync'd in a hidden temporary
        sibling directory (same parent, so the final rename is atomic), then renamed into
        place. When the directory already exists, everything in it that is not one of the
        run's own files (`RUN_FILES`: a report, notes, figures the user put there) is first
        hard-linked (copied where links are not possible) into the new directory, so the
        replacement keeps it. The old directory is then renamed aside, the new one renamed
        in, and the old run's files deleted. On any failure the temporary directory (and any
        parent directory the save created) is removed and an existing directory is left as
        it was; a kill leaves what the next save or load recovers, never a partial directory
        under the final name.

        Args:
            directory: The run directory to create; its parent is created if needed.
            overwrite: Replace an existing run directory (one holding ``meta.json``) or
                write into an empty one.
            force: Also write into an existing non-empty directory that is not a run. Its
                files are kept, except those named like the run's own (`RUN_FILES`), which
                are replaced.

        Raises:
            RunDirectoryExistsError: (a `RunResultError` and a FileExistsError) If the
                directory exists and ``overwrite`` is False, it is not a directory, or it is a
                non-empty directory that is not a run and ``force`` is False. Nothing is
                changed.
            RunDirectoryBusyError: If another process is saving into the same directory.
            RunResultError: If a table does not have its contract columns and dtypes, the
                scenario text is not a valid scenario (`scenario`), ``directory`` has no final
                name component (for example ``"."``), or the file
                system refuses (a parent that is a file, a read-only or full disk, a name too
                long): one line naming the path and the OS reason. Nothing is changed.
        """
        target = Path(directory).absolute()
        if target.name in ("", ".", ".."):
            raise RunResultError(f"run directory needs a name, got {os.fspath(directory)!r}")
        for table, frame in self.tables().items():
            _check_table(table, frame)
        _ = self.scenario  # a run directory always holds a valid scenario (load checks it)
        created: list[Path] = []
        try:
            created = make_parent(target)
            with writer_lock(target):
                recover(target)
                self._write_into(target, overwrite=overwrite, force=force)
        except BlockingIOError as error:
            remove_created(created)
            raise RunDirectoryBusyError(
                f"cannot save the run to {target}: another process is saving a run there "
                "right now; wait for it to finish or choose another directory"
            ) from error
        except RunResultError:
            remove_created(created)
            raise
        except OSError as error:
            remove_created(created)
            raise RunResultError(
                f"cannot save the run to {target}: {describe_os_error(error, target)}"
            ) from error
        return target

    def _write_into(self, target: Path, *, overwrite: bool, force: bool) -> None:
        """The body of `save`, run under ``target``'s writer lock."""
        exists = target.exists() or target.is_symlink()
        if exists:
            check_replaceable(target, overwrite, force)
        # mkdir (not mkdtemp, which makes it 0700) gives the run the user's umask; a replaced
        # directory keeps its own permissions.
        staging = staging_path(target)
        staging.mkdir()
        aside = aside_path(staging)
        carried: dict[str, tuple[int, ...]] = {}
        try:
            for table, frame in self.tables().items():
                _write_parquet(frame, staging / f"{table}.parquet")
            _write_text(_dump_json(self.summary), staging / "summary.json")
            _write_text(self.scenario_yaml, staging / "scenario.yaml")
            _write_text(_dump_json(self.meta), staging / "meta.json")
            if exists:
                carry_over(target, staging, carried)
                shutil.copymode(target, staging)
            fsync_directory(staging)
            pause_for_fault_test("staged")
            if exists:
                os.rename(target, aside)
                pause_for_fault_test("between_renames")
            try:
                os.rename(staging, target)
            except BaseException as error:
                if exists:
                    _restore(aside, target, error)
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_directory(target.parent)
        if exists:
            pause_for_fault_test("swapped")
            try:
                retire(aside, target, carried)
            except OSError as error:
                # The new run is already complete in place; a leftover hidden directory is
                # harmless (the next save or load settles it), so failing the save here would
                # misreport what happened.
                warnings.warn(f"could not clear the replaced run at {aside}: {error}", stacklevel=3)

    @classmethod
    def from_recorder(
        cls,
        recorder: Recorder,
        *,
        scenario_yaml: str,
        summary: Mapping[str, Any],
        meta: Mapping[str, Any],
    ) -> RunResult:
        """Build a run's result from what ``recorder`` holds: one DataFrame per table.

        The recorder keeps its rows, so building again gives an equal result.

        Args:
            recorder: The run's recorder.
            scenario_yaml: The resolved scenario as YAML text.
            summary: Headline metrics; converted by the module's JSON conventions.
            meta: Run metadata, normally from `collect_meta`; same conventions.

        Raises:
            TypeError: If a recorded value cannot take its column's dtype, or ``summary``/``meta``
                hold a value JSON cannot represent.
        """
        tables = {table: recorder.table(table) for table in TABLES}
        return cls._of_tables(tables, dict(summary), scenario_yaml, dict(meta))

    @classmethod
    def _of_tables(
        cls,
        tables: Mapping[str, pd.DataFrame],
        summary: dict[str, Any],
        scenario_yaml: str,
        meta: dict[str, Any],
    ) -> RunResult:
        return cls(
            market=tables["market"],
            trades=tables["trades"],
            agents=tables["agents"],
            events=tables["events"],
            network=tables["network"],
            depth=tables["depth"],
            summary=summary,
            scenario_yaml=scenario_yaml,
            meta=meta,
        )

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> RunResult:
        """Read a run directory written by `save`, and validate it.

        First recovers what a killed writer of the directory left
        (`abm.results.run_directory.recover_if_interrupted`: an interrupted replacement is
        rolled back, stale temporaries are deleted), unless a writer is at work. Only runs in
        this abm's `RESULTS_FORMAT_VERSION` are read: a run of another format version (or
        one saved before ``meta.json`` carried a version) is refused, with a message saying
        to re-run its scenario, rather than read with columns that mean something else.
        The scenario is parsed and validated here (`scenario` is then cached), and every
        float column must hold finite numbers or NaN.

        Raises:
            RunResultError: If the directory does not exist, misses any of `RUN_FILES` (the
                message names them), was saved in another results format, or a file cannot
                be read, is not UTF-8, is not the JSON object or the scenario it should be
                (nested deeper than `MAX_JSON_DEPTH`, a YAML error, a schema error), or a
                table has the wrong columns, an infinite value or a step outside the scenario's
                ``0..steps``. The message is one line
                naming the file.
        """
        root = Path(directory)
        try:
            absolute = Path(os.path.abspath(root))
            if absolute.name:
                recover_if_interrupted(absolute)
            return cls._load(root)
        except OSError as error:
            raise RunResultError(
                f"cannot read run directory {root}: {describe_os_error(error, root, saving=False)}"
            ) from error

    @classmethod
    def _load(cls, root: Path) -> RunResult:
        if not root.is_dir():
            raise RunResultError(f"{root} is not a directory; pass a run directory from save()")
        missing = [name for name in RUN_FILES if not (root / name).is_file()]
        if missing:
            raise RunResultError(
                f"run directory {root} is missing {', '.join(missing)}; "
                "it was not written by RunResult.save or has been altered"
            )
        meta = _read_json_object(root / "meta.json")
        _check_format(root, meta)
        tables = {table: _read_table(table, root / f"{table}.parquet") for table in TABLES}
        summary = _read_json_object(root / "summary.json")
        scenario_path = root / "scenario.yaml"
        scenario_yaml = _read_text(scenario_path)
        scenario = _parse_scenario(scenario_yaml, str(scenario_path))
        for table, frame in tables.items():
            _check_steps(root / f"{table}.parquet", frame, scenario.steps)
        result = cls._of_tables(tables, summary, scenario_yaml, meta)
        result.__dict__["scenario"] = scenario  # what the `scenario` cached property stores
        return result

    def equals(self, other: RunResult, *, ignore_wall_time: bool = True) -> bool:
        """Return whether two results hold the same run.

        Tables must have identical columns and dtypes and be equal by `pandas.DataFrame.equals`
        (NaNs in the same places count as equal); scenario text must be identical; summary and
        meta must be identical except the `WALL_TIME_KEYS` when ``ignore_wall_time``.
        """
        for table, frame in self.tables().items():
            theirs = getattr(other, table)
            if not (frame.columns.equals(theirs.columns) and frame.dtypes.equals(theirs.dtypes)):
                return False
            if not frame.equals(theirs):
                return False
        if self.scenario_yaml != other.scenario_yaml:
            return False
        skip = set(WALL_TIME_KEYS) if ignore_wall_time else set()

        def kept(mapping: Mapping[str, Any]) -> dict[str, Any]:
            return {key: value for key, value in mapping.items() if key not in skip}

        return kept(self.summary) == kept(other.summary) and kept(self.meta) == kept(other.meta)


def _restore(aside: Path, target: Path, cause: BaseException) -> None:
    """Rename the replaced run back after the new one could not take its place.

    Raises:
        RunResultError: If that fails too (something else took the name meanwhile); the
            message says where the old run is kept.
    """
    try:
        os.rename(aside, target)
    except OSError as error:
        raise RunResultError(
            f"cannot save the run to {target}: {cause}; and the previous run could not be put "
            f"back ({describe_os_error(error, target)}): it is kept in {aside}"
        ) from error


def collect_meta(*, seed: int, scenario_digest: str, wall_time_s: float) -> dict[str, Any]:
    """Return run metadata: seed, scenario digest, wall time, interpreter and package versions.

    Keys: ``seed``, ``scenario_digest``, ``wall_time_s`` (seconds), ``python`` (version),
    ``platform`` (`platform.platform`), ``results_format_version`` (`RESULTS_FORMAT_VERSION`),
    and ``versions``, a mapping from each of abm, mesa, numpy,
    pandas, networkx, pydantic and pyarrow to its installed version (``"unknown"`` if absent).
    """
    versions: dict[str, str] = {}
    for package in _META_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(_DISTRIBUTIONS.get(package, package))
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return {
        "seed": int(seed),
        "scenario_digest": str(scenario_digest),
        "wall_time_s": float(wall_time_s),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        FORMAT_KEY: RESULTS_FORMAT_VERSION,
    }


def _check_format(root: Path, meta: Mapping[str, Any]) -> None:
    """Refuse a run directory whose ``meta.json`` is not of `RESULTS_FORMAT_VERSION`."""
    found = meta.get(FORMAT_KEY)
    if found == RESULTS_FORMAT_VERSION and type(found) is int:
        return
    saved = (
        "before results formats were versioned (format 1)"
        if found is None
        else f"in results format {_one_line(repr(found), 40)}"
    )
    raise RunResultError(
        f"run directory {root} was saved {saved}; this abm reads results format "
        f"{RESULTS_FORMAT_VERSION} only. Re-run its scenario to get a run in the current "
        f"format, for example: abm run {root / 'scenario.yaml'} --out {root}"
    )


def _parse_scenario(text: str, source: str) -> Scenario:
    """Parse a run's scenario text; every way it can fail becomes a one-line `RunResultError`."""
    try:
        return Scenario.from_yaml_text(text, source=source)
    except ScenarioError as error:
        raise RunResultError(
            f"the run's scenario does not validate: {_one_line(str(error))}"
        ) from error
    except RecursionError as error:
        raise RunResultError(
            f"the run's scenario does not validate: {source}: nested too deeply"
        ) from error


def _check_steps(path: Path, frame: pd.DataFrame, steps: int) -> None:
    """Refuse a table whose ``step`` column leaves the run's steps 0..``steps``."""
    if "step" not in frame.columns or frame.empty:
        return
    values = frame["step"].to_numpy(dtype=np.int64)
    outside = np.flatnonzero((values < 0) | (values > steps))
    if outside.size:
        row = int(outside[0])
        raise RunResultError(
            f"{path} row {row} has step {int(values[row])}, outside the run's steps 0..{steps} "
            "(scenario.yaml)"
        )


def _one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` on one line (its lines joined by "; "), cut to ``limit`` characters."""
    joined = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return joined if len(joined) <= limit else f"{joined[: limit - 3]}..."


def _check_table(table: str, frame: pd.DataFrame) -> None:
    expected = list(COLUMNS[table])
    if list(frame.columns) != expected:
        raise RunResultError(
            f"table {table} has columns {list(frame.columns)}; expected {expected}"
        )
    for name, dtype in table_schema(table):
        if frame[name].dtype != dtype:
            raise RunResultError(
                f"column {table}.{name} has dtype {frame[name].dtype}; expected {dtype} "
                "(build tables with RunResult.from_recorder)"
            )


def _read_table(table: str, path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, TypeError, KeyError, NotImplementedError, ArrowException) as error:
        raise RunResultError(f"cannot read {path}: {_one_line(str(error))}") from error
    expected = list(COLUMNS[table])
    if list(frame.columns) != expected:
        raise RunResultError(f"{path} has columns {list(frame.columns)}; expected {expected}")
    try:
        # Files written by other pandas versions may spell a dtype differently; the schema wins.
        schema = dict(table_schema(table))
        frame = frame.astype({name: d for name, d in schema.items() if d != "category"})
        for name in (name for name, d in schema.items() if d == "category"):
            nullable = nullable_column(table, name)
            if not nullable and frame[name].isna().any():
                raise ValueError(f"column {name} has missing labels")
            frame[name] = label_categorical(frame[name], nullable=nullable)
    except (TypeError, ValueError) as error:
        raise RunResultError(
            f"{path} does not fit the {table} dtypes: {_one_line(str(error))}"
        ) from error
    for name in frame.columns:
        values = frame[name]
        if values.dtype.kind == "f" and np.isinf(values.to_numpy()).any():
            row = int(np.flatnonzero(np.isinf(values.to_numpy()))[0])
            raise RunResultError(
                f"{path} column {name} holds an infinite value (row {row}); a run records "
                "finite numbers, or NaN for a missing one"
            )
    return frame


def _jsonable(value: Any, path: str) -> Any:
    """Convert ``value`` to plain JSON types by the module's conventions; ``path`` names it."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA:
        return None
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path} keys must be str for JSON, got {key!r}")
            result[key] = _jsonable(item, f"{path}.{key}")
        return result
    if isinstance(value, list | tuple | np.ndarray):
        items = value.tolist() if isinstance(value, np.ndarray) else value
        return [_jsonable(item, f"{path}[{index}]") for index, item in enumerate(items)]
    raise TypeError(f"{path} holds a {type(value).__name__}, which JSON cannot represent")


def _dump_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, indent=2, allow_nan=False) + "\n"


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(_read_text(path))
    except RunResultError:
        raise
    except RecursionError as error:
        raise RunResultError(f"{path} nests deeper than {MAX_JSON_DEPTH} levels") from error
    except ValueError as error:
        raise RunResultError(f"{path} is not valid JSON: {_one_line(str(error))}") from error
    if not isinstance(value, dict):
        raise RunResultError(f"{path} must hold a JSON object, got {type(value).__name__}")
    if _depth(value) > MAX_JSON_DEPTH:
        raise RunResultError(f"{path} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0), without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        pending.extend((child, level + 1) for child in children)
    return deepest


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with open(path, "xb") as handle:
        frame.to_parquet(handle, engine="pyarrow")
        _sync(handle)


def _write_text(text: str, path: Path) -> None:
    with open(path, "x", encoding="utf-8", newline="") as handle:
        handle.write(text)
        _sync(handle)


def _read_text(path: Path) -> str:
    # newline="" keeps the text byte-identical to what _write_text wrote (no \r\n translation).
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise RunResultError(
            f"{path} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from error


def _sync(handle: IO[Any]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
