"""The lending venue in the model: conservation, liquidation arithmetic, studies' directions."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

import abm
from abm.cli.main import main
from abm.market.lending.venue import PROTOCOL, LendingVenue
from abm.model import MarketModel
from abm.scenario.schema import Scenario, ScenarioError

ROOT = Path(__file__).resolve().parents[2]
CASCADE = ROOT / "scenarios" / "defi" / "liquidation_cascade.yaml"


def venue_of(model: MarketModel) -> LendingVenue:
    venue = model.exchange.venues["lending"]
    assert isinstance(venue, LendingVenue)
    return venue


def cascade(changes: dict[str, Any] | None = None) -> Scenario:
    scenario = abm.load_scenario(CASCADE)
    return scenario.override(changes) if changes else scenario


def check_accounts(model: MarketModel) -> None:
    """Cash, lots and every held instrument conserved; the venue's account is the pool's."""
    assert model.totals() == model.initial_totals
    assert all(total == 0 for total in model.holdings_totals().values())
    venue = venue_of(model)
    assert venue.cash_ticks == venue.pool.cash + venue.gas_ticks
    assert venue.position == venue.pool.total_collateral
    traders = model.exchange.traders.values()
    held = sum(t.holdings.get(venue.collateral_instrument.name, 0) for t in traders)
    assert held == venue.pool.total_collateral
    scaled_debt = sum(-t.holdings.get(venue.debt_instrument.name, 0) for t in traders)
    assert scaled_debt == venue.pool.state().scaled_debt


def test_lending_venue_conserves_cash_collateral_and_positions_every_block() -> None:
    """Conservation law: cash, lots and pool positions sum to their start at every block."""
    model = MarketModel(cascade({"steps": 900}))
    venue = venue_of(model)
    checked = 0
    while model.running:
        model.step()
        if venue.block_ends(model.step_index):
            check_accounts(model)
            checked += 1
    assert checked == 900 // venue.block_steps
    liquidations = model.recorder.table("liquidations")
    assert len(liquidations) > 0  # the run did liquidate
    trades = model.recorder.table("trades")
    sold = trades[trades["purpose"] == "liquidation"]
    assert set(sold["venue"]) >= {"amm"}  # seized collateral reached a venue


def minimal(gap: float = -15.0, shocks: tuple[Any, ...] = (), **lending: Any) -> Scenario:
    """A pool, one idle borrower and one liquidator, a fundamental falling by ``gap`` at step 3."""
    return Scenario.from_dict(
        {
            "name": "lending_unit",
            "steps": 6,
            "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.0},
            "lending": {
                "oracle": {"kind": "delayed_fundamental", "delay_steps": 0},
                "base_rate": 0.0,
                "slope1": 0.0,
                "slope2": 0.0,
                **lending,
            },
            "shocks": [
                {"kind": "price_gap", "step": 3, "size": gap, "announced": False},
                *shocks,
            ],
            "agents": {
                "b": {"kind": "borrower", "count": 1, "inventory": 100, "start_step": 1000},
                "liq": {"kind": "liquidator", "count": 1, "cash": 1_000_000.0},
            },
        }
    )


def test_liquidation_moves_the_hand_computed_amounts() -> None:
    """Hand-computed: a liquidation repays, seizes and charges gas as worked out by hand.

    Debt 700000 at 8500 ticks/lot repays 350000 (close factor 50%) and seizes
    floor(350000 * 1.05 / 8500) = 43 lots; the liquidator also pays 1000 ticks of gas.
    """
    model = MarketModel(minimal(liquidation_gas=10.0))
    venue = venue_of(model)
    borrower, liquidator = list(model.exchange.traders.values())
    model.step()
    venue.deposit_collateral(borrower, 100)
    venue.borrow(borrower, 700_000)
    assert borrower.cash_ticks == 700_000 and borrower.inventory == 0
    model.step()
    assert venue.health_factor(borrower) == pytest.approx(100 * 10_000 * 0.8 / 700_000)
    venue.request_liquidation(liquidator, borrower.unique_id)  # settles at step 3's block
    cash = liquidator.cash_ticks
    model.step()
    assert venue.oracle_price_ticks == 8500
    row = model.recorder.table("liquidations").iloc[0]
    assert (row["repaid"], row["collateral_seized"], row["gas"]) == (350_000, 43, 1000)
    assert liquidator.cash_ticks == cash - 350_000 - 1000
    assert liquidator.inventory == 43
    assert venue.collateral_lots(borrower) == 57
    assert venue.debt_ticks(borrower) == 350_000
    assert venue.gas_ticks == 1000
    check_accounts(model)


def underwater_pair(model: MarketModel) -> tuple[Any, Any, Any]:
    """Borrow 700000 against 100 lots for the borrower; return it, the liquidator, the venue."""
    venue = venue_of(model)
    borrower, liquidator = list(model.exchange.traders.values())
    model.step()
    venue.deposit_collateral(borrower, 100)
    venue.borrow(borrower, 700_000)
    model.step()
    return borrower, liquidator, venue


def test_latency_settles_a_liquidation_whole_blocks_later() -> None:
    """A request sent at step 2 with latency 2 settles at the end of block 4 (1-step blocks)."""
    model = MarketModel(minimal())
    borrower, liquidator, venue = underwater_pair(model)
    venue.request_liquidation(liquidator, borrower.unique_id, latency_blocks=2)
    model.step()
    model.step()
    assert len(model.recorder.table("liquidations")) == 1
    assert model.recorder.table("liquidations")["step"].iloc[0] == 4


def test_a_block_carries_at_most_its_capacity() -> None:
    """With max_liquidations_per_block 1, the second request of a block is refused (counted)."""
    model = MarketModel(minimal(max_liquidations_per_block=1))
    borrower, liquidator, venue = underwater_pair(model)
    venue.request_liquidation(liquidator, borrower.unique_id)
    venue.request_liquidation(liquidator, borrower.unique_id)
    model.step()
    last = model.recorder.table("lending").iloc[-1]
    assert (last["liquidations"], last["refused"], last["block_capacity"]) == (1, 1, 1)


def test_congestion_shock_blocks_liquidations_and_raises_gas() -> None:
    """Inside a liquidation_congestion window: no liquidation fits; after it, gas x 3 is gone."""
    congestion = {
        "kind": "liquidation_congestion",
        "step": 3,
        "duration_steps": 1,
        "max_liquidations": 0,
        "gas_multiplier": 3.0,
    }
    model = MarketModel(minimal(shocks=(congestion,), liquidation_gas=10.0))
    borrower, liquidator, venue = underwater_pair(model)
    assert venue.gas_ticks_now(3) == 3000 and venue.gas_ticks_now(4) == 1000
    venue.request_liquidation(liquidator, borrower.unique_id)
    model.step()
    assert model.recorder.table("lending").iloc[-1]["refused"] == 1
    venue.request_liquidation(liquidator, borrower.unique_id)
    model.step()
    row = model.recorder.table("liquidations").iloc[0]
    assert (row["step"], row["gas"]) == (4, 1000)


def test_a_healthy_account_is_refused_and_nothing_moves() -> None:
    """A liquidation of an account healthy at its block's end is refused (counted), not settled."""
    model = MarketModel(minimal())
    venue = venue_of(model)
    borrower, liquidator = list(model.exchange.traders.values())
    model.step()
    venue.deposit_collateral(borrower, 100)
    venue.borrow(borrower, 500_000)  # health 1.6, and 1.36 after the fall
    venue.request_liquidation(liquidator, borrower.unique_id)
    model.step()
    lending = model.recorder.table("lending")
    assert lending["refused"].iloc[-1] == 1 and lending["liquidations"].sum() == 0
    assert venue.collateral_lots(borrower) == 100


