"""Parameter sweeps over a ``concurrent.futures.Executor``: local processes or a Dask cluster.

`run_sweep` executes the runs of a `abm.sweep_spec.SweepPlan` that its sweep directory does
not hold yet, and writes each finished run to disk at once::

    DIR/sweep.json              the plan (`abm.sweep_spec.SweepPlan.definition`)
    DIR/runs/<run_id>.json      one `RunRecord` per finished run (ok or failed), atomically
    DIR/tables/<run_id>/        with keep_tables: the run directory (`abm.record.RunResult.save`)
    DIR/results.parquet         one row per finished run (`results_table`), rebuilt at the end

Resuming is running the same plan into the same directory: runs that have a record are skipped
(failed ones too, unless ``retry_failed``), so an interruption (Ctrl-C, a killed worker, a
killed parent) loses at most the runs in flight and never duplicates one. A directory written
by another plan is refused (`abm.sweep_spec.SweepPlan.fingerprint`), and a lock keeps two
sweeps from writing one directory at once. Workers return only summaries, so the parent's
memory does not grow with the runs' tables.

A run that raises is recorded ``failed`` with its error and the sweep goes on. A failure of the
infrastructure (a killed worker process, a lost Dask worker) is not the run's: the runs it took
down are submitted again, for at most `MAX_ROUNDS` rounds, then reported missing. Run seeds come
from `abm.sweep_spec.run_seed`, so results do not depend on the executor or the worker count.

Mesa 3.3 keeps every model alive through the class-level ``mesa.agent.Agent._ids``;
`abm.run` releases the model it created, so long-lived workers (local or Dask) do not grow.
Dask workers run one thread each (threads would not speed up pure-Python runs anyway).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import multiprocessing
import multiprocessing.connection
import os
import secrets
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import pandas as pd
from tqdm import tqdm

from abm.runner import run
from abm.scenario import Scenario
from abm.sweep_spec import (
    RESERVED_COLUMNS,
    RESULTS_FILE,
    RUNS_DIR,
    SWEEP_FILE,
    TABLES_DIR,
    SweepError,
    SweepPlan,
)

try:  # POSIX advisory locks; elsewhere the directory is simply not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MAX_ROUNDS = 3
"""Rounds of submission for runs lost to infrastructure failures before they count missing."""
LOCK_FILE = ".lock"
_DASK_IN_FLIGHT = 256
_RESERVED_DTYPES: Mapping[str, Any] = {
    "run_id": "string",
    "point": "int64",
    "replicate": "int64",
    "seed": "int64",
    "status": "string",
    "error": "string",
    "wall_time_s": "float64",
    "worker": "string",
}


class RunStatus(StrEnum):
    """Outcome of one run: it finished (``ok``) or raised (``failed``)."""

    OK = "ok"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RunTask:
    """Everything a worker needs for one run: picklable, a few kB (the scenario is YAML text).

    ``overrides`` are the point's ``(dotted path, value)`` changes; ``table_dir`` is where to
    save the run's tables, or None to keep only its summary.
    """

    run_id: str
    point: int
    replicate: int
    seed: int
    scenario_yaml: str
    overrides: tuple[tuple[str, Any], ...]
    table_dir: str | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What a worker returns and the sweep stores (``runs/<run_id>.json``) for one run.

    Attributes:
        run_id, point, replicate, seed: As in `RunTask`.
        status: A `RunStatus` value.
        error: ``"<ExceptionType>: <message>"`` for a failed run, else None.
        wall_time_s: Seconds the worker spent on the task (scenario, run, tables).
        worker: ``host:pid`` of the process that ran it.
        summary: The run's ``summary.json`` with nested keys flattened by dots
            (``pnl_by_group.mm``); non-finite floats are None; empty for a failed run.
    """

    run_id: str
    point: int
    replicate: int
    seed: int
    status: str
    error: str | None
    wall_time_s: float
    worker: str
    summary: dict[str, Any]

    def to_json(self) -> str:
        """Return the record as a JSON document."""
        return json.dumps(asdict(self), allow_nan=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        """Read a record written by `to_json`.

        Raises:
            ValueError: If ``text`` is not such a record.
        """
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) != set(cls.__slots__):
            raise ValueError("not a run record")
        return cls(**data)


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
            result.save(task.table_dir)
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


def flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted keys (``{"a": {"b": 1}}`` gives ``{"a.b": 1}``).

    Non-finite floats become None (JSON has no spelling for them).
    """
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, float) and not math.isfinite(value):
            flat[f"{prefix}{key}"] = None
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def results_table(plan: SweepPlan, records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per record, sorted by (point, replicate): the contents of ``results.parquet``.

    Columns: `abm.sweep_spec.RESERVED_COLUMNS` (``run_id``, ``status``, ``error``, ``worker``
    text; ``point``, ``replicate``, ``seed`` int64; ``wall_time_s`` float64), then one per
    parameter (named by its dotted path), then one per metric: ``plan.metrics``, or every
    summary key (in the order of the first ``ok`` record) except those named like a reserved
    column or a parameter. Dtypes:
    nullable ``Int64``/``boolean`` for integer/boolean columns, ``float64`` for numbers,
    ``string`` for text; values that are lists or mappings are stored as JSON text. Failed
    runs have missing metrics. ``attrs["abm_sweep"]`` holds ``parameters``, ``metrics`` and
    ``fingerprint`` (pandas keeps ``attrs`` in the parquet file).
    """
    rows = sorted(records, key=lambda r: (r.point, r.replicate))
    metrics = list(plan.metrics or ())
    if plan.metrics is None:
        taken = set(RESERVED_COLUMNS) | set(plan.parameters)
        for record in sorted(rows, key=lambda r: r.status != RunStatus.OK.value):
            metrics += [k for k in record.summary if k not in taken and k not in metrics]
    data: dict[str, Any] = {
        column: pd.array([getattr(r, column) for r in rows], dtype=_RESERVED_DTYPES[column])
        for column in RESERVED_COLUMNS
    }
    for index, name in enumerate(plan.parameters):
        data[name] = _typed([plan.points[r.point][index] for r in rows])
    for name in metrics:
        data[name] = _typed([r.summary.get(name) for r in rows])
    table = pd.DataFrame(data)
    table.attrs["abm_sweep"] = {
        "parameters": list(plan.parameters),
        "metrics": metrics,
        "fingerprint": plan.fingerprint(),
    }
    return table


def _typed(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    if all(isinstance(v, bool) for v in present) and present:
        return pd.array(values, dtype="boolean")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present) and present:
        return pd.array(values, dtype="Int64")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pd.array([math.nan if v is None else float(v) for v in values], dtype="float64")
    if all(isinstance(v, str) for v in present):
        return pd.array(values, dtype="string")
    return pd.array([None if v is None else json.dumps(v) for v in values], dtype="string")


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    """What `run_sweep` did: counts over the whole plan, and the runs executed by this call.

    ``missing`` runs have no record (lost to infrastructure failures or interrupted);
    ``errors`` holds the first few infrastructure errors seen.
    """

    out_dir: Path
    results: Path
    total: int
    ok: int
    failed: int
    missing: int
    ran: int
    errors: tuple[str, ...] = ()

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
        keep_tables: Also save each run's tables to ``tables/<run_id>/``; on a multi-machine
            cluster ``out_dir`` must then be on a file system all workers see at that path.
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
    with _SweepDirectory.open(out_dir, plan) as store:
        records = store.records()
        _check_metrics(plan, records.values())
        keep = {RunStatus.OK.value} if retry_failed else {s.value for s in RunStatus}
        todo = [
            k
            for k in plan.runs()
            if k.run_id not in records or records[k.run_id].status not in keep
        ]
        redo = {key.run_id for key in todo}
        counts = {status.value: 0 for status in RunStatus}
        for record in records.values():
            if record.run_id not in redo:
                counts[record.status] += 1
        scenario_yaml = plan.scenario.to_yaml()
        tables = store.root / TABLES_DIR
        pending = [
            RunTask(
                key.run_id,
                key.point,
                key.replicate,
                key.seed,
                scenario_yaml,
                tuple(plan.overrides(key.point).items()),
                str(tables / key.run_id) if keep_tables else None,
            )
            for key in todo
        ]
        errors: list[str] = []
        checked = any(r.status == RunStatus.OK.value for r in records.values())
        bar = tqdm(
            total=plan.n_runs,
            initial=plan.n_runs - len(pending),
            unit="run",
            disable=not progress,
            dynamic_ncols=True,
        )

        def finished(record: RunRecord) -> None:
            nonlocal checked
            store.write(record)
            counts[record.status] += 1
            bar.update(1)
            bar.set_postfix(ok=counts["ok"], failed=counts["failed"], refresh=False)
            if record.status == RunStatus.OK.value and not checked:
                checked = True
                _check_metrics(plan, [record])

        try:
            for _ in range(MAX_ROUNDS):
                if not pending:
                    break
                if executor is None:
                    pool = _local_pool(min(n_workers, len(pending)), fresh_process)
                    slots = max_in_flight or 2 * n_workers
                    pending = _drain(pool, pending, slots, finished, errors, owned=True)
                else:
                    slots = max_in_flight or _DASK_IN_FLIGHT
                    pending = _drain(executor, pending, slots, finished, errors, owned=False)
        finally:
            bar.close()
            store.write_results()
        return SweepOutcome(
            out_dir=store.root,
            results=store.root / RESULTS_FILE,
            total=plan.n_runs,
            ok=counts["ok"],
            failed=counts["failed"],
            missing=plan.n_runs - counts["ok"] - counts["failed"],
            ran=len(todo) - len(pending),
            errors=tuple(errors[:5]),
        )


