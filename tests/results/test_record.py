"""Tests for abm.results.recorder: the columnar Recorder, RunResult tables, atomic run dirs."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _helpers import scenario_text

from abm.results import run_files
from abm.results.events import EventKind
from abm.results.recorder import (
    AGENT_COLUMNS,
    DEPTH_COLUMNS,
    EVENT_COLUMNS,
    MARKET_COLUMNS,
    NETWORK_COLUMNS,
    TABLES,
    TRADE_COLUMNS,
    Recorder,
)
from abm.results.run_result import (
    RESULTS_FORMAT_VERSION,
    RUN_FILES,
    RunResult,
    RunResultError,
    collect_meta,
)

# The dtype contract, written out by hand from the task brief (not derived from the module).
EXPECTED_DTYPES: dict[str, dict[str, str]] = {
    "market": {
        "step": "int64",
        "time": "float64",
        "fundamental": "float64",
        "best_bid": "float64",
        "best_ask": "float64",
        "mid": "float64",
        "spread": "float64",
        "bid_depth": "int64",
        "ask_depth": "int64",
        "last_price": "float64",
        "volume": "int64",
        "hedge_price": "float64",
        "mark": "float64",
    },
    "trades": {
        "step": "int64",
        "time": "float64",
        "price": "float64",
        "qty": "int64",
        "aggressor": "category",
        "buyer": "int64",
        "seller": "int64",
        "venue": "category",
        "instrument": "category",
        "purpose": "category",
        "maker_order_id": "Int64",
        "taker_order_id": "Int64",
    },
    "agents": {
        "step": "int64",
        "agent_id": "int64",
        "kind": "category",
        "inventory": "int64",
        "cash": "float64",
        "equity": "float64",
        "pnl": "float64",
        "bid": "float64",
        "ask": "float64",
        "regime": "category",
        "status": "category",
        "group": "category",
        "hedge": "int64",
        "net_delta": "int64",
    },
    "events": {
        "step": "int64",
        "kind": "category",
        "agent_id": "Int64",
        "counterparty": "Int64",
        "amount": "float64",
        "notional": "float64",
        "mid": "float64",
        "venue": "category",
        "requested": "Int64",
        "price": "float64",
        "cost": "float64",
        "fundamental": "float64",
        "net_delta": "Int64",
        "wave": "Int64",
        "hop": "Int64",
        "regime_from": "category",
        "regime_to": "category",
        "confidence_from": "category",
        "confidence_to": "category",
        "mode": "category",
        "reference": "float64",
        "until_step": "Int64",
        "on_halt": "category",
        "halted_until": "Int64",
    },
    "network": {"source": "int64", "target": "int64", "exposure": "float64", "capacity": "float64"},
    "depth": {
        "step": "int64",
        "side": "category",
        "level": "int64",
        "price": "float64",
        "qty": "int64",
    },
}
TABLE_NAMES = tuple(EXPECTED_DTYPES)
# DESIGN.md section 8 column lists, copied by hand (the file lives outside the repository).
DESIGN_COLUMNS: dict[str, tuple[str, ...]] = {
    "market": (
        "step", "time", "fundamental", "best_bid", "best_ask", "mid", "spread", "bid_depth",
        "ask_depth", "last_price", "volume",
    ),
    "trades": ("step", "time", "price", "qty", "aggressor", "buyer", "seller", "venue"),
    "agents": (
        "step", "agent_id", "kind", "inventory", "cash", "equity", "pnl", "bid", "ask", "regime",
        "status",
    ),
    "events": ("step", "kind", "agent_id", "counterparty", "amount"),
    "network": ("source", "target", "exposure", "capacity"),
}  # fmt: skip
# Columns we append after DESIGN's, per table (an extension, never a reordering).
EXTENSION_COLUMNS: dict[str, tuple[str, ...]] = {
    "market": ("hedge_price", "mark"),
    "trades": ("instrument", "purpose", "maker_order_id", "taker_order_id"),
    "agents": ("group", "hedge", "net_delta"),
    "events": tuple(EXPECTED_DTYPES["events"])[5:],
    "network": (),
}
GROUPS = ("makers", "noise", "informed")
LENDING_TABLES = ("lending", "liquidations")  # results format 4
# A valid scenario (a run directory holds one) whose text has unicode and a CRLF line end.
SCENARIO_YAML = "# unicode and CRLF survive: σ=0.2\r\n" + scenario_text({"dt": 0.01})


def _meta(wall_time_s: float = 1.5) -> dict[str, Any]:
    return collect_meta(seed=7, scenario_digest="abc123", wall_time_s=wall_time_s)


def _empty_result() -> RunResult:
    return RunResult.from_recorder(
        Recorder(), scenario_yaml=SCENARIO_YAML, summary={}, meta=_meta()
    )


def _random_result(seed: int = 1, steps: int = 50) -> RunResult:
    """A result with every table filled from a seeded generator, with gaps (None/NaN) included."""
    rng = np.random.default_rng(seed)
    recorder = Recorder()
    regimes = ("normal", "stressed", "liquidating")
    for step in range(steps):
        bid = None if rng.random() < 0.1 else float(rng.normal(100.0, 1.0))
        ask = None if rng.random() < 0.1 else float(rng.normal(100.5, 1.0))
        last = None if step == 0 else float(rng.normal(100.0, 1.0))
        bid_depth, ask_depth, volume = (int(x) for x in rng.integers(0, 500, size=3))
        fundamental = float(rng.normal(100.0, 2.0))
        recorder.market(
            step, step * 0.01, fundamental, bid, ask, bid_depth, ask_depth, last, volume
        )
        for _ in range(int(rng.integers(0, 4))):
            side = "buy" if rng.random() < 0.5 else "sell"
            venue = "book" if rng.random() < 0.8 else "interdealer"
            price = float(rng.normal(100.0, 1.0))
            qty, buyer, seller = (int(x) for x in rng.integers(1, 20, size=3))
            recorder.trade(
                step,
                step * 0.01,
                price,
                qty,
                side,
                buyer,
                seller,
                venue,
                "underlying",
                "taker",
                None,
                None,
            )
        for agent_id in range(3):
            quote = None if rng.random() < 0.2 else float(rng.normal(100.0, 1.0))
            regime = regimes[int(rng.integers(0, 3))]
            cash, equity, pnl = (float(x) for x in rng.normal(0.0, 1e3, size=3))
            inventory = int(rng.integers(-50, 50))
            state = (inventory, cash, equity, pnl, quote, None, regime, "active", GROUPS[agent_id])
            recorder.agent(step, agent_id, "market_maker", *state)
        if step % 5 == 0:
            _record_random_depth(recorder, rng, step)
        if rng.random() < 0.2:
            counterparty = None if rng.random() < 0.5 else int(rng.integers(0, 3))
            amount = math.nan if rng.random() < 0.3 else float(rng.exponential(1e3))
            venue = "book" if rng.random() < 0.5 else "outside"
            mid = None if rng.random() < 0.3 else float(rng.normal(100.0, 1.0))
            kind = EventKind.MARGIN_CALL
            recorder.event(step, kind, 1, counterparty, amount, notional=5.0, mid=mid, venue=venue)
        if rng.random() < 0.1:
            recorder.event(step, EventKind.DEFAULT, 2, None, -1.0, wave=int(rng.integers(0, 3)))
    recorder.event(steps, EventKind.CREDIT_FREEZE, None, None, 0.5)
    for source in range(3):
        recorder.network_edge(source, (source + 1) % 3, float(rng.random()), 10.0)
    _record_random_options(recorder, np.random.default_rng(seed + 1), steps)
    summary = {"sharpe": np.float64(rng.normal()), "n_trades": np.int64(12), "nan_metric": np.nan}
    return RunResult.from_recorder(
        recorder, scenario_yaml=SCENARIO_YAML, summary=summary, meta=_meta()
    )


def _record_random_options(recorder: Recorder, rng: np.random.Generator, steps: int) -> None:
    """Options rows for two series (some sides empty: NaN) and greeks rows for two dealers."""
    for step in range(0, steps, 3):
        for series, kind, strike in (("call_100_40", "call", 100.0), ("put_99.5_40", "put", 99.5)):
            bid = math.nan if rng.random() < 0.2 else float(rng.uniform(0.1, 1.0))
            ask = math.nan if rng.random() < 0.2 else bid + 0.02 if bid == bid else 0.5
            mid = 0.5 * (bid + ask)
            iv = float(rng.uniform(0.1, 0.3)) if mid == mid else math.nan
            oi, volume = (int(x) for x in rng.integers(0, 100, size=2))
            recorder.option(step, series, kind, strike, 40, bid, ask, mid, iv, oi, volume)
        for agent_id in (7, 8):
            greeks = (float(x) for x in rng.normal(0.0, 5.0, size=9))
            recorder.greeks(step, agent_id, *greeks)


def _record_random_depth(recorder: Recorder, rng: np.random.Generator, step: int) -> None:
    """Record 0-3 levels per side, bids falling and asks rising away from the touch."""
    for side, sign, touch in (("bid", -1.0, 99.75), ("ask", 1.0, 100.25)):
        for level in range(1, int(rng.integers(0, 4)) + 1):
            price = touch + sign * 0.25 * (level - 1)
            recorder.depth_level(step, side, level, price, int(rng.integers(1, 200)))


@pytest.mark.parametrize("table", tuple(DESIGN_COLUMNS))
def test_record_columns_extend_design_in_order(table: str) -> None:
    """DESIGN.md section 7's columns come first, in order; only the known extension follows."""
    ours = {
        "market": MARKET_COLUMNS,
        "trades": TRADE_COLUMNS,
        "agents": AGENT_COLUMNS,
        "events": EVENT_COLUMNS,
        "network": NETWORK_COLUMNS,
    }[table]
    design = DESIGN_COLUMNS[table]
    assert ours[: len(design)] == design
    assert ours[len(design) :] == EXTENSION_COLUMNS[table]


