"""Liquidation cascades: conservation every block, venue arithmetic, and the issue's directions.

The setting of the direction tests: 20 borrowers, 100_000 base units of collateral each, loans at
50% to 74% of the collateral's value at a price of 2000 (liquidation threshold 80%), a Uniswap v2
pool of 2e7 base (0.3% fee) where the liquidator sells, and an exogenous price that falls 35%
(or 30% in ten blocks for the congestion test) and then stays there.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.market.lending import LendingError, RiskParams
from abm.market.lending.cascade import (
    AmmVenue,
    Borrower,
    CascadeSimulator,
    LinearBookVenue,
    Venue,
    borrower_ladder,
)
from abm.market.lending.oracles import (
    AmmTwapOracleSpec,
    DelayedFundamentalOracleSpec,
    OracleSpecBase,
    PushOracleSpec,
)
from abm.market.lending.params import BorrowLimitError

P0 = Fraction(2000)
SPOT = PushOracleSpec(kind="push", deviation_bps=0, heartbeat_s=1, source="amm")


def _fall(blocks: int, fall: Fraction, start: int, over: int) -> list[Fraction]:
    """The exogenous price: P0 until ``start``, down by ``fall`` linearly over ``over`` blocks."""
    return [P0 * (1 - fall * min(max(t - start, 0), over) / over) for t in range(blocks)]


SLOW_FALL = _fall(300, Fraction(35, 100), 0, 120)
CRASH = _fall(120, Fraction(30, 100), 10, 10)


def _simulator(
    oracle: OracleSpecBase = SPOT,
    venues: list[Venue] | None = None,
    **options: object,
) -> CascadeSimulator:
    venues = venues if venues is not None else [AmmVenue(2 * 10**7, 2 * 10**7 * 2000, 3000)]
    borrowers = borrower_ladder(20, 10**5, P0, 5000, 7400)
    return CascadeSimulator(borrowers, oracle, venues, P0, **options)  # type: ignore[arg-type]


def _run(sim: CascadeSimulator, path: list[Fraction]) -> CascadeSimulator:
    start = sim.holdings()
    for price in path:
        sim.step(price)
        assert sim.holdings() == start  # conservation, every block
    return sim


def _first_liquidation(sim: CascadeSimulator) -> int:
    return next(b.block for b in sim.blocks if b.liquidations)


def _underwater_account_blocks(sim: CascadeSimulator) -> int:
    return sum(b.liquidatable_left for b in sim.blocks)


def test_cascade_conserves_both_tokens_every_block() -> None:
    """Conservation law: base and quote summed over pool, borrowers, liquidator, venues, gas.

    Two venues (an AMM and a linear book), a TWAP oracle, gas and a congestion window: every
    block the totals are unchanged, the block's totals are the sums of its liquidations, and
    the liquidator's cash is its capital less repayments and gas plus the sales.
    """
    amm = AmmVenue(5 * 10**6, 5 * 10**6 * 2000, 3000)
    book = LinearBookVenue(P0, 4 * 10**6)
    capital = 10**12
    sim = _simulator(
        AmmTwapOracleSpec(kind="amm_twap", window_s=120),
        [amm, book],
        gas_cost=10**5,
        capacity=[None] * 20 + [1] * 20,
        liquidator_capital=capital,
    )
    _run(sim, CRASH)
    assert sim.summary()["liquidations"] > 10
    assert {d.venue for d in sim.liquidation_log} == {"amm", "book"}  # best execution uses both
    for block in sim.blocks:
        done = [d for d in sim.liquidation_log if d.block == block.block]
        assert block.liquidations == len(done)
        assert block.collateral_seized == sum(d.collateral_seized for d in done)
        assert block.debt_repaid == sum(d.repaid for d in done)
        assert block.bad_debt == sum(d.bad_debt for d in done)
        assert all(d.health_factor_before < 1 for d in done)  # nobody healthy was liquidated
    log = sim.liquidation_log
    cash = capital - sum(d.repaid for d in log) - sim.gas_cost * len(log)
    assert sim.wallets["liquidator"][1] == cash + sum(d.quote_received for d in log)
    assert sim.wallets["block_producer"][1] == sim.gas_cost * len(log)
    seized = sum(d.collateral_seized for d in log)
    assert sim.pool.state().collateral == 20 * 10**5 - seized
    assert sim.summary()["bad_debt"] == sim.pool.bad_debt == sum(d.bad_debt for d in log)


def test_cascade_round_index_follows_its_definition() -> None:
    """Naive re-derivation: rounds from the log's induced flags match the recorded ones."""
    sim = _run(_simulator(), CRASH)
    previous = 0
    for block in sim.blocks:
        done = [d for d in sim.liquidation_log if d.block == block.block]
        if not done:
            expected = 0
        elif previous > 0 and any(d.induced for d in done):
            expected = previous + 1
        else:
            expected = 1
        assert block.round_index == expected
        previous = expected
    assert sim.summary()["liquidation_rounds"] == max(b.round_index for b in sim.blocks) > 1


