"""A streamed run (`abm.streamed.run_to`) writes the run directory an in-memory run saves.

The reference is the unstreamed path, `abm.run(scenario).save(directory)`, which holds every
row to the end: with a flush every few steps (many Parquet row groups per table), the loaded
tables must be equal, dtypes and categories included, and the summary equal but for wall
time. Scenarios are chosen so that every table has rows (network edges, events, depth
snapshots, interdealer trades, option quotes and dealer Greeks); one runs an execution
program (its flash-crash summary reads the tables back from the files) and two an AMM pool
(their ``amm_`` summary keys are read back from the files too). A run that fails part way
leaves nothing new.
"""

from __future__ import annotations

import gc
import math
import os
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from _helpers import BASELINE

import abm
from abm.results.amm_summary import AMM_SUMMARY_KEYS
from abm.results.recorder import TABLES, Recorder, RecorderStreamedError
from abm.results.run_result import WALL_TIME_KEYS, RunResult
from abm.results.spill import ParquetSpill
from abm.scenario.budget import STREAM_FLUSH_STEPS, estimate
from abm.streamed import run_to

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
CASES = {
    "baseline": (BASELINE, {"steps": 60}),
    "fire_sale": (SCENARIOS / "crisis" / "fire_sale_spiral.yaml", {"steps": 80}),
    "amm": (SCENARIOS / "amm" / "pool_exploit.yaml", {"steps": 70}),
    "amm_concentrated": (SCENARIOS / "amm" / "concentrated_ranges.yaml", {"steps": 60}),
    "flash_crash": (
        SCENARIOS / "crisis" / "flash_crash_2010.yaml",
        {"steps": 90, "agents.seller.start_step": 20},
    ),
    "lending": (SCENARIOS / "defi" / "liquidation_cascade.yaml", {"steps": 600}),
    "options": (
        SCENARIOS / "options" / "options_mm.yaml",
        {"steps": 60, "options.expiries": [30, 90], "options.record_stride": 1},
    ),
}


