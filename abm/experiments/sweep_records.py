"""Run records: what a worker returns for one run, and how it is written and verified.

A record file (``runs/<run_id>.json``) is the record's fields plus ``sweep``, the fingerprint of
the sweep it belongs to, and ``checksum``, the sha256 of the canonical JSON (sorted keys, no
spaces) of everything else. `RunRecord.from_json` checks the schema, the fingerprint and the
checksum, so an edited, truncated or foreign file is told from a record `RunRecord.to_json`
wrote; whether it is a run of the plan is the store's check
(`abm.experiments.sweep_store`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from hashlib import sha256
from typing import Any

from abm.experiments.sweep_messages import show_value


class RunStatus(StrEnum):
    """Outcome of one run: it finished (``ok``) or raised (``failed``)."""

    OK = "ok"
    FAILED = "failed"


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

    def to_json(self, sweep: str) -> str:
        """Return the record as a JSON document, with ``sweep`` and a checksum.

        Args:
            sweep: The fingerprint of the sweep the run belongs to
                (`abm.experiments.sweep_spec.SweepPlan.fingerprint`).
        """
        document = {**asdict(self), "sweep": sweep}
        document["checksum"] = _checksum(document)
        return json.dumps(document, allow_nan=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, sweep: str) -> RunRecord:
        """Read and verify a record that `to_json` wrote for the sweep ``sweep``.

        Raises:
            ValueError: Saying what is wrong, if ``text`` is not such a record: not JSON, a
                missing or unknown key, a value of the wrong type, another sweep's
                fingerprint, or a checksum that does not match (the file was edited).
        """
        try:
            data = json.loads(text)
        except RecursionError as exc:
            raise ValueError("not a run record (nested too deeply)") from exc
        if not isinstance(data, dict):
            raise ValueError(f"not a run record (a JSON {type(data).__name__})")
        expected = {*cls.__slots__, "sweep", "checksum"}
        if set(data) != expected:
            wrong = sorted(set(data) ^ expected)
            raise ValueError(f"not a run record (keys differ: {show_value(wrong)})")
        checksum = data.pop("checksum")
        if data.pop("sweep") != sweep:
            raise ValueError("the record belongs to another sweep")
        if checksum != _checksum({**data, "sweep": sweep}):
            raise ValueError("checksum mismatch: the record was changed after it was written")
        _check_fields(data)
        return cls(**data)


def _checksum(document: Mapping[str, Any]) -> str:
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return sha256(text.encode("utf-8")).hexdigest()


def _check_fields(data: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``data`` has the field types of a `RunRecord`."""

    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    problems = [name for name in ("point", "replicate", "seed") if not count(data[name])]
    problems += [name for name in ("run_id", "worker", "status") if not isinstance(data[name], str)]
    seconds = data["wall_time_s"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        problems.append("wall_time_s")
    ok = data["status"] == RunStatus.OK.value
    if data["status"] not in {s.value for s in RunStatus}:
        problems.append("status")
    if not (data["error"] is None if ok else isinstance(data["error"], str)):
        problems.append("error")
    summary = data["summary"]
    keyed = isinstance(summary, dict) and all(isinstance(k, str) for k in summary)
    if not keyed or (summary and not ok):  # a failed run has no summary
        problems.append("summary")
    if problems:
        raise ValueError(f"not a run record (bad {', '.join(dict.fromkeys(problems))})")


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
