"""A liquidation cascade, block by block: a lending pool, an oracle, liquidators and venues.

Pure like the pool itself: no Mesa, no agents. The simulator owns a `LendingPool`, an oracle
built from an `OracleSpec`, one or more venues where seized collateral is sold (a Uniswap v2
pool, `AmmVenue`, and/or a book of linear depth, `LinearBookVenue`) and one liquidator with
quote capital. Borrowers open their loans at the first price; then each block ``t`` of the
exogenous path (the market price the venues would follow without any liquidation):

1. every venue's price is moved by the exogenous return ``path[t] / path[t - 1]`` (an
   arbitrageur trades the AMM pool there; the book's makers requote), so a price fall caused
   by liquidation sales stays in the price (permanent impact);
2. the pool accrues one block of interest;
3. the oracle observes its source (the exogenous price itself for ``delayed_fundamental``,
   else the venue of its kind) at the block's timestamp ``t * block_s``; a *shadow* oracle of the
   same design observes the exogenous price, the reading the oracle would have had if no
   liquidation had ever sold anything. The venue price observed is the one after the block's
   arbitrage trade (first in the block), so a TWAP counts it as held since the last block;
4. the liquidator liquidates the account of lowest health factor (at the oracle price) while
   one is below one, the block's capacity is not used up, it has the capital, and selling the
   seized collateral at the best venue pays the repayment plus the gas cost; each
   liquidation repays up to ``close_factor`` of the debt (`LendingPool.liquidate`) and the
   collateral is sold at once in the venue that pays the most quote for it (first venue on a
   tie). Debt left without collateral is bad debt.

Cascade depth. A liquidation is *induced* when the account would be healthy at the shadow
oracle's reading: without earlier liquidation sales it would not be liquidated now. A block's
``round_index`` is 0 when it has no liquidation; otherwise it is ``round_index[t - 1] + 1``
when one of its liquidations is induced and the block before had liquidations, and 1 if not
(a wave the exogenous path started). ``liquidation_rounds``, the cascade's depth, is the
largest round index: the number of consecutive blocks of liquidations each triggered by the
price moves of the ones before.

Conservation. Every token moves between holders the simulator tracks (`CascadeSimulator.
holdings`): the pool's cash and collateral, borrowers, the supplier, the liquidator, the
venues (the AMM's reserves and its arbitrageur, the book's makers) and the block producer
(gas); the arbitrageur and the makers bring outside capital, so their balances may go below
zero, and the totals of each token never change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from abm.market.lending.oracles import Oracle, OracleSpec
from abm.market.lending.params import (
    BPS,
    RAY,
    LendingError,
    RiskParams,
    check_price,
)
from abm.market.lending.pool import LendingPool
from abm.market.lending.rates import KinkedRateModel
from abm.market.lending.sale_venues import AmmVenue, LinearBookVenue, Venue
from abm.results.lending_summary import next_round_index

if TYPE_CHECKING:  # pandas loads only when tables() is asked for: abm validate stays light
    import pandas as pd

__all__ = [
    "AmmVenue",
    "Borrower",
    "CascadeBlock",
    "CascadeLiquidation",
    "CascadeSimulator",
    "LinearBookVenue",
    "Venue",
    "borrower_ladder",
]

SUPPLIER: Final = "supplier"
LIQUIDATOR: Final = "liquidator"
BLOCK_PRODUCER: Final = "block_producer"


@dataclass(frozen=True, slots=True)
class Borrower:
    """A loan opened at the first block: ``collateral`` base deposited, ``debt`` quote borrowed."""

    name: str
    collateral: int
    debt: int


def borrower_ladder(
    count: int, collateral: int, price: Fraction, ltv_from_bps: int, ltv_to_bps: int
) -> list[Borrower]:
    """``count`` borrowers of equal collateral with loan-to-values evenly from one to the other.

    Borrower ``i`` borrows ``floor(collateral * price * ltv_i)``, ``ltv_i`` spaced evenly from
    ``ltv_from_bps`` to ``ltv_to_bps`` (basis points): a spread of health factors.
    """
    if count < 1:
        raise LendingError(f"count: must be at least 1, got {count}")
    step = Fraction(ltv_to_bps - ltv_from_bps, max(count - 1, 1))
    out = []
    for i in range(count):
        ltv = (ltv_from_bps + step * i) / BPS
        debt = collateral * Fraction(price) * ltv
        out.append(Borrower(f"b{i:03d}", collateral, debt.numerator // debt.denominator))
    return out


@dataclass(frozen=True, slots=True)
class CascadeLiquidation:
    """One liquidation of the cascade and the sale of its collateral."""

    block: int
    borrower: str
    repaid: int
    collateral_seized: int
    bad_debt: int
    health_factor_before: float
    induced: bool
    venue: str
    quote_received: int
    price_before: float
    price_after: float


@dataclass(frozen=True, slots=True)
class CascadeBlock:
    """One block: prices, the liquidations' totals, the pool's rate and the cascade round.

    ``price_before`` is the first venue's price after the exogenous move and before the sales,
    ``price_after`` after them. ``liquidatable_left`` counts accounts still below one at the
    oracle price when the block ends (congestion, capital or gas left them).
    """

    block: int
    time_s: int
    exogenous_price: float
    oracle_price: float
    shadow_oracle_price: float
    price_before: float
    price_after: float
    liquidations: int
    collateral_seized: int
    collateral_sold: int
    quote_received: int
    debt_repaid: int
    bad_debt: int
    gas_paid: int
    liquidatable_left: int
    round_index: int
    borrow_rate: float
    utilisation: float
    total_debt: int
    health_factors: tuple[float, ...]


class CascadeSimulator:
    """A lending pool liquidated block by block over an exogenous price path.

    Args:
        borrowers: The loans, opened at ``initial_price``.
        oracle: The oracle design (built twice: the real one and the shadow).
        venues: Where seized collateral is sold; the first is the one prices are recorded from.
        initial_price: The exogenous price at block 0 (the venues should start there).
        rate_model, risk: The pool's rate curve and risk parameters.
        supply: Quote the supplier deposits.
        liquidator_capital: Quote the liquidator starts with.
        capacity: Liquidations a block can carry: None (no limit), an int for every block, or
            a sequence per block (None in it: no limit that block): congestion.
        gas_cost: Quote the liquidator pays the block producer per liquidation.
        block_s: Seconds per block.

    Raises:
        LendingError: For a loan the pool refuses at the initial price, or an oracle source
            no venue provides.
    """

    def __init__(
        self,
        borrowers: Iterable[Borrower],
        oracle: OracleSpec,
        venues: Sequence[Venue],
        initial_price: Fraction | float | int,
        *,
        rate_model: KinkedRateModel | None = None,
        risk: RiskParams | None = None,
        supply: int = 10**12,
        liquidator_capital: int = 10**12,
        capacity: int | Sequence[int | None] | None = None,
        gas_cost: int = 0,
        block_s: int = 12,
    ) -> None:
        if not venues:
            raise LendingError("venues: need at least one venue to sell collateral in")
        self.pool = LendingPool(rate_model or KinkedRateModel.of(), risk)
        self.venues = list(venues)
        self.spec = oracle
        self.oracle: Oracle = oracle.build()
        self.shadow: Oracle = oracle.build()
        source = oracle.observes
        self._source: Venue | None = None
        if source != "fundamental":
            matching = [v for v in self.venues if v.kind == source]
            if not matching:
                raise LendingError(f"oracle: observes {source!r} but no venue is of that kind")
            self._source = matching[0]
        limits = [capacity] if capacity is None or isinstance(capacity, int) else list(capacity)
        if any(c is not None and (isinstance(c, bool) or c < 0) for c in limits):
            raise LendingError(f"capacity: must be None or integers at least 0, got {capacity!r}")
        if gas_cost < 0 or block_s < 1:
            raise LendingError(
                f"gas_cost, block_s: need gas_cost >= 0 and block_s >= 1, got {gas_cost}, {block_s}"
            )
        self.capacity = capacity
        self.gas_cost = gas_cost
        self.block_s = block_s
        self.block = 0
        self._last_exogenous = check_price(initial_price, "initial_price")
        self._last_round = 0
        self.wallets: dict[str, list[int]] = {SUPPLIER: [0, 0], BLOCK_PRODUCER: [0, 0]}
        self.wallets[LIQUIDATOR] = [0, liquidator_capital]
        self.pool.supply(SUPPLIER, supply)
        self.borrowers = list(borrowers)
        for loan in self.borrowers:
            self.pool.deposit_collateral(loan.name, loan.collateral)
            self.pool.borrow(loan.name, loan.debt, self._last_exogenous)
            self.wallets[loan.name] = [0, loan.debt]
        self.liquidation_log: list[CascadeLiquidation] = []
        self.blocks: list[CascadeBlock] = []

    def holdings(self) -> tuple[int, int]:
        """Total ``(base, quote)`` over every holder: constant through the whole run."""
        base = self.pool.state().collateral + sum(w[0] for w in self.wallets.values())
        quote = self.pool.cash + sum(w[1] for w in self.wallets.values())
        for venue in self.venues:
            venue_base, venue_quote = venue.holdings()
            base, quote = base + venue_base, quote + venue_quote
        return base, quote

    def _capacity_now(self) -> int | None:
        if self.capacity is None or isinstance(self.capacity, int):
            return self.capacity
        return self.capacity[self.block] if self.block < len(self.capacity) else None

    def _unhealthy(self, price: Fraction) -> list[tuple[Fraction, str]]:
        """``(health, name)`` of every account below one at ``price``, lowest first."""
        threshold = Fraction(self.pool.risk.liquidation_threshold_bps, BPS)
        out = []
        for loan in self.borrowers:
            debt = self.pool.debt_of(loan.name)
            if debt == 0:
                continue
            health = self.pool.collateral_of(loan.name) * price * threshold / debt
            if health < 1:
                out.append((health, loan.name))
        return sorted(out)

    def _best_venue(self, base: int) -> tuple[Venue | None, int]:
        best: Venue | None = None
        paid = -1
        for venue in self.venues:
            quote = venue.quote_sell(base) if base > 0 else 0
            if quote is not None and quote > paid:
                best, paid = venue, quote
        return best, max(paid, 0)

    def step(self, exogenous_price: Fraction | float | int) -> CascadeBlock:
        """Run one block at this exogenous price; returns its record."""
        exogenous = check_price(exogenous_price, "exogenous_price")
        ratio = exogenous / self._last_exogenous
        for venue in self.venues:
            venue.follow(ratio)
        self._last_exogenous = exogenous
        accrual = self.pool.accrue(self.block_s)
        time_s = (self.block + 1) * self.block_s
        observed = exogenous if self._source is None else self._source.price()
        oracle_price = self.oracle.observe(time_s, observed)
        shadow_price = self.shadow.observe(time_s, exogenous)
        price_before = self.venues[0].price()
        threshold = Fraction(self.pool.risk.liquidation_threshold_bps, BPS)
        capacity = self._capacity_now()
        done: list[CascadeLiquidation] = []
        skipped: set[str] = set()
        while capacity is None or len(done) < capacity:
            queue = [(h, n) for h, n in self._unhealthy(oracle_price) if n not in skipped]
            if not queue:
                break
            health, name = queue[0]
            debt = self.pool.debt_of(name)
            repaid, seized = self.pool.preview_liquidation(name, debt, oracle_price)
            seller, proceeds = self._best_venue(seized)
            wallet = self.wallets[LIQUIDATOR]
            if seller is None or repaid > wallet[1] or proceeds < repaid + self.gas_cost:
                skipped.add(name)  # unprofitable or unaffordable: wait for a later block
                continue
            shadow_health = self.pool.collateral_of(name) * shadow_price * threshold / debt
            result = self.pool.liquidate(LIQUIDATOR, name, debt, oracle_price)
            wallet[1] -= result.repaid + self.gas_cost
            self.wallets[BLOCK_PRODUCER][1] += self.gas_cost
            before = seller.price()
            received = seller.sell(result.collateral_seized) if result.collateral_seized else 0
            wallet[1] += received
            done.append(
                CascadeLiquidation(
                    self.block,
                    name,
                    result.repaid,
                    result.collateral_seized,
                    result.bad_debt,
                    float(health),
                    shadow_health >= 1,
                    seller.name,
                    received,
                    float(before),
                    float(seller.price()),
                )
            )
        induced = any(d.induced for d in done)
        round_index = next_round_index(self._last_round, len(done), induced)
        self._last_round = round_index
        health_factors = tuple(
            self.pool.health_factor(loan.name, oracle_price) for loan in self.borrowers
        )
        record = CascadeBlock(
            self.block,
            time_s,
            float(exogenous),
            float(oracle_price),
            float(shadow_price),
            float(price_before),
            float(self.venues[0].price()),
            len(done),
            sum(d.collateral_seized for d in done),
            sum(d.collateral_seized for d in done if d.venue),
            sum(d.quote_received for d in done),
            sum(d.repaid for d in done),
            sum(d.bad_debt for d in done),
            self.gas_cost * len(done),
            len(self._unhealthy(oracle_price)),
            round_index,
            accrual.borrow_rate_ray / RAY,
            accrual.utilisation_ray / RAY,
            self.pool.total_borrowed,
            health_factors,
        )
        self.liquidation_log.extend(done)
        self.blocks.append(record)
        self.block += 1
        return record

    def run(self, path: Iterable[Fraction | float | int]) -> list[CascadeBlock]:
        """Step through every price of ``path``; returns all block records so far."""
        for price in path:
            self.step(price)
        return self.blocks

    def summary(self) -> dict[str, int]:
        """The run's totals, under the names a scenario's summary uses for them."""
        return {
            "liquidations": len(self.liquidation_log),
            "liquidated_collateral": sum(d.collateral_seized for d in self.liquidation_log),
            "bad_debt": self.pool.bad_debt,
            "liquidation_rounds": max((b.round_index for b in self.blocks), default=0),
            "debt_repaid": sum(d.repaid for d in self.liquidation_log),
            "induced_liquidations": sum(d.induced for d in self.liquidation_log),
        }

    def tables(self) -> dict[str, pd.DataFrame]:
        """The records as tables for `analysis.lending`.

        ``blocks``: one row per block, the `CascadeBlock` fields but the health factors;
        ``liquidations``: one row per `CascadeLiquidation`; ``health``: ``block, account,
        health_factor`` for every borrower after each block (``inf`` without debt).
        """
        import pandas as pd

        block_columns = [f.name for f in fields(CascadeBlock) if f.name != "health_factors"]
        blocks = pd.DataFrame(
            [{k: v for k, v in asdict(b).items() if k != "health_factors"} for b in self.blocks],
            columns=block_columns,
        )
        liquidations = pd.DataFrame(
            [asdict(d) for d in self.liquidation_log],
            columns=[f.name for f in fields(CascadeLiquidation)],
        )
        names = [loan.name for loan in self.borrowers]
        health = pd.DataFrame(
            [
                (b.block, name, value)
                for b in self.blocks
                for name, value in zip(names, b.health_factors, strict=True)
            ],
            columns=["block", "account", "health_factor"],
        )
        return {"blocks": blocks, "liquidations": liquidations, "health": health}