def _same_summary(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    def same(x: Any, y: Any) -> bool:
        both_nan = isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
        return both_nan or x == y

    keys = set(a) | set(b)
    return sorted(k for k in keys - set(WALL_TIME_KEYS) if not same(a.get(k), b.get(k)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_streamed_run_directory_equals_the_saved_in_memory_run(name: str, tmp_path: Path) -> None:
    path, overrides = CASES[name]
    scenario = abm.load_scenario(path).override(overrides)
    abm.run(scenario).save(tmp_path / "memory")
    saved = run_to(scenario, tmp_path / "streamed", flush_steps=7)
    memory = RunResult.load(tmp_path / "memory")
    streamed = RunResult.load(saved.path)
    for table in TABLES:
        ours, theirs = streamed.tables()[table], memory.tables()[table]
        assert list(ours.dtypes) == list(theirs.dtypes), table
        assert ours.equals(theirs), table
        for column in ours.columns:
            if ours[column].dtype == "category":
                assert list(ours[column].cat.categories) == list(theirs[column].cat.categories)
    assert _same_summary(streamed.summary, memory.summary) == []
    assert _same_summary(saved.summary, memory.summary) == []
    if scenario.amm is not None:  # the pool's figures are compared too, not absent from both
        assert set(AMM_SUMMARY_KEYS.values()) <= set(saved.summary)
    assert streamed.scenario_yaml == memory.scenario_yaml
    # it did stream: the per-step tables are in many row groups
    market = pq.ParquetFile(saved.path / "market.parquet").metadata.num_row_groups
    assert market == math.ceil(scenario.steps / 7)


def test_every_table_of_the_cases_has_rows(tmp_path: Path) -> None:
    """The equality above covers each table with rows in it, not only empty ones."""
    seen = dict.fromkeys(TABLES, 0)
    for path, overrides in CASES.values():
        result = abm.run(abm.load_scenario(path).override(overrides))
        for table, frame in result.tables().items():
            seen[table] += len(frame)
    assert all(seen.values()), seen


def test_a_failed_streamed_run_leaves_nothing_and_keeps_the_old_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = run_to(BASELINE, out, steps=20, flush_steps=5)
    before = sorted(p.name for p in out.iterdir())
    (out / "notes.txt").write_text("mine", encoding="utf-8")

    class Stop(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        if done >= 30:
            raise Stop

    with pytest.raises(Stop):
        run_to(BASELINE, out, steps=60, flush_steps=5, progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging sibling left
    assert sorted(p.name for p in out.iterdir()) == sorted([*before, "notes.txt"])
    kept = RunResult.load(out)
    assert kept.summary["steps"] == first.summary["steps"] == 20
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_failed_first_streamed_run_creates_no_directory(tmp_path: Path) -> None:
    out = tmp_path / "parent" / "run"

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_to(BASELINE, out, steps=40, flush_steps=5, progress=interrupt)
    assert list(tmp_path.iterdir()) == []  # not even the parent it made


def test_run_to_freezes_the_heap_for_the_run_only(tmp_path: Path) -> None:
    """The objects alive before a run are frozen during it and unfrozen after it.

    The reference is the collector's own count of frozen objects (`gc.get_freeze_count`):
    above zero throughout the run, zero afterwards, also when the run fails; with the
    collector off the run freezes nothing.
    """
    during: list[int] = []

    def watch(done: int, total: int) -> None:
        during.append(gc.get_freeze_count())

    assert gc.get_freeze_count() == 0
    run_to(BASELINE, tmp_path / "run", steps=20, flush_steps=5, progress=watch)
    assert during and min(during) > 0  # frozen throughout
    assert gc.get_freeze_count() == 0

    class Stop(Exception):
        pass

    def interrupt(done: int, total: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        run_to(BASELINE, tmp_path / "failed", steps=20, progress=interrupt)
    assert gc.get_freeze_count() == 0
    during.clear()
    gc.disable()
    try:
        run_to(BASELINE, tmp_path / "off", steps=20, flush_steps=5, progress=watch)
    finally:
        gc.enable()
    assert during and set(during) == {0}


def test_run_to_keeps_what_the_caller_froze(tmp_path: Path) -> None:
    """A caller's own `gc.freeze` stands: the run neither adds to it nor unfreezes it."""
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        run_to(BASELINE, tmp_path / "run", steps=10)
        # a frozen object whose last reference went leaves the count: a few may, no more
        assert frozen - 100 < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()


def test_recorder_refuses_a_table_it_has_flushed(tmp_path: Path) -> None:
    recorder = Recorder()
    with ParquetSpill(tmp_path) as spill:
        recorder.stream_to(spill)
        recorder.market(0, 0.0, 100.0, 99.0, 101.0, 5, 5, None, 0)
        recorder.flush()
        recorder.market(1, 1.0, 100.0, 99.0, 101.0, 5, 5, None, 0)
        assert recorder.rows("market") == 2
        with pytest.raises(RecorderStreamedError, match="market table was streamed"):
            recorder.table("market")
        assert recorder.table("trades").empty  # a table never flushed is still here
        recorder.flush()
    assert pq.ParquetFile(tmp_path / "market.parquet").metadata.num_rows == 2
    assert pq.ParquetFile(tmp_path / "trades.parquet").metadata.num_rows == 0


def test_run_to_checks_its_arguments_before_writing(tmp_path: Path) -> None:
    with pytest.raises(abm.AbmError, match="flush_steps: must be an integer >= 1"):
        run_to(BASELINE, tmp_path / "a", flush_steps=0)
    with pytest.raises(abm.AbmError, match="directory: must be a path"):
        run_to(BASELINE, 3, steps=5)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_streamed_memory_estimate_does_not_grow_with_the_rows() -> None:
    """The budget of a streamed run holds a block of rows, plus the market table read back."""
    scenario = abm.load_scenario(BASELINE)
    short = estimate(scenario.override({"steps": 10_000}), flush_steps=STREAM_FLUSH_STEPS)
    long = estimate(scenario.override({"steps": 1_000_000}), flush_steps=STREAM_FLUSH_STEPS)
    held = estimate(scenario.override({"steps": 1_000_000}))
    assert long.memory_bytes - short.memory_bytes < 200 * 2**20  # the read-back market table
    assert held.memory_bytes > 10 * long.memory_bytes


def test_cli_run_on_a_disk_that_fills_mid_stream_is_one_line_and_keeps_the_old_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A flush refused by the disk (ENOSPC from a row group write): exit 2, nothing new."""
    import errno

    from abm.cli.main import main
    from abm.results import spill

    out = tmp_path / "run"
    assert main(["run", str(BASELINE), "--steps", "20", "--out", str(out), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    class FullDisk(spill.pq.ParquetWriter):  # type: ignore[misc]
        def write_table(self, table: Any, row_group_size: int | None = None) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(spill.pq, "ParquetWriter", FullDisk)
    code = main(["run", str(BASELINE), "--steps", "30", "--out", str(out), "--quiet"])
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and str(out) in err and "No space left on device" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


_PEAK_AFTER_RUN = """
import sys
from abm.streamed import run_to
saved = run_to("baseline", sys.argv[1], steps=int(sys.argv[2]))
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
print(int(peak.split()[1]) // 1024, saved.summary["fills"])
"""


@pytest.mark.slow
def test_a_million_step_baseline_streams_within_500_mib(tmp_path: Path) -> None:
    """Issue 17's bound: the run completes, every table is written, peak RSS <= 500 MiB.

    ~9 minutes on the reference machine. The peak is the process's own high-water mark
    (VmHWM), read at the end of the run in that process.
    """
    import subprocess
    import sys

    steps = 1_000_000
    out = tmp_path / "long"
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_AFTER_RUN, str(out), str(steps)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_mib, fills = (int(word) for word in done.stdout.split())
    assert peak_mib <= 500, peak_mib
    market = pq.ParquetFile(out / "market.parquet").metadata
    assert market.num_rows == steps + 1
    assert pq.ParquetFile(out / "trades.parquet").metadata.num_rows == fills > steps


def test_arrow_block_is_the_recorder_frame_converted() -> None:
    """`arrow_table` builds what `Recorder.table`'s frame becomes in the spill's schema.

    Reference: the pandas path (`Recorder.table`, then ``pa.Table.from_pandas`` with the
    table's schema), on rows with NaNs, nulls and labels in both the plain and the nullable
    label columns.
    """
    import pyarrow as pa

    from abm.results.spill import arrow_table, table_arrow_schema

    recorder = Recorder()
    recorder.market(1, 1.0, 100.0, 99.5, None, 3, 0, None, 0, math.nan, 100.0)
    recorder.market(2, 2.0, 100.1, 99.5, 100.5, 3, 4, 100.0, 7)
    recorder.trade(1, 1.0, 100.0, 2, "buy", 3, 4, "book", "underlying", "taker", 11, 12)
    recorder.trade(2, 2.0, 99.0, 1, "sell", 4, 3, "interdealer", "underlying", "quote", None, None)
    for table in ("market", "trades"):
        schema = table_arrow_schema(table)
        expected = pa.Table.from_pandas(recorder.table(table), schema=schema, preserve_index=False)
        columns = recorder._columns_of(table)
        built = arrow_table(table, columns, schema)
        assert built.to_pandas().equals(expected.to_pandas())


@pytest.mark.parametrize(
    ("table", "column", "value", "problem"),
    [
        ("market", 0, 1.5, "type double"),  # step: an int column
        ("market", 0, True, "type bool"),
        ("market", 2, None, "missing"),  # fundamental: a float column
        ("market", 2, "x", "type string"),
        ("trades", 10, 1.0, "type double"),  # maker_order_id: a nullable int column
    ],
)
def test_arrow_block_refuses_values_the_recorder_frame_refuses(
    table: str, column: int, value: Any, problem: str
) -> None:
    """A value the contract dtype cannot hold is a TypeError naming the column (as pandas')."""
    from abm.results.recorder import COLUMNS
    from abm.results.spill import arrow_table, table_arrow_schema

    recorder = Recorder()
    recorder.market(1, 1.0, 100.0, 99.5, 100.5, 3, 4, 100.0, 7)
    recorder.trade(1, 1.0, 100.0, 2, "buy", 3, 4, "book", "underlying", "taker", 11, 12)
    columns = list(recorder._columns_of(table))
    columns[column] = [value]
    name = COLUMNS[table][column]
    with pytest.raises(TypeError, match=rf"{table}\.{name} .*{problem}"):
        arrow_table(table, tuple(columns), table_arrow_schema(table))


@pytest.mark.parametrize("block_rows", [1, 10, 10_000])
def test_trade_blocks_are_whole_row_groups_within_the_limit(
    block_rows: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trade blocks: the file's rows in order, in whole row groups of <= TRADE_BLOCK_ROWS rows.

    A block passes the limit only as one group alone; the summary equals the in-memory run's.
    """
    import abm.streamed as streamed_module

    scenario = abm.load_scenario(BASELINE).override({"steps": 60})
    memory = abm.run(scenario)
    monkeypatch.setattr(streamed_module, "TRADE_BLOCK_ROWS", block_rows)
    saved = run_to(scenario, tmp_path / "run", flush_steps=7)
    path = saved.path / "trades.parquet"
    sizes = [
        pq.ParquetFile(path).metadata.row_group(g).num_rows
        for g in range(pq.ParquetFile(path).num_row_groups)
    ]
    blocks = list(streamed_module._trade_blocks(path))
    assert len(sizes) > 3 and sum(sizes) == len(memory.trades) > 0
    lengths = [len(block) for block in blocks]
    assert all(n <= block_rows or n in sizes for n in lengths)
    if block_rows >= sum(sizes):
        assert len(blocks) == 1
    else:
        assert len(sizes) >= len(blocks) > 1
    stacked = [row for block in blocks for row in block[["step", "price"]].itertuples(index=False)]
    expected = list(memory.trades[["step", "price"]].itertuples(index=False))
    assert stacked == expected
    assert [str(v) for block in blocks for v in block["venue"]] == list(
        memory.trades["venue"].astype(str)
    )
    assert _same_summary(saved.summary, memory.summary) == []


def test_spilled_files_dictionary_encode_labels_only(tmp_path: Path) -> None:
    """Parquet column metadata: label (category) columns are dictionary pages, numbers plain."""
    saved = run_to(abm.load_scenario(BASELINE), tmp_path / "run", steps=30, flush_steps=7)
    for table in ("market", "trades", "agents"):
        metadata = pq.ParquetFile(saved.path / f"{table}.parquet").metadata
        schema = pq.ParquetFile(saved.path / f"{table}.parquet").schema_arrow
        group = metadata.row_group(0)
        for index in range(group.num_columns):
            column = group.column(index)
            label = str(schema.field(column.path_in_schema).type).startswith("dictionary")
            dictionary = any("DICTIONARY" in encoding for encoding in column.encodings)
            assert dictionary == label, (table, column.path_in_schema, column.encodings)
