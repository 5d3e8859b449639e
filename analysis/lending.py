"""Lending pools under stress: liquidations, their price impact, bad debt and cascade depth.

Pure functions of the tables a liquidation cascade writes
(`abm.market.lending.cascade.CascadeSimulator.tables`); nothing here runs a pool. The tables:

* ``blocks``, one row per block: ``block, time_s, exogenous_price, oracle_price,
  shadow_oracle_price, price_before, price_after`` (the first venue's price before and after the
  block's sales), ``liquidations, collateral_seized, collateral_sold, quote_received,
  debt_repaid, bad_debt, gas_paid, liquidatable_left, round_index, borrow_rate, utilisation,
  total_debt``;
* ``liquidations``, one row per liquidation: ``block, borrower, repaid, collateral_seized,
  bad_debt, health_factor_before, induced, venue, quote_received, price_before, price_after``
  (the venue's price around the sale);
* ``health``, ``block, account, health_factor`` of every borrower after each block.

The cascade's depth is the largest ``round_index``: the number of consecutive blocks of
liquidations each triggered by the price moves of earlier liquidation sales (see the module
`abm.market.lending.cascade` for the exact rule).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps

from analysis.figures import TALL, DisplayFigure, finish_axes, new_figure, require_columns

__all__ = [
    "BLOCK_COLUMNS",
    "LIQUIDATION_COLUMNS",
    "bad_debt_path",
    "cascade_depth",
    "cascade_figure",
    "cascade_waves",
    "collateral_sold_per_venue",
    "health_factor_distribution",
    "interest_rate_path",
    "lending_summary",
    "liquidation_price_impact",
    "liquidations_over_time",
]

BLOCK_COLUMNS = (
    "block",
    "exogenous_price",
    "oracle_price",
    "price_before",
    "price_after",
    "liquidations",
    "collateral_seized",
    "debt_repaid",
    "bad_debt",
    "liquidatable_left",
    "round_index",
    "borrow_rate",
    "utilisation",
)
"""Columns of the ``blocks`` table the functions here read."""

LIQUIDATION_COLUMNS = (
    "block",
    "collateral_seized",
    "venue",
    "quote_received",
    "price_before",
    "price_after",
    "induced",
)
"""Columns of the ``liquidations`` table the functions here read."""


def _blocks(blocks: pd.DataFrame) -> None:
    require_columns(blocks, BLOCK_COLUMNS, "blocks")


def _liquidations(liquidations: pd.DataFrame) -> None:
    require_columns(liquidations, LIQUIDATION_COLUMNS, "liquidations")


def liquidations_over_time(blocks: pd.DataFrame) -> pd.DataFrame:
    """Per block: liquidations, collateral seized and debt repaid, and their running totals."""
    _blocks(blocks)
    out = blocks[["block", "liquidations", "collateral_seized", "debt_repaid"]].copy()
    out["cumulative_liquidations"] = out["liquidations"].cumsum()
    out["cumulative_collateral"] = out["collateral_seized"].cumsum()
    out["cumulative_repaid"] = out["debt_repaid"].cumsum()
    return out.reset_index(drop=True)


def collateral_sold_per_venue(liquidations: pd.DataFrame) -> pd.DataFrame:
    """Per venue: sales, base sold, quote received and the average sale price (quote / base)."""
    _liquidations(liquidations)
    grouped = liquidations.groupby("venue", sort=True)
    out = pd.DataFrame(
        {
            "sales": grouped.size(),
            "collateral_sold": grouped["collateral_seized"].sum(),
            "quote_received": grouped["quote_received"].sum(),
        }
    )
    out["average_price"] = out["quote_received"] / out["collateral_sold"]
    return out


def liquidation_price_impact(liquidations: pd.DataFrame) -> pd.DataFrame:
    """Per venue: the price impact of liquidation sales.

    Columns: ``mean_impact_bps`` (the average relative move ``price_after / price_before - 1``
    of one sale, basis points), ``total_impact`` (the product of the sales' moves, minus one)
    and ``impact_per_base`` (least squares through the origin of the relative move on the size
    sold: for a book of linear depth ``D`` it is ``-1 / D`` exactly; for a constant-product pool
    of base reserve ``x`` about ``-2 / x`` for small sales).
    """
    _liquidations(liquidations)
    frame = liquidations.assign(move=liquidations["price_after"] / liquidations["price_before"] - 1)
    rows = {}
    for venue, group in frame.groupby("venue", sort=True):
        size = group["collateral_seized"].to_numpy(dtype=float)
        move = group["move"].to_numpy(dtype=float)
        denominator = float(np.dot(size, size))
        rows[venue] = {
            "mean_impact_bps": float(move.mean()) * 1e4,
            "total_impact": float(np.prod(1 + move)) - 1,
            "impact_per_base": float(np.dot(size, move)) / denominator if denominator else math.nan,
        }
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["mean_impact_bps", "total_impact", "impact_per_base"]
    )


def bad_debt_path(blocks: pd.DataFrame) -> pd.Series:
    """Cumulative bad debt (quote units) after each block, indexed by block."""
    _blocks(blocks)
    return blocks.set_index("block")["bad_debt"].cumsum().rename("cumulative_bad_debt")


def health_factor_distribution(health: pd.DataFrame, block: int | None = None) -> pd.Series:
    """Health factors of the borrowers with debt after ``block`` (the last block by default).

    Returns ``count, share_below_one, min`` and the quartiles and ``max`` of the finite health
    factors; accounts without debt (an infinite health factor) are left out of all of them.
    """
    require_columns(health, ("block", "account", "health_factor"), "health")
    when = int(health["block"].max()) if block is None else block
    values = health.loc[health["block"] == when, "health_factor"].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return pd.Series({"count": 0, "share_below_one": math.nan}, dtype=float)
    quartiles = np.quantile(values, [0.25, 0.5, 0.75])
    return pd.Series(
        {
            "count": float(values.size),
            "share_below_one": float(np.mean(values < 1)),
            "min": float(values.min()),
            "q25": float(quartiles[0]),
            "median": float(quartiles[1]),
            "q75": float(quartiles[2]),
            "max": float(values.max()),
        }
    )


def cascade_waves(blocks: pd.DataFrame) -> pd.DataFrame:
    """Each wave of consecutive liquidation blocks: ``start, end, blocks, liquidations, depth``.

    ``depth`` is the largest round index inside the wave: one when the exogenous path alone
    drove it, more when liquidation sales set off further rounds.
    """
    _blocks(blocks)
    rows = []
    current: dict[str, int] | None = None
    for block, count, round_index in blocks[["block", "liquidations", "round_index"]].itertuples(
        index=False
    ):
        if count:
            if current is None:
                current = {"start": block, "end": block, "liquidations": 0, "depth": 0}
            current["end"] = block
            current["liquidations"] += int(count)
            current["depth"] = max(current["depth"], int(round_index))
        elif current is not None:
            rows.append(current)
            current = None
    if current is not None:
        rows.append(current)
    out = pd.DataFrame(rows, columns=["start", "end", "liquidations", "depth"])
    out.insert(2, "blocks", out["end"] - out["start"] + 1)
    return out


def cascade_depth(blocks: pd.DataFrame) -> int:
    """The largest round index (0 when nothing was liquidated)."""
    _blocks(blocks)
    return int(blocks["round_index"].max()) if len(blocks) else 0


def interest_rate_path(blocks: pd.DataFrame) -> pd.DataFrame:
    """Per block: utilisation and borrow rate per year, as the pool applied them."""
    _blocks(blocks)
    return blocks[["block", "utilisation", "borrow_rate"]].reset_index(drop=True)


def lending_summary(blocks: pd.DataFrame, liquidations: pd.DataFrame) -> dict[str, int]:
    """``liquidations, liquidated_collateral, bad_debt, liquidation_rounds`` of a run."""
    _blocks(blocks)
    _liquidations(liquidations)
    return {
        "liquidations": len(liquidations),
        "liquidated_collateral": int(liquidations["collateral_seized"].sum()),
        "bad_debt": int(blocks["bad_debt"].sum()),
        "liquidation_rounds": cascade_depth(blocks),
    }


def cascade_figure(
    blocks: pd.DataFrame, liquidations: pd.DataFrame, health: pd.DataFrame
) -> DisplayFigure:
    """Four panels: prices, liquidations by round, bad debt and rate, health factors.

    Top left, the exogenous price, the first venue's price and the oracle's reading; top
    right, liquidations per block coloured by round index (viridis: dark is round 1, light the
    deepest); bottom left, cumulative bad debt and the borrow rate; bottom right, the health
    factors of indebted borrowers at the first and the last block.
    """
    _blocks(blocks)
    _liquidations(liquidations)
    figure = new_figure(TALL)
    (prices, counts), (debt, spread) = figure.subplots(2, 2)
    x = blocks["block"].to_numpy()
    prices.plot(x, blocks["exogenous_price"], label="exogenous", color="0.5", linestyle="--")
    prices.plot(x, blocks["price_after"], label="venue", color="C0")
    prices.plot(x, blocks["oracle_price"], label="oracle", color="C3")
    finish_axes(prices, "Prices", "block", "quote per base", has_data=len(blocks) > 0)

    hit = blocks[blocks["liquidations"] > 0]
    if len(hit):
        colours = hit["round_index"].to_numpy()
        bars = counts.bar(hit["block"], hit["liquidations"], width=1.0)
        deepest = max(int(colours.max()), 1)
        for bar, level in zip(bars, colours, strict=True):
            bar.set_facecolor(colormaps["viridis"](int(level) / deepest))
        counts.set_xlim(x.min() - 0.5, x.max() + 0.5)
    finish_axes(
        counts,
        f"Liquidations per block (depth {cascade_depth(blocks)})",
        "block",
        "liquidations",
        has_data=len(hit) > 0,
        legend=False,
        message="no liquidation",
    )

    path = bad_debt_path(blocks)
    debt.plot(path.index, path.to_numpy(), color="C3", label="bad debt (cumulative)")
    rate = debt.twinx()
    rate.plot(x, blocks["borrow_rate"] * 100, color="C2", linewidth=0.8)
    rate.set_ylabel("borrow rate, % a year", color="C2")
    finish_axes(debt, "Bad debt", "block", "quote units", has_data=len(blocks) > 0)

    first, last = int(health["block"].min()), int(health["block"].max())
    samples = {}
    for when in (first, last):
        values = health.loc[health["block"] == when, "health_factor"].to_numpy(dtype=float)
        samples[when] = values[np.isfinite(values)]
    pooled = np.concatenate(list(samples.values()))
    drawn = pooled.size > 0
    if drawn:
        bins = np.linspace(min(pooled.min(), 0.9), max(pooled.max(), 1.1), 25)
        for (when, values), colour in zip(samples.items(), ("C0", "C3"), strict=False):
            if values.size:
                spread.hist(values, bins=bins, alpha=0.6, color=colour, label=f"block {when}")
    if drawn:
        spread.axvline(1.0, color="k", linewidth=0.8)
    finish_axes(spread, "Health factors", "health factor", "borrowers", has_data=drawn)
    return figure
