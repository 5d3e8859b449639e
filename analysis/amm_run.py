"""The AMM pool of a run: LP P&L (fees minus LVR), arbitrage profit, venue shares, costs.

Reads a run's ``pools``, ``trades`` and ``market`` tables (`abm.results.recorder`). The
computational core (`pool_blocks`, `lp_decomposition`, `venue_shares`,
`price_discovery_shares`, the block decomposition) lives in `abm.results.amm_summary`, which
also writes these figures into a run's ``summary.json`` (``amm_`` keys); this module
re-exports it and adds `cost_by_size`. The closed forms are `analysis.amm`'s. Conventions:

* the *external price* of a block is the fundamental at its step (the value a "CEX" outside
  the model quotes), so LVR is what trading at the pool cost its liquidity providers against
  trading at the fundamental;
* `pool_blocks` turns the ``pools`` rows into `analysis.amm` block tables; a block whose
  holdings before it differ from the previous block's after (a deposit, a withdrawal, an
  exploit between them) starts a new *segment*, and `lp_decomposition` applies
  `abm.results.amm_summary.lp_pnl_decomposition` segment by segment, so on every row, exactly,
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

from abm.results.amm_summary import (
    MICRO,
    amm_figures,
    lp_decomposition,
    pool_blocks,
    price_discovery_shares,
    venue_shares,
)

__all__ = [
    "MICRO",
    "amm_summary",
    "cost_by_size",
    "lp_decomposition",
    "pool_blocks",
    "price_discovery_shares",
    "venue_shares",
]


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


def amm_summary(result: Any) -> dict[str, float]:
    """Headline AMM figures of a run (a `abm.results.run_result.RunResult` with a pool).

    `abm.results.amm_summary.amm_figures` of its tables: the same figures its ``summary.json``
    holds under ``amm_`` names (`abm.results.amm_summary.AMM_SUMMARY_KEYS`).
    """
    scenario = result.scenario
    return amm_figures(result.pools, result.market, result.trades, scenario.tick_size, scenario.dt)