def test_record_depth_columns_are_exactly_the_contract() -> None:
    """The depth table (not in DESIGN.md) has exactly step, side, level, price, qty."""
    assert DEPTH_COLUMNS == ("step", "side", "level", "price", "qty")


def test_record_tables_are_design_tables_then_depth() -> None:
    """Table order: DESIGN.md's five tables, depth, pools, the options tables, the lending ones."""
    assert (*DESIGN_COLUMNS, "depth", "pools", "options", "greeks", *LENDING_TABLES) == TABLES


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_recorder_empty_tables_have_contract_dtypes(table: str) -> None:
    """An empty run still has every column, with the dtype fixed by the contract."""
    frame = getattr(_empty_result(), table)
    assert len(frame) == 0
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == EXPECTED_DTYPES[table]


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_recorder_filled_tables_have_contract_dtypes(table: str) -> None:
    """Filled tables (with None ids and missing prices) keep the contract dtypes."""
    frame = getattr(_random_result(), table)
    assert len(frame) > 0
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == EXPECTED_DTYPES[table]


def test_recorder_market_derives_mid_and_spread() -> None:
    """Mid = (bid + ask) / 2 and spread = ask - bid when both sides exist."""
    recorder = Recorder()
    recorder.market(3, 0.03, 100.0, 99.5, 100.25, 10, 20, 100.0, 5)
    row = RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={}).market.iloc[0]
    assert row["mid"] == pytest.approx(99.875)
    assert row["spread"] == pytest.approx(0.75)
    assert (row["step"], row["bid_depth"], row["ask_depth"], row["volume"]) == (3, 10, 20, 5)


