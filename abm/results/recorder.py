"""Run recording: a columnar `Recorder` during the run, a `RunResult` of DataFrames after it.

The model appends one row per step (and per fill, per agent, per event) to plain Python lists;
no pandas object is touched until `Recorder.finish` builds the tables with fixed dtypes. A
`RunResult` is saved as a run directory (DESIGN.md section 7)::

    market.parquet trades.parquet agents.parquet events.parquet network.parquet
    summary.json scenario.yaml meta.json

Table and column names are public contracts. Dtypes are fixed so that empty tables and round
trips are well typed: ``int64`` for steps, ids, quantities and depths; ``float64`` for times,
prices and amounts (NaN where missing); nullable ``Int64`` for the optional ids of an event;
pandas ``category`` for labels (`LABEL_COLUMNS`: each label is stored once per table, not once
per row; the categories are the labels present, sorted) and ``string`` for the free text of an
event's ``detail``.

JSON conventions (``summary.json`` and ``meta.json``): numpy scalars become Python scalars,
numpy arrays and tuples become lists, and non-finite floats (NaN, +inf, -inf) become ``null``
(``None`` in memory), because JSON has no spelling for them. `RunResult` applies this on
construction, so a saved and reloaded result compares equal to the original.

This module does I/O and tables only; it never imports the model or the agents.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import os
import platform
import secrets
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import numpy as np
import pandas as pd

from abm.errors import AbmError
from abm.results.events import TradePurpose

MARKET_COLUMNS = (
    "step",
    "time",
    "fundamental",
    "best_bid",
    "best_ask",
    "mid",
    "spread",
    "bid_depth",
    "ask_depth",
    "last_price",
    "volume",
    "hedge_price",
    "mark",
)
TRADE_COLUMNS = (
    "step",
    "time",
    "price",
    "qty",
    "aggressor",
    "buyer",
    "seller",
    "venue",
    "instrument",
    "purpose",
    "maker_order_id",
    "taker_order_id",
)
AGENT_COLUMNS = (
    "step",
    "agent_id",
    "kind",
    "inventory",
    "cash",
    "equity",
    "pnl",
    "bid",
    "ask",
    "regime",
    "status",
    "group",
    "hedge",
    "net_delta",
)
EVENT_COLUMNS = ("step", "kind", "agent_id", "counterparty", "amount", "detail")
NETWORK_COLUMNS = ("source", "target", "exposure", "capacity")
DEPTH_COLUMNS = ("step", "side", "level", "price", "qty")

_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "market": MARKET_COLUMNS,
        "trades": TRADE_COLUMNS,
        "agents": AGENT_COLUMNS,
        "events": EVENT_COLUMNS,
        "network": NETWORK_COLUMNS,
        "depth": DEPTH_COLUMNS,
    }
)
# Dtype rule: steps, ids, quantities and depths int64; labels category; free text string;
# everything else float64; the two ids of an event may be absent, hence nullable Int64 there.
_INT64_COLUMNS = frozenset(
    {"step", "bid_depth", "ask_depth", "volume", "qty", "buyer", "seller", "agent_id"}
    | {"inventory", "source", "target", "level", "hedge", "net_delta"}
)
LABEL_COLUMNS = frozenset(
    {"aggressor", "venue", "instrument", "purpose", "kind", "regime", "status", "group", "side"}
)
"""Columns (in any table that has them) holding labels from a small set: pandas ``category``."""
_TEXT_COLUMNS = frozenset({"detail"})
_INT, _FLOAT, _NULLABLE_INT, _TEXT, _LABEL = "int64", "float64", "Int64", "string", "category"

AGGRESSOR_SIDES = ("buy", "sell")
VENUES = ("book", "interdealer")
TRADE_PURPOSES = frozenset(TradePurpose)
"""Allowed ``purpose`` labels of a trade (`abm.results.events.TradePurpose`)."""
_TRADE_ORDER_IDS = ("maker_order_id", "taker_order_id")
TABLES = tuple(_COLUMNS)
RUN_FILES = (
    *(f"{table}.parquet" for table in TABLES),
    "summary.json",
    "scenario.yaml",
    "meta.json",
)
WALL_TIME_KEYS = ("wall_time_s", "steps_per_s")
"""Top-level `summary` and `meta` keys that differ between identical runs (timings), which
`RunResult.equals` skips when ``ignore_wall_time``."""

_META_PACKAGES = ("abm", "mesa", "numpy", "pandas", "networkx", "pydantic", "pyarrow")
_DISTRIBUTIONS = {"abm": "abm-microstructure"}
"""Distribution names that differ from the import name (abm's PyPI name is taken)."""


class RunResultError(AbmError, ValueError):
    """A run directory or a `RunResult` table does not match the run format of DESIGN.md 7."""


class Recorder:
    """Columnar accumulation of one run: plain Python lists per column, appended per row.

    Nothing here allocates pandas objects per step; `finish` builds every table once. Label
    arguments must be `str` (pass ``enum.value`` for enum states) and are checked on append, so a
    bad value fails at the step that produced it rather than at the end of the run.
    """

    def __init__(self) -> None:
        # rows are appended as tuples (one list append per row, the cheapest record on the
        # hot path) and transposed into columns once, in `finish`
        self._rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _COLUMNS}

    def _append(self, table: str, row: tuple[Any, ...]) -> None:
        self._rows[table].append(row)

    def _columns_of(self, table: str) -> tuple[list[Any], ...]:
        rows = self._rows[table]
        if not rows:
            return tuple([] for _ in _COLUMNS[table])
        return tuple(list(column) for column in zip(*rows, strict=True))

    def rows(self, table: str) -> int:
        """Rows recorded so far in ``table`` (one of `TABLES`)."""
        return len(self._rows[table])

    def table(self, table: str) -> pd.DataFrame:
        """``table`` as recorded so far, with its contract dtypes (as `finish` builds it)."""
        return _build_table(table, self._columns_of(table))

    def market(
        self,
        step: int,
        time: float,
        fundamental: float,
        best_bid: float | None,
        best_ask: float | None,
        bid_depth: int,
        ask_depth: int,
        last_price: float | None,
        volume: int,
        hedge_price: float = math.nan,
        mark: float = math.nan,
    ) -> None:
        """Record the end-of-step market state: one row per step ``n`` at model time ``n * dt``.

        Prices are in price units; depths (resting quantity per side) and ``volume`` (traded
        this step) in lots. An empty side (``None``) and no trade yet (``last_price=None``) are
        stored as NaN. ``mid = (best_bid + best_ask) / 2`` and ``spread = best_ask - best_bid``
        are derived when both sides exist, and are NaN otherwise. ``mark`` is the step's mark
        (the scenario's ``mark`` methodology, `abm.market.mark`), at which the ``agents`` rows of
        the step value inventory; runs saved before the column existed load with NaN there.
        """
        bid = _price(best_bid)
        ask = _price(best_ask)
        both = best_bid is not None and best_ask is not None
        mid = 0.5 * (bid + ask) if both else math.nan
        spread = ask - bid if both else math.nan
        row = (step, time, fundamental, bid, ask, mid, spread, bid_depth, ask_depth)
        self._append("market", (*row, _price(last_price), volume, hedge_price, mark))

    def trade(
        self,
        step: int,
        time: float,
        price: float,
        qty: int,
        aggressor: str,
        buyer: int,
        seller: int,
        venue: str = "book",
        instrument: str = "underlying",
        purpose: str = TradePurpose.TAKER.value,
        maker_order_id: int | None = None,
        taker_order_id: int | None = None,
    ) -> None:
        """Record one fill: ``qty`` lots at ``price`` between agent ids ``buyer`` and ``seller``.

        ``aggressor`` is the taker's side, one of `AGGRESSOR_SIDES`; ``venue`` is one of `VENUES`
        (``"interdealer"`` for trades passed between linked market makers); ``instrument`` is
        the traded instrument's name (``"underlying"``: the book's); ``purpose`` is why the
        incoming order was sent, one of `TRADE_PURPOSES`; ``maker_order_id`` and
        ``taker_order_id`` are the book's ids of the resting and the incoming order (None, stored
        as <NA>, for a trade outside the book). The defaults are for building tables by hand: the
        exchange passes every field.

        Raises:
            ValueError: If ``qty`` is not positive or ``aggressor``/``venue``/``purpose`` is not a
                known value.
        """
        if qty <= 0:
            raise ValueError(f"trade qty must be a positive number of lots, got {qty}")
        if aggressor not in AGGRESSOR_SIDES:
            raise ValueError(f"trade aggressor must be one of {AGGRESSOR_SIDES}, got {aggressor!r}")
        if venue not in VENUES:
            raise ValueError(f"trade venue must be one of {VENUES}, got {venue!r}")
        if purpose not in TRADE_PURPOSES:
            raise ValueError(f"trade purpose must be a TradePurpose value, got {purpose!r}")
        row = (step, time, price, qty, aggressor, buyer, seller, venue, instrument, purpose)
        self._append("trades", (*row, maker_order_id, taker_order_id))

    def agent(
        self,
        step: int,
        agent_id: int,
        kind: str,
        inventory: int,
        cash: float,
        equity: float,
        pnl: float,
        bid: float | None,
        ask: float | None,
        regime: str,
        status: str,
        group: str,
        hedge: int = 0,
        net_delta: int | None = None,
    ) -> None:
        """Record one agent's state at one step.

        ``inventory`` is the signed position in lots; ``cash``, ``equity``, ``pnl`` and the quotes
        are in price units, a side not quoted (``None``) stored as NaN. ``kind``, ``regime``,
        ``status`` and ``group`` (the scenario group the agent belongs to) are labels (an enum's
        ``.value``). ``hedge`` is the position in the hedge instrument (lots) and ``net_delta``
        the directional exposure ``inventory + hedge`` (the default).

        Raises:
            TypeError: If a label is not a `str`.
        """
        if (
            type(kind) is not str
            or type(regime) is not str
            or type(status) is not str
            or type(group) is not str
        ):
            labels = (("kind", kind), ("regime", regime), ("status", status), ("group", group))
            for name, label in labels:
                _require_str("agent", name, label)
        row = (step, agent_id, kind, inventory, cash, equity, pnl, _price(bid), _price(ask))
        delta = inventory + hedge if net_delta is None else net_delta
        self._append("agents", (*row, regime, status, group, hedge, delta))

    def event(
        self,
        step: int,
        kind: str,
        agent_id: int | None,
        counterparty: int | None,
        amount: float,
        detail: str,
    ) -> None:
        """Record one risk or contagion event (for example ``kind="default"``).

        ``agent_id`` and ``counterparty`` may be None (market-wide event, no counterparty) and are
        stored as ``<NA>``; ``amount`` is in price units (NaN when not applicable).

        Raises:
            TypeError: If ``kind`` or ``detail`` is not a `str`.
        """
        _require_str("event", "kind", kind)
        _require_str("event", "detail", detail)
        self._append("events", (step, kind, agent_id, counterparty, amount, detail))

    def network_edge(self, source: int, target: int, exposure: float, capacity: float) -> None:
        """Record one contagion-graph edge: ``source`` is exposed to ``target`` (price units)."""
        self._append("network", (source, target, exposure, capacity))

    def depth_level(self, step: int, side: str, level: int, price: float, qty: int) -> None:
        """Record one aggregated book level: ``side`` "bid" or "ask", ``level`` 1 = the touch."""
        self._append("depth", (step, side, level, price, qty))

    def finish(
        self, *, scenario_yaml: str, summary: Mapping[str, Any], meta: Mapping[str, Any]
    ) -> RunResult:
        """Build the `RunResult`: one DataFrame per table with the fixed dtypes.

        The recorder keeps its rows, so calling `finish` again returns an equal result.

        Args:
            scenario_yaml: The resolved scenario as YAML text.
            summary: Headline metrics; converted by the module's JSON conventions.
            meta: Run metadata, normally from `collect_meta`; same conventions.

        Raises:
            TypeError: If a recorded value cannot take its column's dtype, or ``summary``/``meta``
                hold a value JSON cannot represent.
        """
        tables = {table: self.table(table) for table in TABLES}
        return RunResult(
            market=tables["market"],
            trades=tables["trades"],
            agents=tables["agents"],
            events=tables["events"],
            network=tables["network"],
            depth=tables["depth"],
            summary=dict(summary),
            scenario_yaml=scenario_yaml,
            meta=dict(meta),
        )


