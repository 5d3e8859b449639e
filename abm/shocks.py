"""Scheduled shocks: their specs, price gaps and volatility spikes, and the schedule of the others.

Shocks to market makers' balance sheets and to the network (losses, defaults,
inventory, margin hikes, liquidity withdrawal, toxic flow, credit freezes) are applied
by the contagion layer (`abm.contagion.engine`) and the model, and the AMM pool's shocks
(`POOL_SHOCKS`: exploit, fee change, LP withdrawal, oracle manipulation) by the AMM venue
(`abm.market.amm.venue`), and the lending pool's (`LENDING_SHOCKS`: liquidation congestion) by
the lending venue (`abm.market.lending.venue`); this module only indexes them
(`ShockSchedule`, filing each kind as its `SHOCKS` entry says).

A price gap moves the fundamental at the start of its step (step 2 of the model's step
order), after the fundamental's own move and before any trader acts: standing
inventory is hit before anyone can requote, and quotes anchored on the mid stay stale
until order flow moves them. A volatility shock multiplies the fundamental's own
moves inside its window, whatever the process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from abm.fundamental import FundamentalProcess
from abm.scenario.types import (
    _NO_BOOL,
    Float,
    KindSpec,
    NonNegInt,
    OpenUnitInterval,
    PosFloat,
    PosInt,
    Probability,
    SignedLots,
    UnitFraction,
)


class _ShockBase(KindSpec):
    kind_noun: ClassVar[str] = "shock"
    step: PosInt = Field(description="Step at which the shock applies.")


class PriceGapShock(_ShockBase):
    """The fundamental jumps by ``size`` (price units; log size if ``relative``) at ``step``.

    ``announced`` gap times are known in advance to market makers with gap controls.
    """

    kind: Literal["price_gap"] = Field(description="A jump of the fundamental.")
    size: Float = Field(description="Size of the jump: price units, or a log size if relative.")
    relative: bool = Field(default=False, description="Read size as a log (relative) jump.")
    announced: bool = Field(
        default=True, description="Known in advance to market makers with gap controls."
    )


class VolatilityShock(_ShockBase):
    """From ``step`` to ``until_step`` (exclusive), fundamental moves are ``multiplier`` x."""

    kind: Literal["volatility"] = Field(description="Scaled fundamental moves for a while.")
    until_step: PosInt = Field(description="First step after the shock (exclusive end); > step.")
    multiplier: PosFloat = Field(description="Factor on the fundamental's moves.")

    @model_validator(mode="after")
    def _check_window(self) -> VolatilityShock:
        if self.until_step <= self.step:
            raise ValueError(f"until_step ({self.until_step}) must be > step ({self.step})")
        return self


class _TargetedShock(_ShockBase):
    """A shock to named market makers: ``targets`` are node indices (creation order)."""

    targets: list[NonNegInt] = Field(
        min_length=1, description="Market makers hit, as node indices (creation order)."
    )


class LossShock(_TargetedShock):
    """Each target loses ``amount`` of cash (price units) to the outside world."""

    kind: Literal["loss"] = Field(description="A cash loss to the outside world.")
    amount: PosFloat = Field(description="Cash each target loses, price units.")


class DefaultShock(_TargetedShock):
    """The targets default at ``step`` (as if their equity had hit the threshold)."""

    kind: Literal["default"] = Field(description="The targets default.")


class InventoryShock(_TargetedShock):
    """Each target takes ``qty`` lots (signed) from an outside client at the mid."""

    kind: Literal["inventory"] = Field(description="A block from an outside client at the mid.")
    qty: SignedLots = Field(
        description="Lots each target receives (negative: delivers) (|x| <= 1e9)."
    )


class _WindowShock(_ShockBase):
    duration_steps: PosInt = Field(description="How many steps the shock lasts.")


class MarginHikeShock(_WindowShock):
    """Margin rates are multiplied by ``multiplier`` for ``duration_steps`` steps."""

    kind: Literal["margin_hike"] = Field(description="Margin rates multiplied for a while.")
    multiplier: PosFloat = Field(description="Factor on the margin rates.")


class LiquidityWithdrawalShock(_WindowShock):
    """A ``fraction`` of market makers (drawn once) stop quoting for ``duration_steps``."""

    kind: Literal["liquidity_withdrawal"] = Field(
        description="Some market makers stop quoting for a while."
    )
    fraction: UnitFraction = Field(description="Share of market makers withdrawn, in (0, 1].")


class ToxicFlowShock(_WindowShock):
    """Informed traders' arrival intensity is multiplied by ``multiplier`` for a while."""

    kind: Literal["toxic_flow"] = Field(description="More informed flow for a while.")
    multiplier: PosFloat = Field(description="Factor on informed traders' arrival intensity.")