@pytest.mark.parametrize(("bid", "ask"), [(None, 100.0), (99.0, None), (None, None)])
def test_recorder_market_missing_side_gives_nan(bid: float | None, ask: float | None) -> None:
    """A missing side is NaN, and so are mid and spread; the present side is kept."""
    recorder = Recorder()
    recorder.market(0, 0.0, 100.0, bid, ask, 0, 0, None, 0)
    row = RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={}).market.iloc[0]
    assert math.isnan(row["mid"]) and math.isnan(row["spread"]) and math.isnan(row["last_price"])
    assert (math.isnan(row["best_bid"]), math.isnan(row["best_ask"])) == (bid is None, ask is None)


def test_recorder_event_none_ids_are_na() -> None:
    """Absent event ids are stored as <NA> in the nullable Int64 columns."""
    recorder = Recorder()
    recorder.event(1, EventKind.DEFAULT, 4, None, 12.5, wave=0)
    events = RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={}).events
    assert events["agent_id"].iloc[0] == 4
    assert events["counterparty"].isna().tolist() == [True]


@pytest.mark.parametrize(
    ("qty", "aggressor", "venue"), [(0, "buy", "book"), (1, "BUY", "book"), (1, "sell", "dark")]
)
def test_recorder_trade_rejects_invalid_fill(qty: int, aggressor: str, venue: str) -> None:
    """Non-positive qty, an unknown aggressor side or an unknown venue raise ValueError."""
    with pytest.raises(ValueError):
        Recorder().trade(
            0, 0.0, 100.0, qty, aggressor, 1, 2, venue, "underlying", "taker", None, None
        )


