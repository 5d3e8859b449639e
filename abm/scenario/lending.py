"""The scenario's ``lending:`` section: a lending pool beside the book (and the AMM pool).

The pool (`abm.market.lending.pool.LendingPool`, Aave v2 / Compound v2 semantics) lends the
quote asset (cash, one quote unit = one tick) against the book's instrument as collateral (one
base unit = one lot). The venue that runs it is `abm.market.lending.venue.LendingVenue`; its
agents are borrowers and liquidators (`abm.scenario.lending_groups`).

Risk parameters are basis points (10,000 = 100%): an account may borrow up to ``collateral *
oracle price * collateral_factor_bps``; it is liquidatable when ``collateral * oracle price *
liquidation_threshold_bps < debt`` (health factor below one); a liquidation repays up to
``close_factor_bps`` of the debt and gives the liquidator collateral worth ``repaid * (1 +
liquidation_bonus_bps)``. The borrow rate is the kinked model of `abm.market.lending.rates`
(``base_rate + slope1 * U / kink`` up to the kink, then ``+ slope2 * (U - kink) / (1 - kink)``,
per year), accrued once per block of ``block_steps * step_seconds`` seconds.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from abm.market.lending.oracles import BookMidOracleSpec, OracleSpec
from abm.market.lending.params import BPS, LendingError, RiskParams
from abm.market.lending.rates import KinkedRateModel
from abm.scenario.types import (
    NonNegFloat,
    NonNegInt,
    NonNegLots,
    OpenUnitInterval,
    PosFloat,
    PosInt,
    Spec,
)

__all__ = ["DealerPosition", "LendingSpec"]


class DealerPosition(Spec):
    """A market maker's own pool position, opened at step 1 (`LendingSpec.dealer_positions`).

    The market maker (``maker``: its index among the traders of the ``market_maker`` groups, in
    creation order: its network node when they are the only market makers) deposits
    ``collateral`` lots of its inventory (as many as it holds, if fewer) and borrows ``borrow``
    (price units; at most what the collateral factor allows at the oracle price then) against
    them: its equity then carries the collateral and the debt, and pledged lots cannot be
    quoted away, so the collateral's fall and a liquidation's bonus are its losses and flow
    through the contagion network's channels (margin, defaults) like any other loss.
    """

    maker: NonNegInt = Field(description="Market maker node index (creation order).")
    collateral: NonNegLots = Field(description="Lots of its inventory deposited as collateral.")
    borrow: NonNegFloat = Field(
        default=0.0, description="Cash borrowed against it, price units (0: none)."
    )


class LendingSpec(Spec):
    """A lending pool of quote against the book's instrument, settling in blocks.

    The protocol supplies ``initial_supply`` (price units) at the start. The oracle (``kind``:
    ``book_mid``, ``amm_twap`` with ``window_s``, ``delayed_fundamental`` with ``delay_steps``,
    ``push`` with ``deviation_bps`` and ``heartbeat_s``) observes its source at the start of
    every step, timestamped ``step * step_seconds``. Liquidations sent during a block settle
    at its last step, after the AMM's swaps, at most ``max_liquidations_per_block`` of them
    (congestion; null: no limit), each costing its liquidator ``liquidation_gas``.
    """

    collateral_factor_bps: PosInt = Field(
        default=7_500, description="Loan-to-value limit of a borrow, basis points (7500 = 75%)."
    )
    liquidation_threshold_bps: PosInt = Field(
        default=8_000, description="Collateral weight in the health factor, basis points."
    )
    close_factor_bps: PosInt = Field(
        default=5_000, description="Largest share of a debt one liquidation repays, bp."
    )
    liquidation_bonus_bps: NonNegInt = Field(
        default=500, description="Extra collateral a liquidator receives, bp (500 = 5%)."
    )
    reserve_factor_bps: NonNegInt = Field(
        default=1_000, description="Share of interest kept as reserves, basis points."
    )
    base_rate: NonNegFloat = Field(default=0.0, description="Borrow rate at zero use, per year.")
    slope1: NonNegFloat = Field(default=0.04, description="Rate added up to the kink, per year.")
    slope2: NonNegFloat = Field(default=0.75, description="Rate added above the kink, per year.")
    kink: OpenUnitInterval = Field(
        default=0.8, description="Optimal utilisation where the slope changes, in (0, 1)."
    )
    oracle: OracleSpec = Field(
        default=BookMidOracleSpec(kind="book_mid"),
        description="The collateral price: book_mid | amm_twap | delayed_fundamental | push.",
    )
    initial_supply: PosFloat = Field(
        default=1_000_000.0, description="Quote the protocol supplies at the start, price units."
    )
    block_steps: PosInt | None = Field(
        default=None,
        description="Steps per block (null: the amm section's block_steps, else 1).",
    )
    step_seconds: PosInt = Field(
        default=12, description="Seconds per step: interest accrual and oracle timestamps."
    )
    max_liquidations_per_block: NonNegInt | None = Field(
        default=None, description="Liquidations one block can carry (congestion; null: any)."
    )
    liquidation_gas: NonNegFloat = Field(
        default=0.0, description="Cost of one liquidation to its liquidator, price units."
    )
    dealer_positions: list[DealerPosition] = Field(
        default=[], description="Market makers' own pool positions opened at step 1."
    )

    @model_validator(mode="after")
    def _check_parameters(self) -> LendingSpec:
        try:
            self.risk_params()
            self.rate_model()
        except LendingError as error:
            raise ValueError(str(error)) from error
        if self.close_factor_bps > BPS:
            raise ValueError(f"close_factor_bps: must be at most {BPS}")
        return self

    def risk_params(self) -> RiskParams:
        """The pool's `RiskParams` (raises `LendingError` for an inconsistent set)."""
        return RiskParams(
            self.collateral_factor_bps,
            self.liquidation_threshold_bps,
            self.close_factor_bps,
            self.liquidation_bonus_bps,
            self.reserve_factor_bps,
        )

    def rate_model(self) -> KinkedRateModel:
        """The pool's kinked `KinkedRateModel`."""
        return KinkedRateModel.of(self.base_rate, self.slope1, self.slope2, self.kink)
