"""`analysis.amm_run` on a run with a pool.

References: the LP identity ``pnl == rebalancing_pnl + fees - lvr`` of
`analysis.amm.lp_pnl_decomposition` (exact, segment by segment), the pool's own value change
(the sum of a segment's ``pnl`` is the change of ``x S + y`` over it), and the fee rule (fees
are ``fee_pips`` millionths of the pool's inputs, recomputed from the trades).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import abm
from analysis.amm_run import (
    amm_summary,
    lp_decomposition,
    pool_blocks,
    price_discovery_shares,
    venue_shares,
)

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "amm" / "lp_lvr.yaml"


@pytest.fixture(scope="module")
def result() -> abm.RunResult:
    return abm.run(abm.load_scenario(SCENARIO).override({"steps": 150}))


def test_lp_identity_holds_on_every_block(result: abm.RunResult) -> None:
    blocks = pool_blocks(result.pools, result.market, 0.01)
    table = lp_decomposition(blocks, 0.01)
    assert len(table) == 150
    error = table["pnl"] - table["rebalancing_pnl"] - table["fees"] + table["lvr"]
    assert float(np.abs(error).max()) < 1e-9
    # a segment's pnl sums to its value change at the external price
    first = blocks[blocks["segment"] == blocks["segment"].iloc[-1]]
    value = (first["base_after"] * first["price"] + first["quote_after"]) * 0.01 / 1e6
    start = first["base_before"].iloc[0] * first["price"].iloc[0] + first["quote_before"].iloc[0]
    rows = table.iloc[first.index]
    assert rows["pnl"].sum() == pytest.approx(value.iloc[-1] - start * 0.01 / 1e6, abs=1e-6)


def test_fees_are_the_fee_rate_of_the_inputs(result: abm.RunResult) -> None:
    """Taker and arbitrage swaps are every pool input here: fees = 500e-6 of them."""
    trades = result.trades[result.trades["venue"].astype(str) == "amm"]
    buys = trades[trades["aggressor"].astype(str) == "buy"]
    sells = trades[trades["aggressor"].astype(str) == "sell"]
    quote_in = np.rint(buys["price"] * buys["qty"] / 0.01).sum()
    pools = result.pools
    assert pools["fees_base"].sum() == sells["qty"].sum() * 500
    assert pools["fees_quote"].sum() == pytest.approx(quote_in * 500, rel=1e-9)


def test_summary_and_shares(result: abm.RunResult) -> None:
    summary = amm_summary(result)
    assert summary["fees_minus_lvr"] == pytest.approx(summary["fees"] - summary["lvr"])
    assert summary["swaps"] == int(result.pools["swaps"].sum()) > 0
    shares = venue_shares(result.trades)
    assert shares.sum() == pytest.approx(1.0) and set(shares.index) <= {"amm", "book"}


def test_report_has_an_amm_section_only_with_a_pool(result: abm.RunResult) -> None:
    from analysis.report_amm import amm_section, has_pool
    from analysis.report_sections import build_document

    titles = [s.title for s in build_document(result, figures=False).sections]
    assert "AMM pool" in titles
    section = amm_section(result, figures=True)
    assert any(getattr(block, "file_name", "") == "amm_pool.png" for block in section.blocks)
    empty = abm.run(abm.load_scenario("baseline").override({"steps": 20}))
    assert not has_pool(empty)
    assert "AMM pool" not in [s.title for s in build_document(empty, figures=False).sections]


def test_price_discovery_goes_to_the_leading_price() -> None:
    """Synthetic reference: a random walk and a copy that closes half its gap each step."""
    rng = np.random.default_rng(3)
    leader = np.cumsum(rng.normal(size=2000))
    follower = np.empty_like(leader)
    follower[0] = leader[0]
    for t in range(1, len(leader)):
        follower[t] = follower[t - 1] + 0.5 * (leader[t - 1] - follower[t - 1])
    shares = price_discovery_shares(leader, follower)
    assert shares["book"] > 0.95 and shares["amm"] == pytest.approx(1 - shares["book"])
    swapped = price_discovery_shares(follower, leader)
    assert swapped["amm"] > 0.95
    with pytest.raises(ValueError, match="never differ"):
        price_discovery_shares(leader, leader)
