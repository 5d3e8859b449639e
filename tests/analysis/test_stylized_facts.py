"""Tests for analysis.stylized_facts: closed forms, synthetic benchmarks and the real S&P 500."""

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
    confidence_band,
    excess_kurtosis,
    hill_tail_index,
    kurtosis_by_interval,
    kurtosis_trend,
    ljung_box,
    log_returns,
    robust_box_pierce,
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
def sp500_card() -> pd.DataFrame:
    """The scorecard of the daily S&P 500 that `arch` ships (1999-2018, 5031 closes)."""
    sp500 = pytest.importorskip("arch.data.sp500")
    return scorecard(sp500.load()["Adj Close"])


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


def test_robust_box_pierce_hand_computed() -> None:
    """On 1..5 (deviations -2..2): lag 1 gives 4**2 / 8 = 2, lag 2 gives 1**2 / 1 = 1; Q* = 3."""
    result = robust_box_pierce([1, 2, 3, 4, 5], 2)
    assert result.statistic == pytest.approx(3.0)
    assert result.df == 2
    assert result.p_value == pytest.approx(math.exp(-1.5))


# The restricted model (no slope) is fitted on a zero column, which statsmodels warns about.
@pytest.mark.filterwarnings("ignore:The design matrix is rank-deficient")
def test_robust_box_pierce_matches_statsmodels_robust_lm() -> None:
    """Each lag's term is the HC0-robust LM statistic of statsmodels for x_t on x_{t-k}."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(10)
    x = _garch(3000, rng)
    deviations = x - x.mean()
    lm = 0.0
    for lag in range(3, 9):
        full = sm.OLS(deviations[lag:], deviations[:-lag]).fit(cov_type="HC0")
        restricted = sm.OLS(deviations[lag:], np.zeros((x.size - lag, 1))).fit()
        lm += full.compare_lm_test(restricted, demean=False)[0]
    assert robust_box_pierce(x, 8, first_lag=3).statistic == pytest.approx(lm, rel=1e-10)


def test_robust_box_pierce_constant_is_nan() -> None:
    """Constant values have no autocorrelation to test: statistic and p-value are NaN."""
    result = robust_box_pierce(np.ones(100), 5)
    assert math.isnan(result.statistic)
    assert math.isnan(result.p_value)


def test_robust_box_pierce_rejects_lag_beyond_sample() -> None:
    """A last lag as long as the sample leaves no pairs: a clear error, not a NaN."""
    with pytest.raises(ValueError, match="max_lag"):
        robust_box_pierce([1.0, 2.0, 3.0], 3)


def test_robust_box_pierce_detects_ar1() -> None:
    """AR(1) with phi = 0.1, n = 5000: sqrt(n) rho_1 is about 7, so Q* over lags 1-5 rejects."""
    rng = np.random.default_rng(11)
    shocks = rng.standard_normal(5000)
    x = np.empty_like(shocks)
    x[0] = shocks[0]
    for t in range(1, x.size):
        x[t] = 0.1 * x[t - 1] + shocks[t]
    assert robust_box_pierce(x, 5).p_value < 1e-6


def test_ljung_box_over_rejects_where_robust_test_does_not_on_garch() -> None:
    """Uncorrelated GARCH(1,1), 40 seeds: plain Ljung-Box rejects at 1% far more often than Q*.

    Measured at n = 5000 over lags 5-20 (seeds 0-39): Ljung-Box 15 rejections, Q* 1.
    """
    plain = robust = 0
    for seed in range(40):
        x = _garch(5000, np.random.default_rng(seed))
        plain += ljung_box(x, 20, first_lag=5).p_value < 0.01
        robust += robust_box_pierce(x, 20, first_lag=5).p_value < 0.01
    assert plain >= 5
    assert robust <= 3


def test_kurtosis_trend_matches_weighted_polyfit() -> None:
    """The slope is numpy's weighted least-squares line (weights sqrt(n) on the residuals)."""
    rng = np.random.default_rng(12)
    prices = _prices(0.01 * rng.standard_t(5, 20_000))
    trend = kurtosis_trend(prices, (1, 2, 5, 10, 20, 50))
    table = trend.table
    slope = np.polyfit(
        np.log(table["interval_steps"]), table["excess_kurtosis"], 1, w=np.sqrt(table["n_returns"])
    )[0]
    assert trend.slope == pytest.approx(slope, rel=1e-9)
    assert trend.used == 6


