"""Parameter sweeps over a ``concurrent.futures.Executor``: local processes or a Dask cluster.

`run_sweep` executes the runs of a `abm.experiments.sweep_spec.SweepPlan` that its sweep directory
does
not hold yet, and writes each finished run to disk at once (the directory's layout, its run
records and results table are `abm.experiments.sweep_store`'s, whose names this module re-exports).

Resuming is running the same plan into the same directory: runs that have a record are skipped
(failed ones too, unless ``retry_failed``), so an interruption (Ctrl-C, a killed worker, a
killed parent) loses at most the runs in flight and never duplicates one. A directory written
by another plan is refused, and a lock keeps two sweeps from writing one directory at once.
Workers return only summaries, so the parent's memory does not grow with the runs' tables.

A run that raises is recorded ``failed`` with its error and the sweep goes on. A failure of the
infrastructure (a killed worker process, a lost Dask worker) is not the run's: the runs it took
down are submitted again, for at most `MAX_ROUNDS` rounds, then reported missing. Run seeds come
from `abm.experiments.sweep_spec.run_seed`, so results do not depend on the executor or the worker
count.

Where runs execute (the local pool, Dask) is `abm.experiments.sweep_pool`'s.

Mesa 3.3 keeps every model alive through the class-level ``mesa.agent.Agent._ids``;
`abm.run` releases the model it created, so long-lived workers (local or Dask) do not grow.
Dask workers run one thread each (threads would not speed up pure-Python runs anyway).

Local workers do not re-run the caller's ``__main__`` script (`_ScriptFreeProcess`), so
`run_sweep` works from a plain script with or without an ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from abm.experiments.sweep_pool import abort as _abort
from abm.experiments.sweep_pool import available_cpus as _available_cpus
from abm.experiments.sweep_pool import dask_executor
from abm.experiments.sweep_pool import local_pool as _local_pool
from abm.experiments.sweep_records import RunRecord, RunStatus, flatten
from abm.experiments.sweep_spec import (
    RESULTS_FILE,
    TABLES_DIR,
    SweepError,
    SweepPlan,
    bounded_message,
)
from abm.experiments.sweep_store import (
    DATASET_TABLES,
    LOCK_FILE,
    _SweepDirectory,
    link_run_tables,
    read_results,
    results_table,
)
from abm.run import run
from abm.scenario.schema import Scenario

__all__ = [
    "DATASET_TABLES",
    "LOCK_FILE",
    "MAX_ROUNDS",
    "RunRecord",
    "RunStatus",
    "RunTask",
    "SweepOutcome",
    "dask_executor",
    "execute_run",
    "flatten",
    "link_run_tables",
    "read_results",
    "results_table",
    "run_sweep",
]

MAX_ROUNDS = 3
"""Rounds of submission for runs lost to infrastructure failures before they count missing."""
PROBE_STEPS = 2
"""Steps of the in-process run that checks a sweep's metrics before the sweep starts."""
_DASK_IN_FLIGHT = 256


@dataclass(frozen=True, slots=True)
class RunTask:
    """Everything a worker needs for one run: picklable, a few kB (the scenario is YAML text).

    ``overrides`` are the point's ``(dotted path, value)`` changes; ``table_dir`` is where to
    save the run's tables, or None to keep only its summary; ``dataset_dir`` (with
    ``table_dir``) is the sweep directory whose Hive-partitioned datasets
    (`abm.experiments.sweep_store.link_run_tables`) receive them too.
    """

    run_id: str
    point: int
    replicate: int
    seed: int
    scenario_yaml: str
    overrides: tuple[tuple[str, Any], ...]
    table_dir: str | None = None
    dataset_dir: str | None = None


