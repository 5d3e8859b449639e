"""Tests for analysis.backtests: Kupiec, Christoffersen, Acerbi-Szekely and rolling backtests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analysis.backtests import (
    FORECAST_METHODS,
    acerbi_szekely_test,
    acerbi_szekely_z2,
    backtest_methods,
    backtest_var_es,
    christoffersen,
    kupiec_pof,
    rolling_forecast,
    violations,
)
from analysis.risk_metrics import expected_shortfall, normal_es, normal_var, value_at_risk

SEED = 20260101
# replications for the size checks: the binomial s.e. of a 5% rate over 400 is 0.011
REPLICATIONS = 400


def _normal_tail(steps: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Standard normal forecast quantiles at every step."""
    return stats.norm.ppf(u)


def test_kupiec_pof_hand_computed() -> None:
    """5 hits in 250 at 99%: LR = 2 [5 log 2 + 245 log(0.98 / 0.99)] = 1.95681, p = 0.16185."""
    hits = np.zeros(250, dtype=bool)
    hits[[3, 50, 51, 120, 200]] = True
    result = kupiec_pof(hits, 0.99)
    expected = 2.0 * (5.0 * math.log(2.0) + 245.0 * math.log(0.98 / 0.99))
    assert (result.n, result.violations, result.observed_rate) == (250, 5, 0.02)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.statistic == pytest.approx(1.95681, abs=1e-5)
    # chi2(1) survival function is erfc(sqrt(x / 2))
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(expected / 2.0)), rel=1e-10)
    assert result.p_value == pytest.approx(0.16185, abs=1e-5)


def test_kupiec_pof_without_violations() -> None:
    """No hit in 300 at 99%: LR = -2 * 300 log 0.99 = 6.0302 (0 log 0 = 0), p = 0.0141."""
    result = kupiec_pof(np.zeros(300, dtype=bool), 0.99)
    assert result.statistic == pytest.approx(-600.0 * math.log(0.99), rel=1e-12)
    assert result.p_value == pytest.approx(0.0141, abs=1e-4)


def test_kupiec_pof_exact_rate_gives_zero_statistic() -> None:
    """A hit rate equal to 1 - alpha is the null's own estimate: LR 0, p-value 1."""
    hits = np.arange(200) % 20 == 0
    result = kupiec_pof(hits, 0.95)
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == pytest.approx(1.0)


def test_kupiec_pof_size_is_nominal_on_bernoulli_hits() -> None:
    """i.i.d. Bernoulli(0.05) hits, n 1000: the 5% test rejects in 2-9% of 400 samples (3 s.e.)."""
    rng = np.random.default_rng(SEED)
    rejections = [
        kupiec_pof(rng.random(1000) < 0.05, 0.95).p_value < 0.05 for _ in range(REPLICATIONS)
    ]
    assert 0.02 <= np.mean(rejections) <= 0.09


def test_christoffersen_hand_computed_transitions() -> None:
    """Hits 0000110000001100: n00 9, n01 2, n10 2, n11 2; LR_ind equals the 2x2 G-test."""
    hits = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0], dtype=bool)
    result = christoffersen(hits, 0.9)
    assert (result.n00, result.n01, result.n10, result.n11) == (9, 2, 2, 2)
    assert (result.pi01, result.pi11) == (pytest.approx(2 / 11), 0.5)
    markov = 9 * math.log(9 / 11) + 2 * math.log(2 / 11) + 4 * math.log(0.5)
    pooled = 11 * math.log(11 / 15) + 4 * math.log(4 / 15)
    assert result.independence_statistic == pytest.approx(2.0 * (markov - pooled), rel=1e-12)
    g_test = stats.chi2_contingency([[9, 2], [2, 2]], correction=False, lambda_="log-likelihood")
    assert result.independence_statistic == pytest.approx(g_test.statistic, rel=1e-10)
    assert result.independence_p_value == pytest.approx(g_test.pvalue, rel=1e-10)


def test_christoffersen_conditional_coverage_is_sum_with_kupiec() -> None:
    """LR_cc = LR_pof + LR_ind, and its chi2(2) p-value is exp(-LR_cc / 2)."""
    hits = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0], dtype=bool)
    result = christoffersen(hits, 0.9)
    total = kupiec_pof(hits, 0.9).statistic + result.independence_statistic
    assert result.conditional_coverage_statistic == pytest.approx(total, rel=1e-12)
    assert result.conditional_coverage_p_value == pytest.approx(math.exp(-total / 2.0))


def test_christoffersen_size_is_nominal_on_independent_hits() -> None:
    """i.i.d. hits, n 1000: the 5% independence test rejects in 2-9% of 400 samples (3 s.e.)."""
    rng = np.random.default_rng(SEED + 1)
    rejections = [
        christoffersen(rng.random(1000) < 0.05, 0.95).independence_p_value < 0.05
        for _ in range(REPLICATIONS)
    ]
    assert 0.02 <= np.mean(rejections) <= 0.09


