"""The files of a run directory: writing them durably, and reading them back with checks.

`abm.results.run_result.RunResult` is a run in memory and decides when its directory is
replaced (`abm.results.run_directory`); this module holds the on-disk format: which files a
run directory holds (`write_run_files`, `read_run_files`), its version (`RESULTS_FORMAT_VERSION`
under ``meta.json``'s `FORMAT_KEY`, `check_format`) and how each kind of file is written and
read: Parquet tables (`write_parquet`, `check_table`, `read_table`, `check_steps`), JSON
objects (`jsonable`, `dump_json`, `read_json_object`, `json_depth`) and text (`write_text`,
`read_text`, `parse_scenario` for ``scenario.yaml``). It is one idea apart from `RunResult`:
nothing read from disk is trusted.

JSON conventions (``summary.json`` and ``meta.json``, applied by `jsonable`): numpy scalars
become Python scalars, numpy arrays and tuples become lists, and non-finite floats (NaN,
+inf, -inf) become ``null`` (``None`` in memory), because JSON has no spelling for them.

Writers create their file exclusively (an existing file is an error, never overwritten) in a
run's staging directory; they do not flush it to disk themselves: the run directory's writer
(`abm.results.run_result.write_run_directory`) fsyncs every file of the run together before the
rename that makes them visible (`abm.results.run_directory.sync_staged`). Readers turn every
way a file can be damaged (not UTF-8, not JSON, nested deeper than `MAX_JSON_DEPTH`, wrong
columns or dtypes, infinite floats, steps outside the run, a scenario that does not validate,
another format version) into a one-line `RunResultError` naming the path; refusals of the file
system stay `OSError` for the caller to name. Like `RunResult`, this module never imports the
model or the agents.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from pyarrow.lib import ArrowException

from abm.results.recorder import (
    COLUMNS,
    TABLES,
    label_categorical,
    nullable_column,
    table_schema,
)
from abm.results.run_directory import RUN_FILES, RunResultError
from abm.scenario.schema import Scenario, ScenarioError

__all__ = [
    "FORMAT_KEY",
    "MAX_JSON_DEPTH",
    "MESSAGE_LIMIT",
    "RESULTS_FORMAT_VERSION",
    "RunFiles",
    "check_format",
    "check_steps",
    "check_table",
    "dump_json",
    "json_depth",
    "jsonable",
    "one_line",
    "parse_scenario",
    "read_json_object",
    "read_run_files",
    "read_table",
    "read_text",
    "write_parquet",
    "write_run_files",
    "write_text",
]

RESULTS_FORMAT_VERSION = 4
"""The version of the run-directory format this abm writes and reads. Version 2 replaced the
``events.detail`` text by typed columns (`abm.results.events.EventFields`); runs saved
before it carry no version (format 1). Version 3 added the ``pools`` table (AMM pools, one
row per block) and the ``options`` and ``greeks`` tables (the options venue,
`abm.market.options`). Version 4 added the ``lending`` and ``liquidations`` tables (the
lending pool, `abm.market.lending.venue`). Raise it whenever a table's columns or meaning change."""
FORMAT_KEY = "results_format_version"
"""The ``meta.json`` key holding the run's results-format version."""
MAX_JSON_DEPTH = 64
"""The deepest nesting `read_json_object` reads in ``summary.json`` and ``meta.json`` (a run
writes a few levels); deeper is a damaged file, refused before anything recurses over it."""
MESSAGE_LIMIT = 400
"""The longest quotation of another error (a scenario's problems) in a `RunResultError`."""


class RunFiles(NamedTuple):
    """What `read_run_files` read from a run directory, each part checked."""

    tables: dict[str, pd.DataFrame]
    """The tables by name, in `TABLES` order, in the recorder's dtypes."""
    summary: dict[str, Any]
    """``summary.json``."""
    scenario_yaml: str
    """``scenario.yaml``, exactly as saved."""
    meta: dict[str, Any]
    """``meta.json``, of `RESULTS_FORMAT_VERSION`."""
    scenario: Scenario
    """The scenario parsed from ``scenario_yaml``."""


