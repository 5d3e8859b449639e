"""Tests for analysis.stylized_facts: closed forms, chi-square tables, and synthetic benchmarks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _helpers import FACTS, run_baseline
from _helpers import passed_by_fact as _passed

from analysis.stylized_facts import (
    SCORECARD_COLUMNS,
    acf_table,
    autocorrelation,
    chi2_sf,
    confidence_band,
    excess_kurtosis,
    hill_tail_index,
    kurtosis_by_interval,
    ljung_box,
    log_returns,
    scorecard,
)


def _prices(returns: np.ndarray, start: float = 100.0) -> np.ndarray:
    """Prices whose log returns are exactly ``returns``."""
    return start * np.exp(np.concatenate(([0.0], np.cumsum(returns))))


def _garch(n: int, rng: np.random.Generator, *, nu: float | None = None) -> np.ndarray:
    """GARCH(1,1) returns, omega=0.05, alpha=0.09, beta=0.9 (Bollerslev 1986), unit-variance shocks.

    With ``nu`` the shocks are Student t(nu) scaled to unit variance, otherwise standard normal.
    """
    omega, alpha, beta = 0.05, 0.09, 0.9
    if nu is None:
        shocks = rng.standard_normal(n)
    else:
        shocks = rng.standard_t(nu, n) * math.sqrt((nu - 2.0) / nu)
    returns = np.empty(n)
    variance = omega / (1.0 - alpha - beta)
    for t, shock in enumerate(shocks.tolist()):
        returns[t] = math.sqrt(variance) * shock
        variance = omega + alpha * returns[t] ** 2 + beta * variance
    return 0.01 * returns


@pytest.fixture(scope="module")
def gaussian_card() -> pd.DataFrame:
    rng = np.random.default_rng(20240602)
    return scorecard(_prices(0.01 * rng.standard_normal(5000)))


def test_log_returns_non_overlapping_windows() -> None:
    """Returns over 2-step windows use prices 0, 2, 4; the last incomplete window is unused."""
    prices = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0])
    np.testing.assert_allclose(log_returns(prices, 2), [math.log(4.0), math.log(4.0)])


def test_log_returns_nan_price_gives_nan_returns() -> None:
    """A missing price makes the two returns that touch it NaN and leaves the others alone."""
    returns = log_returns(pd.Series([np.nan, 1.0, math.e, np.nan, 1.0]))
    np.testing.assert_array_equal(np.isnan(returns), [True, False, True, True])
    assert returns[1] == pytest.approx(1.0)


def test_log_returns_rejects_non_positive_price() -> None:
    """Log returns of a zero or negative price are undefined and raise."""
    with pytest.raises(ValueError, match="positive"):
        log_returns([1.0, 0.0, 1.0])


def test_excess_kurtosis_two_point_law() -> None:
    """A symmetric two-point law has kurtosis 1, so excess kurtosis exactly -2."""
    assert excess_kurtosis([-1.0, 1.0] * 50) == pytest.approx(-2.0)


def test_excess_kurtosis_normal_near_zero() -> None:
    """Normal excess kurtosis is 0; the estimator's SE at n=1e6 is sqrt(24/n)=0.005 (tol 6 SE)."""
    rng = np.random.default_rng(1)
    assert abs(excess_kurtosis(rng.standard_normal(1_000_000))) < 0.03


def test_excess_kurtosis_student_t10() -> None:
    """Student t(10) has excess kurtosis 6/(10-4)=1; its estimator has finite variance (nu>8)."""
    rng = np.random.default_rng(2)
    assert excess_kurtosis(rng.standard_t(10, 1_000_000)) == pytest.approx(1.0, abs=0.1)


def test_excess_kurtosis_student_t5() -> None:
    """Student t(5) has excess kurtosis 6/(5-4)=6; the estimate lands in [4, 8].

    The 8th moment of t(5) is infinite, so the estimator converges slowly and is biased low: over
    30 seeds at n=1e6 it ranged from 4.4 to 11.6 with median 5.1, hence the wide tolerance.
    """
    rng = np.random.default_rng(3)
    assert 4.0 < excess_kurtosis(rng.standard_t(5, 1_000_000)) < 8.0


