"""The AMM pool of a run: LP P&L (fees minus LVR), arbitrage profit, venue shares, costs.

Reads a run's ``pools``, ``trades`` and ``market`` tables (`abm.results.recorder`); the
closed forms and the block decomposition are `analysis.amm`'s. Conventions:

* the *external price* of a block is the fundamental at its step (the value a "CEX" outside
  the model quotes), so LVR is what trading at the pool cost its liquidity providers against
  trading at the fundamental;
* `pool_blocks` turns the ``pools`` rows into `analysis.amm` block tables; a block whose
  holdings before it differ from the previous block's after (a deposit, a withdrawal, an
  exploit between them) starts a new *segment*, and `lp_decomposition` applies
  `analysis.amm.lp_pnl_decomposition` segment by segment, so on every row, exactly,
  ``pnl == rebalancing_pnl + fees - lvr`` (price units; sign convention: a gain is positive
  for ``pnl``, ``rebalancing_pnl`` and ``fees``, ``lvr`` is a cost to the LPs);
* ``fees - lvr`` is the LPs' P&L against the rebalancing portfolio;
* venue shares and costs are of the takers' trades (``purpose`` taker), by venue;
* price discovery is shared between the book's mid and the pool price at block ends by
  Gonzalo-Granger component shares (`price_discovery_shares`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analysis.amm import lp_pnl_decomposition

MICRO = 1_000_000
"""Pool units per unit of the ``pools`` fee columns (millionths)."""

__all__ = [
    "amm_summary",
    "cost_by_size",
    "lp_decomposition",
    "pool_blocks",
    "price_discovery_shares",
    "venue_shares",
]


def pool_blocks(pools: pd.DataFrame, market: pd.DataFrame, tick_size: float) -> pd.DataFrame:
    """One `analysis.amm` block table row per block (not the step-0 row), with ``segment``.

    Amounts are in millionths of a pool unit (lots, ticks), the unit of the ``pools`` fee
    columns, so the fees are exact integers; ``price`` is the fundamental in ticks per lot.
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
    """`analysis.amm.lp_pnl_decomposition` per segment, concatenated, in price units.

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


def cost_by_size(
    trades: pd.DataFrame, market: pd.DataFrame, bins: tuple[int, ...] = (1, 3, 6, 11, 10**9)
) -> pd.DataFrame:
    """Takers' mean cost per lot against the fundamental, by venue and size (relative).

    ``cost = side * (price - fundamental) / fundamental``, side +1 for a buy, -1 for a sale:
    what the trade paid above the value (the effective half spread plus impact).
    """
    takers = trades[trades["purpose"].astype(str) == "taker"].copy()
    fundamental = market.set_index("step")["fundamental"]
    value = fundamental.reindex(takers["step"]).to_numpy(dtype=float)
    side = np.where(takers["aggressor"].astype(str) == "buy", 1.0, -1.0)
    takers["cost"] = side * (takers["price"].to_numpy(dtype=float) - value) / value
    takers["size"] = pd.cut(takers["qty"], bins=list(bins), right=False)
    takers["venue"] = takers["venue"].astype(str)
    return takers.groupby(["venue", "size"], observed=True)["cost"].agg(["mean", "count"])


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


def amm_summary(result: Any) -> dict[str, float]:
    """Headline AMM figures of a run (a `abm.results.run_result.RunResult` with a pool)."""
    tick = result.scenario.tick_size
    blocks = pool_blocks(result.pools, result.market, tick)
    decomposition = lp_decomposition(blocks, tick)
    trades = result.trades
    arb = trades[trades["purpose"].astype(str) == "arbitrage"]
    shares = venue_shares(trades)
    pools, market = result.pools, result.market
    mid = market.set_index("step")["mid"].reindex(pools["step"]).to_numpy(dtype=float)
    gap = np.abs(pools["price"].to_numpy(dtype=float) / mid - 1.0)
    signed = np.where(arb["aggressor"].astype(str) == "buy", -1.0, 1.0)
    try:
        discovery = price_discovery_shares(mid, pools["price"].to_numpy(dtype=float))
    except ValueError:
        discovery = {"book": np.nan, "amm": np.nan}
    return {
        "fees": float(decomposition["fees"].sum()),
        "lvr": float(decomposition["lvr"].sum()),
        "fees_minus_lvr": float((decomposition["fees"] - decomposition["lvr"]).sum()),
        "pool_pnl": float(decomposition["pnl"].sum()),
        "rebalancing_pnl": float(decomposition["rebalancing_pnl"].sum()),
        "arbitrage_cash": float(np.sum(signed * arb["price"] * arb["qty"])),
        "amm_taker_share": float(shares.get("amm", 0.0)),
        "pool_mid_gap_median": float(np.nanmedian(gap)) if np.isfinite(gap).any() else np.nan,
        "swaps": float(pools["swaps"].sum()),
        "price_discovery_book": discovery["book"],
        "price_discovery_amm": discovery["amm"],
    }