def test_bad_debt_is_written_off_when_the_collateral_runs_out() -> None:
    """Hand-computed: debt the collateral cannot cover is written off as bad debt.

    At 7700 ticks/lot, repaying all of 749000 (close factor 100%) would seize 102.1 lots; the
    100 held are seized for ceil(100 * 7700 / 1.05) = 733334 and the other 15666 ticks written
    off, the borrower's debt holding leaving with them.
    """
    model = MarketModel(minimal(gap=-23.0, close_factor_bps=10_000))
    venue = venue_of(model)
    borrower, liquidator = list(model.exchange.traders.values())
    model.step()
    venue.deposit_collateral(borrower, 100)
    venue.borrow(borrower, 749_000)
    model.step()
    venue.request_liquidation(liquidator, borrower.unique_id)
    model.step()
    row = model.recorder.table("liquidations").iloc[0]
    assert (row["repaid"], row["collateral_seized"], row["bad_debt"]) == (733_334, 100, 15_666)
    assert venue.pool.bad_debt == 15_666 and venue.debt_ticks(borrower) == 0
    assert venue.debt_instrument.name not in borrower.holdings
    assert model.recorder.table("lending")["bad_debt"].sum() == 15_666
    check_accounts(model)


def test_interest_accrues_per_block_as_the_closed_form() -> None:
    """Closed form: a constant borrow rate r compounds the index as (1 + r dt / year)^blocks."""
    model = MarketModel(minimal(base_rate=0.5, block_steps=2, step_seconds=3600).override({}))
    venue = venue_of(model)
    borrower, _ = list(model.exchange.traders.values())
    model.step()
    venue.deposit_collateral(borrower, 100)
    venue.borrow(borrower, 100_000)
    for _ in range(5):
        model.step()
    blocks = 6 // 2
    expected = (1 + 0.5 * 2 * 3600 / (365 * 24 * 3600)) ** blocks
    lending = model.recorder.table("lending")
    assert lending["borrow_index"].iloc[-1] == pytest.approx(expected, rel=1e-12)