def test_cascade_fundamental_oracle_cannot_cascade() -> None:
    """An oracle that never sees the venue reads the shadow price: no induced liquidation, depth 1.

    The same crash with the spot AMM oracle is a cascade of depth above 1 (sales lower the
    price the next block's oracle reads).
    """
    sim = _run(_simulator(DelayedFundamentalOracleSpec(kind="delayed_fundamental")), CRASH)
    assert sim.summary()["liquidations"] > 0
    assert sim.summary()["induced_liquidations"] == 0
    assert sim.summary()["liquidation_rounds"] == 1
    assert all(b.oracle_price == b.shadow_oracle_price for b in sim.blocks)
    assert _run(_simulator(), CRASH).summary()["liquidation_rounds"] > 1


def test_cascade_longer_twap_window_delays_liquidations_and_adds_bad_debt() -> None:
    """Direction (issue 22, section 6): a 900 s TWAP liquidates 128 blocks later than a 60 s one.

    Measured on the 35% fall over 120 blocks: the first liquidation comes at block 28 with a
    60 s window and 156 with 900 s; bad debt is 0 with 60 s and about 1.27e8 quote units with
    900 s. Why more bad debt: the lagging oracle keeps accounts that are already under water at
    the market looking healthy, and while it lags, a liquidation seizes collateral at the
    (higher) oracle price, worth less than the repayment at the market, so the liquidator waits;
    when the oracle catches up the accounts' health is below ``threshold * (1 + bonus)``, where
    each close-factor liquidation lowers health instead of raising it, and the last one leaves
    debt without collateral.
    """
    short = _run(_simulator(AmmTwapOracleSpec(kind="amm_twap", window_s=60)), SLOW_FALL)
    long = _run(_simulator(AmmTwapOracleSpec(kind="amm_twap", window_s=900)), SLOW_FALL)
    assert _first_liquidation(long) >= _first_liquidation(short) + 100
    assert short.summary()["bad_debt"] == 0
    assert long.summary()["bad_debt"] > 10**8
    assert _underwater_account_blocks(long) > _underwater_account_blocks(short)


def test_cascade_larger_bonus_clears_faster_with_more_price_impact() -> None:
    """Direction: a 10% bonus clears underwater accounts faster than 2% but sells more.

    With a gas cost of 1e6 quote per liquidation a liquidation happens only when selling the
    seized collateral pays the repayment and the gas; measured on the 35% fall: accounts spend
    4107 account-blocks under water with a 2% bonus and 1747 with 10%, and the pool price ends
    at 0.977 of the exogenous one with 2% and 0.877 with 10% (2.5e5 and 1.5e6 base sold). The
    larger bonus makes more liquidations pay, and each seizes more collateral to sell.
    """
    results = {}
    for bonus in (200, 1000):
        risk = RiskParams(liquidation_bonus_bps=bonus)
        results[bonus] = _run(_simulator(risk=risk, gas_cost=10**6), SLOW_FALL)
    low, high = results[200], results[1000]
    assert _underwater_account_blocks(high) < _underwater_account_blocks(low) * 0.6
    assert high.summary()["liquidated_collateral"] > 3 * low.summary()["liquidated_collateral"]
    gap = {b: r.blocks[-1].price_after / r.blocks[-1].exogenous_price for b, r in results.items()}
    assert gap[1000] < gap[200] - 0.05


def test_cascade_congestion_turns_a_wave_into_bad_debt() -> None:
    """Direction: one liquidation per block for 20 blocks of a crash leaves bad debt; none without.

    The 30% crash in ten blocks with unlimited blocks: 0 bad debt (every account is liquidated
    as soon as its health falls below one). With blocks 10-29 carrying one liquidation each
    (congestion, as on 12 March 2020) accounts wait in the queue while the price falls past the
    point where liquidation can restore them: about 5.2e6 quote units of bad debt.
    """
    free = _run(_simulator(), CRASH)
    congested = _run(_simulator(capacity=[None] * 10 + [1] * 20), CRASH)
    assert free.summary()["bad_debt"] == 0
    assert congested.summary()["bad_debt"] > 10**6
    assert max(b.liquidations for b in congested.blocks[10:30]) == 1
    assert _underwater_account_blocks(congested) > _underwater_account_blocks(free)