class CreditFreezeShock(_ShockBase):
    """All link capacities and undrawn credit are multiplied by ``factor`` from ``step`` on."""

    kind: Literal["credit_freeze"] = Field(description="Credit capacity cut from step on.")
    factor: Probability = Field(
        description="Factor on link capacities and undrawn credit, in [0, 1]."
    )


class PoolExploitShock(_ShockBase):
    """A smart-contract exploit drains ``fraction`` of the AMM pool's reserves at ``step``.

    Constant-product pool: that fraction of the ``token`` reserve (``both``: of each, the price
    unmoved; ``base`` or ``quote`` alone: the price jumps until arbitrage repairs it). A
    concentrated pool loses that fraction of every position, both tokens as each holds them.
    The drained tokens go to the venue's outside account (`abm.market.amm.venue`), so they
    stay in the conservation sums.
    """

    kind: Literal["pool_exploit"] = Field(description="Part of the AMM pool's reserves drained.")
    fraction: OpenUnitInterval = Field(description="Share of the reserve drained, in (0, 1).")
    token: Literal["base", "quote", "both"] = Field(
        default="base",
        description="Constant-product pool: which reserve is drained (`both`: each).",
    )


class FeeChangeShock(_ShockBase):
    """The AMM pool's swap fee becomes ``fee_pips`` from ``step`` on (a governance vote)."""

    kind: Literal["fee_change"] = Field(description="The AMM pool's fee changes.")
    fee_pips: NonNegInt = Field(
        lt=1_000_000, description="The new fee, millionths of the input (3000 = 0.30%)."
    )


class LpWithdrawalShock(_ShockBase):
    """Every AMM liquidity position withdraws ``fraction`` of its liquidity at ``step``.

    Traders' tokens go back to them; the protocol's initial liquidity leaves to the venue's
    outside account. (``liquidity_withdrawal`` is the market makers' quoting withdrawal.)
    """

    kind: Literal["lp_withdrawal"] = Field(description="AMM liquidity providers withdraw.")
    fraction: UnitFraction = Field(description="Share of every position withdrawn, in (0, 1].")


class OracleManipulationShock(_ShockBase):
    """An attacker pushes the AMM pool price by ``push`` (relative) for one block.

    At the end of the block holding ``step``, after that block's other swaps, the attacker
    (a flash loan from the venue's outside account) swaps the pool price to ``(1 + push)``
    times what it was; at the next block, before any other swap, it swaps back what it
    received. An oracle reading the pool price in between reads the pushed price.
    """

    kind: Literal["oracle_manipulation"] = Field(
        description="A one-block push of the AMM pool price."
    )
    push: Annotated[float, Field(gt=-1.0, le=10.0, strict=True), _NO_BOOL] = Field(
        description="Relative price move, in (-1, 10] (0.1: ten per cent up)."
    )

    @model_validator(mode="after")
    def _check_push(self) -> OracleManipulationShock:
        if self.push == 0.0:
            raise ValueError("push: must not be 0 (a push moves the price)")
        return self


class LiquidationCongestionShock(_WindowShock):
    """For ``duration_steps`` steps, blocks carry at most ``max_liquidations`` liquidations.

    Network congestion (March 12, 2020): the lending venue (`abm.market.lending.venue`) settles
    no more than ``max_liquidations`` liquidations per block (the tighter of this and the
    section's ``max_liquidations_per_block``), and each costs ``gas_multiplier`` times the
    section's ``liquidation_gas``, in blocks whose last step is inside the window.
    """

    kind: Literal["liquidation_congestion"] = Field(
        description="Fewer, costlier liquidations per block for a while."
    )
    max_liquidations: NonNegInt = Field(description="Liquidations one block can carry.")
    gas_multiplier: PosFloat = Field(default=1.0, description="Factor on the liquidation gas.")


POOL_SHOCKS = ("pool_exploit", "fee_change", "lp_withdrawal", "oracle_manipulation")
"""The shock kinds the AMM venue applies (`abm.market.amm.venue`); they need an ``amm`` section."""

LENDING_SHOCKS = ("liquidation_congestion",)
"""The shock kinds the lending venue applies; they need a ``lending`` section."""

PoolShock = PoolExploitShock | FeeChangeShock | LpWithdrawalShock | OracleManipulationShock

ShockSpec = Annotated[
    PriceGapShock
    | VolatilityShock
    | LossShock
    | DefaultShock
    | InventoryShock
    | MarginHikeShock
    | LiquidityWithdrawalShock
    | ToxicFlowShock
    | CreditFreezeShock
    | PoolExploitShock
    | FeeChangeShock
    | LpWithdrawalShock
    | OracleManipulationShock
    | LiquidationCongestionShock,
    Field(discriminator="kind"),
]