def format_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` by the JSON conventions, stamped with this abm's `RESULTS_FORMAT_VERSION`."""
    return {**jsonable(meta, "meta"), FORMAT_KEY: RESULTS_FORMAT_VERSION}


def write_run_files(
    directory: Path,
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any],
    scenario_yaml: str,
    meta: Mapping[str, Any],
) -> None:
    """Write every one of `RUN_FILES` into the existing, empty ``directory`` (not yet fsync'd).

    ``summary`` and ``meta`` must already be `jsonable`; ``tables`` must hold every name of
    `TABLES` (checked by `check_table` beforehand).
    """
    for table in TABLES:
        write_parquet(tables[table], directory / f"{table}.parquet")
    write_run_texts(directory, summary, scenario_yaml, meta)


def write_run_texts(
    directory: Path, summary: Mapping[str, Any], scenario_yaml: str, meta: Mapping[str, Any]
) -> None:
    """Write ``summary.json``, ``scenario.yaml`` and ``meta.json`` (the tables' companions).

    A streamed run (`abm.results.spill`) writes its tables as it goes and these at the end.
    """
    write_text(dump_json(summary), directory / "summary.json")
    write_text(scenario_yaml, directory / "scenario.yaml")
    write_text(dump_json(meta), directory / "meta.json")


def read_run_files(root: Path) -> RunFiles:
    """Read and check every one of `RUN_FILES` in the run directory ``root``.

    ``meta.json`` is read first and its format checked (`check_format`) before any table is
    read, then the tables, ``summary.json`` and the scenario; last, every table's steps are
    checked against the scenario's (`check_steps`).

    Raises:
        RunResultError: If ``root`` is not a directory, misses any of `RUN_FILES` (all are
            named), or any file is refused by its reader; one line naming the file.
        OSError: If the file system refuses a read (the caller names the directory).
    """
    if not root.is_dir():
        raise RunResultError(f"{root} is not a directory; pass a run directory from save()")
    missing = [name for name in RUN_FILES if not (root / name).is_file()]
    if missing:
        raise RunResultError(
            f"run directory {root} is missing {', '.join(missing)}; "
            "it was not written by RunResult.save or has been altered"
        )
    meta = read_json_object(root / "meta.json")
    check_format(root, meta)
    tables = {table: read_table(table, root / f"{table}.parquet") for table in TABLES}
    summary = read_json_object(root / "summary.json")
    scenario_path = root / "scenario.yaml"
    scenario_yaml = read_text(scenario_path)
    scenario = parse_scenario(scenario_yaml, str(scenario_path))
    for table, frame in tables.items():
        check_steps(root / f"{table}.parquet", frame, scenario.steps)
    return RunFiles(tables, summary, scenario_yaml, meta, scenario)


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` on one line (its lines joined by "; "), cut to ``limit`` characters."""
    joined = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return joined if len(joined) <= limit else f"{joined[: limit - 3]}..."


def check_format(root: Path, meta: Mapping[str, Any]) -> None:
    """Refuse a run directory whose ``meta.json`` is not of `RESULTS_FORMAT_VERSION`."""
    found = meta.get(FORMAT_KEY)
    if found == RESULTS_FORMAT_VERSION and type(found) is int:
        return
    saved = (
        "before results formats were versioned (format 1)"
        if found is None
        else f"in results format {one_line(repr(found), 40)}"
    )
    raise RunResultError(
        f"run directory {root} was saved {saved}; this abm reads results format "
        f"{RESULTS_FORMAT_VERSION} only. Re-run its scenario to get a run in the current "
        f"format, for example: abm run {root / 'scenario.yaml'} --out {root}"
    )


def parse_scenario(text: str, source: str) -> Scenario:
    """Parse a run's scenario text; every way it can fail becomes a one-line `RunResultError`.

    ``source`` names the text in the message (the ``scenario.yaml`` path, or a placeholder
    for a result in memory).
    """
    try:
        return Scenario.from_yaml_text(text, source=source)
    except ScenarioError as error:
        raise RunResultError(
            f"the run's scenario does not validate: {one_line(str(error))}"
        ) from error
    except RecursionError as error:
        raise RunResultError(
            f"the run's scenario does not validate: {source}: nested too deeply"
        ) from error


def check_table(table: str, frame: pd.DataFrame) -> None:
    """Refuse a ``table`` in memory whose columns or dtypes are not the recorder's schema."""
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