def execute_run(task: RunTask) -> RunRecord:
    """Run one task and return its record: the worker entry point (top level, picklable).

    An exception of the run (a parameter the schema cannot judge, a model error) becomes a
    ``failed`` record; only KeyboardInterrupt and SystemExit propagate. The models created here
    are freed (``abm.run`` releases its model from Mesa 3.3's class-level registry).
    """
    start = time.perf_counter()
    status, error, summary = RunStatus.OK, None, {}
    try:
        scenario = Scenario.from_yaml_text(task.scenario_yaml).override(dict(task.overrides))
        result = run(scenario, seed=task.seed)
        if task.table_dir is not None:
            saved = result.save(task.table_dir)
            if task.dataset_dir is not None:
                link_run_tables(saved, Path(task.dataset_dir), task.point, task.replicate)
        summary = flatten(result.summary)
    except Exception as exc:
        status, error = RunStatus.FAILED, f"{type(exc).__name__}: {exc}"
    return RunRecord(
        task.run_id,
        task.point,
        task.replicate,
        task.seed,
        status.value,
        error,
        time.perf_counter() - start,
        f"{socket.gethostname()}:{os.getpid()}",
        summary,
    )


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    """What `run_sweep` did: counts over the whole plan, and the runs executed by this call.

    ``missing`` runs have no record (lost to infrastructure failures or interrupted);
    ``errors`` holds the first few infrastructure errors seen; ``rejected`` says which record
    files failed verification and were moved aside, not merged
    (`abm.experiments.sweep_store`).
    """

    out_dir: Path
    results: Path
    total: int
    ok: int
    failed: int
    missing: int
    ran: int
    errors: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """True when every run of the plan finished ``ok``."""
        return self.ok == self.total


def run_sweep(
    plan: SweepPlan,
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    executor: cf.Executor | None = None,
    max_in_flight: int | None = None,
    keep_tables: bool = False,
    retry_failed: bool = False,
    fresh_process: bool = False,
    progress: bool = False,
) -> SweepOutcome:
    """Execute the runs of ``plan`` that ``out_dir`` lacks, then rebuild ``results.parquet``.

    Args:
        plan: The sweep.
        out_dir: The sweep directory: created if missing, resumed if it holds this plan.
        workers: Local worker processes (default: the CPUs available); unused with
            ``executor``.
        executor: Run there instead, e.g. `dask_executor`; the caller owns it. It must run one
            task at a time per process.
        max_in_flight: Tasks submitted ahead (default: twice the local workers, or 256 with
            an external executor).
        keep_tables: Also save each run's tables to ``tables/<run_id>/``, and link them into
            one Hive-partitioned dataset per table, ``<table>/point=<p>/replicate=<r>/``
            (``pandas.read_parquet(out_dir / "agents")`` reads all runs' rows); on a
            multi-machine cluster ``out_dir`` must then be on a file system all workers see at
            that path.
        retry_failed: Run again the runs recorded ``failed``.
        fresh_process: Local pool only: a new process per run (``max_tasks_per_child=1``)
            rather than reused processes; slower, for models that leak in other ways.
        progress: Show a progress bar on stderr (ok/failed counts, ETA).

    Returns:
        The outcome; ``complete`` says whether every run is ``ok``.

    Raises:
        SweepError: If ``out_dir`` holds another sweep or is not a sweep directory, another
            sweep holds its lock, ``workers`` < 1, or a selected metric is not a summary key.
        KeyboardInterrupt: After ending the local workers and rebuilding ``results.parquet``.
    """
    if workers is not None and workers < 1:
        raise SweepError(f"workers must be >= 1, got {workers}")
    n_workers = workers or _available_cpus()
    checked = _probe_metrics(plan)  # before the directory exists: a typo writes nothing
    with _SweepDirectory.open(out_dir, plan) as store:
        records = store.records()
        if not checked:
            checked = _check_metrics(plan, records.values())
        keep = {RunStatus.OK.value} if retry_failed else {s.value for s in RunStatus}
        counts = {status.value: 0 for status in RunStatus}
        for record in records.values():
            if record.status in keep:
                counts[record.status] += 1
        done_before = sum(counts.values())
        scenario_yaml = plan.scenario.to_yaml()
        tables = store.root / TABLES_DIR
        pending: Iterator[RunTask] = (
            RunTask(
                key.run_id,
                key.point,
                key.replicate,
                key.seed,
                scenario_yaml,
                tuple(plan.overrides(key.point).items()),
                str(tables / key.run_id) if keep_tables else None,
                str(store.root) if keep_tables else None,
            )
            for key in plan.runs()
            if key.run_id not in records or records[key.run_id].status not in keep
        )
        errors: list[str] = []
        ran = 0
        bar = _progress_bar(plan.n_runs, done_before) if progress else None

        def finished(record: RunRecord) -> None:
            nonlocal checked, ran
            store.write(record)
            counts[record.status] += 1
            ran += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(ok=counts["ok"], failed=counts["failed"], refresh=False)
            if record.status == RunStatus.OK.value and not checked:
                checked = _check_metrics(plan, [record])

        try:
            for _ in range(MAX_ROUNDS):
                first = next(pending, None)
                if first is None:
                    break
                pending = itertools.chain([first], pending)
                if executor is None:
                    left = plan.n_runs - sum(counts.values())
                    pool = _local_pool(min(n_workers, left), fresh_process)
                    slots = max_in_flight or 2 * n_workers
                    pending = _drain(pool, pending, slots, finished, errors, owned=True)
                else:
                    slots = max_in_flight or _DASK_IN_FLIGHT
                    pending = _drain(executor, pending, slots, finished, errors, owned=False)
        finally:
            if bar is not None:
                bar.close()
            store.write_results()
        return SweepOutcome(
            out_dir=store.root,
            results=store.root / RESULTS_FILE,
            total=plan.n_runs,
            ok=counts["ok"],
            failed=counts["failed"],
            missing=plan.n_runs - counts["ok"] - counts["failed"],
            ran=ran,
            errors=tuple(errors[:5]),
            rejected=tuple(store.rejected),
        )


