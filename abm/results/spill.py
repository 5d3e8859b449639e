"""Streaming a run's tables to Parquet as it goes, so memory does not grow with run length.

A `ParquetSpill` holds one open ``pyarrow.parquet.ParquetWriter`` per table in a directory
(normally a run directory's hidden staging sibling, `abm.results.run_result.write_run_directory`).
`abm.results.recorder.Recorder.flush` hands it each table's rows recorded since the last flush,
already built with the table's contract dtypes, and it appends them as a row group; `close`
writes whatever tables never received a row (as empty tables) and fsyncs every file.

Every row group of a table has one Arrow schema, taken from the table's empty frame with
label columns widened to 32-bit dictionary indices (a row group's own categories are the
labels it holds, so their count varies). `abm.results.run_files.read_table` reads a file of
many row groups back into the same frame, categories included, as one written at once: the
streamed and the unstreamed run directory hold equal tables (``tests/results/test_spill.py``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from abm.results.recorder import TABLES, empty_table

_LABEL_INDEX = pa.int32()


def table_arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema every row group of ``table`` is written with (see the module docstring)."""
    schema = pa.Schema.from_pandas(empty_table(table), preserve_index=False)
    for index, field in enumerate(schema):
        if pa.types.is_dictionary(field.type):
            widened = pa.dictionary(_LABEL_INDEX, field.type.value_type)
            schema = schema.set(index, field.with_type(widened))
    return schema


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

    def write(self, table: str, frame: pd.DataFrame) -> None:
        """Append ``frame`` (``table``'s rows in its contract dtypes) as one row group."""
        if not len(frame):
            return
        writer = self._writer(table)
        arrow = pa.Table.from_pandas(frame, schema=self._schemas[table], preserve_index=False)
        writer.write_table(arrow)
        del arrow
        # Arrow's allocator keeps freed blocks for reuse; between flushes they would sit idle
        pa.default_memory_pool().release_unused()

    def _writer(self, table: str) -> pq.ParquetWriter:
        if table not in self._writers:
            handle = open(self.path(table), "xb")  # noqa: SIM115 (closed in close/abort)
            try:
                writer = pq.ParquetWriter(handle, self._schemas[table])
            except BaseException:
                handle.close()
                raise
            self._writers[table] = (handle, writer)
        return self._writers[table][1]

    def close(self) -> None:
        """Finish every file (a table with no row gets an empty one) and fsync it."""
        for table in TABLES:
            self._writer(table)
        for table in list(self._writers):
            handle, writer = self._writers.pop(table)
            try:
                writer.close()
                handle.flush()
                os.fsync(handle.fileno())
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
