"""Option Greeks of a book of series, and the step-by-step P&L attribution of a dealer.

`OptionPricer` prices the live series of the options venue from a market maker's model
(Black-Scholes at a fixed or realised volatility, or Heston) and gives each series' Greeks
(Black-Scholes Greeks at the series' volatility; for Heston, at its Heston implied volatility).

`PnLAttribution` splits the change of an option market maker's equity over one step (from
its record at step ``n - 1`` to its record at step ``n``) into

- ``pnl_theta = Theta_{n-1} * dt`` (time decay of the option positions held),
- ``pnl_gamma = 0.5 * Gamma_{n-1} * (S_n - S_{n-1})**2``,
- ``pnl_vega = sum_i q_i * vega_i,{n-1} * (sigma_i,n - sigma_i,{n-1})`` (the model's volatility
  moving),
- ``pnl_hedging = -`` the spread and impact paid on the step's hedge trades: for each hedge
  fill, its quantity times the distance of its price from the book's mid when the hedge
  order was sent (positive when paid),
- ``pnl_residual``: **defined as the remainder**, ``dE - (theta + gamma + vega + hedging)``,

with ``S`` the mark (the price equity values the spot at), Greeks in lots of the underlying,
and ``dE`` the change of `abm.agents.base.Trader.equity` at the step's marks. The five terms
sum to ``dE`` by construction (to the float rounding of one subtraction). The residual holds
what the four named terms leave out: the net delta's P&L (``Delta_net * dS``, small when
hedged), the edge earned on option trades against the marks (the series' mids), the
difference between book mids and the model's prices, higher-order terms, and settlement
at expiry. In a Black-Scholes world with frequent hedging and no option trades it is small
(tests/agents/test_option_agents.py measures it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from abm.scenario.option_groups import (
    FixedOptionVolatility,
    HestonOptionModel,
    OptionVolatilitySpec,
    RealizedOptionVolatility,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from abm.derivatives.heston import HestonParams
    from abm.market.options.series import OptionSeries


@dataclass(frozen=True, slots=True)
class SeriesGreeks:
    """Per-series price, volatility and Greeks (arrays in the order of the series given).

    Per contract (one lot): ``delta`` in lots, ``gamma`` in lots per price unit, ``vega`` in
    price units per 1.0 of volatility, ``theta`` in price units per unit of model time.
    """

    price: np.ndarray
    vol: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray


class OptionPricer:
    """A market maker's option model: its volatility estimate and the prices it implies.

    Args:
        spec: The group's ``volatility``.
        rate: The options venue's rate (per unit of model time).
        dt: Model time per step.
    """

    def __init__(self, spec: OptionVolatilitySpec, rate: float, dt: float) -> None:
        self.spec = spec
        self.rate = rate
        self.dt = dt
        self._last: float | None = None
        self._heston: HestonParams | None = None
        if isinstance(spec, FixedOptionVolatility):
            self._var = spec.sigma**2
        elif isinstance(spec, RealizedOptionVolatility):
            self._var = spec.initial_sigma**2
            self._lam = 0.5 ** (1.0 / spec.halflife_steps)
        else:
            assert isinstance(spec, HestonOptionModel)
            from abm.derivatives.heston import HestonParams

            self._heston = HestonParams(spec.kappa, spec.theta, spec.sigma, spec.rho, spec.v0)
            self._var = spec.v0

    @property
    def sigma(self) -> float:
        """The Black-Scholes volatility now (for Heston: sqrt(v0))."""
        return math.sqrt(self._var)

    def observe(self, spot: float) -> None:
        """Feed the spot seen this step (a realised estimate updates on its log return)."""
        if isinstance(self.spec, RealizedOptionVolatility) and spot > 0.0:
            if self._last is not None:
                r = math.log(spot / self._last)
                self._var = self._lam * self._var + (1.0 - self._lam) * r * r / self.dt
            self._last = spot

    def greeks(self, series: Sequence[OptionSeries], spot: float, taus: np.ndarray) -> SeriesGreeks:
        """Prices and Greeks of ``series`` at ``spot`` with ``taus`` model time left (each > 0)."""
        # imported on first use: abm.derivatives loads scipy, which a run without option
        # dealers never needs (the agent registry imports this module for every run)
        from abm.derivatives.black_scholes import (
            bsm_delta,
            bsm_gamma,
            bsm_price,
            bsm_theta,
            bsm_vega,
            implied_volatility,
        )
        from abm.derivatives.heston import heston_price

        strikes = np.array([s.strike for s in series])
        calls = np.array([s.is_call for s in series])
        r = self.rate
        if self._heston is None:
            vol = np.full(len(series), self.sigma)
            price = bsm_price(spot, strikes, taus, r, 0.0, vol, calls)
        else:
            price = heston_price(spot, strikes, taus, r, 0.0, self._heston, calls)
            vol = implied_volatility(
                price, spot, strikes, taus, r, 0.0, calls, raise_outside_bounds=False
            )
            vol = np.where(np.isfinite(vol), vol, self.sigma)
        return SeriesGreeks(
            price=price,
            vol=vol,
            delta=bsm_delta(spot, strikes, taus, r, 0.0, vol, calls),
            gamma=bsm_gamma(spot, strikes, taus, r, 0.0, vol),
            vega=bsm_vega(spot, strikes, taus, r, 0.0, vol),
            theta=bsm_theta(spot, strikes, taus, r, 0.0, vol, calls),
        )


@dataclass(frozen=True, slots=True)
class BookGreeks:
    """The Greeks of a book of option positions, and what the vega term needs per series.

    Attributes:
        delta, gamma, vega, theta: Sums of position times per-contract Greek.
        vols: Series name -> (position x vega, volatility) of each position held.
    """

    delta: float
    gamma: float
    vega: float
    theta: float
    vols: Mapping[str, tuple[float, float]]

    @classmethod
    def of(
        cls, series: Sequence[OptionSeries], positions: np.ndarray, greeks: SeriesGreeks
    ) -> BookGreeks:
        """The book of ``positions`` (contracts, per series) with per-contract ``greeks``."""
        if not len(series):
            return NO_OPTIONS
        vols = {
            s.name: (float(q * v), float(sigma))
            for s, q, v, sigma in zip(series, positions, greeks.vega, greeks.vol, strict=True)
            if q
        }
        return cls(
            float(positions @ greeks.delta),
            float(positions @ greeks.gamma),
            float(positions @ greeks.vega),
            float(positions @ greeks.theta),
            vols,
        )


NO_OPTIONS = BookGreeks(0.0, 0.0, 0.0, 0.0, {})
"""The Greeks of a book holding no option."""


@dataclass(frozen=True, slots=True)
class StepAttribution:
    """One step's P&L terms (price units): they sum to the step's equity change."""

    theta: float
    gamma: float
    vega: float
    hedging: float
    residual: float

    @property
    def total(self) -> float:
        """The sum of the five terms: the equity change."""
        return self.theta + self.gamma + self.vega + self.hedging + self.residual


class PnLAttribution:
    """Splits each step's equity change (module docstring); feed it every record."""

    def __init__(self, dt: float) -> None:
        self.dt = dt
        self._equity: float | None = None
        self._spot = math.nan
        self._book = NO_OPTIONS

    def record(
        self,
        equity: float,
        spot: float,
        book: BookGreeks,
        hedging_cost: float,
        vols: Mapping[str, float],
    ) -> StepAttribution:
        """The step that ends with ``equity`` at ``spot`` (the first record: all zero).

        Args:
            equity: Equity now (price units).
            spot: The mark of the underlying now.
            book: The Greeks of the positions held now (they price the next step).
            hedging_cost: Spread and impact paid on this step's hedge trades (price units).
            vols: The model's volatility of each series now (for the vega term).
        """
        previous, held = self._equity, self._book
        move = spot - self._spot
        self._equity, self._spot, self._book = equity, spot, book
        if previous is None:
            return StepAttribution(0.0, 0.0, 0.0, 0.0, 0.0)
        theta = held.theta * self.dt
        gamma = 0.5 * held.gamma * move * move
        vega = math.fsum(
            weight * (vols.get(name, sigma) - sigma) for name, (weight, sigma) in held.vols.items()
        )
        hedging = -hedging_cost
        residual = (equity - previous) - (theta + gamma + vega + hedging)
        return StepAttribution(theta, gamma, vega, hedging, residual)