def test_excess_kurtosis_constant_is_nan() -> None:
    """Kurtosis of a constant sample (flat prices) is undefined: NaN, not an error."""
    assert math.isnan(excess_kurtosis(np.zeros(100)))


def test_kurtosis_by_interval_counts_and_zero_fraction() -> None:
    """Window counts are (len-1)//interval and the share of exact-zero returns is reported."""
    prices = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 4.0, 4.0])
    table = kurtosis_by_interval(prices, (1, 2, 3))
    assert table["n_returns"].tolist() == [6, 3, 2]
    assert table["zero_fraction"].iloc[0] == pytest.approx(4 / 6)


def test_hill_tail_index_recovers_pareto_alpha() -> None:
    """Hill on Pareto(alpha=3), n=1e5, top 5% (k=5000): SE alpha/sqrt(k)=0.042; tolerance 5%."""
    rng = np.random.default_rng(4)
    sample = rng.pareto(3.0, 100_000) + 1.0
    assert hill_tail_index(sample) == pytest.approx(3.0, rel=0.05)


def test_hill_tail_index_explicit_k_hand_computed() -> None:
    """With k=2 on |x| = 8, 4, 2, 1: alpha = 2 / (log(8/2) + log(4/2)) = 2 / log 8."""
    assert hill_tail_index([-1.0, 2.0, 0.0, -8.0, 4.0], 2) == pytest.approx(2.0 / math.log(8.0))


def test_hill_tail_index_ignores_zeros() -> None:
    """Zero returns carry no tail information: padding with zeros leaves the estimate unchanged."""
    values = np.array([1.0, 2.0, 3.0, 5.0, 8.0, 13.0])
    padded = np.concatenate((values, np.zeros(1000)))
    assert hill_tail_index(padded, 3) == hill_tail_index(values, 3)


def test_autocorrelation_hand_computed() -> None:
    """For 1..5: deviations -2..2, sum of squares 10, lag-1 products 4, lag-2 products -1."""
    np.testing.assert_allclose(autocorrelation([1, 2, 3, 4, 5], 2), [1.0, 0.4, -0.1])


def test_autocorrelation_rejects_nan() -> None:
    """The low-level ACF refuses missing values instead of silently misaligning lags."""
    with pytest.raises(ValueError, match="finite"):
        autocorrelation([1.0, np.nan, 2.0, 3.0], 1)


def test_confidence_band_value() -> None:
    """The 95% i.i.d. band half-width is 1.96 / sqrt(n) (Bartlett): 0.0196 at n = 10000."""
    assert confidence_band(10_000) == pytest.approx(0.0196)


def test_acf_table_iid_mostly_inside_band() -> None:
    """For i.i.d. returns at most 3 of 20 lags leave the 95% band (P(Bin(20, .05) > 3) = 1.6%)."""
    rng = np.random.default_rng(5)
    table = acf_table(rng.standard_normal(10_000), 20)
    outside = (table["acf_returns"].abs() > table["band"]).sum()
    assert table["lag"].tolist() == list(range(1, 21))
    assert outside <= 3


def test_ljung_box_hand_computed() -> None:
    """Q on 1..5 with 2 lags: 5*7*(0.4**2/4 + 0.1**2/3) = 1.516667; chi2(2) sf = exp(-Q/2)."""
    result = ljung_box([1, 2, 3, 4, 5], 2)
    assert result.statistic == pytest.approx(35.0 * (0.04 + 0.01 / 3.0))
    assert result.df == 2
    assert result.p_value == pytest.approx(math.exp(-result.statistic / 2.0))


def test_ljung_box_first_lag_skips_lags() -> None:
    """Starting at lag 2 keeps only the lag-2 term: Q = 35 * 0.01 / 3, one degree of freedom."""
    result = ljung_box([1, 2, 3, 4, 5], 2, first_lag=2)
    assert result.statistic == pytest.approx(35.0 * 0.01 / 3.0)
    assert result.df == 1