def test_kurtosis_trend_skips_intervals_with_few_returns() -> None:
    """2001 prices give 100 returns at 20 steps but 40 at 50, under the minimum of 100."""
    rng = np.random.default_rng(13)
    trend = kurtosis_trend(_prices(0.01 * rng.standard_t(5, 2000)), (1, 5, 20, 50))
    assert trend.used == 3
    assert trend.table["interval_steps"].tolist() == [1, 5, 20, 50]


def test_scorecard_aggregational_gaussianity_needs_three_intervals() -> None:
    """Two sampling intervals give no trend to read: the ratio is NaN and the fact fails."""
    rng = np.random.default_rng(14)
    card = scorecard(_prices(0.01 * rng.standard_t(5, 20_000)), intervals=(1, 50))
    row = card.set_index("fact").loc["aggregational_gaussianity"]
    assert math.isnan(row["value"])
    assert not row["passed"]


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


@pytest.mark.parametrize("fact", FACTS)
def test_scorecard_sp500_passes_fact(sp500_card: pd.DataFrame, fact: str) -> None:
    """Real daily S&P 500 returns show each of Cont's (2001) facts at the default thresholds."""
    row = sp500_card.set_index("fact").loc[fact]
    assert row["passed"], f"{fact}: {row['value']:.4g} vs {row['threshold']:g}; {row['note']}"


def test_ljung_box_rejects_sp500_returns() -> None:
    """On the S&P 500 the plain Ljung-Box test over lags 5-20 rejects at 1% (p = 3e-10).

    The robust Q* on the same lags does not (p = 0.13, `test_scorecard_sp500_passes_fact`): the
    rejection comes from volatility clustering, not from autocorrelation.
    """
    sp500 = pytest.importorskip("arch.data.sp500")
    returns = log_returns(sp500.load()["Adj Close"])
    assert ljung_box(returns, 20, first_lag=5).p_value < 0.01


@pytest.mark.slow
def test_scorecard_garch_false_autocorrelation_rate_near_nominal() -> None:
    """200 uncorrelated GARCH(1,1) series, n=5000: at most 6 fail absence of autocorrelation.

    Nominal 1% of 200 is 2 rejections, binomial SE sqrt(200 * 0.01 * 0.99) = 1.4, so 6 is the
    nominal count plus 3 SE. Measured (seeds 0-199): 3 (1.5%); with the plain Ljung-Box test the
    scorecard rejected 74 (37%). Clustering passed on all 200.
    """
    rejections = clustering = 0
    for seed in range(200):
        passed = _passed(scorecard(_prices(_garch(5000, np.random.default_rng(seed)))))
        rejections += not passed["absence_of_autocorrelation"]
        clustering += passed["volatility_clustering"]
    assert rejections <= 6
    assert clustering >= 198


@pytest.mark.slow
def test_scorecard_gaussian_walks_fail_tails_and_clustering() -> None:
    """200 i.i.d. Gaussian walks, n=5000: none passes heavy tails or volatility clustering.

    Kurtosis 1 is 14 standard errors (sqrt(24 / 5000)) above Gaussian; measured 0 of 200 for both.
    """
    tails = clustering = 0
    for seed in range(200):
        passed = _passed(
            scorecard(_prices(0.01 * np.random.default_rng(seed).standard_normal(5000)))
        )
        tails += passed["heavy_tails"]
        clustering += passed["volatility_clustering"]
    assert tails == 0
    assert clustering == 0
