"""A run streamed into its run directory: memory that does not grow with the run's length.

`abm.run.run` holds every recorded row until the end and returns the tables in memory; a
million-step baseline would need ~10 GB for that. `run_to` instead runs the model inside the
atomic save of a run directory (`abm.results.run_result.write_run_directory`): every
``flush_steps`` steps the recorder's new rows go to the staging directory's Parquet files as
one row group each (`abm.results.spill.ParquetSpill`), so the run holds at most a block of
rows. At the end the summary is computed from the files (the market table, and the trades one
row group at a time), ``summary.json``, ``scenario.yaml`` and ``meta.json`` are written, and the
directory is renamed into place. The directory holds the same tables and summary (wall time
aside) as ``run(scenario).save(directory)``: ``tests/results/test_spill.py`` checks it with a
flush every few steps.

A run that fails or is interrupted part way (an exception, Ctrl-C) removes its staging
directory and leaves an existing run where it was; one killed outright leaves a hidden
temporary that the next save or load of the directory deletes. Nothing under the final name
is ever a partial run. ``abm run`` runs this way.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from abm.model import MarketModel
from abm.results.amm_summary import amm_summary_keys_of_files
from abm.results.flash_crash import FlashCrashSetup, flash_crash_summary
from abm.results.lending_summary import lending_summary
from abm.results.run_files import format_meta, jsonable, read_table, write_run_texts
from abm.results.run_result import collect_meta, write_run_directory
from abm.results.spill import ParquetSpill
from abm.run import (
    RunArgumentTypeError,
    _int_argument,
    _shown,
    headline,
    resolve_run,
    step_through,
)
from abm.scenario.budget import STREAM_FLUSH_STEPS, check_limits
from abm.scenario.overrides import SOURCE
from abm.scenario.schema import Scenario

DEFAULT_FLUSH_STEPS = STREAM_FLUSH_STEPS
"""Steps between flushes of a streamed run (`abm.scenario.budget.STREAM_FLUSH_STEPS`)."""
TRADE_BLOCK_ROWS = 250_000
"""Rows of the trades table read at a time for the summary's dislocation measure."""


@dataclass(frozen=True, slots=True)
class SavedRun:
    """What `run_to` made: the run directory, its summary and its resolved scenario."""

    path: Path
    summary: dict[str, Any]
    scenario: Scenario


def run_to(
    scenario: Scenario | str | os.PathLike[str],
    directory: str | os.PathLike[str],
    *,
    seed: int | None = None,
    steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    overwrite: bool = True,
    force: bool = False,
    flush_steps: int = DEFAULT_FLUSH_STEPS,
) -> SavedRun:
    """Run ``scenario`` streaming its tables into the run directory ``directory``.

    Args:
        scenario: As `abm.run.run`: a scenario, a scenario file path or a bundled name.
        directory: The run directory to create, as `abm.results.run_result.RunResult.save`.
        seed: Overrides ``scenario.seed``, as `abm.run.run`.
        steps: Overrides ``scenario.steps``, as `abm.run.run`.
        progress: Called as ``progress(done, total)`` every few hundred steps.
        overwrite: Replace an existing run directory, as `RunResult.save`.
        force: Also write into a non-empty directory that is not a run, as `RunResult.save`.
        flush_steps: Steps between flushes of the recorded rows to disk (an integer >= 1).

    Returns:
        The run directory's absolute path, its summary (as ``summary.json`` holds it) and the
        resolved scenario.

    Raises:
        RunArgumentTypeError, RunArgumentError, ScenarioError, ScenarioTooLargeError: As
            `abm.run.run` (``flush_steps`` too), before anything is built or written. The
            memory limit is judged for a streamed run (`abm.scenario.budget.estimate` with
            ``flush_steps``).
        RunDirectoryExistsError, RunDirectoryBusyError, RunResultError: As `RunResult.save`.
        PolicyError, FundamentalError: Parameters only the run can judge; nothing is left.
    """
    scenario = resolve_run(scenario, seed, steps, progress)
    flush = _int_argument(flush_steps, "flush_steps", 1)
    if flush is None:
        raise RunArgumentTypeError("flush_steps: must be an integer >= 1, got None")
    if not isinstance(directory, str | os.PathLike):
        raise RunArgumentTypeError(f"directory: must be a path, got {_shown(directory)}")
    check_limits(scenario, source=SOURCE, flush_steps=flush)
    made: dict[str, Any] = {}

    def fill(staging: Path) -> None:
        made["summary"] = _run_into(staging, scenario, progress, flush)

    with _frozen_heap():  # the build, the loop and the summary, never the caller's objects
        path = write_run_directory(directory, fill, overwrite=overwrite, force=force)
    return SavedRun(path, made["summary"], scenario)