def test_linear_book_venue_hand_case() -> None:
    """Closed form: selling 100 of depth 1000 at 100 pays 100 * (100 - 5) = 9500; price 90."""
    book = LinearBookVenue(Fraction(100), 1000)
    assert book.quote_sell(100) == 9500
    assert book.sell(100) == 9500
    assert book.price() == 90
    assert book.holdings() == (100, -9500)
    assert book.quote_sell(1000) is None
    book.follow(Fraction(1, 2))
    assert book.price() == 45


def test_amm_venue_follows_the_exogenous_return() -> None:
    """The arbitrage trade takes the pool to price * ratio; reserves and arbitrageur conserve."""
    amm = AmmVenue(10**6, 2 * 10**9, 3000)
    total = amm.holdings()
    amm.follow(Fraction(9, 10))
    assert abs(amm.price() / 1800 - 1) < Fraction(1, 10**5)
    amm.follow(Fraction(12, 10))
    assert abs(amm.price() / 2160 - 1) < Fraction(1, 10**5)
    assert amm.holdings() == total


def test_borrower_ladder_spreads_loan_to_values() -> None:
    """Hand case: three borrowers at 50%, 60%, 70% of 1000 * 2 borrow 1000, 1200, 1400."""
    ladder = borrower_ladder(3, 1000, Fraction(2), 5000, 7000)
    assert [b.debt for b in ladder] == [1000, 1200, 1400]


def test_cascade_refuses_bad_setups() -> None:
    """Typed errors naming the field: oracle source, loan limit, prices, capacity."""
    with pytest.raises(LendingError, match="oracle"):
        _simulator(PushOracleSpec(kind="push", source="book"))
    with pytest.raises(BorrowLimitError, match="amount"):
        CascadeSimulator([Borrower("x", 10, 16)], SPOT, [AmmVenue(10**6, 2 * 10**9)], P0 / 1000)
    with pytest.raises(LendingError, match="venues"):
        CascadeSimulator([], SPOT, [], P0)
    with pytest.raises(LendingError, match="capacity"):
        _simulator(capacity=-1)
    sim = _simulator()
    with pytest.raises(LendingError, match="exogenous_price"):
        sim.step(float("nan"))
    with pytest.raises(LendingError, match="exogenous_price"):
        sim.step(0)


def test_cascade_is_deterministic() -> None:
    """Same inputs, same records: the simulator draws nothing at random."""
    first = _run(_simulator(capacity=2), CRASH)
    second = _run(_simulator(capacity=2), CRASH)
    assert first.blocks == second.blocks
    assert first.liquidation_log == second.liquidation_log


def test_preview_liquidation_matches_liquidate() -> None:
    """The liquidator's preview is what the pool then does (a capped and an uncapped case)."""
    for price in (Fraction(9, 5), Fraction(1, 2)):
        sim = _simulator()
        pool = sim.pool
        name = sim.borrowers[-1].name
        low = price * 1000  # the ladder's prices are near 2000
        before = pool.state()
        preview = pool.preview_liquidation(name, 10**12, low)
        assert pool.state() == before
        done = pool.liquidate("liq", name, 10**12, low)
        assert preview == (done.repaid, done.collateral_seized)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(-2000, 500), min_size=5, max_size=60),
    st.sampled_from([None, 0, 1, 3]),
    st.integers(0, 10**6),
    st.sampled_from([200, 500, 1000]),
    st.sampled_from(["spot", "twap", "fundamental"]),
)
def test_cascade_conserves_over_random_paths(
    moves_bps: list[int], capacity: int | None, gas: int, bonus: int, oracle: str
) -> None:
    """Conservation law and the pool's rules over random paths, capacities, gas and oracles.

    Every block: both tokens' totals unchanged; no liquidated account was healthy at the
    oracle price; a block carries no more liquidations than its capacity; bad debt only on a
    liquidation that took all the account's collateral.
    """
    specs: dict[str, OracleSpecBase] = {
        "spot": SPOT,
        "twap": AmmTwapOracleSpec(kind="amm_twap", window_s=60),
        "fundamental": DelayedFundamentalOracleSpec(kind="delayed_fundamental", delay_steps=2),
    }
    venues: list[Venue] = [AmmVenue(3 * 10**6, 6 * 10**9), LinearBookVenue(P0, 3 * 10**6)]
    sim = _simulator(
        specs[oracle],
        venues,
        capacity=capacity,
        gas_cost=gas,
        risk=RiskParams(liquidation_bonus_bps=bonus),
    )
    price = P0
    path = []
    for move in moves_bps:
        price = max(price * (10_000 + move) / 10_000, Fraction(1))
        path.append(price)
    _run(sim, path)
    for block in sim.blocks:
        assert capacity is None or block.liquidations <= capacity
    for done in sim.liquidation_log:
        assert done.health_factor_before < 1
        if done.bad_debt:
            assert sim.pool.collateral_of(done.borrower) == 0
