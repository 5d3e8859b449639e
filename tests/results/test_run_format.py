"""Tests for the typed results contract: event fields, the format version, RunResult.scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from abm.results.events import EVENT_FIELD_DTYPES, EventKind
from abm.results.recorder import EVENT_COLUMNS, Recorder
from abm.results.run_result import (
    RESULTS_FORMAT_VERSION,
    RunResult,
    RunResultError,
    collect_meta,
    platform_text,
)
from tests._helpers import scenario_text


def _events(recorder: Recorder) -> pd.DataFrame:
    return RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={}).events


def test_recorder_event_field_fills_only_its_column() -> None:
    """A ``wave`` field lands in the Int64 ``wave`` column; every other field of the row is null."""
    recorder = Recorder()
    recorder.event(3, EventKind.DEFAULT, 7, None, -2.5, wave=2)
    row = _events(recorder).iloc[0]
    assert row["wave"] == 2
    others = [name for name in EVENT_FIELD_DTYPES if name != "wave"]
    assert all(pd.isna(row[name]) for name in others)


def test_recorder_event_fields_keep_their_dtypes_when_mixed() -> None:
    """Rows of different kinds share the columns: floats NaN, ints and labels <NA> where unset."""
    recorder = Recorder()
    recorder.event(1, EventKind.MARGIN_CALL, 1, None, -3.0, notional=297.0, mid=None, venue="book")
    recorder.event(2, EventKind.HOT_POTATO, 1, 2, 4.0, hop=3)
    events = _events(recorder)
    assert events["notional"].tolist()[0] == 297.0 and pd.isna(events["notional"].iloc[1])
    assert events["mid"].isna().tolist() == [True, True]
    assert events["venue"].astype(object).iloc[0] == "book" and pd.isna(events["venue"].iloc[1])
    assert events["hop"].astype(object).tolist() == [pd.NA, 3]
    assert {name: str(events[name].dtype) for name in EVENT_FIELD_DTYPES} == EVENT_FIELD_DTYPES


def test_recorder_event_rejects_unknown_field() -> None:
    """A keyword that is not an EventFields column fails at the event, naming it."""
    recorder = Recorder()
    with pytest.raises(TypeError, match="detail"):
        recorder.event(1, EventKind.HALT, None, None, 0.1, detail="x")  # type: ignore[call-arg]


def test_recorder_event_rejects_unknown_kind() -> None:
    """A kind that is not an EventKind value fails at the event, listing the known kinds."""
    recorder = Recorder()
    with pytest.raises(ValueError, match="not one of"):
        recorder.event(1, "shock", None, None, 0.1)  # type: ignore[arg-type]


def test_recorder_event_accepts_kind_value_string() -> None:
    """An EventKind's string value is accepted and stored as that label."""
    recorder = Recorder()
    recorder.event(1, "halt", None, None, 0.1)  # type: ignore[arg-type]
    assert _events(recorder)["kind"].astype(str).tolist() == ["halt"]


def test_recorder_event_label_field_must_be_str() -> None:
    """A label field given a non-string fails when the table is built, naming the column."""
    recorder = Recorder()
    recorder.event(1, EventKind.POV_START, 4, None, 10.0, mode=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"events\.mode"):
        _events(recorder)


def test_event_columns_are_base_then_fields() -> None:
    """The events table is step, kind, the two ids and amount, then one column per field."""
    base = ("step", "kind", "agent_id", "counterparty", "amount")
    assert (*base, *EVENT_FIELD_DTYPES) == EVENT_COLUMNS


def _two_events() -> RunResult:
    recorder = Recorder()
    recorder.event(1, EventKind.REGIME, 5, None, 3.0, regime_from="NORMAL", regime_to="STRESSED")
    recorder.event(2, EventKind.REOPEN, None, None, 4.0, halted_until=9)
    return RunResult.from_recorder(recorder, scenario_yaml=scenario_text(), summary={}, meta={})


def _saved(tmp_path: Path) -> Path:
    return _two_events().save(tmp_path / "run")


def test_run_result_event_fields_survive_save_and_load(tmp_path: Path) -> None:
    """Nullable label and Int64 event columns read back equal, nulls included."""
    result = _two_events()
    loaded = RunResult.load(result.save(tmp_path / "run"))
    assert loaded.equals(result)
    assert loaded.events["regime_to"].isna().tolist() == [False, True]
    assert loaded.events["regime_to"].iloc[0] == "STRESSED"
    assert loaded.events["halted_until"].isna().tolist() == [True, False]


def test_run_result_meta_carries_the_format_version() -> None:
    """Every result in memory states the results format it is in, whatever meta it was given."""
    result = RunResult.from_recorder(Recorder(), scenario_yaml="", summary={}, meta={"seed": 1})
    assert result.meta == {"seed": 1, "results_format_version": RESULTS_FORMAT_VERSION}


def _rewrite_meta(run: Path, version: object) -> None:
    meta = json.loads((run / "meta.json").read_text(encoding="utf-8"))
    if version is None:
        del meta["results_format_version"]
    else:
        meta["results_format_version"] = version
    (run / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def test_run_result_load_refuses_unversioned_run(tmp_path: Path) -> None:
    """A run saved before formats were versioned is refused, naming it and saying to re-run."""
    run = _saved(tmp_path)
    _rewrite_meta(run, None)
    with pytest.raises(RunResultError, match="format 1") as caught:
        RunResult.load(run)
    message = str(caught.value)
    assert str(run) in message and f"format {RESULTS_FORMAT_VERSION} only" in message
    assert "Re-run its scenario" in message


def test_run_result_load_refuses_other_format_version(tmp_path: Path) -> None:
    """A run of another format version is refused with both versions in the message."""
    run = _saved(tmp_path)
    _rewrite_meta(run, RESULTS_FORMAT_VERSION + 1)
    with pytest.raises(RunResultError, match=f"format {RESULTS_FORMAT_VERSION + 1}"):
        RunResult.load(run)


def test_run_result_scenario_is_validated_and_cached() -> None:
    """`scenario` parses the YAML once into the schema's Scenario, defaults filled in."""
    text = scenario_text({"tick_size": 0.05})
    result = RunResult.from_recorder(Recorder(), scenario_yaml=text, summary={}, meta={})
    assert result.scenario.tick_size == 0.05
    assert result.scenario.dt == 1.0  # baseline leaves dt at the schema default
    assert result.scenario is result.scenario


def test_run_result_scenario_without_text_raises() -> None:
    """A hand-built result without scenario text says so instead of returning a default."""
    result = RunResult.from_recorder(Recorder(), scenario_yaml="", summary={}, meta={})
    with pytest.raises(RunResultError, match="no scenario text"):
        _ = result.scenario


def test_run_result_scenario_invalid_text_raises() -> None:
    """Scenario text the schema rejects raises RunResultError carrying the schema's message."""
    result = RunResult.from_recorder(
        Recorder(), scenario_yaml="tick_size: 0.01\n", summary={}, meta={}
    )
    with pytest.raises(RunResultError, match="does not validate"):
        _ = result.scenario


def test_platform_text_is_platform_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """meta.json's platform is `platform.platform()`'s text here, found without a process."""
    import platform
    import subprocess

    platform._platform_cache.clear()  # type: ignore[attr-defined]
    expected = platform.platform()

    def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started: {args}")

    monkeypatch.setattr(subprocess, "check_output", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    assert platform_text() == expected
    meta = collect_meta(seed=1, scenario_digest="x", wall_time_s=0.5)
    assert meta["platform"] == expected
