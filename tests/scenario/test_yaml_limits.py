"""Bounds on the YAML abm reads (`abm.scenario.yaml_text`): size, depth, aliases, numbers, files.

Each input here once escaped as a traceback, a hang or a memory blow-up (issue 16, class 4):
Python's int-conversion limit (4,300 digits, CPython's ``sys.int_info.default_max_str_digits``),
the composer's recursion, a device read without end, a FIFO opened for reading.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from abm.experiments.sweep_spec import SweepError, load_sweep
from abm.scenario.schema import ScenarioError, load_scenario, parse_set_option
from abm.scenario.yaml_text import (
    MAX_YAML_BYTES,
    MAX_YAML_DEPTH,
    parse_yaml_strict,
    read_yaml_file,
)

TINY = Path(__file__).parents[1] / "data" / "sweeps" / "tiny.yaml"


def test_parse_yaml_strict_long_integer_is_a_scenario_error() -> None:
    """A 5,000-digit integer (past CPython's 4,300-digit limit) is refused with its line."""
    with pytest.raises(ScenarioError, match=r"line 1, column 8: .*5,000 digits is out of range"):
        parse_yaml_strict("steps: " + "9" * 5000, "<t>")


def test_parse_yaml_strict_deep_nesting_is_a_scenario_error() -> None:
    """Nesting 2,000 lists deep (past Python's ~1,000-frame recursion limit) is refused."""
    text = "a: " + "[" * 2000 + "]" * 2000
    with pytest.raises(ScenarioError, match=f"nested deeper than {MAX_YAML_DEPTH} levels"):
        parse_yaml_strict(text, "<t>")


def test_parse_yaml_strict_nesting_within_the_bound_is_read() -> None:
    """A document exactly at the depth bound parses (the bound is not off by one)."""
    depth = MAX_YAML_DEPTH - 1  # the top-level mapping is one level
    value = parse_yaml_strict("a: " + "[" * depth + "]" * depth, "<t>")["a"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == []


def test_parse_yaml_strict_alias_bomb_is_refused_before_it_expands() -> None:
    """Nine levels of ten aliases each (10^9 values in all) are refused at parse time."""
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(ScenarioError, match=r"expands to more than 1,000,000 values"):
        parse_yaml_strict("\n".join(lines), "<t>")


def test_parse_yaml_strict_text_longer_than_the_bound_is_refused() -> None:
    """Text over MAX_YAML_BYTES characters is refused before parsing."""
    with pytest.raises(ScenarioError, match="longer than"):
        parse_yaml_strict("#" * (MAX_YAML_BYTES + 1), "<t>")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1:30", "1:30"),  # YAML 1.1: 90 (base 60)
        ("010", "010"),  # YAML 1.1: 8 (octal)
        ("1e9", 1e9),  # YAML 1.1: the string "1e9" (its exponent needs a sign)
        ("2.5e-3", 2.5e-3),
        ("1_000", 1000),
        ("-7", -7),
        ("0x1F", 31),
        (".5", 0.5),
    ],
)
def test_parse_yaml_strict_reads_numbers_as_written(text: str, expected: object) -> None:
    """Numbers read as YAML 1.2 and a reader do; base-60 and leading-zero octal stay strings."""
    value = parse_yaml_strict(f"v: {text}", "<t>")["v"]
    assert value == expected
    assert type(value) is type(expected)


def test_read_yaml_file_dev_zero_is_refused_without_reading() -> None:
    """``/dev/zero`` (a device that never ends) is refused as not a regular file."""
    with pytest.raises(ScenarioError, match="/dev/zero: is not a regular file"):
        read_yaml_file("/dev/zero", what="scenario")


def _error_reading_fifo(fifo: Path, read: Callable[[Path], object]) -> BaseException | None:
    """What ``read(fifo)`` raises; fails the test (after unblocking it) if it blocks."""
    outcome: list[BaseException | None] = []

    def call() -> None:
        try:
            read(fifo)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():
        # an open for writing succeeds once a reader waits: it releases the blocked reader
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=10)
        pytest.fail(f"reading the FIFO {fifo} blocked")
    return outcome[0]


def test_load_scenario_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO with no writer is refused at once: opening it for reading would block forever."""
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    error = _error_reading_fifo(fifo, load_scenario)
    assert isinstance(error, ScenarioError)
    assert "is not a regular file" in str(error)


def test_read_yaml_file_larger_than_the_bound_is_refused(tmp_path: Path) -> None:
    """A file over MAX_YAML_BYTES (sparse: nothing is written) is refused from its size."""
    path = tmp_path / "big.yaml"
    with path.open("wb") as file:
        file.truncate(MAX_YAML_BYTES + 1)
    with pytest.raises(ScenarioError, match="larger than 10,000,000 bytes"):
        read_yaml_file(path, what="scenario")


def test_read_yaml_file_keeps_text_mode_line_ends(tmp_path: Path) -> None:
    """CRLF line ends read as LF, as ``Path.read_text`` did."""
    path = tmp_path / "crlf.yaml"
    path.write_bytes(b"# head\r\nname: x\r\n")
    assert read_yaml_file(path, what="scenario") == "# head\nname: x\n"


def test_parse_set_option_long_integer_is_a_scenario_error() -> None:
    """``--set steps=<5,000 digits>`` is one ScenarioError naming the path, not a ValueError."""
    with pytest.raises(ScenarioError, match=r"<scenario>: steps: .*out of range"):
        parse_set_option("steps=" + "9" * 5000)


def test_parse_set_option_deep_value_is_a_scenario_error() -> None:
    """A ``--set`` value nested 5,000 deep is one ScenarioError, not a RecursionError."""
    with pytest.raises(ScenarioError, match="nested deeper"):
        parse_set_option("agents=" + "[" * 5000 + "]" * 5000)


def test_load_sweep_deep_nesting_is_a_sweep_error(tmp_path: Path) -> None:
    """A sweep file nested 3,000 deep is one SweepError (the sweep reader uses the same loader)."""
    path = tmp_path / "sweep.yaml"
    path.write_text(f"scenario: {TINY}\ngrid: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    with pytest.raises(SweepError, match="nested deeper"):
        load_sweep(path)


def test_load_sweep_fifo_is_a_sweep_error(tmp_path: Path) -> None:
    """A sweep path that is a FIFO is refused without blocking."""
    fifo = tmp_path / "sweep.yaml"
    os.mkfifo(fifo)
    error = _error_reading_fifo(fifo, load_sweep)
    assert isinstance(error, SweepError)
    assert "is not a regular file" in str(error)