def test_christoffersen_rejects_clustered_hits() -> None:
    """A Markov chain of hits (P(hit | hit) 0.4, P(hit | no hit) 0.03) is rejected at 1e-10.

    With about 100 hits in 2000 steps the expected LR_ind is in the hundreds (measured p 1e-30).
    """
    rng = np.random.default_rng(3)
    hits = np.zeros(2000, dtype=bool)
    for t in range(1, hits.size):
        hits[t] = rng.random() < (0.4 if hits[t - 1] else 0.03)
    result = christoffersen(hits, 0.95)
    assert result.pi11 > 5 * result.pi01
    assert result.independence_p_value < 1e-10


def test_acerbi_szekely_z2_hand_computed() -> None:
    """Losses 1, 3, 0.5, 4 over VaR 2 with ES 3, 3, 3, 6 at alpha 0.5: Z2 = 1 - (1 + 4/6) / 2."""
    z2 = acerbi_szekely_z2([1.0, 3.0, 0.5, 4.0], [2.0] * 4, [3.0, 3.0, 3.0, 6.0], 0.5)
    assert z2 == pytest.approx(1.0 / 6.0)


def test_acerbi_szekely_z2_has_mean_zero_under_the_right_model() -> None:
    """N(0, 1) losses, exact VaR/ES at 97.5%: the mean Z2 of 2000 samples is within 3 s.e. of 0."""
    alpha, size = 0.975, 250
    var, es = np.full(size, normal_var(alpha)), np.full(size, normal_es(alpha))
    samples = np.random.default_rng(SEED).standard_normal((2000, size))
    z2 = np.array([acerbi_szekely_z2(x, var, es, alpha) for x in samples])
    assert abs(z2.mean()) < 3.0 * z2.std(ddof=1) / math.sqrt(z2.size)


def test_acerbi_szekely_null_critical_value_matches_the_paper() -> None:
    """The 5% quantile of Z2 under the right model (97.5%, T 250) is -0.70 (Acerbi-Szekely 2014).

    5000 normal samples: the quantile's s.e. is about 0.015 (measured -0.699), so 0.05 is 3 s.e.
    """
    alpha, size = 0.975, 250
    var, es = np.full(size, normal_var(alpha)), np.full(size, normal_es(alpha))
    samples = np.random.default_rng(5).standard_normal((5000, size))
    z2 = np.array([acerbi_szekely_z2(x, var, es, alpha) for x in samples])
    assert np.quantile(z2, 0.05) == pytest.approx(-0.70, abs=0.05)


def test_acerbi_szekely_test_size_is_nominal() -> None:
    """Right model: the simulated p-value is below 5% in 2-9% of 300 samples (3 binomial s.e.)."""
    alpha, size = 0.975, 250
    var, es = np.full(size, normal_var(alpha)), np.full(size, normal_es(alpha))
    rng = np.random.default_rng(SEED + 2)
    p_values = [
        acerbi_szekely_test(
            rng.standard_normal(size), var, es, alpha, _normal_tail, n_simulations=500, seed=i
        ).p_value
        for i in range(300)
    ]
    assert 0.02 <= np.mean(np.array(p_values) <= 0.05) <= 0.09


def test_acerbi_szekely_test_rejects_underestimated_es() -> None:
    """Losses 1.3 x N(0, 1) against standard normal forecasts: E[Z2] = -1.84, p-value < 0.01."""
    alpha, size = 0.975, 250
    var, es = np.full(size, normal_var(alpha)), np.full(size, normal_es(alpha))
    losses = 1.3 * np.random.default_rng(4).standard_normal(size)
    result = acerbi_szekely_test(losses, var, es, alpha, _normal_tail, n_simulations=2000)
    assert result.statistic < -1.0
    assert result.p_value < 0.01


def test_acerbi_szekely_test_is_deterministic_in_its_seed() -> None:
    """Same seed, same simulated p-value."""
    alpha, size = 0.975, 100
    var, es = np.full(size, normal_var(alpha)), np.full(size, normal_es(alpha))
    losses = np.random.default_rng(1).standard_normal(size)
    first = acerbi_szekely_test(losses, var, es, alpha, _normal_tail, n_simulations=300, seed=9)
    assert acerbi_szekely_test(losses, var, es, alpha, _normal_tail, n_simulations=300, seed=9) == (
        first
    )