def _drain(
    pool: cf.Executor,
    tasks: Sequence[RunTask],
    slots: int,
    finished: Callable[[RunRecord], None],
    errors: list[str],
    *,
    owned: bool,
) -> list[RunTask]:
    """Run ``tasks`` with at most ``slots`` in flight; return those lost to the infrastructure."""
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
    return [*lost, *queue]


def _abort(pool: cf.Executor, in_flight: Iterable[cf.Future[RunRecord]], owned: bool) -> None:
    """Stop now: cancel queued tasks and, for our own pool, end its processes."""
    for future in in_flight:
        future.cancel()
    if not owned:
        return
    # The runs in flight are lost anyway (a resume reruns them), so their processes are ended
    # rather than awaited (Python 3.14 has ProcessPoolExecutor.terminate_workers for this);
    # they are looked up first because shutdown() forgets them.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with suppress(OSError, ValueError, AttributeError):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _init_worker() -> None:
    """Set up a local worker process: leave Ctrl-C to the parent, and die with the parent."""
    # Ctrl-C reaches the whole process group; only the parent acts on it (and ends the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A killed parent would leave its workers blocked on their task queue forever.
    parent = multiprocessing.parent_process()
    if parent is not None:
        sentinel = parent.sentinel
        threading.Thread(target=_exit_with, args=(sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(1)


def _local_pool(workers: int, fresh_process: bool) -> cf.ProcessPoolExecutor:
    # "spawn" explicitly: Mesa forces it at import anyway, and fork is unsafe with threads.
    return cf.ProcessPoolExecutor(
        max_workers=max(1, workers),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        max_tasks_per_child=1 if fresh_process else None,
    )


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _check_metrics(plan: SweepPlan, records: Iterable[RunRecord]) -> None:
    """Raise if a selected metric's top-level key is absent from the first ``ok`` summary.

    Only the top-level key is checked: ``pnl_by_group.informed`` is legitimately absent from
    a run without informed traders.
    """
    if plan.metrics is None:
        return
    for record in records:
        if record.status != RunStatus.OK.value:
            continue
        tops = {key.split(".")[0] for key in record.summary}
        unknown = [m for m in plan.metrics if m.split(".")[0] not in tops]
        if unknown:
            raise SweepError(
                f"{plan.source}: metrics: {', '.join(unknown)} not in the run summary; "
                f"available: {', '.join(record.summary)}"
            )
        return


class _SweepDirectory:
    """A locked sweep directory holding one plan: reads and writes run records atomically."""

    def __init__(self, root: Path, plan: SweepPlan) -> None:
        self.root = root
        self.plan = plan
        self.runs = root / RUNS_DIR

    @classmethod
    @contextmanager
    def open(cls, out_dir: str | os.PathLike[str], plan: SweepPlan) -> Iterator[_SweepDirectory]:
        """Create or resume ``out_dir`` for ``plan`` and hold its lock while in use."""
        root = Path(out_dir).absolute()
        if root.exists() and not root.is_dir():
            raise SweepError(f"{root} exists and is not a directory; choose another --out")
        if root.is_dir():
            _refuse_foreign(root)  # before the lock file is created in someone else's directory
        root.mkdir(parents=True, exist_ok=True)
        with open(root / LOCK_FILE, "a+", encoding="utf-8") as lock:
            if fcntl is not None:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    raise SweepError(
                        f"{root} is in use by another abm sweep; wait for it or stop it first"
                    ) from exc
            store = cls(root, plan)
            store._adopt(root / SWEEP_FILE)
            yield store

    def _adopt(self, definition: Path) -> None:
        new = self.plan.definition()
        _refuse_foreign(self.root)
        if definition.exists():
            try:
                old = json.loads(definition.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise SweepError(f"{definition} is not valid JSON; delete the directory") from exc
            if old.get("fingerprint") != new["fingerprint"]:
                mine = json.loads(json.dumps(self.plan.identity()))
                labels = {"scenario_digest": "scenario", "points": "parameter values"}
                differ = [labels.get(k, k) for k in mine if old.get(k) != mine[k]]
                raise SweepError(
                    f"{self.root} holds a different sweep (from {old.get('source')}; its "
                    f"{', '.join(differ) or 'definition'} differ); resume it with the same "
                    "sweep file, or choose another --out"
                )
        _write_atomic(definition, lambda h: h.write(json.dumps(new, indent=1) + "\n"))
        self.runs.mkdir(exist_ok=True)
        for stale in self.runs.glob(".*.tmp-*"):  # left by a killed parent; we hold the lock
            stale.unlink(missing_ok=True)

    def records(self) -> dict[str, RunRecord]:
        """Return the stored records by run id; unreadable files are skipped with a warning."""
        records = {}
        for path in sorted(self.runs.glob("*.json")):
            try:
                record = RunRecord.from_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, TypeError) as exc:
                warnings.warn(f"ignoring {path} ({exc}); its run will be redone", stacklevel=2)
                continue
            records[record.run_id] = record
        return records

    def write(self, record: RunRecord) -> None:
        """Store ``record`` atomically (temporary file, fsync, rename)."""
        _write_atomic(self.runs / f"{record.run_id}.json", lambda h: h.write(record.to_json()))

    def write_results(self) -> Path:
        """Rebuild ``results.parquet`` from the stored records; return its path."""
        table = results_table(self.plan, self.records().values())
        target = self.root / RESULTS_FILE
        _write_atomic(target, lambda h: table.to_parquet(h, index=False), binary=True)
        return target


def _refuse_foreign(root: Path) -> None:
    """Raise unless ``root`` is a sweep directory or holds only what a sweep start leaves."""
    if (root / SWEEP_FILE).exists():
        return
    for entry in root.iterdir():
        started = entry.name == LOCK_FILE or (entry.name == RUNS_DIR and not any(entry.iterdir()))
        if not started:
            raise SweepError(
                f"{root} is not empty and holds no {SWEEP_FILE}, so it is not a sweep "
                "directory; choose another --out"
            )


def _write_atomic(target: Path, write: Callable[[IO[Any]], object], binary: bool = False) -> None:
    """Write ``target`` through a fsync'd temporary sibling renamed into place."""
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(temporary, "xb" if binary else "x", encoding=None if binary else "utf-8") as h:
            write(h)
            h.flush()
            os.fsync(h.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def dask_executor(
    scheduler: str | None = None, local_workers: int | None = None, *, timeout_s: float = 60.0
) -> Iterator[tuple[cf.Executor, int]]:
    """Connect to a Dask scheduler, or start a local cluster; yield ``(executor, n_workers)``.

    Args:
        scheduler: A scheduler address such as ``tcp://host:8786``.
        local_workers: Instead, start a ``LocalCluster`` of this many single-threaded worker
            processes.
        timeout_s: How long to wait for the scheduler, and for a first worker.

    Raises:
        SweepError: If dask.distributed is not installed, not exactly one of the two sources is
            given, the scheduler is unreachable or has no worker within ``timeout_s``, or a
            worker runs more than one thread.
    """
    if (scheduler is None) == (local_workers is None):
        raise SweepError("give exactly one of a Dask scheduler address and a local worker count")
    try:
        from distributed import Client, LocalCluster  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise SweepError("Dask is not installed: pip install 'abm[dist]'") from exc
    cluster = None
    try:
        if local_workers is not None:
            cluster = LocalCluster(
                n_workers=local_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=timeout_s)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise SweepError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from exc
    try:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except TimeoutError as exc:
            raise SweepError(
                f"no Dask worker joined {scheduler} within {timeout_s:g} s; start some with "
                f"`dask worker {scheduler} --nthreads 1 --nworkers N`"
            ) from exc
        threads = client.nthreads()
        crowded = sorted(address for address, n in threads.items() if n > 1)
        if crowded:
            raise SweepError(
                f"Dask workers {', '.join(crowded)} run several threads; start them with "
                "`--nthreads 1 --nworkers N`: pure-Python runs gain nothing from threads, and "
                "Mesa 3.3's model registry is not thread-safe"
            )
        yield client.get_executor(pure=False), len(threads)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def read_results(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the ``results.parquet`` of a sweep directory (`results_table` describes it)."""
    return pd.read_parquet(Path(out_dir) / RESULTS_FILE)
