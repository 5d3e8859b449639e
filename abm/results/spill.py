"""Streaming a run's tables to Parquet as it goes, so memory does not grow with run length.

A `ParquetSpill` holds one open ``pyarrow.parquet.ParquetWriter`` per table in a directory
(normally a run directory's hidden staging sibling, `abm.results.run_result.write_run_directory`).
`abm.results.recorder.Recorder.flush` hands it each table's rows recorded since the last flush,
one list of values per column; it builds them into Arrow arrays of the table's schema
(`arrow_table`: the checks `abm.results.recorder.Recorder.table` makes, without a pandas frame
on the way) and appends them as a row group; `close` writes whatever tables never received a
row (as empty tables); the run directory's writer fsyncs them with the run's other files
before they can appear under the run's name (`abm.results.run_directory.sync_staged`).

Every row group of a table has one Arrow schema, taken from the table's empty frame with
label columns widened to 32-bit dictionary indices (a row group's own categories are the
labels it holds, so their count varies). `abm.results.run_files.read_table` reads a file of
many row groups back into the same frame, categories included, as one written at once: the
streamed and the unstreamed run directory hold equal tables (``tests/results/test_spill.py``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from abm.results.recorder import TABLES, empty_table, nullable_column, table_schema

_LABEL_INDEX = pa.int32()


def arrow_table(table: str, columns: tuple[list[Any], ...], schema: pa.Schema) -> pa.Table:
    """Rows of ``table`` (one list per column) as an Arrow table of ``schema``.

    The same values, and the same refusals, as `abm.results.recorder.Recorder.table`'s
    pandas frame converted to ``schema``: integer columns take integers only, float columns
    numbers (NaN stays NaN), neither a missing value; a label column takes ``str`` values
    (a nullable one also None or NaN, stored as null), a nullable integer column integers or
    None. Labels are dictionary-encoded in order of first appearance (a row group's own
    dictionary; `abm.results.run_files.read_table` sorts the categories on reading).

    Raises:
        TypeError: If a column's values do not fit its dtype; the message names the column.
    """
    arrays = []
    for (name, dtype), values, field in zip(table_schema(table), columns, schema, strict=True):
        try:
            arrays.append(_arrow_column(table, name, dtype, values, field.type))
        except (TypeError, ValueError, pa.ArrowException) as error:
            raise TypeError(f"{table}.{name} values do not fit dtype {dtype}: {error}") from error
    return pa.Table.from_arrays(arrays, schema=schema)


def _arrow_column(table: str, name: str, dtype: str, values: list[Any], kind: pa.DataType) -> Any:
    if dtype == "category":
        if nullable_column(table, name):
            values = [_nullable_label(value) for value in values]
        else:
            values = [value if type(value) is str else str(value) for value in values]
        labels = pa.array(values, type=pa.string()).dictionary_encode()
        return labels if labels.type == kind else labels.cast(kind)
    column = pa.array(values)  # Arrow infers the values' type, reading them in C
    inferred = column.type
    allowed = pa.types.is_integer(inferred) or pa.types.is_null(inferred)
    if dtype == "float64":
        allowed = allowed or pa.types.is_floating(inferred)  # numpy's kinds "iuf"; ints: "iu"
    if not allowed:
        raise TypeError(f"got values of type {inferred}")
    if column.null_count and dtype != "Int64":
        raise TypeError("got a missing value")
    # NaN stays NaN; a column inferred as its type already (int64, float64: nearly all) is
    # kept as it is, since a cast to the same type still cost as much as building it
    return column if column.type == kind else column.cast(kind)


def _nullable_label(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return str(value)
    raise TypeError(f"a label must be a str, got {type(value).__name__}")


def table_arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema every row group of ``table`` is written with (see the module docstring)."""
    schema = pa.Schema.from_pandas(empty_table(table), preserve_index=False)
    for index, field in enumerate(schema):
        if pa.types.is_dictionary(field.type):
            widened = pa.dictionary(_LABEL_INDEX, field.type.value_type)
            schema = schema.set(index, field.with_type(widened))
    return schema


def _dictionary_columns(schema: pa.Schema) -> list[str] | bool:
    """The columns a row group stores dictionary-encoded: the label columns only.

    Numbers are stored plain. Parquet's default tries a dictionary on every column and falls
    back to plain once it grows too large, which float columns (prices, times) always do:
    the attempt cost more than half the writing time of the ZI benchmark's tables (30 ms of
    the market table's 50,000 rows, 12 ms plain) and gave larger files (1.80 MB against
    1.70 MB). The values read back are the same either way.
    """
    labels = [field.name for field in schema if pa.types.is_dictionary(field.type)]
    return labels if labels else False


class ParquetSpill:
    """Per-table Parquet files in ``directory``, appended one row group per flush.

    The files are created on first use with exclusive creation (``xb``): the directory must
    not already hold them. Use as a context manager or call `close` (on success) or `abort`
    (on failure: files closed, left for the caller to delete with its directory).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._writers: dict[str, tuple[IO[bytes], pq.ParquetWriter]] = {}
        self._schemas = {table: table_arrow_schema(table) for table in TABLES}

    def path(self, table: str) -> Path:
        """The Parquet file of ``table``."""
        return self.directory / f"{table}.parquet"

    def write(self, table: str, columns: tuple[list[Any], ...]) -> None:
        """Append ``table``'s rows (one list per column, `arrow_table`) as one row group."""
        if not columns or not len(columns[0]):
            return
        arrow = arrow_table(table, columns, self._schemas[table])
        self._writer(table).write_table(arrow)
        del arrow
        # Arrow's allocator keeps freed blocks for reuse; between flushes they would sit idle
        pa.default_memory_pool().release_unused()

    def _writer(self, table: str) -> pq.ParquetWriter:
        if table not in self._writers:
            handle = open(self.path(table), "xb")  # noqa: SIM115 (closed in close/abort)
            try:
                schema = self._schemas[table]
                writer = pq.ParquetWriter(
                    handle, schema, use_dictionary=_dictionary_columns(schema)
                )
            except BaseException:
                handle.close()
                raise
            self._writers[table] = (handle, writer)
        return self._writers[table][1]

    def close(self) -> None:
        """Finish and close every file (a table with no row gets an empty one)."""
        for table in TABLES:
            self._writer(table)
        for table in list(self._writers):
            handle, writer = self._writers.pop(table)
            try:
                writer.close()
            finally:
                handle.close()

    def abort(self) -> None:
        """Close every file without finishing it (the caller deletes the directory)."""
        for handle, writer in self._writers.values():
            with contextlib.suppress(Exception):  # already failing: close what can be
                writer.close()
            handle.close()
        self._writers.clear()

    def __enter__(self) -> ParquetSpill:
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()