@pytest.mark.parametrize("method", FORECAST_METHODS)
def test_rolling_forecast_uses_the_window_before_each_loss(method: str) -> None:
    """Forecast i is the estimator on losses[i : i + window] and is compared with losses[i + w]."""
    series = np.random.default_rng(SEED).standard_t(4, 330)
    forecast = rolling_forecast(series, 0.99, window=300, method=method)  # type: ignore[arg-type]
    assert forecast.losses.size == 30
    np.testing.assert_array_equal(forecast.losses, series[300:])
    if method == "historical":
        for i in (0, 29):
            assert forecast.var[i] == value_at_risk(series[i : i + 300], 0.99)
            assert forecast.es[i] == expected_shortfall(series[i : i + 300], 0.99)
    else:
        for i in (0, 29):
            window = series[i : i + 300]
            assert forecast.var[i] == pytest.approx(value_at_risk(window, 0.99, method=method))
            assert forecast.es[i] == pytest.approx(expected_shortfall(window, 0.99, method=method))


@pytest.mark.parametrize("method", FORECAST_METHODS)
def test_rolling_forecast_tail_quantile_at_alpha_is_var(method: str) -> None:
    """The simulation's quantile function is the forecast's own: Q_t(alpha) = VaR_t."""
    series = np.random.default_rng(SEED).standard_t(4, 330)
    forecast = rolling_forecast(series, 0.99, window=300, method=method)  # type: ignore[arg-type]
    steps = np.arange(forecast.var.size)
    quantiles = forecast.tail_quantile(steps, np.full(steps.size, 0.99))
    np.testing.assert_allclose(quantiles, forecast.var, rtol=1e-9)


def test_backtest_var_es_flags_normal_es_on_heavy_tails() -> None:
    """i.i.d. unit-variance t(3) P&L: the normal Z2 is rejected at 5%, the historical one is not.

    Fixed seed; measured on 999 forecasts from 500-loss windows: normal Z2 -0.77 (p 0.012),
    historical Z2 -0.34 (p 0.17).
    """
    changes = np.random.default_rng(11).standard_t(3, 1500) / math.sqrt(3.0)
    pnl = np.cumsum(changes)
    normal = backtest_var_es(pnl, 0.99, window=500, method="normal", seed=1)
    historical = backtest_var_es(pnl, 0.99, window=500, method="historical", seed=1)
    assert normal.kupiec.n == 999  # 1500 P&L points give 1499 losses, 500 of them the window
    assert normal.acerbi_szekely.p_value < 0.05
    assert historical.acerbi_szekely.p_value > 0.05
    assert normal.acerbi_szekely.statistic < historical.acerbi_szekely.statistic


@pytest.mark.slow
def test_backtest_var_es_t_and_pot_pass_on_heavy_tails() -> None:
    """Same t(3) P&L: MLE-t and POT forecasts pass all three tests at 5% (measured p >= 0.22)."""
    changes = np.random.default_rng(11).standard_t(3, 1500) / math.sqrt(3.0)
    pnl = np.cumsum(changes)
    for method in ("t", "pot"):
        result = backtest_var_es(pnl, 0.99, window=500, method=method, seed=1)  # type: ignore[arg-type]
        assert result.kupiec.p_value > 0.05
        assert result.christoffersen.conditional_coverage_p_value > 0.05
        assert result.acerbi_szekely.p_value > 0.05


def test_backtest_methods_one_row_per_method() -> None:
    """backtest_methods tabulates each estimator with its counts and the three tests."""
    pnl = np.cumsum(np.random.default_rng(SEED).standard_normal(400))
    table = backtest_methods(pnl, 0.95, methods=("historical", "normal"), window=100)
    assert table["method"].tolist() == ["historical", "normal"]
    assert table.columns.tolist() == [
        "method",
        "n",
        "violations",
        "expected_violations",
        "mean_var",
        "mean_es",
        "kupiec_lr",
        "kupiec_p",
        "independence_lr",
        "independence_p",
        "conditional_coverage_lr",
        "conditional_coverage_p",
        "z2",
        "z2_p",
    ]
    assert (table["n"] == 299).all()
    assert table["expected_violations"].iloc[0] == pytest.approx(299 * 0.05)


def test_backtests_reject_bad_input() -> None:
    """Non-0/1 hits, misaligned arrays, a too-short window and an unknown method fail clearly."""
    with pytest.raises(ValueError, match="hits must be booleans"):
        kupiec_pof([0, 2, 1], 0.99)
    with pytest.raises(ValueError, match="one length"):
        violations([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="es must be positive"):
        acerbi_szekely_z2([1.0, 2.0], [1.0, 1.0], [0.0, 1.0], 0.9)
    with pytest.raises(ValueError, match="window must be at least 20"):
        rolling_forecast(np.arange(100.0), window=10)
    with pytest.raises(ValueError, match="unknown method"):
        rolling_forecast(np.arange(100.0), window=50, method="ewma")  # type: ignore[arg-type]
    flat_start = np.concatenate([np.zeros(60), np.arange(40.0)])
    with pytest.raises(ValueError, match=r"pot forecast of loss 50 \(from losses 0 to 49\) failed"):
        rolling_forecast(flat_start, 0.99, window=50, method="pot")