def _run_into(
    staging: Path,
    scenario: Scenario,
    progress: Callable[[int, int], None] | None,
    flush_steps: int,
) -> dict[str, Any]:
    """Run ``scenario`` with its tables streamed into ``staging``; write the rest; summary."""
    start = time.perf_counter()
    model = MarketModel(scenario)
    try:
        with ParquetSpill(staging) as spill:
            model.recorder.stream_to(spill)
            step_through(model, progress, flush_steps)
        wall = time.perf_counter() - start
        market = _columns(staging / "market.parquet", _SUMMARY_MARKET_COLUMNS)
        summary = headline(model, market, _trade_blocks(staging / "trades.parquet"), wall)
    finally:
        model.release()
    del market
    setup = FlashCrashSetup.of_scenario(scenario)
    if setup.program_starts:  # an execution program: its measures read four whole tables
        tables = SimpleNamespace(
            **{name: read_table(name, staging / f"{name}.parquet") for name in _PROGRAM_TABLES},
        )
        summary.update(flash_crash_summary(tables, setup))
    summary.update(amm_summary_keys_of_files(staging, scenario))  # empty without an amm section
    summary.update(
        lending_summary(scenario, lambda: read_table("lending", staging / "lending.parquet"))
    )
    summary = jsonable(summary, "summary")
    meta = collect_meta(seed=model.seed, scenario_digest=scenario.digest(), wall_time_s=wall)
    meta = format_meta(meta)
    write_run_texts(staging, summary, scenario.to_yaml(), meta)
    return summary


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive now left out of garbage collection for a while (`gc.freeze`).

    A run allocates fast (rows, orders, results, then the summary's frames), so the cyclic
    collector runs often, and its collections walk the objects the process already holds:
    the hundred thousand that importing pandas, pyarrow, pydantic and Mesa leave. None of
    those becomes garbage during a run. `gc.freeze` moves them to a generation the collector
    never walks, and `gc.unfreeze` at the end moves them back to the oldest one, so what was
    garbage before the run is collected as usual after it. Skipped when the collector is off
    or something else froze objects already (unfreezing would release those too).
    """
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


_PROGRAM_TABLES = ("market", "trades", "agents", "events")
_SUMMARY_MARKET_COLUMNS = ("step", "fundamental", "best_bid", "best_ask", "mid", "spread")
"""The market columns `abm.run.headline` reads (half the table's bytes)."""


def _columns(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` of a table this run wrote (its dtypes are the recorder's already)."""
    return pq.ParquetFile(path).read(columns=list(columns)).to_pandas()  # no dataset API


def _trade_blocks(path: Path) -> Iterator[pd.DataFrame]:
    """The trades table's ``step``, ``price`` and ``venue``, a block of rows at a time.

    A block gathers whole row groups (one per flush) up to `TRADE_BLOCK_ROWS` rows, or one
    larger group alone: each block costs a frame conversion of a few milliseconds whatever its
    size, and a run of 50,000 steps has 25 small groups.
    """
    columns = ["step", "price", "venue"]
    parquet = pq.ParquetFile(path)
    if parquet.metadata.num_rows == 0:
        yield pd.DataFrame({"step": [], "price": [], "venue": []})
        return
    groups: list[int] = []
    rows = 0
    for group in range(parquet.num_row_groups):
        size = parquet.metadata.row_group(group).num_rows
        if groups and rows + size > TRADE_BLOCK_ROWS:
            yield parquet.read_row_groups(groups, columns=columns).to_pandas()
            groups, rows = [], 0
        groups.append(group)
        rows += size
    yield parquet.read_row_groups(groups, columns=columns).to_pandas()