def run_summary(changes: dict[str, Any]) -> dict[str, Any]:
    return abm.run(cascade(changes)).summary


def test_congestion_turns_a_liquidation_wave_into_bad_debt() -> None:
    """Direction (issue 22): congestion turns a liquidation wave into bad debt.

    With blocks carrying no liquidation while the price falls, the accounts sink below
    debt * (1 + bonus) before anyone can liquidate them, so bad debt appears that the same run
    without congestion does not have.
    """
    congestion = {"kind": "liquidation_congestion", "step": 560, "duration_steps": 450}
    shocks = [*cascade().model_dump()["shocks"], {**congestion, "max_liquidations": 0}]
    free = run_summary({"steps": 1100})
    congested = run_summary({"steps": 1100, "shocks": shocks})
    assert free["bad_debt"] == 0
    assert congested["bad_debt"] > 0


@functools.cache
def twap_run(window_s: int) -> abm.RunResult:
    """The cascade to step 1150 with an AMM TWAP oracle of this window (shared by two tests)."""
    oracle = {"kind": "amm_twap", "window_s": window_s}
    return abm.run(cascade({"steps": 1150, "lending.oracle": oracle}))


def test_a_longer_twap_window_delays_liquidations() -> None:
    """Direction (issue 22): a longer TWAP window makes the first liquidation come later.

    In a falling market a TWAP averages prices that held before the fall, so its reading lags
    the pool price by about half its window: the longer the window, the later an account's
    health factor at the oracle falls below one, and once it has, the collateral seized at the
    stale (higher) oracle price sells at the market for less than the repayment, so
    liquidators wait longer still.
    """
    short, long = twap_run(600).liquidations, twap_run(14_400).liquidations
    assert short["step"].min() < long["step"].min()


def test_a_longer_twap_window_leaves_bad_debt() -> None:
    """Direction (issue 22): the lagging oracle turns late liquidations into bad debt.

    While the long TWAP reads above the market, liquidating does not pay (the seized lots,
    valued at the stale reading, sell for less than the repayment); when the price stops
    falling and the reading catches up, many accounts are already below debt * (1 + bonus),
    where a liquidation takes all the collateral and the rest of the debt is written off.
    """
    assert twap_run(600).summary["bad_debt"] == 0
    assert twap_run(14_400).summary["bad_debt"] > 0


@functools.cache
def bonus_run(bonus_bps: int) -> abm.RunResult:
    """The cascade to step 1000, gas 40 a liquidation and this bonus (shared by two tests)."""
    changes = {
        "steps": 1000,
        "lending.liquidation_bonus_bps": bonus_bps,
        "lending.liquidation_gas": 40.0,
    }
    return abm.run(cascade(changes))


