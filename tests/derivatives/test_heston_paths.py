"""Heston's parameters from paths of the `heston` fundamental (`fit_heston_path`).

Reference: the parameters each path is simulated with, through the engine's own process
(`abm.fundamental.heston.Heston`, full-truncation Euler). With the variance path the
estimate is the Euler scheme's quasi-maximum likelihood; from prices alone, moments of the
realised variance. Each must land within a few of its own standard errors of the truth.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.derivatives import CalibrationError, DerivativesError, fit_heston_path
from abm.fundamental.heston import Heston, HestonSpec

DT = 1 / 2520  # ten steps a trading day, in years
TRUE = {"kappa": 3.0, "theta": 0.04, "xi": 0.3, "rho": -0.7, "mu": 0.05}


def _simulate(steps: int, seed: int, **overrides: float) -> tuple[np.ndarray, np.ndarray]:
    parameters = {"v0": 0.04, **TRUE, **overrides}
    process = Heston(
        HestonSpec(kind="heston", s0=100.0, **parameters), np.random.default_rng(seed), dt=DT
    )
    prices, variance = np.empty(steps + 1), np.empty(steps + 1)
    prices[0], variance[0] = process.value, process.variance
    for i in range(steps):
        prices[i + 1] = process.step()
        variance[i + 1] = process.variance
    return prices, variance


@pytest.fixture(scope="module")
def path() -> tuple[np.ndarray, np.ndarray]:
    return _simulate(200_000, seed=1)


def _within(fit_value: float, truth: float, error: float, sigmas: float = 4.0) -> bool:
    return math.isfinite(error) and abs(fit_value - truth) <= sigmas * error


def test_variance_path_gives_back_the_parameters(path: tuple[np.ndarray, np.ndarray]) -> None:
    """With the variance path: each parameter within 4 of its standard errors of the truth."""
    prices, variance = path
    fit = fit_heston_path(prices, DT, variance=variance)
    p, e = fit.params, fit.std_errors
    assert fit.method == "variance" and fit.n == 200_000
    assert _within(p.kappa, TRUE["kappa"], e["kappa"])
    assert _within(p.theta, TRUE["theta"], e["theta"])
    assert _within(p.sigma, TRUE["xi"], e["sigma"])
    assert _within(p.rho, TRUE["rho"], e["rho"])
    assert _within(fit.mu, TRUE["mu"], e["mu"])
    assert p.v0 == pytest.approx(0.04)
    assert e["sigma"] < 0.01 and e["rho"] < 0.01  # the shocks are pinned down tightly


@pytest.mark.parametrize("window", [50, 100])
def test_prices_alone_give_back_the_parameters(
    path: tuple[np.ndarray, np.ndarray], window: int
) -> None:
    """From prices only (realised-variance moments): within 4 batch standard errors."""
    prices, _ = path
    fit = fit_heston_path(prices, DT, window=window)
    p, e = fit.params, fit.std_errors
    assert fit.method == "realized_variance" and fit.dt == pytest.approx(window * DT)
    assert _within(p.kappa, TRUE["kappa"], e["kappa"])
    assert _within(p.theta, TRUE["theta"], e["theta"])
    assert _within(p.sigma, TRUE["xi"], e["sigma"])
    assert _within(p.rho, TRUE["rho"], e["rho"])
    assert p.rho < -0.5  # the leverage effect is seen from prices alone


def test_a_variance_without_mean_reversion_is_refused() -> None:
    """Constant variance (vol-of-vol 0): nothing identifies kappa, and the fit says so."""
    prices, variance = _simulate(2_000, seed=2, xi=0.0)
    with pytest.raises(CalibrationError, match="mean reversion"):
        fit_heston_path(prices, DT, variance=variance)


@pytest.mark.parametrize(
    ("prices", "kwargs", "problem"),
    [
        ([100.0, 101.0, -1.0], {"window": 2}, "prices: must be finite and positive"),
        ([100.0, float("nan")], {"window": 2}, "prices: must be finite and positive"),
        ([100.0] * 10, {}, "exactly one of variance"),
        ([100.0] * 10, {"window": 2, "variance": [0.04] * 10}, "exactly one of variance"),
        ([100.0] * 10, {"window": 1}, "window: must be an integer >= 2"),
        ([100.0] * 10, {"variance": [0.04] * 9}, "variance: must be 10 finite values"),
    ],
)
def test_bad_input_is_one_error_naming_it(
    prices: list[float], kwargs: dict[str, object], problem: str
) -> None:
    with pytest.raises(DerivativesError, match=problem):
        fit_heston_path(prices, DT, **kwargs)


def test_too_short_a_path_is_refused() -> None:
    prices, variance = _simulate(30, seed=3)
    with pytest.raises(CalibrationError, match="at least"):
        fit_heston_path(prices, DT, variance=variance)
    with pytest.raises(CalibrationError, match="blocks"):
        fit_heston_path(prices, DT, window=2)
    with pytest.raises(DerivativesError, match="dt"):
        fit_heston_path(prices, 0.0, variance=variance)
