"""Option pricing and Heston calibration: pure functions over numpy arrays.

- `abm.derivatives.black_scholes`: Black-Scholes-Merton prices, Greeks, implied volatility;
- `abm.derivatives.heston`: Heston (1993) prices by the characteristic function
  (Albrecher et al. 2007's stable form, Lewis 2001's single integral);
- `abm.derivatives.lookback`: floating- (Goldman, Sosin & Gatto 1979) and fixed-strike
  (Conze & Viswanathan 1991) lookbacks, and their Broadie-Glasserman-Kou discrete versions;
- `abm.derivatives.lookback_mc`: Monte Carlo of discretely monitored lookbacks;
- `abm.derivatives.calibration`: Heston calibration by weighted least squares;
- `abm.derivatives.hedging`: discrete delta hedging in a Black-Scholes world and Derman &
  Kamal (1999)'s error law;
- `abm.derivatives.heston_paths`: Heston's parameters from a simulated price path (the
  `heston` fundamental's), with its variance or from realised variance;
- `abm.derivatives.surface`: reading an option surface from CSV.

Importing this package loads numpy and scipy; ``import abm`` does not import it.
"""

from __future__ import annotations

from abm.derivatives.black_scholes import (
    bsm_delta,
    bsm_gamma,
    bsm_price,
    bsm_theta,
    bsm_vega,
    implied_volatility,
)
from abm.derivatives.calibration import CalibrationTarget, HestonFit, calibrate_heston
from abm.derivatives.errors import CalibrationError, DerivativesError, ImpliedVolatilityError
from abm.derivatives.hedging import delta_hedging_errors, derman_kamal_std
from abm.derivatives.heston import HestonParams, heston_log_cf, heston_price
from abm.derivatives.heston_paths import HestonPathFit, fit_heston_path
from abm.derivatives.lookback import (
    discrete_fixed_strike_lookback,
    discrete_floating_strike_lookback,
    fixed_strike_lookback,
    floating_strike_lookback,
)
from abm.derivatives.lookback_mc import LookbackKind, MonteCarloEstimate, lookback_monte_carlo

__all__ = [
    "CalibrationError",
    "CalibrationTarget",
    "DerivativesError",
    "HestonFit",
    "HestonParams",
    "HestonPathFit",
    "ImpliedVolatilityError",
    "LookbackKind",
    "MonteCarloEstimate",
    "bsm_delta",
    "bsm_gamma",
    "bsm_price",
    "bsm_theta",
    "bsm_vega",
    "calibrate_heston",
    "delta_hedging_errors",
    "derman_kamal_std",
    "discrete_fixed_strike_lookback",
    "discrete_floating_strike_lookback",
    "fit_heston_path",
    "fixed_strike_lookback",
    "floating_strike_lookback",
    "heston_log_cf",
    "heston_price",
    "implied_volatility",
    "lookback_monte_carlo",
]