def _progress_bar(total: int, initial: int) -> tqdm:
    return tqdm(total=total, initial=initial, unit="run", dynamic_ncols=True)


def _drain(
    pool: cf.Executor,
    tasks: Iterable[RunTask],
    slots: int,
    finished: Callable[[RunRecord], None],
    errors: list[str],
    *,
    owned: bool,
) -> Iterator[RunTask]:
    """Run ``tasks`` with at most ``slots`` in flight; return those lost and those not started.

    The tasks are drawn one at a time, so a plan of many runs is never held in memory.
    """
    queue = iter(tasks)
    in_flight: dict[cf.Future[RunRecord], RunTask] = {}
    lost: list[RunTask] = []
    refused = False
    try:
        while True:
            while len(in_flight) < slots and not refused and (task := next(queue, None)):
                try:
                    in_flight[pool.submit(execute_run, task)] = task
                except RuntimeError as exc:  # a broken or shut-down executor refuses work
                    errors.append(f"cannot submit {task.run_id}: {type(exc).__name__}: {exc}")
                    lost.append(task)
                    refused = True
            if not in_flight:
                break
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            for future in done:
                task = in_flight.pop(future)
                try:
                    record = future.result()
                except Exception as exc:  # the worker died or was lost: not the run's fault
                    errors.append(f"{task.run_id}: {type(exc).__name__}: {exc}")
                    lost.append(task)
                else:
                    finished(record)
            if lost and owned:  # a broken local pool fails all that follows: start a new one
                refused = True
    except BaseException:
        _abort(pool, in_flight, owned)
        raise
    if owned:
        pool.shutdown(wait=True, cancel_futures=True)
    return itertools.chain(lost, queue)


def _probe_metrics(plan: SweepPlan) -> bool:
    """Check the selected metrics on a `PROBE_STEPS`-step run of point 0; return if it ran.

    Which summary keys a run has depends on its scenario, not on its length, so a probe of a
    few steps in this process tells an unknown metric before any run of the sweep starts.
    A probe that cannot run (a scenario whose program starts later than the probe's last
    step, a run that fails) checks nothing and returns False: the first ``ok`` run does it.

    Raises:
        SweepError: As `_check_metrics`.
    """
    if plan.metrics is None:
        return True
    try:
        scenario = plan.scenario.override(plan.overrides(0))
        summary = run(scenario, steps=min(scenario.steps, PROBE_STEPS)).summary
    except Exception:  # the sweep's own runs will show (and record) what is wrong
        return False
    return _check_summary(plan, flatten(summary))


def _check_metrics(plan: SweepPlan, records: Iterable[RunRecord]) -> bool:
    """Check the selected metrics on the first ``ok`` record; return whether there was one.

    Raises:
        SweepError: As `_check_summary`.
    """
    for record in records:
        if record.status == RunStatus.OK.value:
            return _check_summary(plan, record.summary)
    return plan.metrics is None


def _check_summary(plan: SweepPlan, summary: dict[str, Any]) -> bool:
    """Return True, or raise if a selected metric's top-level key is not in ``summary``.

    Only the top-level key is checked: ``pnl_by_group.informed`` is legitimately absent from
    a run without informed traders.

    Raises:
        SweepError: Naming the unknown metrics and the top-level keys there are.
    """
    tops = list(dict.fromkeys(key.split(".")[0] for key in summary))
    unknown = [m for m in plan.metrics or () if m.split(".")[0] not in tops]
    if unknown:
        raise SweepError(
            bounded_message(
                [
                    f"{plan.source}: metrics: {', '.join(unknown)} not in the run summary; "
                    f"available: {', '.join(tops)}"
                ]
            )
        )
    return True
