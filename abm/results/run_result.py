"""`RunResult`: everything one run produced, and its run directory on disk.

A `RunResult` is saved as a run directory (DESIGN.md section 8)::

    market.parquet trades.parquet agents.parquet events.parquet network.parquet
    depth.parquet pools.parquet options.parquet greeks.parquet lending.parquet
    liquidations.parquet summary.json scenario.yaml meta.json

Tables keep the dtypes of `abm.results.recorder` (the schema). ``meta.json`` carries
``results_format_version``, `RESULTS_FORMAT_VERSION`: `RunResult.load` reads only runs of
this version and refuses others with a `RunResultError` that says to re-run the scenario.

``summary`` and ``meta`` follow the JSON conventions of `abm.results.run_files.jsonable`
(numpy scalars become Python scalars, arrays and tuples lists, non-finite floats ``None``).
`RunResult` applies them on construction, so a saved and reloaded result compares equal to
the original.

Failures are `RunResultError` lines naming the path: `RunResult.save` turns every refusal of
the file system into one (nothing is left behind), and `RunResult.load` validates what it
reads (UTF-8 text, JSON objects of bounded depth, the scenario, table columns and dtypes,
finite floats, steps within the run) so that a damaged directory is refused, not half-read.
How each file is written and checked is `abm.results.run_files`; how a run directory is
replaced, and recovered after a writer was killed, is `abm.results.run_directory`.

This module does I/O and tables only; it never imports the model or the agents.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from abm.results.atomic import writer_lock
from abm.results.recorder import TABLES, Recorder, empty_table
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
    sync_staged,
)
from abm.results.run_files import (
    FORMAT_KEY,
    MAX_JSON_DEPTH,
    MESSAGE_LIMIT,
    RESULTS_FORMAT_VERSION,
    check_table,
    format_meta,
    jsonable,
    parse_scenario,
    read_run_files,
    write_run_files,
)
from abm.scenario.schema import Scenario

__all__ = [
    "FORMAT_KEY",
    "MAX_JSON_DEPTH",
    "MESSAGE_LIMIT",
    "RESULTS_FORMAT_VERSION",
    "RUN_FILES",
    "WALL_TIME_KEYS",
    "RunDirectoryBusyError",
    "RunDirectoryExistsError",
    "RunResult",
    "RunResultError",
    "collect_meta",
    "platform_text",
]

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
        pools: AMM pools, one row per pool at step 0 and after every block, columns
            `POOL_COLUMNS` (empty without an ``amm`` section).
        options: Option series quotes, implied volatility, open interest and volume (empty
            without an ``options`` section), columns `OPTION_COLUMNS`.
        greeks: Option market makers' Greeks and P&L attribution per step (empty without
            them), columns `GREEK_COLUMNS`.
        lending: The lending pool, one row at step 0 and after every block (empty without a
            ``lending`` section), columns `LENDING_COLUMNS`.
        liquidations: One row per settled liquidation of the lending pool, columns
            `LIQUIDATION_COLUMNS`.
        summary: Headline metrics (JSON conventions of `abm.results.run_files` applied on
            construction).
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
    options: pd.DataFrame
    greeks: pd.DataFrame
    summary: dict[str, Any]
    scenario_yaml: str
    meta: dict[str, Any]
    pools: pd.DataFrame = field(default_factory=lambda: empty_table("pools"))
    lending: pd.DataFrame = field(default_factory=lambda: empty_table("lending"))
    liquidations: pd.DataFrame = field(default_factory=lambda: empty_table("liquidations"))

    def __post_init__(self) -> None:
        if not isinstance(self.scenario_yaml, str):
            raise TypeError(
                f"scenario_yaml must be YAML text, got {type(self.scenario_yaml).__name__}"
            )
        self.summary = jsonable(self.summary, "summary")
        self.meta = format_meta(self.meta)

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
        return parse_scenario(self.scenario_yaml, "<RunResult scenario>")

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name, in `TABLES` order."""
        return {table: getattr(self, table) for table in TABLES}

    def save(
        self, directory: str | os.PathLike[str], *, overwrite: bool = True, force: bool = False
    ) -> Path:
        """Write the run directory atomically and return its absolute path.

        The save holds the directory's writer lock (`abm.results.atomic.writer_lock`) throughout,
        and first recovers what a killed writer of it left
        (`abm.results.run_directory.recover`: an interrupted replacement is rolled back,
        stale temporaries deleted). Every file is written and fsync'd (all together,
        `abm.results.run_directory.sync_staged`) in a hidden temporary sibling directory
        (same parent, so the final rename is atomic), then renamed into place. When the
        directory already exists, everything in it that is not one of the run's own files
        (`RUN_FILES`: a report, notes, figures the user put there) is first hard-linked
        (copied where links are not possible) into the new directory, so the replacement
        keeps it. The old directory is then renamed aside, the new one renamed in, and the
        old run's files deleted. On any failure the temporary directory (and any parent
        directory the save created) is removed and an existing directory is left as it was;
        a kill leaves what the next save or load recovers, never a partial directory under
        the final name.

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
        for table, frame in self.tables().items():
            check_table(table, frame)
        _ = self.scenario  # a run directory always holds a valid scenario (load checks it)

        def fill(staging: Path) -> None:
            write_run_files(staging, self.tables(), self.summary, self.scenario_yaml, self.meta)

        return write_run_directory(directory, fill, overwrite=overwrite, force=force)

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
            summary: Headline metrics; converted by the JSON conventions (`run_files.jsonable`).
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
            pools=tables["pools"],
            options=tables["options"],
            greeks=tables["greeks"],
            lending=tables["lending"],
            liquidations=tables["liquidations"],
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
        files = read_run_files(root)
        result = cls._of_tables(files.tables, files.summary, files.scenario_yaml, files.meta)
        result.__dict__["scenario"] = files.scenario  # what the `scenario` cached property stores
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


def write_run_directory(
    directory: str | os.PathLike[str],
    fill: Callable[[Path], None],
    *,
    overwrite: bool = True,
    force: bool = False,
) -> Path:
    """Make the run directory ``directory`` atomically, its files written by ``fill``.

    What `RunResult.save` does (see there: the writer lock, recovery of a killed writer,
    the hidden staging sibling, the user's files carried over, the renames, the clean-up on
    failure), with the files written by ``fill(staging)`` into the empty staging directory:
    every one of `RUN_FILES` (fsync'd together before the rename,
    `abm.results.run_directory.sync_staged`). A streamed run (`abm.streamed.run_to`) runs the
    whole model inside ``fill``, its tables flushed into the staging directory as it goes, so
    the lock is held and nothing appears under ``directory`` until the run is complete; an
    exception from ``fill`` (an interrupt included) removes the staging directory and leaves
    an existing run as it was.

    Raises:
        RunDirectoryExistsError, RunDirectoryBusyError, RunResultError: As `RunResult.save`.
    """
    target = Path(directory).absolute()
    if target.name in ("", ".", ".."):
        raise RunResultError(f"run directory needs a name, got {os.fspath(directory)!r}")
    created: list[Path] = []
    try:
        created = make_parent(target)
        with writer_lock(target):
            recover(target)
            _write_into(target, fill, overwrite=overwrite, force=force)
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
    except BaseException:
        remove_created(created)
        raise
    return target


def _write_into(
    target: Path, fill: Callable[[Path], None], *, overwrite: bool, force: bool
) -> None:
    """The body of `write_run_directory`, run under ``target``'s writer lock."""
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
        fill(staging)
        if exists:
            carry_over(target, staging, carried)
            shutil.copymode(target, staging)
        sync_staged(staging)  # every file and entry on disk before the rename shows them
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
            warnings.warn(f"could not clear the replaced run at {aside}: {error}", stacklevel=4)


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
    ``platform`` (`platform_text`: `platform.platform`'s text), ``results_format_version``
    (`RESULTS_FORMAT_VERSION`), and ``versions``, a mapping from each of abm, mesa, numpy,
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
        "platform": platform_text(),
        "versions": versions,
        FORMAT_KEY: RESULTS_FORMAT_VERSION,
    }


def platform_text() -> str:
    """`platform.platform`'s text, without the ``uname -p`` process it starts on Linux.

    On Linux, `platform.platform` is ``<system>-<release>-<machine>[-<processor>]-with-<libc>``,
    where the processor is what the command ``uname -p`` prints, left out when it is
    ``unknown`` (GNU coreutils, Debian, Alpine) or the machine's own name (Fedora, RHEL,
    Ubuntu). Starting that process took 5-10 ms of every run here; the text here leaves the
    processor out, which is the same text on those systems (``tests/results/test_run_format.py``
    compares the two on the machine that runs the tests). Other systems get
    `platform.platform` itself.
    """
    if platform.system() != "Linux":
        return platform.platform()
    libc, version = platform.libc_ver()
    parts = (platform.system(), platform.release(), platform.machine(), "with", libc + version)
    text = "-".join(part.strip() for part in parts if part)
    for character in ' /\\:;"()':  # the file-name cleaning `platform.platform` applies
        text = text.replace(character, "_" if character == " " else "-")
    text = text.replace("unknown", "")
    while "--" in text:
        text = text.replace("--", "-")
    return text.rstrip("-")