class RecorderDataCollector:
    """The recorded ``market`` table in the shape of Mesa's ``DataCollector``, for its plots.

    Mesa's plot components (``mesa.visualization.make_plot_component``) read only
    ``model.datacollector.get_model_vars_dataframe()``: one row per step, one column per
    measure. `abm.MarketModel.datacollector` is one of these, so ``make_plot_component("mid")``
    (or ``"spread"``, ``["fundamental", "mark"]``, any `MARKET_COLUMNS` name) plots the run
    without a second record of it. It collects nothing itself (there is no ``collect``): the
    model's `Recorder` already holds the rows.
    """

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._frame: pd.DataFrame | None = None

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """The ``market`` rows recorded so far, indexed by step (the index has no name).

        Columns are `MARKET_COLUMNS` (``step`` included) with the table's dtypes. The frame is
        rebuilt only when rows were added since the last call; treat it as read-only.
        """
        rows = self._recorder.rows("market")
        if self._frame is None or len(self._frame) != rows:
            frame = self._recorder.table("market")
            frame.index = pd.Index(frame["step"].to_numpy(), dtype="int64")
            self._frame = frame
        return self._frame


@dataclass(eq=False)
class RunResult:
    """Everything one run produced. Compare two results with `equals`, not ``==``.

    Attributes:
        market: One row per step, columns `MARKET_COLUMNS`.
        trades: One row per fill, columns `TRADE_COLUMNS`.
        agents: Agent states, columns `AGENT_COLUMNS`.
        events: Risk and contagion events, columns `EVENT_COLUMNS`.
        network: Contagion graph edges, columns `NETWORK_COLUMNS`.
        depth: Order-book snapshots (top levels of each side at a stride; empty unless the
            scenario asks for them), columns `DEPTH_COLUMNS`; level 1 is the touch.
        summary: Headline metrics (JSON conventions of this module applied on construction).
        scenario_yaml: The resolved scenario, as YAML text.
        meta: Versions, seed, scenario digest, wall time (JSON conventions applied).
    """

    market: pd.DataFrame
    trades: pd.DataFrame
    agents: pd.DataFrame
    events: pd.DataFrame
    network: pd.DataFrame
    depth: pd.DataFrame
    summary: dict[str, Any]
    scenario_yaml: str
    meta: dict[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.scenario_yaml, str):
            raise TypeError(
                f"scenario_yaml must be YAML text, got {type(self.scenario_yaml).__name__}"
            )
        self.summary = _jsonable(self.summary, "summary")
        self.meta = _jsonable(self.meta, "meta")

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name, in `TABLES` order."""
        return {table: getattr(self, table) for table in TABLES}

    def save(
        self, directory: str | os.PathLike[str], *, overwrite: bool = True, force: bool = False
    ) -> Path:
        """Write the run directory atomically and return its absolute path.

        Every file is written and fsync'd in a hidden temporary sibling directory (same parent,
        so the final rename is atomic), then renamed into place. When the directory already
        exists, everything in it that is not one of the run's own files (`RUN_FILES`: a
        report, notes, figures the user put there) is first hard-linked (copied where links
        are not possible) into the new directory, so the replacement keeps it. The old
        directory is then renamed aside, the new one renamed in, and the old run's files
        deleted. On any exception the temporary directory is removed and an existing
        directory is left as it was. A crash can leave only a hidden ``.<name>.tmp-*``
        sibling, never a partial directory under the final name.

        Args:
            directory: The run directory to create; its parent is created if needed.
            overwrite: Replace an existing run directory (one holding ``meta.json``) or
                write into an empty one.
            force: Also write into an existing non-empty directory that is not a run. Its
                files are kept, except those named like the run's own (`RUN_FILES`), which
                are replaced.

        Raises:
            FileExistsError: If the directory exists and ``overwrite`` is False, it is not a
                directory, or it is a non-empty directory that is not a run and ``force`` is
                False. Nothing is changed.
            RunResultError: If a table does not have its contract columns and dtypes.
            ValueError: If ``directory`` has no final name component (for example ``"."``).
        """
        target = Path(directory).absolute()
        if target.name in ("", ".", ".."):
            raise ValueError(f"run directory needs a name, got {os.fspath(directory)!r}")
        for table, frame in self.tables().items():
            _check_table(table, frame)
        exists = target.exists() or target.is_symlink()
        if exists:
            _check_replaceable(target, overwrite, force)
        target.parent.mkdir(parents=True, exist_ok=True)
        # mkdir (not mkdtemp, which makes it 0700) gives the run the user's umask; a replaced
        # directory keeps its own permissions.
        staging = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        staging.mkdir()
        carried: dict[str, tuple[int, ...]] = {}
        try:
            for table, frame in self.tables().items():
                _write_parquet(frame, staging / f"{table}.parquet")
            _write_text(_dump_json(self.summary), staging / "summary.json")
            _write_text(self.scenario_yaml, staging / "scenario.yaml")
            _write_text(_dump_json(self.meta), staging / "meta.json")
            if exists:
                _carry_over(target, staging, carried)
                shutil.copymode(target, staging)
            _fsync_directory(staging)
            aside = staging.with_name(f"{staging.name}.old")
            if exists:
                os.rename(target, aside)
            try:
                os.rename(staging, target)
            except BaseException:
                if exists:
                    os.rename(aside, target)
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync_directory(target.parent)
        if exists:
            try:
                _retire(aside, target, carried)
            except OSError as error:
                # The new run is already complete in place; a leftover hidden directory is
                # harmless, so failing the save here would misreport what happened.
                warnings.warn(f"could not clear the replaced run at {aside}: {error}", stacklevel=2)
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> RunResult:
        """Read a run directory written by `save`.

        Raises:
            RunResultError: If the directory does not exist, misses any of `RUN_FILES` (the
                message names them), or a file cannot be read or has the wrong columns.
        """
        root = Path(directory)
        if not root.is_dir():
            raise RunResultError(f"{root} is not a directory; pass a run directory from save()")
        missing = [name for name in RUN_FILES if not (root / name).is_file()]
        if missing:
            raise RunResultError(
                f"run directory {root} is missing {', '.join(missing)}; "
                "it was not written by RunResult.save or has been altered"
            )
        tables = {table: _read_table(table, root / f"{table}.parquet") for table in TABLES}
        return cls(
            market=tables["market"],
            trades=tables["trades"],
            agents=tables["agents"],
            events=tables["events"],
            network=tables["network"],
            depth=tables["depth"],
            summary=_read_json_object(root / "summary.json"),
            scenario_yaml=_read_text(root / "scenario.yaml"),
            meta=_read_json_object(root / "meta.json"),
        )

    def equals(self, other: RunResult, *, ignore_wall_time: bool = True) -> bool:
        """Return whether two results hold the same run.

        Tables must have identical columns and dtypes and be equal by `pandas.DataFrame.equals`
        (NaNs in the same places count as equal); scenario text must be identical; summary and
        meta must be identical except the `WALL_TIME_KEYS` when ``ignore_wall_time``.
        """
        for table, frame in self.tables().items():
            theirs = getattr(other, table)
            if not (frame.columns.equals(theirs.columns) and frame.dtypes.equals(theirs.dtypes)):
                return False
            if not frame.equals(theirs):
                return False
        if self.scenario_yaml != other.scenario_yaml:
            return False
        skip = set(WALL_TIME_KEYS) if ignore_wall_time else set()

        def kept(mapping: Mapping[str, Any]) -> dict[str, Any]:
            return {key: value for key, value in mapping.items() if key not in skip}

        return kept(self.summary) == kept(other.summary) and kept(self.meta) == kept(other.meta)


def collect_meta(*, seed: int, scenario_digest: str, wall_time_s: float) -> dict[str, Any]:
    """Return run metadata: seed, scenario digest, wall time, interpreter and package versions.

    Keys: ``seed``, ``scenario_digest``, ``wall_time_s`` (seconds), ``python`` (version),
    ``platform`` (`platform.platform`), and ``versions``, a mapping from each of abm, mesa, numpy,
    pandas, networkx, pydantic and pyarrow to its installed version (``"unknown"`` if absent).
    """
    versions: dict[str, str] = {}
    for package in _META_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(_DISTRIBUTIONS.get(package, package))
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "unknown"
    return {
        "seed": int(seed),
        "scenario_digest": str(scenario_digest),
        "wall_time_s": float(wall_time_s),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _schema(table: str) -> tuple[tuple[str, str], ...]:
    """Return ``(column, dtype)`` pairs of ``table`` by the dtype rule above."""
    pairs = []
    for column in _COLUMNS[table]:
        if (table == "events" and column in ("agent_id", "counterparty")) or (
            table == "trades" and column in _TRADE_ORDER_IDS
        ):
            dtype = _NULLABLE_INT
        elif column in _INT64_COLUMNS:
            dtype = _INT
        elif column in LABEL_COLUMNS:
            dtype = _LABEL
        elif column in _TEXT_COLUMNS:
            dtype = _TEXT
        else:
            dtype = _FLOAT
        pairs.append((column, dtype))
    return tuple(pairs)


def _price(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _require_str(table: str, column: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(
            f"{table} {column} must be a str (use an enum's .value), got {type(value).__name__}"
        )


def _build_table(table: str, columns: tuple[list[Any], ...]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for (name, dtype), values in zip(_schema(table), columns, strict=True):
        try:
            data[name] = _column(values, dtype)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{table}.{name} values do not fit dtype {dtype}: {error}") from error
    return pd.DataFrame(data)


def _column(values: list[Any], dtype: str) -> Any:
    if dtype in (_INT, _FLOAT):
        raw = np.asarray(values)
        # Checked before casting because numpy would silently truncate 1.5 to 1 or parse "1.5".
        allowed = "iu" if dtype == _INT else "iuf"
        if raw.size and raw.dtype.kind not in allowed:
            raise TypeError(f"got values of dtype {raw.dtype}")
        return raw.astype(dtype)
    if dtype == _NULLABLE_INT:
        return pd.array(values, dtype="Int64")
    if dtype == _LABEL:
        return _labels(values)
    return pd.array(values, dtype="string")


def _labels(values: Any) -> pd.Categorical:
    """A categorical of ``str`` labels whose categories are the labels present, sorted.

    One canonical form, so that a table and its saved copy (Parquet keeps the dictionary,
    but an empty one comes back untyped) have equal dtypes.
    """
    labels = [str(value) for value in values]
    return pd.Categorical(labels, categories=pd.Index(sorted(set(labels)), dtype="str"))


def _check_table(table: str, frame: pd.DataFrame) -> None:
    expected = list(_COLUMNS[table])
    if list(frame.columns) != expected:
        raise RunResultError(
            f"table {table} has columns {list(frame.columns)}; expected {expected}"
        )
    for name, dtype in _schema(table):
        if frame[name].dtype != dtype:
            raise RunResultError(
                f"column {table}.{name} has dtype {frame[name].dtype}; expected {dtype} "
                "(build tables with Recorder.finish)"
            )


def _read_table(table: str, path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as error:
        raise RunResultError(f"cannot read {path}: {error}") from error
    expected = list(_COLUMNS[table])
    if table == "market" and list(frame.columns) == expected[:-1]:
        # saved before the mark was recorded; readers rebuild it from the other columns
        frame["mark"] = math.nan
    if list(frame.columns) != expected:
        raise RunResultError(f"{path} has columns {list(frame.columns)}; expected {expected}")
    try:
        # Files written by other pandas versions (or before labels were categorical) may spell
        # a dtype differently; the schema wins.
        schema = dict(_schema(table))
        frame = frame.astype({name: d for name, d in schema.items() if d != _LABEL})
        for name in (name for name, d in schema.items() if d == _LABEL):
            if frame[name].isna().any():
                raise ValueError(f"column {name} has missing labels")
            frame[name] = _labels(frame[name])
        return frame
    except (TypeError, ValueError) as error:
        raise RunResultError(f"{path} does not fit the {table} dtypes: {error}") from error


def _check_replaceable(target: Path, overwrite: bool, force: bool) -> None:
    if not overwrite:
        raise FileExistsError(f"{target} exists; pass overwrite=True or choose another directory")
    if target.is_symlink() or not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a run directory; remove it first")
    if not force and not (target / "meta.json").is_file() and any(target.iterdir()):
        raise FileExistsError(
            f"{target} is a non-empty directory without meta.json, so not a run; "
            "refusing to write into it: choose another directory or pass force=True"
        )


def _signature(path: str | os.PathLike[str]) -> tuple[int, ...]:
    """What identifies a file's state without reading it: device, inode, size, mtime."""
    info = os.lstat(path)
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _carry_over(old: Path, new: Path, carried: dict[str, tuple[int, ...]], rel: str = "") -> None:
    """Hard-link (or copy) into ``new`` every entry of ``old`` that is not a run file.

    Records each carried file's `_signature` in ``carried`` under its path relative to the run
    directory, so that `_retire` deletes an old entry only once its content is known to be in
    the new directory. A name already in ``new`` raises FileExistsError (nothing is lost: the
    caller abandons ``new``).
    """
    for entry in os.scandir(old):
        path = f"{rel}{entry.name}"
        if not rel and entry.name in RUN_FILES and entry.is_file(follow_symlinks=False):
            continue  # the run's own file: the new run replaces it
        destination = new / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), destination)
        elif entry.is_dir():
            destination.mkdir()
            shutil.copystat(entry.path, destination)
            _carry_over(Path(entry.path), destination, carried, f"{path}/")
            continue
        else:
            try:
                os.link(entry.path, destination, follow_symlinks=False)
            except OSError:  # a file system without hard links, or a link count limit
                if not entry.is_file(follow_symlinks=False):
                    raise
                shutil.copy2(entry.path, destination)
        carried[path] = _signature(entry.path)


