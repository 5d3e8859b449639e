"""Liquidity providers in the AMM pool: deposit, re-range on a rule, withdraw.

The rules are `abm.scenario.amm_groups.LiquidityProviderGroup`'s. A provider's shares are a
held instrument (`abm.market.amm.venue`), valued in its equity at the pool's state, so its
``agents`` rows carry the position's value (principal and fees) at every recorded step.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from abm.agents.base import Market, Trader
from abm.agents.groups import BuiltGroup, GroupKind, GroupRole
from abm.agents.routing import amm_venue
from abm.market.amm.common import InvalidPoolActionError

if TYPE_CHECKING:
    import numpy as np

    from abm.market.amm.venue import AmmVenue
    from abm.scenario.amm_groups import LiquidityProviderGroup

__all__ = ["GROUP_KIND", "LiquidityProvider"]

_MIN_WIDTH, _MAX_WIDTH = 1e-4, 0.9  # the volatility rule's half-width stays in these bounds


class LiquidityProvider(Trader):
    """Deposits its lots (and the cash that goes with them) in the pool; see the group spec.

    Attributes:
        ticks: The pool ticks of its concentrated position, or None (constant product, or
            nothing deposited).
        reranges: Times it withdrew and redeposited around a new price.
    """

    kind = "liquidity_provider"

    def __init__(self, market: Market, group: str, spec: LiquidityProviderGroup) -> None:
        super().__init__(market, group, spec.cash, spec.inventory)
        self.spec = spec
        self.ticks: tuple[int, int] | None = None
        self.deposited = False
        self.reranges = 0
        self._variance: float | None = None  # EWMA of squared log price moves per step
        self._last_log_price: float | None = None
        self._decay = 0.5 ** (1.0 / spec.halflife_checks)

    def step(self) -> None:
        """Deposit, check the range, or withdraw, as the step says (the group spec)."""
        spec = self.spec
        step = self.market.step_index
        venue = amm_venue(self.market)
        if step == spec.deposit_step:
            self._deposit(venue)
        elif spec.withdraw_step is not None and step == spec.withdraw_step:
            self._withdraw(venue)
        elif (
            self.deposited
            and venue.concentrated
            and spec.range_rule != "fixed"
            and (step - spec.deposit_step) % spec.check_steps == 0
        ):
            self._check_range(venue)

    def half_width(self) -> float:
        """The relative half-width of the next range the rule gives."""
        spec = self.spec
        if spec.range_rule != "volatility" or self._variance is None:
            return spec.width
        width = spec.width_sigmas * math.sqrt(self._variance * spec.horizon_steps)
        return min(max(width, _MIN_WIDTH), _MAX_WIDTH)

    def _deposit(self, venue: AmmVenue) -> None:
        base = math.floor(max(self.inventory, 0) * self.spec.deposit_fraction)
        if base <= 0 or self.cash_ticks <= 0:
            return
        ticks = None
        if venue.concentrated:
            price, width = venue.price(), self.half_width()
            ticks = venue.range_ticks(price / (1.0 + width), price * (1.0 + width))
        try:
            venue.deposit(self, base, self.cash_ticks, ticks)
        except InvalidPoolActionError:
            return  # too little to buy a unit of liquidity: it stays out
        self.ticks = ticks
        self.deposited = True
        self._last_log_price = math.log(venue.price())

    def _withdraw(self, venue: AmmVenue) -> None:
        for name, liquidity in venue.lp_positions(self):
            venue.withdraw(self, liquidity, venue.position_ticks(name))
        self.deposited = False
        self.ticks = None

    def _check_range(self, venue: AmmVenue) -> None:
        log_price = math.log(venue.price())
        if self._last_log_price is not None:
            move = (log_price - self._last_log_price) ** 2 / self.spec.check_steps
            self._variance = (
                move
                if self._variance is None
                else self._decay * self._variance + (1 - self._decay) * move
            )
        self._last_log_price = log_price
        assert self.ticks is not None
        lower, upper = self.ticks
        tick_now = venue.pool_tick()
        if lower <= tick_now < upper:
            return
        self._withdraw(venue)
        self._deposit(venue)
        self.reranges += 1


def build_liquidity_providers(
    market: Market, name: str, spec: LiquidityProviderGroup, rng: np.random.Generator
) -> BuiltGroup:
    """A ``liquidity_provider`` group: ``spec.count`` providers (no draws from ``rng``)."""
    return BuiltGroup([LiquidityProvider(market, name, spec) for _ in range(spec.count)])


GROUP_KIND = GroupKind("liquidity_provider", GroupRole.EXECUTOR, build_liquidity_providers)
"""The ``liquidity_provider`` group kind (`abm.agents.registry`)."""
