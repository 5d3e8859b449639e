"""Pure measures of a recorded market: how far prices strayed, and how often the book was whole.

Functions of the ``market`` and ``trades`` tables (`abm.results.recorder`), shared by the run
summary
(`abm.run.summarize`) and `analysis` so that both report the same numbers.

A crash shows in trade prices before it shows in mids: while one side of the book is empty there
is no mid, yet market orders still print against whatever is left. Dislocations are therefore
measured on both, and sidedness says how much of the run had a mid at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

BOOK_VENUE = "book"


def trade_dislocations(market: pd.DataFrame, trades: pd.DataFrame) -> np.ndarray:
    """``|price - fundamental|`` of every book trade, against the fundamental of its step.

    The fundamental moves at the start of a step and every trade follows, so the ``market``
    row of the trade's step holds the fundamental it traded against. Inter-dealer trades
    (``venue == "interdealer"``) are left out: they are bilateral, not book prices.
    """
    book = trades[(trades["venue"] == BOOK_VENUE).to_numpy(dtype=bool)]
    fundamental = pd.Series(
        market["fundamental"].to_numpy(dtype=float), index=market["step"].to_numpy()
    )
    at_step = fundamental.reindex(book["step"].to_numpy()).to_numpy()
    return np.abs(book["price"].to_numpy(dtype=float) - at_step)


def price_dislocations(
    market: pd.DataFrame, trades: pd.DataFrame | Iterable[pd.DataFrame], from_step: int = 0
) -> dict[str, float]:
    """The largest gaps between prices and the fundamental over steps ``>= from_step``.

    ``trades`` is the trades table, or its rows in blocks (a streamed run's row groups, read
    one at a time): the maxima are the same either way.

    Returns (price units; NaN where there is nothing to measure):

    - ``max_mid_dislocation``: largest ``|mid - fundamental|`` over steps with a two-sided book;
    - ``max_trade_dislocation``: largest ``|trade price - fundamental|`` over book trades
      (`trade_dislocations`);
    - ``max_dislocation``: the larger of the two.
    """
    later_market = market[(market["step"] >= from_step).to_numpy(dtype=bool)]
    mids = np.abs(
        later_market["mid"].to_numpy(dtype=float)
        - later_market["fundamental"].to_numpy(dtype=float)
    )
    mid_gap = _nanmax(mids)
    blocks = [trades] if isinstance(trades, pd.DataFrame) else trades
    block_gaps = [
        _nanmax(trade_dislocations(later_market, block[(block["step"] >= from_step).to_numpy()]))
        for block in blocks
    ]
    trade_gap = _nanmax(np.array(block_gaps, dtype=float))
    finite = [gap for gap in (mid_gap, trade_gap) if math.isfinite(gap)]
    return {
        "max_dislocation": max(finite) if finite else math.nan,
        "max_mid_dislocation": mid_gap,
        "max_trade_dislocation": trade_gap,
    }


def book_sidedness(market: pd.DataFrame) -> dict[str, float]:
    """Fractions of recorded steps (step 0 included) by how many sides of the book were quoted.

    ``two_sided_fraction`` (a best bid and a best ask), ``one_sided_fraction`` (exactly one)
    and ``empty_book_fraction`` (neither); they sum to 1 (NaN for an empty table).
    """
    if not len(market):
        return {
            "two_sided_fraction": math.nan,
            "one_sided_fraction": math.nan,
            "empty_book_fraction": math.nan,
        }
    sides = np.isfinite(market["best_bid"].to_numpy(dtype=float)).astype(int) + np.isfinite(
        market["best_ask"].to_numpy(dtype=float)
    ).astype(int)
    return {
        "two_sided_fraction": float((sides == 2).mean()),
        "one_sided_fraction": float((sides == 1).mean()),
        "empty_book_fraction": float((sides == 0).mean()),
    }


def _nanmax(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else math.nan


__all__ = ["BOOK_VENUE", "book_sidedness", "price_dislocations", "trade_dislocations"]