def check_steps(path: Path, frame: pd.DataFrame, steps: int) -> None:
    """Refuse a table read from ``path`` whose ``step`` column leaves the run's 0..``steps``."""
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


def read_table(table: str, path: Path) -> pd.DataFrame:
    """Read ``table`` from the Parquet file ``path``, in the recorder's dtypes.

    Raises:
        RunResultError: If the file cannot be read as Parquet, its columns are not the
            table's, a column does not fit its dtype (a missing label where none may be), or
            a float column holds an infinite value.
    """
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, TypeError, KeyError, NotImplementedError, ArrowException) as error:
        raise RunResultError(f"cannot read {path}: {one_line(str(error))}") from error
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
            f"{path} does not fit the {table} dtypes: {one_line(str(error))}"
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


def jsonable(value: Any, path: str) -> Any:
    """Convert ``value`` to plain JSON types by the module's conventions; ``path`` names it.

    Raises:
        TypeError: If a mapping key is not a str, or a value is of a type JSON cannot
            represent; the message names where it is (``summary.bad``, ``meta.x[2]``).
    """
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
            result[key] = jsonable(item, f"{path}.{key}")
        return result
    if isinstance(value, list | tuple | np.ndarray):
        items = value.tolist() if isinstance(value, np.ndarray) else value
        return [jsonable(item, f"{path}[{index}]") for index, item in enumerate(items)]
    raise TypeError(f"{path} holds a {type(value).__name__}, which JSON cannot represent")


def dump_json(value: Mapping[str, Any]) -> str:
    """``value`` (already `jsonable`) as indented JSON text ending in a newline."""
    return json.dumps(value, indent=2, allow_nan=False) + "\n"


def read_json_object(path: Path) -> dict[str, Any]:
    """Read the JSON object in ``path``; refuse other JSON and nesting over `MAX_JSON_DEPTH`."""
    try:
        value = json.loads(read_text(path))
    except RunResultError:
        raise
    except RecursionError as error:
        raise RunResultError(f"{path} nests deeper than {MAX_JSON_DEPTH} levels") from error
    except ValueError as error:
        raise RunResultError(f"{path} is not valid JSON: {one_line(str(error))}") from error
    if not isinstance(value, dict):
        raise RunResultError(f"{path} must hold a JSON object, got {type(value).__name__}")
    if json_depth(value) > MAX_JSON_DEPTH:
        raise RunResultError(f"{path} nests deeper than {MAX_JSON_DEPTH} levels")
    return value


def json_depth(value: Any) -> int:
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


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to the new file ``path`` as Parquet (the caller fsyncs it)."""
    with open(path, "xb") as handle:
        frame.to_parquet(handle, engine="pyarrow")


def write_text(text: str, path: Path) -> None:
    """Write ``text`` to the new file ``path`` as UTF-8, byte for byte (the caller fsyncs it)."""
    with open(path, "x", encoding="utf-8", newline="") as handle:
        handle.write(text)


def read_text(path: Path) -> str:
    """Read the UTF-8 text of ``path`` exactly as `write_text` wrote it."""
    # newline="" keeps the text byte-identical to what write_text wrote (no \r\n translation).
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise RunResultError(
            f"{path} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from error
