"""Run recording: a columnar `Recorder` during the run, and the schema of the tables it builds.

The model appends one row per step (and per fill, per agent, per event) to plain Python lists;
no pandas object is touched until `Recorder.table` builds the tables with fixed dtypes, which
`abm.results.run_result.RunResult.from_recorder` gathers into a run's result (which saves and
loads run directories).

Table and column names are public contracts. Dtypes are fixed so that empty tables and round
trips are well typed: ``int64`` for steps, ids, quantities and depths; ``float64`` for times,
prices and amounts (NaN where missing); nullable ``Int64`` for the optional ids of an event;
pandas ``category`` for labels (`LABEL_COLUMNS`: each label is stored once per table, not once
per row; the categories are the labels present, sorted). An event's typed fields
(`abm.results.events.EventFields`) are nullable columns of the dtypes in
`abm.results.events.EVENT_FIELD_DTYPES`.

This module does tables only; it never imports the model or the agents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol, Unpack

import numpy as np
import pandas as pd

from abm.errors import AbmError
from abm.results.events import EVENT_FIELD_DTYPES, EventFields, EventKind, TradePurpose

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
EVENT_COLUMNS = ("step", "kind", "agent_id", "counterparty", "amount", *EVENT_FIELD_DTYPES)
NETWORK_COLUMNS = ("source", "target", "exposure", "capacity")
DEPTH_COLUMNS = ("step", "side", "level", "price", "qty")
POOL_COLUMNS = (
    "step",
    "venue",
    "price",
    "reserve_base",
    "reserve_quote",
    "base_before",
    "quote_before",
    "liquidity",
    "fee",
    "fees_base",
    "fees_quote",
    "swaps",
    "rejected",
    "volume_base",
    "volume_quote",
    "outside_base",
    "outside_quote",
)
"""The ``pools`` table: one row per AMM pool at step 0 and at the end of every block.

