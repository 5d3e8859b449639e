"""The AMM pool of a run: LP P&L (fees minus LVR), arbitrage profit, venue shares, as summary keys.

A run whose scenario has an ``amm`` section gets `amm_summary_keys` in its ``summary.json``,
from `abm.run.run` (tables in memory) and from `abm.streamed.run_to` (tables read back from
the run directory, `amm_summary_keys_of_files`); both give the same values. `analysis.amm_run`
re-exports the building blocks and reports them; `analysis.amm` holds the closed forms.
Only numpy and pandas are needed (no scipy: the engine must not load it).

Conventions:

* a *block table* has one row per block: ``time, price`` (the external price), the pool's
  holdings ``base_before, quote_before`` when the block starts and ``base_after, quote_after``
  when it ends (integer token units), the fee paid in the block (``fee_base``, ``fee_quote``)
  and the arbitrageur's profit valued at the external price (``arbitrage_profit``);
* the *external price* of a block is the fundamental at its step (the value a "CEX" outside
  the model quotes), so LVR is what trading at the pool cost its liquidity providers against
  trading at the fundamental;
* `pool_blocks` turns the ``pools`` rows into block tables; a block whose holdings before it
  differ from the previous block's after (a deposit, a withdrawal, an exploit between them)
  starts a new *segment*, and `lp_decomposition` applies `lp_pnl_decomposition` segment by
  segment, so on every row, exactly, ``pnl == rebalancing_pnl + fees - lvr`` (price units; a
  gain is positive for ``pnl``, ``rebalancing_pnl`` and ``fees``, ``lvr`` is a cost to the LPs);
* venue shares are of the takers' trades (``purpose`` taker), by venue;
* price discovery is shared between the book's mid and the pool price at block ends by
  Gonzalo-Granger component shares (`price_discovery_shares`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from abm.market.amm.arbitrage import BLOCK_COLUMNS

if TYPE_CHECKING:
    from abm.scenario.schema import Scenario

__all__ = [
    "AMM_SUMMARY_KEYS",
    "BLOCK_TABLE_COLUMNS",
    "MICRO",
    "amm_figures",
    "amm_summary_keys",
    "amm_summary_keys_of_files",
    "check_block_table",
    "lp_decomposition",
    "lp_pnl_decomposition",
    "pool_blocks",
    "positive_finite",
    "price_discovery_shares",
    "venue_shares",
]

MICRO = 1_000_000
"""Pool units per unit of the ``pools`` fee columns (millionths)."""

BLOCK_TABLE_COLUMNS = BLOCK_COLUMNS
"""The columns a block table must have (one row per block): the arbitrage simulator's."""

AMM_SUMMARY_KEYS: Mapping[str, str] = {
    "fees": "amm_fees",
    "lvr": "amm_lvr",
    "fees_minus_lvr": "amm_fees_minus_lvr",
    "pool_pnl": "amm_lp_pnl",
    "rebalancing_pnl": "amm_rebalancing_pnl",
    "arbitrage_cash": "amm_arbitrage_cash",
    "arbitrage_profit": "amm_arbitrage_profit",
    "pool_value_mean": "amm_pool_value_mean",
    "lvr_rate": "amm_lvr_rate",
    "arbitrage_rate": "amm_arbitrage_rate",
    "amm_taker_share": "amm_taker_share",
    "swaps": "amm_swaps",
    "arbitrage_swaps": "amm_arbitrage_swaps",
    "pool_mid_gap_median": "amm_pool_mid_gap_median",
    "price_discovery_book": "amm_price_discovery_book",
    "price_discovery_amm": "amm_price_discovery_amm",
}
"""`amm_figures` names and the ``summary.json`` keys they become (`amm_summary_keys`)."""

_TRADE_COLUMNS = ("step", "venue", "price", "qty", "aggressor", "purpose")
_MARKET_COLUMNS = ("step", "fundamental", "mid")
_TRADE_BLOCK_ROWS = 250_000


class AmmTables(Protocol):
    """The tables `amm_summary_keys` reads (a `abm.results.run_result.RunResult` is one)."""

    @property
    def market(self) -> pd.DataFrame: ...

    @property
    def trades(self) -> pd.DataFrame: ...

    @property
    def pools(self) -> pd.DataFrame: ...