@pytest.mark.parametrize("label", ["kind", "regime", "status", "group"])
def test_recorder_agent_rejects_non_str_label(label: str) -> None:
    """A label that is not a str (an enum member, say) is refused, naming it, not stringified."""
    labels: dict[str, Any] = {"kind": "market_maker", "regime": "normal", "status": "active"}
    labels["group"] = "makers"
    labels[label] = 3
    numbers: dict[str, Any] = {"inventory": 0, "cash": 0.0, "equity": 0.0, "pnl": 0.0}
    recorder = Recorder()
    with pytest.raises(TypeError, match=label):
        recorder.agent(0, 1, bid=None, ask=None, **numbers, **labels)
    assert RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={}).agents.empty


def test_recorder_agent_records_group_label() -> None:
    """The group label is stored verbatim in the trailing group column."""
    recorder = Recorder()
    recorder.agent(2, 7, "noise", 1, 0.0, 0.0, 0.0, None, None, "normal", "active", "noise ✓")
    agents = RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={}).agents
    assert agents["group"].tolist() == ["noise ✓"]
    assert (agents["regime"].iloc[0], agents["status"].iloc[0]) == ("normal", "active")


def test_recorder_depth_level_records_rows_in_order() -> None:
    """Each depth_level call is one row, in call order, with the values given."""
    recorder = Recorder()
    recorder.depth_level(4, "bid", 1, 99.5, 30)
    recorder.depth_level(4, "bid", 2, 99.25, 5)
    recorder.depth_level(4, "ask", 1, 100.5, 12)
    depth = RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={}).depth
    assert depth["side"].tolist() == ["bid", "bid", "ask"]
    assert depth["level"].tolist() == [1, 2, 1]
    assert depth["price"].tolist() == [99.5, 99.25, 100.5]
    assert depth["qty"].tolist() == [30, 5, 12]
    assert depth["step"].tolist() == [4, 4, 4]


def test_recorder_finish_rejects_fractional_depth_qty() -> None:
    """A fractional depth quantity fails at finish instead of being truncated to int64."""
    recorder = Recorder()
    recorder.depth_level(0, "ask", 1, 100.0, 2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"depth\.qty"):
        RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={})


def test_recorder_finish_rejects_fractional_integer() -> None:
    """A fractional value in an int64 column fails instead of being truncated by numpy."""
    recorder = Recorder()
    recorder.market(0, 0.0, 100.0, None, None, 1.5, 0, None, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bid_depth"):
        RunResult.from_recorder(recorder, scenario_yaml="", summary={}, meta={})


def test_run_result_round_trip_random(tmp_path: Path) -> None:
    """Save then load gives back identical tables (values and dtypes), summary, scenario, meta."""
    original = _random_result()
    loaded = RunResult.load(original.save(tmp_path / "run"))
    assert loaded.equals(original, ignore_wall_time=False)
    for table in TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(loaded, table), getattr(original, table))
    assert loaded.scenario_yaml == SCENARIO_YAML
    assert len(loaded.depth) > 0
    assert set(loaded.agents["group"]) == set(GROUPS)


def test_run_result_depth_parquet_holds_the_depth_table(tmp_path: Path) -> None:
    """depth.parquet alone (read without RunResult.load) has the depth rows and columns."""
    original = _random_result()
    path = original.save(tmp_path / "run")
    on_disk = pd.read_parquet(path / "depth.parquet", engine="pyarrow")
    assert tuple(on_disk.columns) == ("step", "side", "level", "price", "qty")
    assert on_disk["qty"].tolist() == original.depth["qty"].tolist()
    assert on_disk["side"].astype(str).tolist() == original.depth["side"].astype(str).tolist()