``price`` is the pool price after the block (price units, no fee); ``reserve_base`` (lots) and
``reserve_quote`` (ticks) the pool's reserves after the block's swaps, ``base_before`` and
``quote_before`` just before them (after the block's deposits and withdrawals); ``liquidity``
the shares outstanding (constant product) or the active liquidity ``L`` (concentrated);
``fee`` the fee fraction; ``fees_base``/``fees_quote`` the block's fees in each input token,
in *millionths* of a lot / tick (exact integers: input times ``fee_pips``);
``swaps`` and ``rejected`` the swaps executed and refused; ``volume_base`` (lots) and
``volume_quote`` (ticks, fees included) what they traded; ``outside_base``/``outside_quote``
the venue's outside account (exploits, attackers), `abm.market.amm.venue`.
"""
LENDING_COLUMNS = (
    "step",
    "block",
    "oracle_price",
    "shadow_oracle_price",
    "utilisation",
    "borrow_rate",
    "supply_rate",
    "borrow_index",
    "liquidity_index",
    "total_supplied",
    "total_debt",
    "pool_cash",
    "reserves",
    "deficit",
    "collateral",
    "liquidations",
    "collateral_seized",
    "debt_repaid",
    "bad_debt",
    "gas_paid",
    "liquidatable",
    "refused",
    "block_capacity",
    "round_index",
)
"""The ``lending`` table: one row per lending pool at step 0 and at the end of every block.

``oracle_price`` is the pool's oracle reading (price units) the block's liquidations used and
``shadow_oracle_price`` the same oracle design fed the fundamental (what the oracle would read
without any trading); ``utilisation``, ``borrow_rate`` and ``supply_rate`` (per year) are those
of the block's accrual; ``borrow_index`` and ``liquidity_index`` the indices after it (1.0 at
the start); ``total_supplied``, ``total_debt``, ``pool_cash``, ``reserves`` and ``deficit``
(written-off debt the reserves could not absorb) are ticks, ``collateral`` lots, after the
block. The block's liquidations: how many (``liquidations``), ``collateral_seized`` (lots),
``debt_repaid``, ``bad_debt`` (written off in the block) and ``gas_paid`` (ticks);
``liquidatable`` the accounts still below a health factor of one after them, ``refused`` the
liquidations sent but not settled (healthy by then, over the block's capacity, or unfunded),
``block_capacity`` the block's limit (-1: none). ``round_index`` is the cascade round
(`abm.results.lending_summary.next_round_index`).
"""
LIQUIDATION_COLUMNS = (
    "step",
    "liquidator",
    "borrower",
    "repaid",
    "collateral_seized",
    "bad_debt",
    "gas",
    "health_factor_before",
    "oracle_price",
    "induced",
)
"""The ``liquidations`` table: one row per settled liquidation of the lending pool.

``liquidator`` and ``borrower`` are agent ids; ``repaid``, ``bad_debt`` (debt written off
because no collateral was left) and ``gas`` are ticks, ``collateral_seized`` lots;
``health_factor_before`` and ``oracle_price`` (price units) are the borrower's at the
liquidation; ``induced`` is 1 when the borrower would have been healthy at the shadow oracle's
reading (the liquidation is due to trading, earlier liquidation sales included), else 0.
"""
OPTION_COLUMNS = (
    "step",
    "series",
    "type",
    "strike",
    "expiry",
    "best_bid",
    "best_ask",
    "mid",
    "implied_vol",
    "open_interest",
    "volume",
)
GREEK_COLUMNS = (
    "step",
    "agent_id",
    "delta",
    "gamma",
    "vega",
    "theta",
    "pnl_theta",
    "pnl_gamma",
    "pnl_vega",
    "pnl_hedging",
    "pnl_residual",
)

COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "market": MARKET_COLUMNS,
        "trades": TRADE_COLUMNS,
        "agents": AGENT_COLUMNS,
        "events": EVENT_COLUMNS,
        "network": NETWORK_COLUMNS,
        "depth": DEPTH_COLUMNS,
        "pools": POOL_COLUMNS,
        "options": OPTION_COLUMNS,
        "greeks": GREEK_COLUMNS,
        "lending": LENDING_COLUMNS,
        "liquidations": LIQUIDATION_COLUMNS,
    }
)
"""The columns of each table, in order."""
# Dtype rule: steps, ids, quantities and depths int64; labels category; everything else
# float64; the two ids of an event may be absent, hence nullable Int64 there, and its typed
# fields take the dtypes of EVENT_FIELD_DTYPES (nullable: most rows leave a field empty).
_INT64_COLUMNS = frozenset(
    {"step", "bid_depth", "ask_depth", "volume", "qty", "buyer", "seller", "agent_id"}
    | {"inventory", "source", "target", "level", "hedge", "net_delta"}
    | {"reserve_base", "reserve_quote", "base_before", "quote_before", "liquidity"}
    | {"fees_base", "fees_quote", "swaps", "rejected", "volume_base", "volume_quote"}
    | {"outside_base", "outside_quote"}
    | {"expiry", "open_interest"}
    | {"block", "total_supplied", "total_debt", "pool_cash", "reserves", "deficit"}
    | {"collateral", "liquidations", "collateral_seized", "debt_repaid", "bad_debt"}
    | {"gas_paid", "liquidatable", "refused", "block_capacity", "round_index"}
    | {"liquidator", "borrower", "repaid", "gas", "induced"}
)
LABEL_COLUMNS = frozenset(
    {"aggressor", "venue", "instrument", "purpose", "kind", "regime", "status", "group", "side"}
    | {"series", "type"}
)
"""Columns (in any table that has them) holding labels from a small set: pandas ``category``."""
_INT, _FLOAT, _NULLABLE_INT, _LABEL = "int64", "float64", "Int64", "category"
_EVENT_FIELDS = frozenset(EVENT_FIELD_DTYPES)
_EVENT_BASE = len(EVENT_COLUMNS) - len(EVENT_FIELD_DTYPES)

AGGRESSOR_SIDES = ("buy", "sell")
VENUES = ("book", "interdealer", "amm", "options")
"""Allowed ``venue`` labels of a trade: the order book, bilateral dealer trades, an AMM pool
(`abm.market.venues.OPTIONAL_VENUES`) and the option series books."""
TRADE_PURPOSES = frozenset(TradePurpose)
"""Allowed ``purpose`` labels of a trade (`abm.results.events.TradePurpose`)."""
_TRADE_ORDER_IDS = ("maker_order_id", "taker_order_id")
TABLES = tuple(COLUMNS)


class RecorderStreamedError(AbmError, RuntimeError):
    """A table asked of a `Recorder` whose rows were flushed to disk."""


class TableSink(Protocol):
    """Where a streaming `Recorder` sends each flush (`abm.results.spill.ParquetSpill`)."""

    def write(self, table: str, columns: tuple[list[Any], ...]) -> None:
        """Append rows of ``table``: one list of values per column, in `COLUMNS` order.

        The values are the recorder's, as `Recorder.table` would build them into the
        contract dtypes (`table_schema`); the sink checks that they fit.
        """


def empty_table(table: str) -> pd.DataFrame:
    """``table`` with no rows, in its contract dtypes."""
    return _build_table(table, tuple([] for _ in COLUMNS[table]))


class Recorder:
    """Columnar accumulation of one run: plain Python lists per column, appended per row.

    Nothing here allocates pandas objects per step; `table` builds each table once per call (or
    `flush` hands the rows so far to a sink, `stream_to`, so a long run holds only a block). Label
    arguments must be `str` (pass ``enum.value`` for enum states) and are checked on append, so a
    bad value fails at the step that produced it rather than at the end of the run.
    """

    def __init__(self) -> None:
        # rows are appended as tuples (one list append per row, the cheapest record on the
        # hot path) and transposed into columns once, in `table` (or in `flush`)
        self._rows: dict[str, list[tuple[Any, ...]]] = {table: [] for table in COLUMNS}
        # the tables written once per fill, once a step and once per market maker a step,
        # appended to directly
        self._trades = self._rows["trades"]
        self._agents = self._rows["agents"]
        self._market = self._rows["market"]
        self._spill: TableSink | None = None
        self._flushed = dict.fromkeys(COLUMNS, 0)

    def _append(self, table: str, row: tuple[Any, ...]) -> None:
        self._rows[table].append(row)

    def stream_to(self, sink: TableSink) -> None:
        """Send the rows to ``sink`` at each `flush` instead of holding them to the end.

        Once a flush has sent rows, `table` refuses (the rows are on disk, not here): read
        the run directory instead.
        """
        self._spill = sink

    def flush(self) -> None:
        """Hand every table's rows recorded since the last flush to the sink, then drop them.

        Each table's new rows go as one block of columns (one Parquet row group,
        `abm.results.spill.ParquetSpill`). Without a sink (`stream_to`) this does nothing.
        """
        if self._spill is None:
            return
        for table, rows in self._rows.items():
            if rows:
                self._spill.write(table, self._columns_of(table))
                self._flushed[table] += len(rows)
                rows.clear()  # in place: `_trades`, `_agents` and `_market` are these lists

    def _columns_of(self, table: str) -> tuple[list[Any], ...]:
        rows = self._rows[table]
        if table == "events":
            return _event_columns(rows)
        if not rows:
            return tuple([] for _ in COLUMNS[table])
        return tuple(list(column) for column in zip(*rows, strict=True))

    def rows(self, table: str) -> int:
        """Rows recorded so far in ``table`` (one of `TABLES`), flushed ones included."""
        return self._flushed[table] + len(self._rows[table])

    def table(self, table: str) -> pd.DataFrame:
        """``table`` as recorded so far, with its contract dtypes (what a run's result holds).

        Raises:
            RecorderStreamedError: If rows of ``table`` were already flushed to a sink.
        """
        if self._flushed[table]:
            raise RecorderStreamedError(
                f"the {table} table was streamed to disk ({self._flushed[table]:,} rows "
                "flushed); read it from the run directory (RunResult.load or read_table)"
            )
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
        the step value inventory.
        """
        # one tuple built in place, the prices converted inline (`_price`): once per step
        if best_bid is not None and best_ask is not None:
            bid, ask = float(best_bid), float(best_ask)
            mid, spread = 0.5 * (bid + ask), ask - bid
        else:
            bid = math.nan if best_bid is None else float(best_bid)
            ask = math.nan if best_ask is None else float(best_ask)
            mid = spread = math.nan
        self._market.append(
            (
                step,
                time,
                fundamental,
                bid,
                ask,
                mid,
                spread,
                bid_depth,
                ask_depth,
                math.nan if last_price is None else float(last_price),
                volume,
                hedge_price,
                mark,
            )
        )

    def trade(
        self,
        step: int,
        time: float,
        price: float,
        qty: int,
        aggressor: str,
        buyer: int,
        seller: int,
        venue: str,
        instrument: str,
        purpose: str,
        maker_order_id: int | None,
        taker_order_id: int | None,
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
        self._trades.append(
            (
                step,
                time,
                price,
                qty,
                aggressor,
                buyer,
                seller,
                venue,
                instrument,
                purpose,
                maker_order_id,
                taker_order_id,
            )
        )

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
        # one tuple, built in place: this runs once per market maker per step
        self._agents.append(
            (
                step,
                agent_id,
                kind,
                inventory,
                cash,
                equity,
                pnl,
                math.nan if bid is None else float(bid),
                math.nan if ask is None else float(ask),
                regime,
                status,
                group,
                hedge,
                inventory + hedge if net_delta is None else net_delta,
            )
        )

    def event(
        self,
        step: int,
        kind: EventKind,
        agent_id: int | None,
        counterparty: int | None,
        amount: float,
        **fields: Unpack[EventFields],
    ) -> None:
        """Record one risk, contagion, market or execution event (for example a default).

        ``agent_id`` and ``counterparty`` may be None (market-wide event, no counterparty) and are
        stored as ``<NA>``; ``amount`` is in price units or lots by kind (NaN when not
        applicable). ``fields`` are the kind's typed fields (`EventFields`: ``wave=1``,
        ``notional=..., mid=..., venue="book"``), each stored in its own nullable column;
        the fields not given are null in this row.

        Raises:
            ValueError: If ``kind`` is not an `EventKind` value.
            TypeError: If a field is not one of `EventFields`.
        """
        if type(kind) is not EventKind:
            try:
                kind = EventKind(kind)
            except ValueError as error:
                known = ", ".join(EventKind)
                raise ValueError(f"event kind {kind!r} is not one of: {known}") from error
        if not _EVENT_FIELDS.issuperset(fields):
            unknown = sorted(set(fields) - _EVENT_FIELDS)
            raise TypeError(f"event fields {unknown} are not columns of events (EventFields)")
        # the fields dict is kept as is (no per-event copy); `table` spreads it into columns
        self._append("events", (step, kind, agent_id, counterparty, amount, fields))

    def network_edge(self, source: int, target: int, exposure: float, capacity: float) -> None:
        """Record one contagion-graph edge: ``source`` is exposed to ``target`` (price units)."""
        self._append("network", (source, target, exposure, capacity))

    def depth_level(self, step: int, side: str, level: int, price: float, qty: int) -> None:
        """Record one aggregated book level: ``side`` "bid" or "ask", ``level`` 1 = the touch."""
        self._append("depth", (step, side, level, price, qty))

    def pool(
        self,
        step: int,
        venue: str,
        price: float,
        reserve_base: int,
        reserve_quote: int,
        base_before: int,
        quote_before: int,
        liquidity: int,
        fee: float,
        fees_base: int,
        fees_quote: int,
        swaps: int,
        rejected: int,
        volume_base: int,
        volume_quote: int,
        outside_base: int,
        outside_quote: int,
    ) -> None:
        """Record one AMM pool's state after a block (`POOL_COLUMNS` says what each is)."""
        _require_str("pools", "venue", venue)
        self._append(
            "pools",
            (
                step,
                venue,
                price,
                reserve_base,
                reserve_quote,
                base_before,
                quote_before,
                liquidity,
                fee,
                fees_base,
                fees_quote,
                swaps,
                rejected,
                volume_base,
                volume_quote,
                outside_base,
                outside_quote,
            ),
        )

    def lending(self, row: tuple[Any, ...]) -> None:
        """Record one lending pool's state after a block: a `LENDING_COLUMNS` tuple."""
        if len(row) != len(LENDING_COLUMNS):
            raise TypeError(f"lending row needs {len(LENDING_COLUMNS)} values, got {len(row)}")
        self._append("lending", row)

    def liquidation(self, row: tuple[Any, ...]) -> None:
        """Record one settled liquidation: a `LIQUIDATION_COLUMNS` tuple."""
        if len(row) != len(LIQUIDATION_COLUMNS):
            raise TypeError(
                f"liquidations row needs {len(LIQUIDATION_COLUMNS)} values, got {len(row)}"
            )
        self._append("liquidations", row)

    def option(
        self,
        step: int,
        series: str,
        type: str,
        strike: float,
        expiry: int,
        best_bid: float,
        best_ask: float,
        mid: float,
        implied_vol: float,
        open_interest: int,
        volume: int,
    ) -> None:
        """Record one option series at one step (`abm.market.options.venue.OptionsVenue.record`).

        ``series`` is the series' instrument name, ``type`` ``"call"`` or ``"put"``, ``strike``
        in price units, ``expiry`` its expiry step; quotes and ``mid`` in price units (NaN for an
        empty side); ``implied_vol`` the Black-Scholes volatility of the mid per sqrt(unit of
        model time) (NaN without one); ``open_interest`` the contracts held long;
        ``volume`` the contracts traded since the series' previous row.
        """
        _require_str("options", "series", series)
        _require_str("options", "type", type)
        row = (step, series, type, strike, expiry, best_bid, best_ask, mid, implied_vol)
        self._append("options", (*row, open_interest, volume))

    def greeks(
        self,
        step: int,
        agent_id: int,
        delta: float,
        gamma: float,
        vega: float,
        theta: float,
        pnl_theta: float,
        pnl_gamma: float,
        pnl_vega: float,
        pnl_hedging: float,
        pnl_residual: float,
    ) -> None:
        """Record one option market maker's Greeks and its step's P&L attribution.

        See `abm.agents.option_pnl`: ``delta`` is the net delta in lots (options and spot),
        ``gamma``, ``vega`` and ``theta`` those of its option positions; the five ``pnl_``
        terms sum to the step's change in its equity (price units).
        """
        row = (step, agent_id, delta, gamma, vega, theta, pnl_theta, pnl_gamma, pnl_vega)
        self._append("greeks", (*row, pnl_hedging, pnl_residual))


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


def table_schema(table: str) -> tuple[tuple[str, str], ...]:
    """Return the ``(column, dtype)`` pairs of ``table`` (one of `TABLES`) by the dtype rule."""
    pairs = []
    for column in COLUMNS[table]:
        if table == "events" and column in EVENT_FIELD_DTYPES:
            dtype = EVENT_FIELD_DTYPES[column]
        elif (table == "events" and column in ("agent_id", "counterparty")) or (
            table == "trades" and column in _TRADE_ORDER_IDS
        ):
            dtype = _NULLABLE_INT
        elif column in _INT64_COLUMNS:
            dtype = _INT
        elif column in LABEL_COLUMNS:
            dtype = _LABEL
        else:
            dtype = _FLOAT
        pairs.append((column, dtype))
    return tuple(pairs)


def nullable_column(table: str, column: str) -> bool:
    """Whether ``table.column`` may hold nulls (event ids and fields, trade order ids)."""
    if table == "trades":
        return column in _TRADE_ORDER_IDS
    return table == "events" and (
        column in EVENT_FIELD_DTYPES or column in ("agent_id", "counterparty")
    )


def _price(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _require_str(table: str, column: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(
            f"{table} {column} must be a str (use an enum's .value), got {type(value).__name__}"
        )


def _event_columns(rows: list[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    """The ``events`` columns of rows ``(step, kind, agent_id, counterparty, amount, fields)``.

    A field absent from a row's ``fields`` is None there; float fields take NaN for None.
    """
    base: tuple[list[Any], ...] = (
        tuple(list(column) for column in zip(*(row[:_EVENT_BASE] for row in rows), strict=True))
        if rows
        else tuple([] for _ in range(_EVENT_BASE))
    )
    fields = [row[_EVENT_BASE] for row in rows]
    spread = []
    for name, dtype in EVENT_FIELD_DTYPES.items():
        values = [field.get(name) for field in fields]
        if dtype == _FLOAT:
            values = [math.nan if value is None else value for value in values]
        spread.append(values)
    return (*base, *spread)


def _build_table(table: str, columns: tuple[list[Any], ...]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for (name, dtype), values in zip(table_schema(table), columns, strict=True):
        try:
            if dtype == _LABEL and nullable_column(table, name):
                data[name] = label_categorical(values, nullable=True)
            else:
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
    return label_categorical(values)


def label_categorical(values: Any, *, nullable: bool = False) -> pd.Categorical:
    """A categorical of ``str`` labels whose categories are the labels present, sorted.

    One canonical form, so that a table and its saved copy (Parquet keeps the dictionary,
    but an empty one comes back untyped) have equal dtypes. With ``nullable``, a missing
    value (None, NaN or ``<NA>``) stays missing; any other value must be a `str`.

    Raises:
        TypeError: If ``nullable`` and a present value is not a `str`.
    """
    if not nullable:
        labels = [str(value) for value in values]
        return pd.Categorical(labels, categories=pd.Index(sorted(set(labels)), dtype="str"))
    present: list[str | None] = []
    for value in values:
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            present.append(None)
        elif isinstance(value, str):
            present.append(str(value))
        else:
            raise TypeError(f"a label must be a str, got {type(value).__name__}")
    categories = sorted({value for value in present if value is not None})
    return pd.Categorical(present, categories=pd.Index(categories, dtype="str"))