def positive_finite(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a float array; ``ValueError`` naming ``name`` unless all are finite and > 0."""
    array = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(array) & (array > 0)):
        raise ValueError(f"{name} must be positive and finite")
    return array


def check_block_table(blocks: pd.DataFrame) -> None:
    """Raise ``ValueError`` unless ``blocks`` has every `BLOCK_TABLE_COLUMNS` column and a row."""
    missing = [name for name in BLOCK_TABLE_COLUMNS if name not in blocks.columns]
    if missing:
        raise ValueError(f"blocks is missing the columns {missing}")
    if len(blocks) == 0:
        raise ValueError("blocks has no rows")


def _scaled_prices(prices: np.ndarray) -> tuple[list[int], int]:
    """Prices as integers over one power of two, ``prices == scaled / 2**shift`` exactly."""
    ratios = [float(p).as_integer_ratio() for p in prices]
    shift = max(den.bit_length() - 1 for _, den in ratios)
    return [num << (shift - (den.bit_length() - 1)) for num, den in ratios], shift


def lp_pnl_decomposition(blocks: pd.DataFrame, *, exact: bool = False) -> pd.DataFrame:
    """The liquidity providers' P&L, block by block: rebalancing P&L plus fees minus LVR.

    The pool's value is its holdings marked at the external price, ``V = x S + y``. Over the
    interval that ends with block ``i`` (from the end of block ``i - 1``; the first row covers
    block 0 alone):

    * ``pnl = V_i(after) - V_{i-1}(after)``, the pool's change in value;
    * ``rebalancing_pnl = x_{i-1}(after) * (S_i - S_{i-1})``, what a portfolio holding the
      pool's base position and rebalancing at market prices made (Milionis, Moallemi,
      Roughgarden & Zhang 2022, the rebalancing strategy; 0 on the first row);
    * ``fees = fee_base * S_i + fee_quote``, the block's fee income marked at the price;
    * ``lvr = fees - ((x_after - x_before) S_i + (y_after - y_before))``, what the block's trade
      cost the pool at market prices before its fee (the arbitrageur's profit plus the fee).

    So ``pnl == rebalancing_pnl + fees - lvr`` on every row: holdings before a block equal
    those after the previous one. The identity is exact, not up to rounding: float prices are
    dyadic rationals and the amounts integers, so every term is computed exactly as an integer
    over one power of two; ``exact=True`` returns those as `fractions.Fraction` objects,
    otherwise each is rounded once to the nearest float.

    Raises:
        ValueError: For a table without the block columns or rows, non-positive prices, or
            holdings that change between blocks (a deposit or withdrawal the identity leaves
            out).
    """
    check_block_table(blocks)
    prices = positive_finite(blocks["price"].to_numpy(dtype=float), "price")
    ints = {
        name: [int(v) for v in blocks[name].tolist()]
        for name in (
            "base_before",
            "quote_before",
            "base_after",
            "quote_after",
            "fee_base",
            "fee_quote",
        )
    }
    base_b, quote_b = ints["base_before"], ints["quote_before"]
    base_a, quote_a = ints["base_after"], ints["quote_after"]
    if base_b[1:] != base_a[:-1] or quote_b[1:] != quote_a[:-1]:
        raise ValueError("holdings change between blocks: the decomposition needs none")
    scaled, shift = _scaled_prices(prices)
    unit = 1 << shift
    rows: dict[str, list[int]] = {"pnl": [], "rebalancing_pnl": [], "fees": [], "lvr": []}
    for i, s in enumerate(scaled):
        prev_s = s if i == 0 else scaled[i - 1]
        value_after = base_a[i] * s + quote_a[i] * unit
        value_start = base_b[i] * prev_s + quote_b[i] * unit
        fees = ints["fee_base"][i] * s + ints["fee_quote"][i] * unit
        trade = (base_a[i] - base_b[i]) * s + (quote_a[i] - quote_b[i]) * unit
        rows["pnl"].append(value_after - value_start)
        rows["rebalancing_pnl"].append(base_b[i] * (s - prev_s))
        rows["fees"].append(fees)
        rows["lvr"].append(fees - trade)
    table = pd.DataFrame({"time": blocks["time"].to_numpy(dtype=float)})
    for name, values in rows.items():
        if exact:
            table[name] = pd.Series([Fraction(v, unit) for v in values], dtype=object)
        else:
            table[name] = np.array([v / unit for v in values], dtype=float)
    return table


def pool_blocks(pools: pd.DataFrame, market: pd.DataFrame, tick_size: float) -> pd.DataFrame:
    """One block table row per block (not the step-0 row), with ``segment``.

    Amounts are in millionths of a pool unit (lots, ticks), the unit of the ``pools`` fee
    columns, so the fees are exact integers; ``price`` is the fundamental in ticks per lot,
    ``time`` the block's last step.
    """
    rows = pools[pools["step"] > 0].reset_index(drop=True)
    fundamental = market.set_index("step")["fundamental"]
    price = fundamental.reindex(rows["step"]).to_numpy(dtype=float) / tick_size
    blocks = pd.DataFrame(
        {
            "time": rows["step"].to_numpy(dtype=float),
            "price": price,
            "base_before": rows["base_before"].astype("int64") * MICRO,
            "quote_before": rows["quote_before"].astype("int64") * MICRO,
            "base_after": rows["reserve_base"].astype("int64") * MICRO,
            "quote_after": rows["reserve_quote"].astype("int64") * MICRO,
            "fee_base": rows["fees_base"].astype("int64"),
            "fee_quote": rows["fees_quote"].astype("int64"),
            "arbitrage_profit": 0.0,
        }
    )
    broken = (blocks["base_before"] != blocks["base_after"].shift()) | (
        blocks["quote_before"] != blocks["quote_after"].shift()
    )
    blocks["segment"] = np.cumsum(broken.to_numpy())
    return blocks


def lp_decomposition(blocks: pd.DataFrame, tick_size: float) -> pd.DataFrame:
    """`lp_pnl_decomposition` per segment, concatenated, in price units.

    Exact up to the final scaling: every term is computed exactly and divided once by
    ``MICRO / tick_size``.
    """
    parts = []
    for _, segment in blocks.groupby("segment", sort=True):
        table = lp_pnl_decomposition(segment.reset_index(drop=True))
        for name in ("pnl", "rebalancing_pnl", "fees", "lvr"):
            table[name] = table[name] * (tick_size / MICRO)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def venue_shares(trades: pd.DataFrame) -> pd.Series:
    """Share of the takers' traded lots by venue (``book``, ``amm``)."""
    takers = trades[trades["purpose"].astype(str) == "taker"]
    volume = takers.groupby(takers["venue"].astype(str))["qty"].sum()
    return volume / volume.sum()


def price_discovery_shares(book: ArrayLike, pool: ArrayLike) -> dict[str, float]:
    """Gonzalo-Granger component shares of price discovery of two cointegrated prices.

    With ``gap = pool - book`` at the previous observation, the error-correction speeds come
    from ``d book_t = a_book * gap_{t-1} + e`` and ``d pool_t = -a_pool * gap_{t-1} + e``
    (least squares, no intercept); the venue that corrects less leads: the book's share is
    ``a_pool / (a_book + a_pool)`` (Gonzalo & Granger 1995; Hasbrouck 1995's companion
    measure). Speeds below zero are clipped to zero.

    Raises:
        ValueError: For fewer than 3 joint finite observations or no gap at all.
    """
    b = np.asarray(book, dtype=float)
    p = np.asarray(pool, dtype=float)
    ok = np.isfinite(b) & np.isfinite(p)
    b, p = b[ok], p[ok]
    if len(b) < 3:
        raise ValueError("price_discovery_shares needs at least 3 joint observations")
    gap = (p - b)[:-1]
    denominator = float(gap @ gap)
    if denominator == 0.0:
        raise ValueError("the two prices never differ: no price discovery to share")
    a_book = max(0.0, float(gap @ np.diff(b)) / denominator)
    a_pool = max(0.0, -float(gap @ np.diff(p)) / denominator)
    total = a_book + a_pool
    if total == 0.0:
        raise ValueError("neither price corrects towards the other")
    return {"book": a_pool / total, "amm": a_book / total}


class _TradeTotals:
    """What the summary needs of the trades table, added up a block of rows at a time.

    Float totals are `math.fsum` of the per-trade values (exactly rounded), so they do not
    depend on how the table is cut into blocks: the in-memory and streamed runs agree bit for
    bit.
    """

    def __init__(self, fundamental: pd.Series) -> None:
        self.fundamental = fundamental
        self.taker_lots: dict[str, int] = {}
        self.arbitrage_cash: list[float] = []
        self.arbitrage_profit: list[float] = []
        self.arbitrage_swaps = 0

    def add(self, trades: pd.DataFrame) -> None:
        purpose = trades["purpose"].astype(str)
        venue = trades["venue"].astype(str)
        takers = trades[purpose == "taker"]
        for name, lots in takers.groupby(venue[purpose == "taker"])["qty"].sum().items():
            self.taker_lots[str(name)] = self.taker_lots.get(str(name), 0) + int(lots)
        arb = trades[purpose == "arbitrage"]
        # the arbitrageur's side: it buys (pays cash) when it is the aggressor of a buy
        side = np.where(arb["aggressor"].astype(str) == "buy", 1.0, -1.0)
        price = arb["price"].to_numpy(dtype=float)
        qty = arb["qty"].to_numpy(dtype=float)
        self.arbitrage_cash.extend((-side * price * qty).tolist())
        on_pool = (venue[purpose == "arbitrage"] == "amm").to_numpy()
        value = self.fundamental.reindex(arb["step"]).to_numpy(dtype=float)
        profit = side * (value - price) * qty
        self.arbitrage_profit.extend(profit[on_pool].tolist())
        self.arbitrage_swaps += int(on_pool.sum())

    def amm_taker_share(self) -> float:
        total = sum(self.taker_lots.values())
        return self.taker_lots.get("amm", 0) / total if total else math.nan


def amm_figures(
    pools: pd.DataFrame,
    market: pd.DataFrame,
    trades: pd.DataFrame | Iterable[pd.DataFrame],
    tick_size: float,
    dt: float,
) -> dict[str, float]:
    """Headline AMM figures of a run's ``pools``, ``market`` and ``trades`` tables.

    ``trades`` may be the whole table or its blocks of rows (a streamed run). Keys (price
    units unless said; NaN where there is nothing to measure):

    - ``fees``, ``lvr``, ``fees_minus_lvr``, ``rebalancing_pnl``, ``pool_pnl``: the sums of
      `lp_decomposition` over every block, so ``pool_pnl == rebalancing_pnl + fees - lvr``;
    - ``arbitrage_cash``: the arbitrageurs' net cash from their trades (both venues);
    - ``arbitrage_profit``: their pool swaps' profit at the external price, ``side *
      (fundamental - price) * qty`` summed (what LVR closed forms net of fees predict);
    - ``pool_value_mean``: the pool's mean value at the start of its blocks at the external
      price; ``lvr_rate`` and ``arbitrage_rate``: ``lvr`` and ``arbitrage_profit`` per unit of
      model time per unit of pool value, ``sum / sum(V_i * (t_i - t_{i-1}))`` over blocks (the
      quantity ``sigma**2 / 8`` predicts, `analysis.amm.lvr_rate`, sigma relative);
    - ``amm_taker_share``: the pool's share of the takers' lots;
    - ``swaps`` (executed swaps) and ``arbitrage_swaps`` (the arbitrageurs', counts);
    - ``pool_mid_gap_median``: median ``|pool price / mid - 1|`` over the ``pools`` rows;
    - ``price_discovery_book``, ``price_discovery_amm``: `price_discovery_shares` of the mid
      and the pool price at the ``pools`` rows.
    """
    fundamental = market.set_index("step")["fundamental"]
    totals = _TradeTotals(fundamental)
    for block in [trades] if isinstance(trades, pd.DataFrame) else trades:
        totals.add(block)
    blocks = pool_blocks(pools, market, tick_size)
    nan = math.nan
    figures = dict.fromkeys(("fees", "lvr", "fees_minus_lvr", "pool_pnl", "rebalancing_pnl"), nan)
    exposure = nan
    if len(blocks):
        decomposition = lp_decomposition(blocks, tick_size)
        fees, lvr = decomposition["fees"], decomposition["lvr"]
        figures = {
            "fees": float(fees.sum()),
            "lvr": float(lvr.sum()),
            "fees_minus_lvr": float((fees - lvr).sum()),
            "pool_pnl": float(decomposition["pnl"].sum()),
            "rebalancing_pnl": float(decomposition["rebalancing_pnl"].sum()),
        }
        value = (
            blocks["base_before"].to_numpy(dtype=float) * blocks["price"].to_numpy(dtype=float)
            + blocks["quote_before"].to_numpy(dtype=float)
        ) * (tick_size / MICRO)
        start = float(pools["step"].iloc[0])
        spans = np.diff(np.concatenate([[start], blocks["time"].to_numpy(dtype=float)])) * dt
        exposure = float(np.sum(value * spans))
        figures["pool_value_mean"] = float(value.mean())
    else:
        figures["pool_value_mean"] = nan
    profit = math.fsum(totals.arbitrage_profit)
    figures["lvr_rate"] = figures["lvr"] / exposure if exposure > 0 else nan
    figures["arbitrage_rate"] = profit / exposure if exposure > 0 else nan
    mid = market.set_index("step")["mid"].reindex(pools["step"]).to_numpy(dtype=float)
    pool_price = pools["price"].to_numpy(dtype=float)
    gap = np.abs(pool_price / mid - 1.0)
    try:
        discovery = price_discovery_shares(mid, pool_price)
    except ValueError:
        discovery = {"book": nan, "amm": nan}
    figures.update(
        {
            "arbitrage_cash": math.fsum(totals.arbitrage_cash),
            "arbitrage_profit": profit,
            "amm_taker_share": totals.amm_taker_share(),
            "swaps": float(pools["swaps"].sum()),
            "arbitrage_swaps": float(totals.arbitrage_swaps),
            "pool_mid_gap_median": float(np.nanmedian(gap)) if np.isfinite(gap).any() else nan,
            "price_discovery_book": discovery["book"],
            "price_discovery_amm": discovery["amm"],
        }
    )
    return figures


def _prefixed(figures: Mapping[str, float]) -> dict[str, Any]:
    return {AMM_SUMMARY_KEYS[name]: figures[name] for name in AMM_SUMMARY_KEYS}


def amm_summary_keys(tables: AmmTables, scenario: Scenario) -> dict[str, Any]:
    """`amm_figures` of a run's tables as ``summary.json`` keys (`AMM_SUMMARY_KEYS`).

    Empty when ``scenario`` has no ``amm`` section, so a run without a pool keeps its summary.
    """
    if scenario.amm is None:
        return {}
    figures = amm_figures(
        tables.pools, tables.market, tables.trades, scenario.tick_size, scenario.dt
    )
    return _prefixed(figures)


def amm_summary_keys_of_files(directory: Path, scenario: Scenario) -> dict[str, Any]:
    """`amm_summary_keys` of a run directory's (or staging directory's) Parquet files.

    Reads the ``pools`` table, three ``market`` columns and the ``trades`` table a block of
    rows at a time, so a long streamed run is not read into memory at once.
    """
    if scenario.amm is None:
        return {}
    import pyarrow.parquet as pq

    pools = pq.ParquetFile(directory / "pools.parquet").read().to_pandas()
    market = pq.ParquetFile(directory / "market.parquet").read(columns=list(_MARKET_COLUMNS))

    def trade_blocks() -> Iterator[pd.DataFrame]:
        parquet = pq.ParquetFile(directory / "trades.parquet")
        for batch in parquet.iter_batches(
            batch_size=_TRADE_BLOCK_ROWS, columns=list(_TRADE_COLUMNS)
        ):
            yield batch.to_pandas()

    figures = amm_figures(
        pools, market.to_pandas(), trade_blocks(), scenario.tick_size, scenario.dt
    )
    return _prefixed(figures)