def test_run_result_round_trip_empty(tmp_path: Path) -> None:
    """Empty tables survive a round trip with all columns and dtypes."""
    original = _empty_result()
    loaded = RunResult.load(original.save(tmp_path / "run"))
    assert loaded.equals(original, ignore_wall_time=False)
    for table in TABLE_NAMES:
        pd.testing.assert_frame_equal(getattr(loaded, table), getattr(original, table))


def test_run_result_save_writes_exactly_the_run_files(tmp_path: Path) -> None:
    """The run holds DESIGN.md 7's eight files plus depth, pools, options, greeks and lending."""
    path = _empty_result().save(tmp_path / "runs" / "a")
    assert path == (tmp_path / "runs" / "a").absolute()
    tables = (*DESIGN_COLUMNS, "depth", "pools", "options", "greeks", *LENDING_TABLES)
    expected = [f"{table}.parquet" for table in tables]
    expected += ["summary.json", "scenario.yaml", "meta.json"]
    assert sorted(RUN_FILES) == sorted(expected)
    assert sorted(p.name for p in path.iterdir()) == sorted(expected)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["a"]


def test_run_result_summary_json_converts_numpy_and_nan(tmp_path: Path) -> None:
    """Numpy scalars become Python numbers and NaN/inf become null, in memory and on disk."""
    summary = {"a": np.float32(0.5), "b": np.int64(3), "c": np.nan, "d": [np.inf, np.bool_(True)]}
    result = RunResult.from_recorder(
        Recorder(), scenario_yaml=scenario_text(), summary=summary, meta={}
    )
    assert result.summary == {"a": 0.5, "b": 3, "c": None, "d": [None, True]}
    assert type(result.summary["b"]) is int
    path = result.save(tmp_path / "run")
    assert json.loads((path / "summary.json").read_text(encoding="utf-8")) == result.summary
    assert "NaN" not in (path / "summary.json").read_text(encoding="utf-8")


def test_run_result_summary_rejects_unserialisable_value() -> None:
    """A summary value JSON cannot represent raises TypeError naming where it is."""
    with pytest.raises(TypeError, match=r"summary\.bad"):
        RunResult.from_recorder(Recorder(), scenario_yaml="", summary={"bad": object()}, meta={})


