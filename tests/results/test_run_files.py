"""The run directory's files (`abm.results.run_files`): writers, readers and their checks.

`RunResult.save`/`load` are tested end to end in test_record.py and test_damaged_runs.py;
these tests pin the file helpers themselves, against hand-counted values and the JSON
standard (RFC 8259 has no NaN or Infinity).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import scenario_text

from abm.results import run_files, run_result
from abm.results.recorder import TABLES, Recorder
from abm.results.run_directory import RUN_FILES, RunResultError


def test_run_files_json_depth_counts_hand_nesting() -> None:
    """A scalar is depth 0, {} is 1, {"a": [1, {"b": []}]} is 4 (counted by hand)."""
    assert run_files.json_depth(7) == 0
    assert run_files.json_depth({}) == 1
    assert run_files.json_depth({"a": [1, {"b": []}]}) == 4


def test_run_files_json_depth_goes_beyond_the_recursion_limit() -> None:
    """Nesting far deeper than Python's recursion limit is measured, not a RecursionError."""
    value: list[object] = []
    for _ in range(50_000):
        value = [value]
    assert run_files.json_depth(value) == 50_001


def test_run_files_jsonable_output_is_strict_json() -> None:
    """Scalars and arrays of numpy, tuples and non-finite floats become RFC 8259 JSON values."""
    value = {
        "n": np.int64(3),
        "x": np.float64("nan"),
        "inf": -math.inf,
        "flag": np.bool_(True),
        "pair": (1, np.float32(0.5)),
        "array": np.array([1.0, np.inf]),
    }
    converted = run_files.jsonable(value, "summary")
    assert converted == {
        "n": 3,
        "x": None,
        "inf": None,
        "flag": True,
        "pair": [1, 0.5],
        "array": [1.0, None],
    }
    assert json.loads(run_files.dump_json(converted)) == converted


def test_run_files_jsonable_names_a_non_string_key() -> None:
    """A mapping key JSON cannot hold is a TypeError naming where it is."""
    with pytest.raises(TypeError, match=r"meta\.versions keys must be str"):
        run_files.jsonable({"versions": {1: "a"}}, "meta")


def test_run_files_one_line_joins_lines_and_cuts_to_the_limit() -> None:
    """Lines are stripped and joined by "; "; longer text ends in "..." at exactly the limit."""
    assert run_files.one_line("a\n\n  b  \nc") == "a; b; c"
    cut = run_files.one_line("x" * 50, 10)
    assert cut == "xxxxxxx..." and len(cut) == 10


def test_run_files_text_round_trip_keeps_line_endings(tmp_path: Path) -> None:
    """Text written and read back keeps CRLF line endings byte for byte (no translation)."""
    path = tmp_path / "scenario.yaml"
    run_files.write_text("a: 1\r\nb: é\n", path)
    assert path.read_bytes() == "a: 1\r\nb: é\n".encode()
    assert run_files.read_text(path) == "a: 1\r\nb: é\n"


def test_run_files_writers_never_overwrite(tmp_path: Path) -> None:
    """A writer refuses a file that exists and leaves it as it was."""
    path = tmp_path / "summary.json"
    path.write_text("kept")
    with pytest.raises(FileExistsError):
        run_files.write_text("new", path)
    with pytest.raises(FileExistsError):
        run_files.write_parquet(pd.DataFrame({"a": [1]}), path)
    assert path.read_text() == "kept"


def test_run_files_read_text_refuses_non_utf8_naming_the_byte(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are a RunResultError naming the file and the offset."""
    path = tmp_path / "scenario.yaml"
    path.write_bytes(b"ok\xff")
    with pytest.raises(RunResultError, match=r"scenario\.yaml is not UTF-8 text .* at byte 2"):
        run_files.read_text(path)


def test_run_files_check_steps_names_the_first_row_outside() -> None:
    """Steps 0, 5, 11, 12 in a 10-step run: row 2 (step 11) is the first one refused."""
    frame = pd.DataFrame({"step": np.array([0, 5, 11, 12], dtype=np.int64)})
    with pytest.raises(RunResultError, match=r"row 2 has step 11, outside the run's steps 0\.\.10"):
        run_files.check_steps(Path("market.parquet"), frame, 10)
    run_files.check_steps(Path("market.parquet"), frame, 12)


def test_run_files_read_run_files_reads_back_what_was_written(tmp_path: Path) -> None:
    """write_run_files writes exactly RUN_FILES; read_run_files returns each part unchanged."""
    recorder = Recorder()
    recorder.market(0, 0.0, 100.0, 99.0, 101.0, 5, 6, None, 0)
    tables = {table: recorder.table(table) for table in TABLES}
    yaml = scenario_text({"steps": 3})
    meta = {run_files.FORMAT_KEY: run_files.RESULTS_FORMAT_VERSION, "seed": 4}
    run_files.write_run_files(tmp_path, tables, {"mean": 1.5}, yaml, meta)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(RUN_FILES)
    read = run_files.read_run_files(tmp_path)
    assert read.summary == {"mean": 1.5} and read.meta == meta and read.scenario_yaml == yaml
    assert read.scenario.steps == 3
    for table in TABLES:
        pd.testing.assert_frame_equal(read.tables[table], tables[table])


def test_run_files_read_run_files_checks_the_format_before_any_table(tmp_path: Path) -> None:
    """A run of another format version is refused even when its tables are unreadable."""
    (tmp_path / "meta.json").write_text(json.dumps({run_files.FORMAT_KEY: 1}))
    for name in RUN_FILES:
        if name != "meta.json":
            (tmp_path / name).write_text("damaged")
    with pytest.raises(RunResultError, match="saved in results format 1"):
        run_files.read_run_files(tmp_path)


@pytest.mark.parametrize(
    "name",
    ["FORMAT_KEY", "MAX_JSON_DEPTH", "MESSAGE_LIMIT", "RESULTS_FORMAT_VERSION"],
)
def test_run_result_still_exports_the_moved_constants(name: str) -> None:
    """Names that moved to run_files stay importable from run_result, as the same object."""
    assert getattr(run_result, name) is getattr(run_files, name)
