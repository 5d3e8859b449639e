"""The sweep directory: run records, the results table, and the locked directory holding them.

What `abm.experiments.sweep.run_sweep` writes, and resumes from::

    DIR/sweep.json              the plan (`abm.experiments.sweep_spec.SweepPlan.definition`)
    DIR/runs/<run_id>.json      one `RunRecord` per finished run (ok or failed), atomically,
                                with the sweep's fingerprint and a checksum
    DIR/rejected/               record files that failed verification, moved aside
    DIR/tables/<run_id>/        with keep_tables: the run directory
    (`abm.results.run_result.RunResult.save`)
    DIR/<table>/point=<p>/replicate=<r>/<run_id>.parquet
                                with keep_tables: the same tables as one Hive-partitioned
                                dataset per table (`DATASET_TABLES`, `link_run_tables`)
    DIR/results.parquet         one row per finished run (`results_table`), rebuilt at the end

``pandas.read_parquet(DIR / "agents")`` (or DuckDB's ``read_parquet('DIR/agents/**/*.parquet',
hive_partitioning = true)``) reads every kept run's ``agents`` rows as one table, with ``point``
and ``replicate`` columns taken from the directory names. The dataset files are hard links to
the run directories' files (copies where the file system has no hard links), so they cost no
extra space.

A directory written by another plan is refused
(`abm.experiments.sweep_spec.SweepPlan.fingerprint`), and a
lock keeps two sweeps from writing one directory at once.

The store trusts no file it reads. ``sweep.json`` must be a sweep definition, or the directory
is refused. Every record file is verified on load: its schema, its checksum (sha256 over its
canonical JSON, with the sweep's fingerprint), and that it is the run of the plan its name and
ids say (point, replicate and seed). A record that fails (edited, truncated, copied from
another sweep, written before records had checksums) is never merged: it is moved to
``DIR/rejected/`` with a `SweepWarning` saying why, and its run, if the plan has it, is run
again. Run records themselves (`RunRecord`, their checksum and schema) are
`abm.experiments.sweep_records`'s; `abm.experiments.sweep` re-exports the names of both, so
``from abm.experiments.sweep import RunRecord`` keeps working.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import stat
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from abm.experiments.sweep_records import RunRecord, RunStatus
from abm.experiments.sweep_spec import (
    REJECTED_DIR,
    RESERVED_COLUMNS,
    RESULTS_FILE,
    RUNS_DIR,
    SWEEP_FILE,
    SweepError,
    SweepPlan,
)
from abm.results.atomic import write_atomic
from abm.results.recorder import TABLES

try:  # POSIX advisory locks; elsewhere the directory is simply not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"
DATASET_TABLES = TABLES
"""Tables kept (with keep_tables) as Hive-partitioned datasets ``DIR/<table>/``."""
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
_MAX_RECORD_BYTES = 16 * 2**20  # a summary is a few kB; a larger file is not a record
_MAX_DEFINITION_BYTES = 2**30  # sweep.json holds every point: 100,000 points take a few MB


class SweepWarning(UserWarning):
    """A file of a sweep directory was set aside (`abm sweep` prints it as one line)."""


def results_table(plan: SweepPlan, records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per record, sorted by (point, replicate): the contents of ``results.parquet``.

    Columns: `abm.experiments.sweep_spec.RESERVED_COLUMNS` (``run_id``, ``status``, ``error``,
    ``worker``
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


class _SweepDirectory:
    """A locked sweep directory holding one plan: reads and writes run records atomically."""

    def __init__(self, root: Path, plan: SweepPlan) -> None:
        self.root = root
        self.plan = plan
        self.runs = root / RUNS_DIR
        self.fingerprint = plan.fingerprint()
        self.rejected: list[str] = []

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
        if definition.exists() or definition.is_symlink():
            old = _read_definition(definition)
            if old["fingerprint"] != new["fingerprint"]:
                mine = json.loads(json.dumps(self.plan.identity()))
                labels = {"scenario_digest": "scenario", "points": "parameter values"}
                differ = [labels.get(k, k) for k in mine if old.get(k) != mine[k]]
                source = old.get("source")
                origin = source if isinstance(source, str) and len(source) < 200 else "elsewhere"
                raise SweepError(
                    f"{self.root} holds a different sweep (from {origin}; its "
                    f"{', '.join(differ) or 'definition'} differ); resume it with the same "
                    "sweep file, or choose another --out"
                )
        write_atomic(definition, json.dumps(new, indent=1) + "\n")
        self.runs.mkdir(exist_ok=True)
        for stale in self.runs.glob(".*.tmp-*"):  # left by a killed parent; we hold the lock
            stale.unlink(missing_ok=True)
        for table in DATASET_TABLES:  # and by killed workers linking a run's tables
            for stale in (self.root / table).glob("point=*/replicate=*/.*.tmp-*"):
                stale.unlink(missing_ok=True)

    def records(self) -> dict[str, RunRecord]:
        """Return the stored records by run id, each verified against the plan.

        A file that is not a verified record of this plan's run named by the file is moved
        to ``rejected/`` with a `SweepWarning` (also kept in ``self.rejected``), never merged.
        """
        records = {}
        for path in sorted(self.runs.glob("*.json")):
            try:
                record = self._verified(path)
            except (OSError, ValueError) as exc:
                self._reject(path, str(exc))
                continue
            records[record.run_id] = record
        return records

    def _verified(self, path: Path) -> RunRecord:
        record = RunRecord.from_json(_read_bounded(path, _MAX_RECORD_BYTES), self.fingerprint)
        key = self.plan.key(record.point, record.replicate)  # SweepError (a ValueError)
        if (record.run_id, record.seed) != (key.run_id, key.seed) or path.stem != key.run_id:
            raise ValueError(
                f"not the plan's run (point {record.point}, replicate {record.replicate}): "
                f"that is {key.run_id} with seed {key.seed}"
            )
        return record

    def _reject(self, path: Path, reason: str) -> None:
        aside = self.root / REJECTED_DIR
        target = aside / path.name
        try:
            aside.mkdir(exist_ok=True)
            number = 0
            while target.exists() or target.is_symlink():
                number += 1
                target = aside / f"{path.stem}.{number}{path.suffix}"
            os.replace(path, target)
            where = f"moved to {REJECTED_DIR}/{target.name}"
        except OSError as exc:
            where = f"left in place ({exc.strerror or exc})"
        message = (
            f"{path}: not merged: {reason}; {where}; a run of the plan without a valid record "
            "is run again"
        )
        self.rejected.append(message)
        warnings.warn(message, SweepWarning, stacklevel=3)

    def write(self, record: RunRecord) -> None:
        """Store ``record`` atomically (temporary file, fsync, rename)."""
        write_atomic(self.runs / f"{record.run_id}.json", record.to_json(self.fingerprint))

    def write_results(self) -> Path:
        """Rebuild ``results.parquet`` from the stored records; return its path."""
        table = results_table(self.plan, self.records().values())
        target = self.root / RESULTS_FILE
        write_atomic(target, table.to_parquet(None, index=False))
        return target


def link_run_tables(run_dir: Path, root: Path, point: int, replicate: int) -> None:
    """Place the tables of the run directory ``run_dir`` in the sweep's datasets under ``root``.

    Each ``run_dir/<table>.parquet`` becomes
    ``root/<table>/point=<point>/replicate=<replicate>/<run_id>.parquet`` (``run_id`` is
    ``run_dir``'s name), hard-linked, or copied where links are not possible. A file already
    there (a run redone after an interruption) is replaced atomically, so a reader sees the old
    file or the new one, never a part; hidden temporary names are skipped by Parquet readers.
    """
    for table in DATASET_TABLES:
        partition = root / table / f"point={point}" / f"replicate={replicate}"
        partition.mkdir(parents=True, exist_ok=True)
        source = run_dir / f"{table}.parquet"
        target = partition / f"{run_dir.name}.parquet"
        temporary = partition / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            try:
                os.link(source, temporary)
            except OSError:  # a file system without hard links, or a link count limit
                shutil.copyfile(source, temporary)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise


def _read_bounded(path: Path, limit: int) -> str:
    """Read a regular file of at most ``limit`` bytes as UTF-8 text.

    Raises:
        ValueError: If ``path`` is not a regular file, is larger, or is not UTF-8.
        OSError: If it cannot be read.
    """
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file")
    if info.st_size > limit:
        raise ValueError(f"{info.st_size:,} bytes, more than {limit:,}")
    with open(path, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"more than {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from exc


def _read_definition(path: Path) -> dict[str, Any]:
    """Read ``sweep.json``: a JSON object with a fingerprint, or a SweepError."""
    try:
        data = json.loads(_read_bounded(path, _MAX_DEFINITION_BYTES))
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, json.JSONDecodeError | RecursionError):
            reason = "not valid JSON"
        raise SweepError(
            f"{path}: unreadable sweep definition ({reason}); restore it, or delete the "
            "directory to start the sweep again"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("fingerprint"), str):
        got = f"a JSON {type(data).__name__}" if not isinstance(data, dict) else "no fingerprint"
        raise SweepError(
            f"{path}: not a sweep definition ({got}); restore it, or delete the directory to "
            "start the sweep again"
        )
    return data


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


def read_results(out_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the ``results.parquet`` of a sweep directory (`results_table` describes it)."""
    return pd.read_parquet(Path(out_dir) / RESULTS_FILE)
