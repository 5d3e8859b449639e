"""The lending pool's headline measures and the cascade-round rule (pure: tables and numbers).

A run with a ``lending`` section reports in its ``summary.json`` (`lending_summary`):

- ``liquidations``: liquidations settled;
- ``liquidated_collateral``: collateral they seized, lots;
- ``bad_debt``: debt written off because no collateral was left to back it, price units;
- ``liquidation_rounds``: the cascade's depth, the largest ``round_index`` of the ``lending``
  table (`next_round_index`).

The round rule is the one `abm.market.lending.cascade` and `analysis.lending.cascade_depth`
use: a block without liquidations is round 0; a block with liquidations is one round deeper
than the block before when that block had liquidations and one of this block's liquidations is
*induced* (the borrower would have been healthy at the shadow oracle, the oracle fed the
fundamental instead of traded prices: without the price moves trading, liquidation sales
included, made it would not be liquidated), and round 1 otherwise (a wave the fundamental
started). The depth counts consecutive blocks of liquidations, each set off by the price moves
of those before.

This module reads tables only; it never imports the model, the agents or analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from abm.scenario.schema import Scenario

__all__ = ["LENDING_SUMMARY_KEYS", "lending_summary", "next_round_index"]

LENDING_SUMMARY_KEYS = ("liquidations", "liquidated_collateral", "bad_debt", "liquidation_rounds")
"""The summary keys of a run with a lending pool."""


def next_round_index(previous: int, liquidations: int, induced: bool) -> int:
    """A block's cascade round from the block before's (module docstring).

    Args:
        previous: The round index of the block before (0 for the first block).
        liquidations: Liquidations settled in this block.
        induced: Whether one of them was induced (healthy at the shadow oracle).

    >>> [next_round_index(p, n, i) for p, n, i in [(0, 0, False), (0, 2, True), (1, 1, True)]]
    [0, 1, 2]
    >>> next_round_index(3, 1, False), next_round_index(3, 0, True)
    (1, 0)
    """
    if liquidations <= 0:
        return 0
    if induced and previous > 0:
        return previous + 1
    return 1


def lending_summary(
    scenario: Scenario, lending: Callable[[], pd.DataFrame], tick_size: float | None = None
) -> dict[str, Any]:
    """The four lending keys of a run's summary, or ``{}`` for a scenario without a pool.

    Args:
        scenario: The run's scenario (only ``lending`` and ``tick_size`` are read).
        lending: Gives the run's ``lending`` table (called only when the scenario has a pool,
            so that a run without one reads nothing).
        tick_size: Price of a tick (default: the scenario's); bad debt is reported in price
            units.
    """
    if getattr(scenario, "lending", None) is None:
        return {}
    table = lending()
    tick = scenario.tick_size if tick_size is None else tick_size
    if len(table) == 0:
        return dict.fromkeys(LENDING_SUMMARY_KEYS, 0)
    return {
        "liquidations": int(table["liquidations"].sum()),
        "liquidated_collateral": int(table["collateral_seized"].sum()),
        "bad_debt": int(table["bad_debt"].sum()) * tick,
        "liquidation_rounds": int(table["round_index"].max()),
    }
