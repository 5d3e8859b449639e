"""The lending summary keys and the cascade-round rule (abm.results.lending_summary)."""

from __future__ import annotations

import doctest

import pandas as pd

import abm.results.lending_summary as module
from abm.results.lending_summary import LENDING_SUMMARY_KEYS, lending_summary, next_round_index
from abm.results.recorder import empty_table
from abm.scenario.schema import Scenario

NOISE_ARRIVAL = {"kind": "poisson", "rate": 1.0}


def _scenario(lending: bool) -> Scenario:
    document = {
        "name": "s",
        "steps": 3,
        "tick_size": 0.5,
        "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.0},
        "agents": {
            "noise": {"kind": "noise", "count": 1, "arrival": {"kind": "poisson", "rate": 1.0}}
        },
    }
    if lending:
        document["lending"] = {}
    return Scenario.from_dict(document)


def test_next_round_index_follows_the_cascade_rule() -> None:
    """The rule of abm.market.lending.cascade, block by block (module doctests included)."""
    rounds, previous = [], 0
    for count, induced in [(0, False), (2, False), (1, True), (3, True), (0, True), (1, True)]:
        previous = next_round_index(previous, count, induced)
        rounds.append(previous)
    assert rounds == [0, 1, 2, 3, 0, 1]
    assert doctest.testmod(module).failed == 0


def test_lending_summary_sums_the_lending_table() -> None:
    """Counts and lots summed, bad debt in price units (ticks x tick), depth the largest round."""
    table = pd.DataFrame(
        {
            "liquidations": [0, 2, 1],
            "collateral_seized": [0, 30, 12],
            "bad_debt": [0, 0, 7],
            "round_index": [0, 1, 2],
        }
    )
    summary = lending_summary(_scenario(True), lambda: table)
    assert summary == {
        "liquidations": 3,
        "liquidated_collateral": 42,
        "bad_debt": 3.5,
        "liquidation_rounds": 2,
    }


def test_lending_summary_is_empty_without_a_pool_and_zero_without_rows() -> None:
    """No lending section: no keys (the table is not even read); an empty table: zeros."""

    def unread() -> pd.DataFrame:
        raise AssertionError("read the lending table of a run without a pool")

    assert lending_summary(_scenario(False), unread) == {}
    zeros = lending_summary(_scenario(True), lambda: empty_table("lending"))
    assert zeros == dict.fromkeys(LENDING_SUMMARY_KEYS, 0)
