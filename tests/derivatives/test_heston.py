"""Heston prices by the characteristic function (abm.derivatives.heston)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from abm.derivatives import DerivativesError, HestonParams, bsm_price, heston_log_cf, heston_price

LEWIS = HestonParams(kappa=4.0, theta=0.25, sigma=1.0, rho=-0.5, v0=0.04)
LEWIS_MARKET = {"spot": 100.0, "expiry": 1.0, "rate": 0.01, "dividend": 0.02}
LEWIS_STRIKES = np.array([80.0, 90.0, 100.0, 110.0, 120.0])
LEWIS_CALLS = np.array(
    [
        26.774758743998854,
        20.933349000596710,
        16.070154917028834,
        12.132211516709845,
        9.024913483457836,
    ]
)
LEWIS_PUTS = np.array(
    [
        7.958878113256768,
        12.017966707346304,
        17.055270961270109,
        23.017825898442800,
        29.811026202682471,
    ]
)
"""Alan Lewis's high-precision Heston values (Lewis 2000, as published and as QuantLib's Heston
tests cache them); the issue gives the K = 100 call, 16.070154917028834."""


def _lewis(is_call: bool) -> np.ndarray:
    m = LEWIS_MARKET
    return heston_price(
        m["spot"], LEWIS_STRIKES, m["expiry"], m["rate"], m["dividend"], LEWIS, is_call
    )


def test_heston_price_matches_lewis_reference_call_at_the_money() -> None:
    """The K = 100 call is Lewis's 16.070154917028834 to 1e-8 (the issue's acceptance value)."""
    assert abs(float(_lewis(True)[2]) - 16.070154917028834) < 1e-8


def test_heston_price_matches_lewis_reference_calls() -> None:
    """All five of Lewis's calls (K = 80 ... 120) to 1e-8."""
    np.testing.assert_allclose(_lewis(True), LEWIS_CALLS, rtol=0, atol=1e-8)


def test_heston_price_matches_lewis_reference_puts() -> None:
    """Lewis's five puts to 1e-8 (the puts come by parity: this checks the parity leg too)."""
    np.testing.assert_allclose(_lewis(False), LEWIS_PUTS, rtol=0, atol=1e-8)


def _quad_call(
    spot: float, strike: float, expiry: float, rate: float, dividend: float, params: HestonParams
) -> float:
    """Lewis's integral by adaptive quadrature (scipy's QUADPACK), the naive reference."""
    k = np.log(spot / strike) + (rate - dividend) * expiry

    def integrand(u: float) -> float:
        value = np.exp(1j * u * k) * heston_log_cf(u - 0.5j, expiry, params)
        return float(value.real) / (u * u + 0.25)

    integral, _ = quad(integrand, 0.0, np.inf, epsabs=1e-13, epsrel=1e-13, limit=2000)
    return float(
        spot * np.exp(-dividend * expiry)
        - np.sqrt(spot * strike) * np.exp(-0.5 * (rate + dividend) * expiry) / np.pi * integral
    )


@pytest.mark.parametrize(
    "params",
    [
        HestonParams(kappa=1.5, theta=0.04, sigma=0.3, rho=-0.9, v0=0.02),
        HestonParams(kappa=0.5, theta=0.09, sigma=1.5, rho=0.3, v0=0.16),  # Feller fails
        HestonParams(kappa=8.0, theta=0.01, sigma=0.2, rho=0.0, v0=0.01),
    ],
    ids=["steep-skew", "feller-violated", "low-vol"],
)
@pytest.mark.parametrize("expiry", [0.05, 1.0, 5.0])
def test_heston_price_agrees_with_adaptive_quadrature(params: HestonParams, expiry: float) -> None:
    """The Gauss-Legendre panels agree with scipy's adaptive quad to 1e-9 over wide strikes."""
    strikes = np.array([50.0, 75.0, 100.0, 130.0, 200.0])
    ours = heston_price(100.0, strikes, expiry, 0.03, 0.01, params)
    reference = [_quad_call(100.0, k, expiry, 0.03, 0.01, params) for k in strikes]
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-9)


def test_heston_price_with_zero_vol_of_vol_equals_black_scholes() -> None:
    """Zero vol-of-vol and v0 = theta make the variance constant: Black-Scholes at sqrt(theta)."""
    params = HestonParams(kappa=3.0, theta=0.0625, sigma=0.0, rho=-0.5, v0=0.0625)
    strikes = np.array([60.0, 90.0, 100.0, 110.0, 160.0])
    for call in (True, False):
        heston = heston_price(100.0, strikes, 0.5, 0.03, 0.01, params, call)
        black_scholes = bsm_price(100.0, strikes, 0.5, 0.03, 0.01, 0.25, call)
        np.testing.assert_allclose(heston, black_scholes, rtol=0, atol=1e-10)