def test_a_larger_bonus_clears_underwater_accounts_faster() -> None:
    """Direction (issue 22): a larger bonus leaves fewer account-blocks underwater.

    With a gas cost per liquidation, a small bonus leaves liquidating small or thinly-sold
    positions unprofitable, so accounts stay below a health factor of one for more blocks; a
    larger bonus pays for them.
    """
    small, large = bonus_run(100), bonus_run(1000)
    assert large.lending["liquidatable"].sum() < small.lending["liquidatable"].sum()


def test_a_larger_bonus_sells_more_collateral_into_the_venues() -> None:
    """Direction (issue 22): a larger bonus raises the liquidation flow and its price impact.

    Each repayment buys collateral worth repaid * (1 + bonus), so more lots are seized and
    sold for the same debt, and the AMM pool they are sold into reaches a lower price.
    """
    small, large = bonus_run(100), bonus_run(1000)
    assert large.summary["liquidated_collateral"] > small.summary["liquidated_collateral"]
    assert large.pools["price"].min() < small.pools["price"].min()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"lending.liquidation_bonus_bps": 3000}, "liquidation_bonus_bps"),
        ({"lending.collateral_factor_bps": 9000}, "collateral_factor_bps"),
        ({"lending.kink": 1.5}, "lending.kink"),
        ({"lending.oracle": {"kind": "amm_twap", "window_s": 0}}, "window_s"),
        ({"agents.degens.target_leverage": 5.0}, "agents.degens.target_leverage"),
        ({"agents.cautious.delever_health": 2.5}, "agents.cautious.delever_health"),
        ({"lending.dealer_positions": [{"maker": 9, "collateral": 1}]}, "dealer_positions.0"),
    ],
)
def test_bad_lending_input_names_the_field(changes: dict[str, Any], field: str) -> None:
    """A wrong value in the lending section is one ScenarioError naming the field."""
    with pytest.raises(ScenarioError, match=field):
        cascade(changes)


def test_lending_agents_and_oracles_need_their_sections() -> None:
    """A borrower needs a lending section; an AMM TWAP oracle needs an amm section."""
    document = cascade().model_dump()
    document.pop("lending")
    with pytest.raises(ScenarioError, match=r"agents\.\w+\.kind: borrower needs a lending"):
        Scenario.from_dict(document)
    document = cascade().model_dump()
    document.pop("amm")
    document["agents"] = {k: v for k, v in document["agents"].items() if v["kind"] != "arbitrageur"}
    for group in document["agents"].values():
        if "venue" in group:
            group["venue"] = "book"
    document["lending"]["oracle"] = {"kind": "amm_twap", "window_s": 60}
    with pytest.raises(ScenarioError, match=r"lending\.oracle\.kind"):
        Scenario.from_dict(document)


def test_cli_validate_refuses_a_bad_lending_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`abm validate` on a bad lending section: exit code 2, the field named, no traceback."""
    text = CASCADE.read_text(encoding="utf-8").replace(
        "liquidation_bonus_bps: 500", "liquidation_bonus_bps: -5"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "lending.liquidation_bonus_bps" in err and "Traceback" not in err


def test_the_protocol_supply_is_the_pools_only_supplier_at_the_start() -> None:
    """The initial supply is protocol-owned: pool cash equals it and no trader holds supply."""
    model = MarketModel(cascade({"steps": 2}))
    venue = venue_of(model)
    assert venue.pool.supplied_of(PROTOCOL) == round(2_000_000.0 / 0.01)
    assert venue.cash_ticks == venue.pool.cash == round(2_000_000.0 / 0.01)


@pytest.mark.slow
def test_dealer_positions_carry_losses_into_the_contagion_network() -> None:
    """Dealers whose lots are pledged in the pool default through the fall; free ones do not."""
    dealers = abm.load_scenario(ROOT / "scenarios" / "defi" / "dealers_leveraged.yaml")
    model = MarketModel(dealers)
    model.step()
    venue = venue_of(model)
    makers = model.market_makers
    assert all(venue.collateral_lots(mm) == 150 for mm in makers)
    assert all(venue.debt_ticks(mm) == 900_000 for mm in makers)
    check_accounts(model)
    pledged = abm.run(dealers).summary
    free = abm.run(dealers.override({"lending.dealer_positions": []})).summary
    assert pledged["defaults"] > 0 and pledged["holdings_conserved"]
    assert free["defaults"] == 0
