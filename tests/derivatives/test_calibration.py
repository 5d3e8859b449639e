"""Heston calibration (abm.derivatives.calibration) on surfaces made from known parameters."""

from __future__ import annotations

import numpy as np
import pytest

from abm.derivatives import (
    CalibrationError,
    DerivativesError,
    HestonParams,
    bsm_price,
    calibrate_heston,
    heston_price,
    implied_volatility,
)
from abm.derivatives.heston import PARAMETER_NAMES

TRUE = HestonParams(kappa=2.0, theta=0.06, sigma=0.5, rho=-0.7, v0=0.04)
SPOT, RATE, DIVIDEND = 100.0, 0.02, 0.01
EXPIRIES = np.repeat([0.25, 0.5, 1.0, 2.0], 7)
STRIKES = np.tile([80.0, 90.0, 95.0, 100.0, 105.0, 110.0, 120.0], 4)
CALLS = STRIKES >= SPOT  # out-of-the-money puts below the spot, as traded
PRICES = heston_price(SPOT, STRIKES, EXPIRIES, RATE, DIVIDEND, TRUE, CALLS)


def _fit(**kwargs):
    base = {"price": PRICES, "is_call": CALLS, "n_starts": 2}
    base.update(kwargs)
    return calibrate_heston(SPOT, STRIKES, EXPIRIES, RATE, DIVIDEND, **base)


def test_calibrate_heston_recovers_parameters_from_noiseless_prices() -> None:
    """Prices made by heston_price give back the parameters that made them, to 1e-4."""
    fit = _fit()
    np.testing.assert_allclose(fit.params.as_array(), TRUE.as_array(), rtol=0, atol=1e-4)
    assert fit.rmse < 1e-8 and fit.n_points == 28 and fit.n_expiries == 4


def test_calibrate_heston_recovers_parameters_from_noiseless_implied_vols() -> None:
    """The same surface quoted as implied vols and fitted on implied vols: back to 1e-4."""
    vols = implied_volatility(PRICES, SPOT, STRIKES, EXPIRIES, RATE, DIVIDEND, CALLS)
    fit = _fit(price=None, implied_vol=vols, target="implied_vol")
    np.testing.assert_allclose(fit.params.as_array(), TRUE.as_array(), rtol=0, atol=1e-4)
    assert fit.target.value == "implied_vol"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_calibrate_heston_noisy_prices_land_within_stated_errors(seed: int) -> None:
    """Prices with 1% normal errors, weighted by 1/error: each parameter within 4 std errors.

    The standard errors are the Gauss-Newton ones, s^2 (J'J)^{-1}; with the right weights s is
    about 1, which is checked too (the weighted residuals' RMSE).
    """
    noise = 0.01 * PRICES
    rng = np.random.default_rng(seed)
    noisy = PRICES + rng.normal(0.0, 1.0, PRICES.size) * noise
    fit = _fit(price=noisy, weight=1.0 / noise)
    errors = np.array(fit.std_errors)
    assert np.all(np.isfinite(errors)) and np.all(errors > 0)
    z = (fit.params.as_array() - TRUE.as_array()) / errors
    assert np.all(np.abs(z) < 4.0), dict(zip(PARAMETER_NAMES, z, strict=True))
    weighted_rmse = np.sqrt(2.0 * fit.cost / fit.n_points)
    assert 0.5 < weighted_rmse < 1.5


def test_calibrate_heston_reports_feller_condition() -> None:
    """The fit reports 2 kappa theta / sigma^2: 0.24 / 0.25 = 0.96 here, not satisfied."""
    fit = _fit()
    assert fit.feller_ratio == pytest.approx(0.96, abs=1e-4)
    assert not fit.satisfies_feller


def test_calibrate_heston_is_deterministic_for_a_seed() -> None:
    """The same surface, starts and seed give the same fit, bit for bit."""
    noisy = PRICES + np.random.default_rng(9).normal(0.0, 0.05, PRICES.size)
    first = _fit(price=noisy, seed=4)
    again = _fit(price=noisy, seed=4)
    assert first == again


def test_calibrate_heston_refuses_a_single_expiry() -> None:
    """One expiry cannot separate kappa from theta: a CalibrationError before any fit."""
    one = EXPIRIES == 1.0
    with pytest.raises(CalibrationError, match="one expiry"):
        calibrate_heston(
            SPOT, STRIKES[one], 1.0, RATE, DIVIDEND, price=PRICES[one], is_call=CALLS[one]
        )


def test_calibrate_heston_refuses_too_few_quotes() -> None:
    """Five quotes for five parameters leave no residual degree of freedom: refused."""
    few = [0, 1, 2, 7, 8]  # two expiries
    with pytest.raises(CalibrationError, match=r"5 quotes .* at least 6"):
        calibrate_heston(SPOT, STRIKES[few], EXPIRIES[few], RATE, DIVIDEND, price=PRICES[few])


def test_calibrate_heston_refuses_a_surface_that_cannot_identify_the_smile() -> None:
    """Two at-the-money quotes, each repeated three times: rank 2, a CalibrationError."""
    strikes = np.full(6, 100.0)
    expiries = np.array([0.5, 0.5, 0.5, 1.0, 1.0, 1.0])
    prices = heston_price(SPOT, strikes, expiries, RATE, DIVIDEND, TRUE)
    with pytest.raises(CalibrationError, match="does not identify"):
        calibrate_heston(SPOT, strikes, expiries, RATE, DIVIDEND, price=prices, n_starts=1)


def test_calibrate_heston_names_a_parameter_stuck_on_its_bound() -> None:
    """With rho bounded to [-0.5, 0.5] (the truth is -0.7) rho ends on -0.5, without an error."""
    bounds = ((1e-3, 1e-4, 1e-3, -0.5, 1e-4), (20.0, 4.0, 5.0, 0.5, 4.0))
    fit = _fit(bounds=bounds)
    assert fit.at_bounds == ("rho",)
    assert fit.params.rho == pytest.approx(-0.5)
    assert np.isnan(fit.std_error("rho")) and np.isfinite(fit.std_error("kappa"))


def test_calibrate_heston_refuses_bounds_where_nothing_can_be_priced() -> None:
    """Bounds inside the region the quadrature refuses: a CalibrationError, not a crash."""
    bounds = ((1e-3, 1e-4, 4.9, 0.998, 1e-4), (2e-3, 2e-4, 5.0, 0.999, 2e-4))
    expiries = np.repeat([0.02, 0.03], 3)
    strikes = np.tile([95.0, 100.0, 105.0], 2)
    with pytest.raises(CalibrationError, match="no starting point could be priced"):
        calibrate_heston(
            SPOT,
            strikes,
            expiries,
            RATE,
            DIVIDEND,
            price=np.full(6, 1.0),
            bounds=bounds,
            n_starts=2,
        )


def test_calibrate_heston_refuses_both_prices_and_vols() -> None:
    """Give exactly one of price and implied_vol: both is a DerivativesError naming them."""
    vols = np.full(PRICES.shape, 0.2)
    with pytest.raises(DerivativesError, match="price, implied_vol: give exactly one"):
        _fit(implied_vol=vols)


def test_calibrate_heston_fits_a_black_scholes_surface_with_small_vol_of_vol() -> None:
    """A flat 25% Black-Scholes surface is Heston with v0 = theta = 0.0625 and sigma -> 0."""
    flat = bsm_price(SPOT, STRIKES, EXPIRIES, RATE, DIVIDEND, 0.25, CALLS)
    fit = _fit(price=flat)
    assert fit.rmse < 1e-3
    assert fit.params.v0 == pytest.approx(0.0625, abs=2e-3)