TargetedShock = LossShock | DefaultShock | InventoryShock
WindowShock = MarginHikeShock | LiquidityWithdrawalShock | ToxicFlowShock


class ShockSchedule:
    """The scenario's shocks, indexed by step (each kind filed by its :data:`SHOCKS` entry).

    Args:
        shocks: Shock specs in any order; shocks of one kind keep their document order.
    """

    def __init__(self, shocks: Sequence[ShockSpec]) -> None:
        self.gaps: dict[int, list[PriceGapShock]] = {}
        self.volatility: list[VolatilityShock] = []
        self.targeted: dict[int, list[TargetedShock]] = {}
        self.multiplier_windows: dict[str, list[MarginHikeShock | ToxicFlowShock]] = {}
        self.withdrawal_windows: list[LiquidityWithdrawalShock] = []
        self.credit_freezes: dict[int, list[CreditFreezeShock]] = {}
        self.pool: dict[int, list[PoolShock]] = {}  # applied by the AMM venue
        self.lending: list[LiquidationCongestionShock] = []  # applied by the lending venue
        for shock in shocks:
            SHOCKS[shock.kind](self, shock)
        self.announced_gap_steps = sorted(
            {s.step for shocks_at in self.gaps.values() for s in shocks_at if s.announced}
        )

    def volatility_multiplier(self, step: int) -> float:
        """Product of the multipliers of volatility shocks active at ``step``."""
        multiplier = 1.0
        for shock in self.volatility:
            if shock.step <= step < shock.until_step:
                multiplier *= shock.multiplier
        return multiplier

    def apply(self, step: int, fundamental: FundamentalProcess, previous: float) -> float:
        """Apply this step's shocks to the fundamental (already stepped from ``previous``).

        Returns:
            The total price gap applied this step (price units; 0.0 if none).
        """
        multiplier = self.volatility_multiplier(step)
        if multiplier != 1.0:
            fundamental.value = previous + multiplier * (fundamental.value - previous)
        gap = 0.0
        for shock in self.gaps.get(step, ()):
            before = fundamental.value
            if shock.relative:
                fundamental.value = before * math.exp(shock.size)
            else:
                fundamental.value = before + shock.size
            gap += fundamental.value - before
        return gap

    def window_multiplier(self, kind: str, step: int) -> float:
        """Product of the multipliers of active ``margin_hike`` or ``toxic_flow`` shocks."""
        multiplier = 1.0
        for shock in self.multiplier_windows.get(kind, ()):
            if shock.step <= step < shock.step + shock.duration_steps:
                multiplier *= shock.multiplier
        return multiplier

    def withdrawals(self) -> list[LiquidityWithdrawalShock]:
        """All liquidity-withdrawal shocks."""
        return list(self.withdrawal_windows)

    def in_gap_window(self, step: int, before_steps: int, after_steps: int) -> bool:
        """True if an announced gap falls within ``[step - after, step + before]``."""
        return any(
            step - after_steps <= gap_step <= step + before_steps
            for gap_step in self.announced_gap_steps
        )


def _by_step(table: dict[int, list[Any]], shock: Any) -> None:
    table.setdefault(shock.step, []).append(shock)


SHOCKS: Mapping[str, Callable[[ShockSchedule, Any], None]] = MappingProxyType(
    {
        "price_gap": lambda schedule, shock: _by_step(schedule.gaps, shock),
        "volatility": lambda schedule, shock: schedule.volatility.append(shock),
        "loss": lambda schedule, shock: _by_step(schedule.targeted, shock),
        "default": lambda schedule, shock: _by_step(schedule.targeted, shock),
        "inventory": lambda schedule, shock: _by_step(schedule.targeted, shock),
        "margin_hike": lambda schedule, shock: _by_step_kind(schedule, shock),
        "toxic_flow": lambda schedule, shock: _by_step_kind(schedule, shock),
        "liquidity_withdrawal": lambda schedule, shock: schedule.withdrawal_windows.append(shock),
        "credit_freeze": lambda schedule, shock: _by_step(schedule.credit_freezes, shock),
        **{kind: (lambda schedule, shock: _by_step(schedule.pool, shock)) for kind in POOL_SHOCKS},
        "liquidation_congestion": lambda schedule, shock: schedule.lending.append(shock),
    }
)
"""Shock kind -> how `ShockSchedule` files it (where the model and contagion layer read it)."""


def _by_step_kind(schedule: ShockSchedule, shock: Any) -> None:
    schedule.multiplier_windows.setdefault(shock.kind, []).append(shock)
