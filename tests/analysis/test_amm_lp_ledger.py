"""Each liquidity provider's fees, LVR and P&L (`abm.market.amm.lp_ledger`) and their report.

References: the identity ``pnl == rebalancing_pnl + fees - lvr`` per owner, checked on the
exact `fractions.Fraction` sums; the pool-level decomposition of the ``pools`` table
(`abm.results.amm_summary.lp_decomposition`, another code path over recorded rows), which the
ledger of a pool owned by the protocol alone must reproduce; conservation of fees (the
owners of a constant-product pool share its block fees exactly, by shares; the positions of a
concentrated pool are credited its quote fees up to one tick per swap, and no more base fees
than it charged).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

import abm
from abm.market.amm.lp_ledger import LpLedger
from abm.model import MarketModel
from abm.results.amm_summary import MICRO, lp_decomposition, pool_blocks
from abm.results.run_result import RunResult

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios" / "amm"


def _run(name: str, steps: int) -> tuple[LpLedger, RunResult]:
    scenario = abm.load_scenario(SCENARIOS / name).override({"steps": steps})
    model = MarketModel(scenario)
    for _ in range(steps):
        model.step()
    ledger = model.exchange.venues["amm"].lp_ledger
    result = RunResult.from_recorder(
        model.recorder, scenario_yaml=scenario.to_yaml(), summary={}, meta={}
    )
    model.release()
    return ledger, result


@pytest.fixture(scope="module")
def concentrated() -> tuple[LpLedger, RunResult]:
    return _run("concentrated_ranges.yaml", 600)


def test_decomposition_sums_exactly_per_owner(concentrated: tuple[LpLedger, RunResult]) -> None:
    """Fraction sums: pnl == rebalancing_pnl + fees - lvr for the protocol and every LP."""
    ledger, _ = concentrated
    assert len(ledger.terms) == 7  # the protocol and 3 groups of 2 providers
    for terms in ledger.terms.values():
        assert isinstance(terms.pnl, Fraction)
        assert terms.pnl == terms.rebalancing_pnl + terms.fees - terms.lvr
    assert any(terms.fees > 0 for owner, terms in ledger.terms.items() if owner != "protocol")


def test_concentrated_positions_get_the_pools_fees(
    concentrated: tuple[LpLedger, RunResult],
) -> None:
    """Fees credited to positions: the quote fees charged, up to a tick a swap, plus base fees.

    The pool rounds each swap's fee up (at most a tick more than ``fees_quote`` records) and
    credits whole base units only, so base fees add at most their value at the run's top price.
    """
    ledger, result = concentrated
    pools, scenario = result.pools, result.scenario
    charged_quote = Fraction(int(pools["fees_quote"].sum()), MICRO)
    charged_base = Fraction(int(pools["fees_base"].sum()), MICRO)
    swaps = int(pools["swaps"].sum())
    top = Fraction(float(result.market["fundamental"].max()) / scenario.tick_size)
    credited = sum(terms.fees for terms in ledger.terms.values())
    assert swaps > 0 and charged_quote > 0
    assert charged_quote <= credited <= charged_quote + swaps + charged_base * top


def test_protocol_only_pool_matches_the_pool_level_decomposition() -> None:
    """lp_lvr (no LP agents): the protocol's ledger equals the pools-table decomposition."""
    ledger, result = _run("lp_lvr.yaml", 300)
    assert list(ledger.terms) == ["protocol"]
    terms = ledger.terms["protocol"]
    tick = result.scenario.tick_size
    table = lp_decomposition(pool_blocks(result.pools, result.market, tick), tick)
    for name in ("fees", "lvr", "rebalancing_pnl", "pnl"):
        assert float(getattr(terms, name)) * tick == pytest.approx(table[name].sum(), rel=1e-9)


def test_constant_product_owners_share_the_block_fees_exactly() -> None:
    """amm_vs_book (providers beside the protocol): the owners' fees sum to the pool's."""
    ledger, result = _run("amm_vs_book.yaml", 300)
    assert len(ledger.terms) > 1
    pools = result.pools[result.pools["step"] > 0]
    fundamental = result.market.set_index("step")["fundamental"]
    tick = result.scenario.tick_size
    total = sum(
        (Fraction(int(row.fees_base)) * Fraction(fundamental[row.step] / tick) + row.fees_quote)
        / MICRO
        for row in pools.itertuples()
    )
    assert sum(terms.fees for terms in ledger.terms.values()) == total
    for terms in ledger.terms.values():
        assert terms.pnl == terms.rebalancing_pnl + terms.fees - terms.lvr


def test_summary_and_report_show_each_group() -> None:
    """summary.json's amm_lp_by_group: one row per LP group and the protocol, in the report."""
    from analysis.report_amm import amm_section
    from analysis.report_document import Table

    scenario = abm.load_scenario(SCENARIOS / "concentrated_ranges.yaml").override({"steps": 300})
    result = abm.run(scenario)
    groups = result.summary["amm_lp_by_group"]
    assert set(groups) == {"lp_fixed", "lp_band", "lp_vol", "protocol"}
    for row in groups.values():
        identity = row["rebalancing_pnl"] + row["fees"] - row["lvr"]
        assert row["pool_pnl"] == pytest.approx(identity, abs=1e-9)
        assert row["fees_minus_lvr"] == pytest.approx(row["fees"] - row["lvr"], abs=1e-9)
    agents = result.summary["amm_lp_by_agent"]
    assert sum(1 for row in agents.values() if row["group"] == "lp_band") == 2
    section = amm_section(result, figures=False)
    tables = [block for block in section.blocks if isinstance(block, Table)]
    per_group = next(t for t in tables if "Group" in t.header)
    assert [row[0] for row in per_group.rows] == ["lp_fixed", "lp_band", "lp_vol", "protocol"]
    assert "band" in per_group.rows[1][1]