@pytest.mark.parametrize(
    ("x", "df", "expected"),
    [
        (3.841, 1, 0.05),
        (6.635, 1, 0.01),
        (18.307, 10, 0.05),
        (23.209, 10, 0.01),
        (31.410, 20, 0.05),
        (124.342, 100, 0.05),
        (0.0158, 1, 0.90),
    ],
)
def test_chi2_sf_matches_table(x: float, df: int, expected: float) -> None:
    """Upper-tail chi-square critical values from a standard table (3-4 significant digits)."""
    assert chi2_sf(x, df) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 3.0, 10.0, 40.0])
def test_chi2_sf_closed_forms(x: float) -> None:
    """Closed forms: sf(x; 1) = erfc(sqrt(x/2)) and sf(x; 2) = exp(-x/2)."""
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2.0)), rel=1e-10)
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2.0), rel=1e-10)


def test_scorecard_shape_and_columns(gaussian_card: pd.DataFrame) -> None:
    """One row per tested fact with the documented columns and boolean verdicts."""
    assert list(gaussian_card.columns) == list(SCORECARD_COLUMNS)
    assert tuple(gaussian_card["fact"]) == FACTS
    assert all(isinstance(passed, bool) for passed in gaussian_card["passed"])


def test_scorecard_gaussian_walk_fails_heavy_tails(gaussian_card: pd.DataFrame) -> None:
    """An i.i.d. Gaussian random walk has excess kurtosis ~0, below the threshold of 1."""
    assert not _passed(gaussian_card)["heavy_tails"]


def test_scorecard_gaussian_walk_fails_volatility_clustering(gaussian_card: pd.DataFrame) -> None:
    """Absolute i.i.d. Gaussian returns are uncorrelated: no volatility clustering."""
    assert not _passed(gaussian_card)["volatility_clustering"]


def test_scorecard_gaussian_walk_has_no_autocorrelation(gaussian_card: pd.DataFrame) -> None:
    """An i.i.d. walk passes the no-autocorrelation test (a 1% test fails 1% of seeds)."""
    assert _passed(gaussian_card)["absence_of_autocorrelation"]


def test_scorecard_garch_normal_passes_volatility_clustering() -> None:
    """GARCH(1,1) with alpha+beta=0.99 clusters volatility (Bollerslev 1986); 100/100 seeds pass."""
    rng = np.random.default_rng(6)
    assert _passed(scorecard(_prices(_garch(5000, rng))))["volatility_clustering"]


def test_scorecard_garch_t_passes_heavy_tails() -> None:
    """GARCH(1,1) with t(8) shocks: kurtosis > 1 and Hill index in (2, 5); 200/200 seeds pass."""
    rng = np.random.default_rng(7)
    card = _passed(scorecard(_prices(_garch(10_000, rng, nu=8.0))))
    assert card["heavy_tails"]
    assert card["volatility_clustering"]


def test_scorecard_aggregational_gaussianity_of_iid_heavy_tails() -> None:
    """Sums of 50 i.i.d. t(5) returns have excess kurtosis 6/50 (cumulants add): the ratio falls."""
    rng = np.random.default_rng(8)
    assert _passed(scorecard(_prices(0.01 * rng.standard_t(5, 20_000))))[
        "aggregational_gaussianity"
    ]


def test_scorecard_flat_prices_fail_without_error() -> None:
    """A mid that never moves gives all-zero returns: statistics NaN, every fact fails."""
    card = scorecard(np.full(500, 100.0))
    assert not card["passed"].any()
    assert card["value"].isna().all()


def test_scorecard_drops_missing_prices() -> None:
    """A leading NaN mid (empty book at step 0) is dropped and reported in the notes."""
    rng = np.random.default_rng(9)
    prices = _prices(0.01 * rng.standard_normal(2000))
    prices[0] = np.nan
    card = scorecard(prices)
    assert "1 missing dropped" in card["note"].iloc[0]
    assert math.isfinite(card["value"].iloc[0])


def test_scorecard_runs_on_simulated_mid() -> None:
    """The scorecard accepts a real ``market.mid`` (NaN at step 0, many zero returns)."""
    result = run_baseline({"steps": 300})
    card = scorecard(result.market["mid"], intervals=(1, 5))
    assert tuple(card["fact"]) == FACTS
    assert "exactly zero" in card["note"].iloc[1]