def test_heston_price_converges_to_black_scholes_as_vol_of_vol_vanishes() -> None:
    """The gap to Black-Scholes shrinks in proportion to sigma (first order in rho sigma).

    Each tenfold cut of sigma cuts the gap about tenfold, down to sigma = 1e-6, where the
    stable form (no cancellation in beta - d) still has its digits.
    """
    strikes = np.array([80.0, 100.0, 120.0])
    black_scholes = bsm_price(100.0, strikes, 1.0, 0.02, 0.0, 0.3)
    gaps = []
    for sigma in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
        params = HestonParams(kappa=2.0, theta=0.09, sigma=sigma, rho=-0.6, v0=0.09)
        gaps.append(
            np.max(np.abs(heston_price(100.0, strikes, 1.0, 0.02, 0.0, params) - black_scholes))
        )
    ratios = np.array(gaps[:-1]) / np.array(gaps[1:])
    assert np.all((ratios > 8.0) & (ratios < 12.5)), ratios
    assert gaps[-1] < 1e-5


def test_heston_price_is_a_martingale_price_at_zero_strike_limit() -> None:
    """A call struck near zero is worth the discounted forward S e^{-qT} (to 1e-10 of it)."""
    price = heston_price(100.0, 1e-6, 2.0, 0.03, 0.01, LEWIS)
    assert float(price) == pytest.approx(100.0 * np.exp(-0.02) - 1e-6 * np.exp(-0.06), abs=1e-9)


def test_heston_log_cf_is_one_at_zero_and_a_martingale_at_minus_i() -> None:
    """phi(0) = 1 and phi(-i) = E[S_T / F_T] = 1: a characteristic function of a forward ratio."""
    values = heston_log_cf(np.array([0.0, -1j]), 1.5, LEWIS)
    np.testing.assert_allclose(values, [1.0, 1.0], atol=1e-13)


def test_heston_price_mixes_expiries_and_types_in_one_call() -> None:
    """One call over mixed expiries and call/put flags equals one call per option."""
    strikes = np.array([90.0, 100.0, 110.0, 100.0])
    expiries = np.array([0.5, 1.0, 0.5, 2.0])
    calls = np.array([True, False, True, False])
    together = heston_price(100.0, strikes, expiries, 0.01, 0.0, LEWIS, calls)
    apart = [
        float(heston_price(100.0, k, t, 0.01, 0.0, LEWIS, c))
        for k, t, c in zip(strikes, expiries, calls, strict=True)
    ]
    np.testing.assert_allclose(together, apart, rtol=0, atol=1e-12)


def test_heston_price_refuses_parameters_it_cannot_integrate() -> None:
    """A tiny variance, sigma 5 and rho 0.999 decay too slowly to price: an error, not a guess."""
    params = HestonParams(kappa=0.001, theta=4.0, sigma=5.0, rho=0.999, v0=0.0001)
    with pytest.raises(DerivativesError, match="decays too slowly"):
        heston_price(100.0, 90.0, 0.02, 0.0, 0.0, params)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kappa", 0.0, "kappa: must be positive"),
        ("rho", -1.5, r"rho: must lie in \[-1, 1\]"),
        ("sigma", -0.1, "sigma: must be >= 0"),
        ("v0", float("nan"), "v0: must be a finite number"),
    ],
)
def test_heston_params_refuse_out_of_range_values(field: str, value: float, message: str) -> None:
    """A parameter outside its domain is a DerivativesError naming it."""
    values = {"kappa": 1.0, "theta": 0.04, "sigma": 0.5, "rho": -0.5, "v0": 0.04, field: value}
    with pytest.raises(DerivativesError, match=message):
        HestonParams(**values)


def test_heston_params_report_feller_condition() -> None:
    """2 kappa theta / sigma^2: Lewis's set has 2 * 4 * 0.25 / 1 = 2 (satisfied)."""
    assert LEWIS.feller_ratio == pytest.approx(2.0)
    assert LEWIS.satisfies_feller
    assert not HestonParams(kappa=0.5, theta=0.04, sigma=1.0, rho=0.0, v0=0.04).satisfies_feller