def _lexists(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _is_in_target(old: Path, new: Path, recorded: tuple[int, ...]) -> bool:
    """Whether ``old`` is safe to delete: unchanged since carried, or the very file at ``new``."""
    if _signature(old) == recorded:
        return True
    return _lexists(new) and _signature(old)[:2] == _signature(new)[:2]


def _retire(aside: Path, target: Path, carried: dict[str, tuple[int, ...]]) -> None:
    """Clear the replaced directory ``aside`` without losing anything that is not in ``target``.

    The old run's files are deleted; a carried entry is deleted when it is the same file as its
    copy in ``target`` or unchanged since it was carried; an entry created after the carry is
    moved into ``target`` when its name is free there. Anything else stays in ``aside``, and a
    warning names it.
    """
    for root, dirs, files in os.walk(aside, topdown=False):
        base = Path(root)
        prefix = base.relative_to(aside).as_posix()
        prefix = "" if prefix == "." else f"{prefix}/"
        for name in (*files, *(d for d in dirs if (base / d).is_symlink())):
            old, rel = base / name, f"{prefix}{name}"
            new = target / rel
            if rel in carried:
                if _is_in_target(old, new, carried[rel]):
                    old.unlink()
            elif not prefix and name in RUN_FILES:  # the replaced run's own file
                old.unlink()
            elif not _lexists(new):
                new.parent.mkdir(parents=True, exist_ok=True)
                os.rename(old, new)
        for name in dirs:
            with contextlib.suppress(OSError):  # not empty: something had to stay
                (base / name).rmdir()
    try:
        aside.rmdir()
    except OSError:
        warnings.warn(
            f"files changed while the run in {target} was replaced are kept in {aside}; "
            "compare them with the run directory, then delete it",
            stacklevel=3,
        )


def _jsonable(value: Any, path: str) -> Any:
    """Convert ``value`` to plain JSON types by the module's conventions; ``path`` names it."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA:
        return None
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path} keys must be str for JSON, got {key!r}")
            result[key] = _jsonable(item, f"{path}.{key}")
        return result
    if isinstance(value, list | tuple | np.ndarray):
        items = value.tolist() if isinstance(value, np.ndarray) else value
        return [_jsonable(item, f"{path}[{index}]") for index, item in enumerate(items)]
    raise TypeError(f"{path} holds a {type(value).__name__}, which JSON cannot represent")


def _dump_json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, indent=2, allow_nan=False) + "\n"


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise RunResultError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise RunResultError(f"{path} must hold a JSON object, got {type(value).__name__}")
    return value


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    with open(path, "xb") as handle:
        frame.to_parquet(handle, engine="pyarrow")
        _sync(handle)


def _write_text(text: str, path: Path) -> None:
    with open(path, "x", encoding="utf-8", newline="") as handle:
        handle.write(text)
        _sync(handle)


def _read_text(path: Path) -> str:
    # newline="" keeps the text byte-identical to what _write_text wrote (no \r\n translation).
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def _sync(handle: IO[Any]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _fsync_directory(path: Path) -> None:
    # Persisting a rename needs the directory entry flushed; only POSIX can open a directory.
    if os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