def _fail_on(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the Parquet writer raise when it reaches ``name``, after writing earlier files."""
    real_writer = run_files.write_parquet

    def failing_writer(frame: pd.DataFrame, path: Path) -> None:
        if path.name == name:
            raise OSError("injected disk failure")
        real_writer(frame, path)

    monkeypatch.setattr(run_files, "write_parquet", failing_writer)


def test_run_result_save_failure_leaves_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure mid-save leaves neither the target nor a temporary sibling behind."""
    _fail_on("events.parquet", monkeypatch)
    with pytest.raises(RunResultError, match="injected"):
        _random_result().save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_run_result_save_failure_keeps_existing_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed overwrite leaves the existing run byte-for-byte loadable and unchanged."""
    first = _empty_result()
    first.save(tmp_path / "run")
    _fail_on("agents.parquet", monkeypatch)
    with pytest.raises(RunResultError, match="injected"):
        _random_result().save(tmp_path / "run", overwrite=True)
    assert RunResult.load(tmp_path / "run").equals(first, ignore_wall_time=False)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_result_save_failed_swap_restores_existing_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If renaming the new run into place fails, the old run is renamed back."""
    first = _empty_result()
    first.save(tmp_path / "run")
    real_rename = os.rename

    def failing_rename(src: Any, dst: Any) -> None:
        if Path(dst).name == "run" and ".tmp-" in Path(src).name and not str(src).endswith(".old"):
            raise OSError("injected rename failure")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(RunResultError, match="injected"):
        _random_result().save(tmp_path / "run")
    assert RunResult.load(tmp_path / "run").equals(first, ignore_wall_time=False)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_result_save_overwrite_replaces_existing_run(tmp_path: Path) -> None:
    """With overwrite=True the new run replaces the old one and no aside copy remains."""
    _empty_result().save(tmp_path / "run")
    second = _random_result()
    second.save(tmp_path / "run")
    assert RunResult.load(tmp_path / "run").equals(second, ignore_wall_time=False)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_result_save_without_overwrite_raises(tmp_path: Path) -> None:
    """overwrite=False on an existing directory raises FileExistsError and changes nothing."""
    first = _empty_result()
    first.save(tmp_path / "run")
    with pytest.raises(FileExistsError):
        _random_result().save(tmp_path / "run", overwrite=False)
    assert RunResult.load(tmp_path / "run").equals(first, ignore_wall_time=False)


def test_run_result_save_refuses_to_replace_non_run_directory(tmp_path: Path) -> None:
    """A non-empty directory without meta.json is never deleted by an overwrite."""
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("keep me", encoding="utf-8")
    with pytest.raises(FileExistsError, match="not a run"):
        _empty_result().save(tmp_path / "precious")
    assert (tmp_path / "precious" / "thesis.tex").read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize(
    ("table", "column", "dtype"),
    [("market", "volume", "float64"), ("depth", "level", "float64"), ("agents", "group", "object")],
)
def test_run_result_save_rejects_wrong_dtype(
    tmp_path: Path, table: str, column: str, dtype: str
) -> None:
    """A table that breaks the dtype contract is refused before anything is written."""
    result = _random_result()
    setattr(result, table, getattr(result, table).astype({column: dtype}))
    with pytest.raises(RunResultError, match=rf"{table}\.{column}"):
        result.save(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", RUN_FILES)
def test_run_result_load_missing_file_raises_naming_it(tmp_path: Path, name: str) -> None:
    """Loading a directory that lacks one run file raises RunResultError naming that file."""
    path = _empty_result().save(tmp_path / "run")
    (path / name).unlink()
    with pytest.raises(RunResultError, match=name.replace(".", r"\.")):
        RunResult.load(path)


def test_run_result_load_missing_directory_raises(tmp_path: Path) -> None:
    """Loading a path that is not a directory raises RunResultError."""
    with pytest.raises(RunResultError):
        RunResult.load(tmp_path / "nowhere")


def test_run_result_equals_ignores_wall_time() -> None:
    """Two results differing only in wall time are equal unless wall time is compared."""
    fast = RunResult.from_recorder(
        Recorder(), scenario_yaml="a", summary={"x": 1.0}, meta=_meta(1.0)
    )
    slow = RunResult.from_recorder(
        Recorder(), scenario_yaml="a", summary={"x": 1.0}, meta=_meta(9.0)
    )
    assert fast.equals(slow)
    assert not fast.equals(slow, ignore_wall_time=False)


def test_run_result_equals_detects_table_difference() -> None:
    """One changed cell, or a changed dtype with equal values, makes results unequal."""
    base = _random_result()
    changed = _random_result()
    prices = changed.trades["price"].to_numpy(copy=True)
    prices[0] += 0.01
    changed.trades["price"] = prices
    assert base.equals(_random_result())
    assert not base.equals(changed)
    retyped = _random_result()
    retyped.network = retyped.network.astype({"source": "float64"})
    assert not base.equals(retyped)


def test_run_result_equals_detects_depth_difference() -> None:
    """A changed depth quantity makes results unequal: depth is part of the comparison."""
    base = _random_result()
    changed = _random_result()
    quantities = changed.depth["qty"].to_numpy(copy=True)
    quantities[-1] += 1
    changed.depth["qty"] = quantities
    assert not base.equals(changed)


def test_run_result_equals_detects_summary_difference() -> None:
    """Results whose summaries differ are unequal even if the tables match."""
    one = RunResult.from_recorder(Recorder(), scenario_yaml="a", summary={"x": 1.0}, meta={})
    two = RunResult.from_recorder(Recorder(), scenario_yaml="a", summary={"x": 2.0}, meta={})
    assert not one.equals(two)


def test_collect_meta_has_versions_and_run_keys() -> None:
    """Meta carries seed, digest, wall time, python, platform, format and seven package versions."""
    meta = collect_meta(seed=42, scenario_digest="d", wall_time_s=0.25)
    keys = {"seed", "scenario_digest", "wall_time_s", "python", "platform", "versions"}
    assert set(meta) == keys | {"results_format_version"}
    assert meta["results_format_version"] == RESULTS_FORMAT_VERSION
    assert (meta["seed"], meta["scenario_digest"], meta["wall_time_s"]) == (42, "d", 0.25)
    packages = {"abm", "mesa", "numpy", "pandas", "networkx", "pydantic", "pyarrow"}
    assert set(meta["versions"]) == packages
    assert meta["versions"]["numpy"] == np.__version__
    assert all(isinstance(version, str) and version for version in meta["versions"].values())
    json.dumps(meta)


# ----- replacing a run keeps what the user put beside it -----------------------------------


def _user_files(run: Path) -> None:
    """Put a note, a nested figure and a symbolic link into a run directory."""
    (run / "notes.md").write_text("my notes", encoding="utf-8")
    (run / "figures").mkdir()
    (run / "figures" / "mine.png").write_bytes(b"\x89PNG mine")
    (run / "latest").symlink_to("notes.md")


def _assert_user_files(run: Path) -> None:
    assert (run / "notes.md").read_text(encoding="utf-8") == "my notes"
    assert (run / "figures" / "mine.png").read_bytes() == b"\x89PNG mine"
    assert os.readlink(run / "latest") == "notes.md"


def test_run_result_save_replacing_a_run_keeps_user_files(tmp_path: Path) -> None:
    """Replacing a run swaps only RUN_FILES: a note, a nested file and a link survive."""
    _empty_result().save(tmp_path / "run")
    _user_files(tmp_path / "run")
    second = _random_result()
    second.save(tmp_path / "run")
    assert RunResult.load(tmp_path / "run").equals(second, ignore_wall_time=False)
    _assert_user_files(tmp_path / "run")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_result_save_keeps_user_files_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where hard links fail (some file systems), user files are copied across, not lost."""
    _empty_result().save(tmp_path / "run")
    _user_files(tmp_path / "run")

    def no_links(*args: Any, **kwargs: Any) -> None:
        raise OSError("injected: hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    _random_result().save(tmp_path / "run")
    _assert_user_files(tmp_path / "run")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_result_save_moves_a_file_added_during_the_replacement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file written into the old directory after its files were carried over is moved in."""
    _empty_result().save(tmp_path / "run")
    real_rename = os.rename

    def rename_after_a_late_write(src: Any, dst: Any) -> None:
        if Path(src).name == "run":  # the old run is about to be renamed aside
            (Path(src) / "late.txt").write_text("written late", encoding="utf-8")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename_after_a_late_write)
    _random_result().save(tmp_path / "run")
    assert (tmp_path / "run" / "late.txt").read_text(encoding="utf-8") == "written late"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_result_save_failed_replacement_keeps_user_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that fails after carrying user files over leaves the old directory complete."""
    first = _empty_result()
    first.save(tmp_path / "run")
    _user_files(tmp_path / "run")
    _fail_on("trades.parquet", monkeypatch)
    with pytest.raises(RunResultError, match="injected"):
        _random_result().save(tmp_path / "run")
    assert RunResult.load(tmp_path / "run").equals(first, ignore_wall_time=False)
    _assert_user_files(tmp_path / "run")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_run_result_save_force_writes_into_a_non_run_directory(tmp_path: Path) -> None:
    """force=True writes the run into a non-run directory and keeps the files already there."""
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("keep me", encoding="utf-8")
    result = _random_result()
    result.save(tmp_path / "precious", force=True)
    assert (tmp_path / "precious" / "thesis.tex").read_text(encoding="utf-8") == "keep me"
    assert RunResult.load(tmp_path / "precious").equals(result, ignore_wall_time=False)


def test_run_result_save_force_replaces_a_file_named_like_a_run_file(tmp_path: Path) -> None:
    """With force=True a user's summary.json is replaced by the run's (as documented)."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "summary.json").write_text('{"mine": 1}', encoding="utf-8")
    result = _random_result()
    result.save(tmp_path / "dir", force=True)
    on_disk = json.loads((tmp_path / "dir" / "summary.json").read_text(encoding="utf-8"))
    assert on_disk == result.summary


def test_run_result_save_replacement_keeps_directory_permissions(tmp_path: Path) -> None:
    """A replaced run directory keeps the permission bits it had."""
    _empty_result().save(tmp_path / "run")
    (tmp_path / "run").chmod(0o750)
    _random_result().save(tmp_path / "run")
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o750


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_run_result_save_directory_follows_umask(tmp_path: Path, umask: int) -> None:
    """A new run directory gets 0o777 less the user's umask (not mkdtemp's 0o700)."""
    result = _empty_result()
    previous = os.umask(umask)
    try:
        saved = result.save(tmp_path / "run")
    finally:
        os.umask(previous)
    assert saved.stat().st_mode & 0o777 == 0o777 & ~umask
