"""Tests for analysis.risk_metrics: VaR, ES, t and POT fits, drawdowns, agent and ensemble risk."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.risk_metrics import (
    METHODS,
    GPDTailFit,
    agent_tail_risk,
    cornish_fisher_es,
    cornish_fisher_var,
    ensemble_tail_risk,
    expected_shortfall,
    fit_pot,
    fit_student_t,
    losses_from_pnl,
    max_drawdown,
    normal_es,
    normal_var,
    pot_es,
    pot_var,
    student_t_es,
    student_t_var,
    tail_risk,
    value_at_risk,
)

SEED = 20260101


@pytest.fixture(scope="module")
def normal_losses() -> np.ndarray:
    return np.random.default_rng(SEED).standard_normal(400_000)


def test_normal_var_matches_standard_quantiles() -> None:
    """VaR of N(0, 1) losses is the normal quantile: 1.6449 at 95%, 2.3263 at 99%."""
    assert normal_var(0.95) == pytest.approx(1.6449, abs=5e-5)
    assert normal_var(0.99) == pytest.approx(2.3263, abs=5e-5)


def test_normal_es_matches_issue_acceptance_numbers() -> None:
    """ES of N(0, 1) losses, phi(z) / (1 - alpha): 2.0627 at 95%, 2.6652 at 99% (issue 6)."""
    assert normal_es(0.95) == pytest.approx(2.0627, abs=5e-5)
    assert normal_es(0.99) == pytest.approx(2.6652, abs=5e-5)


def test_normal_var_es_scale_with_location_and_scale() -> None:
    """Losses loc + scale * Z have VaR and ES loc + scale * (standard value)."""
    assert normal_var(0.99, 3.0, 2.0) == pytest.approx(3.0 + 2.0 * normal_var(0.99))
    assert normal_es(0.99, 3.0, 2.0) == pytest.approx(3.0 + 2.0 * normal_es(0.99))


def test_historical_var_es_converge_to_normal_closed_form(normal_losses: np.ndarray) -> None:
    """On 400k standard normal losses the empirical VaR/ES are within 0.02 of the closed forms."""
    for alpha in (0.95, 0.99):
        assert value_at_risk(normal_losses, alpha) == pytest.approx(normal_var(alpha), abs=0.02)
        es = expected_shortfall(normal_losses, alpha)
        assert es == pytest.approx(normal_es(alpha), abs=0.02)


def test_historical_var_es_hand_computed() -> None:
    """Losses 1..10: alpha 0.8 gives VaR 8, ES (9 + 10) / 2; alpha 0.85 gives 9 and 29 / 3."""
    losses = np.arange(10, 0, -1, dtype=float)
    assert value_at_risk(losses, 0.8) == 8.0
    assert expected_shortfall(losses, 0.8) == pytest.approx(9.5)
    # the tail (0.85, 1] holds half of the 9th order statistic's mass and all of the 10th
    assert value_at_risk(losses, 0.85) == 9.0
    assert expected_shortfall(losses, 0.85) == pytest.approx((0.05 * 9 + 0.1 * 10) / 0.15)


def test_historical_es_is_at_least_var(normal_losses: np.ndarray) -> None:
    """ES averages the tail beyond VaR, so ES >= VaR for every alpha."""
    sample = normal_losses[:997]
    for alpha in (0.5, 0.9, 0.95, 0.999, 0.9999):
        assert expected_shortfall(sample, alpha) >= value_at_risk(sample, alpha)


def test_normal_method_uses_sample_mean_and_std() -> None:
    """method='normal' is the closed form at the sample mean and standard deviation (ddof 1)."""
    losses = np.array([1.0, -2.0, 0.5, 3.0, -1.5, 2.5])
    mean, std = losses.mean(), losses.std(ddof=1)
    assert value_at_risk(losses, 0.99, method="normal") == pytest.approx(
        normal_var(0.99, mean, std)
    )
    assert expected_shortfall(losses, 0.99, method="normal") == pytest.approx(
        normal_es(0.99, mean, std)
    )


def test_student_t_var_matches_t_table() -> None:
    """Standard t(5) quantiles from tables: 2.0150 at 95%, 3.3649 at 99%."""
    assert student_t_var(0.95, 5) == pytest.approx(2.0150, abs=5e-5)
    assert student_t_var(0.99, 5) == pytest.approx(3.3649, abs=5e-5)


@pytest.mark.parametrize(("alpha", "dof"), [(0.95, 5.0), (0.99, 5.0), (0.975, 3.0)])
def test_student_t_es_matches_numerical_tail_integral(alpha: float, dof: float) -> None:
    """Closed-form t ES equals (1 / (1 - alpha)) * integral_q^inf x f(x) dx by quadrature."""
    q = student_t_var(alpha, dof)
    # integrate in u = 1 / x over (0, 1/q] so the heavy tail maps to a finite interval
    u = np.linspace(1e-9, 1.0 / q, 400_001)
    x = 1.0 / u
    integrand = stats.t.pdf(x, dof) * x / (u * u)
    integral = float(np.sum((integrand[1:] + integrand[:-1]) * np.diff(u)) / 2.0)
    assert student_t_es(alpha, dof) == pytest.approx(integral / (1.0 - alpha), rel=1e-6)


def test_student_t_es_tends_to_normal_es_for_large_dof() -> None:
    """t(dof) -> N(0, 1): ES at dof 1e6 is the normal ES; dof must exceed 1."""
    assert student_t_es(0.99, 1e6) == pytest.approx(normal_es(0.99), abs=1e-5)
    with pytest.raises(ValueError, match="dof > 1"):
        student_t_es(0.99, 1.0)


def test_t_moments_with_given_dof_matches_sample_variance() -> None:
    """Moment fit at dof=5: scale s * sqrt(3 / 5) so the t has the sample variance s^2."""
    losses = np.array([0.3, -1.2, 2.2, 0.1, -0.4, 1.7, -2.5, 0.9])
    mean, std = losses.mean(), losses.std(ddof=1)
    fit = fit_student_t(losses, dof=5.0, method="moments")
    assert (fit.dof, fit.loc, fit.scale) == (5.0, mean, pytest.approx(std * math.sqrt(3.0 / 5.0)))
    assert student_t_var(0.99, fit.dof, fit.loc, fit.scale) == pytest.approx(
        mean + fit.scale * 3.3649, abs=1e-3
    )


def test_fit_student_t_moments_recovers_dof_from_kurtosis() -> None:
    """t(10) has excess kurtosis 1; 4 + 6 / K recovers dof 10 from 200k draws (within 1.5)."""
    sample = np.random.default_rng(SEED).standard_t(10, 200_000)
    fit = fit_student_t(sample, method="moments")
    assert fit.method == "moments"
    assert fit.dof == pytest.approx(10.0, abs=1.5)
    assert fit.scale**2 * fit.dof / (fit.dof - 2) == pytest.approx(sample.var(ddof=1))


def test_fit_student_t_moments_light_tails_give_normal() -> None:
    """A uniform sample (excess kurtosis -1.2) is moment-fitted with dof = inf, the normal."""
    uniform = np.random.default_rng(SEED).uniform(-1.0, 1.0, 10_000)
    fit = fit_student_t(uniform, method="moments")
    assert math.isinf(fit.dof)
    assert fit.log_likelihood == pytest.approx(
        float(np.sum(stats.norm.logpdf(uniform, fit.loc, fit.scale)))
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fit_student_t_mle_recovers_t3_expected_shortfall(seed: int) -> None:
    """On 200k t(3) draws the MLE fit gives dof 3 +- 0.1 and ES99 within 2% of 7.0031.

    Measured: ES99 ratios 0.993, 1.005, 0.996 (moments: 0.889, 0.936, 0.893, dof >= 4).
    The dof MLE has s.e. about 0.02 here, so 0.1 is five standard errors.
    """
    sample = np.random.default_rng(seed).standard_t(3, 200_000)
    fit = fit_student_t(sample)
    assert fit.method == "mle"
    assert fit.dof == pytest.approx(3.0, abs=0.1)
    true_es = student_t_es(0.99, 3.0)
    assert expected_shortfall(sample, 0.99, method="t") == pytest.approx(true_es, rel=0.02)
    moments = fit_student_t(sample, method="moments")
    assert student_t_es(0.99, moments.dof, moments.loc, moments.scale) < 0.95 * true_es


def test_fit_student_t_mle_matches_scipy_likelihood_optimum() -> None:
    """The bounded MLE reaches scipy.stats.t.fit's optimum (log-likelihood within 1e-6)."""
    sample = np.random.default_rng(SEED).standard_t(4, 2000) * 2.0 + 1.0
    fit = fit_student_t(sample)
    dof, loc, scale = stats.t.fit(sample)
    assert fit.log_likelihood >= float(np.sum(stats.t.logpdf(sample, dof, loc, scale))) - 1e-6
    assert (fit.dof, fit.loc, fit.scale) == pytest.approx((dof, loc, scale), rel=1e-3)
    assert fit.log_likelihood == pytest.approx(
        float(np.sum(stats.t.logpdf(sample, fit.dof, fit.loc, fit.scale)))
    )


def test_fit_student_t_mle_with_given_dof_holds_it_fixed() -> None:
    """With dof=5 given, loc and scale maximise the likelihood at dof 5 (scipy fix_df)."""
    sample = np.random.default_rng(SEED).standard_t(4, 2000) * 2.0 + 1.0
    fit = fit_student_t(sample, dof=5.0)
    _, loc, scale = stats.t.fit(sample, fix_df=5.0)
    assert fit.dof == 5.0
    assert (fit.loc, fit.scale) == pytest.approx((loc, scale), rel=1e-4)
    assert value_at_risk(sample, 0.99, method="t", dof=5.0) == pytest.approx(
        student_t_var(0.99, 5.0, fit.loc, fit.scale)
    )


def test_fit_student_t_mle_normal_sample_reaches_dof_bound() -> None:
    """Normal data push the dof MLE to its upper bound 1000, where VaR99 is the normal one."""
    sample = np.random.default_rng(SEED).standard_normal(20_000)
    fit = fit_student_t(sample)
    assert fit.dof == 1000.0
    assert value_at_risk(sample, 0.99, method="t") == pytest.approx(
        normal_var(0.99, sample.mean(), sample.std()), rel=1e-3
    )


def test_fit_student_t_rejects_bad_input() -> None:
    """Unknown method, dof outside its range, a constant sample or too few losses fail."""
    with pytest.raises(ValueError, match="unknown Student-t fit method"):
        fit_student_t([1.0, 2.0, 3.0, 4.0], method="em")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dof must lie in"):
        fit_student_t([1.0, 2.0, 3.0, 4.0], dof=0.5)
    with pytest.raises(ValueError, match="dof > 2"):
        fit_student_t([1.0, 2.0, 3.0, 4.0], dof=2.0, method="moments")
    with pytest.raises(ValueError, match="constant sample"):
        fit_student_t([1.0] * 10)
    with pytest.raises(ValueError, match="at least 4"):
        fit_student_t([1.0, 2.0, 3.0])


def _pareto(alpha_tail: float, n: int, seed: int) -> np.ndarray:
    """Exact Pareto(x_m = 1, a) draws by inversion: P(X > x) = x^(-a) for x >= 1."""
    return (1.0 - np.random.default_rng(seed).random(n)) ** (-1.0 / alpha_tail)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fit_pot_recovers_pareto_shape(seed: int) -> None:
    """Excesses of Pareto(a = 4) over any u are GPD(xi = 1/4, beta = u/4): recovered within 0.03.

    20,000 exceedances: the xi MLE has s.e. (1 + xi) / sqrt(k) = 0.009; 0.03 is over 3 s.e.
    """
    fit = fit_pot(_pareto(4.0, 200_000, seed))
    assert fit.n_exceedances == 20_000 and fit.tail_probability == pytest.approx(0.1)
    assert fit.xi == pytest.approx(0.25, abs=0.03)
    assert fit.beta / fit.threshold == pytest.approx(0.25, abs=0.01)


def test_pot_var_es_match_pareto_closed_forms() -> None:
    """Pareto(a = 4): VaR_a = (1 - alpha)^(-1/4), ES = VaR * 4 / 3; POT within 5% at 99.9%.

    Measured ratios over seeds 1-3: VaR 0.997, 0.996, 0.975; ES 0.998, 0.992, 0.962.
    """
    fit = fit_pot(_pareto(4.0, 200_000, 1))
    var = 0.001 ** (-0.25)
    assert pot_var(fit, 0.999) == pytest.approx(var, rel=0.05)
    assert pot_es(fit, 0.999) == pytest.approx(var * 4.0 / 3.0, rel=0.05)


def test_pot_var_is_the_gpd_conditional_quantile() -> None:
    """VaR_alpha = u + GPD quantile at 1 - (1 - alpha) / P(L > u) (scipy.stats.genpareto.isf)."""
    for xi in (-0.2, 0.0, 0.3):
        fit = GPDTailFit(threshold=2.0, xi=xi, beta=0.7, n=1000, n_exceedances=50, log_likelihood=0)
        for alpha in (0.96, 0.99, 0.999):
            expected = 2.0 + stats.genpareto.isf((1.0 - alpha) / 0.05, xi, scale=0.7)
            assert pot_var(fit, alpha) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("xi", [-0.2, 0.0, 0.3, 0.6])
def test_pot_es_is_tail_average_of_gpd_quantiles(xi: float) -> None:
    """pot_es = (1 / (1 - alpha)) * integral_alpha^1 Q(u) du, Q from scipy's genpareto."""
    fit = GPDTailFit(threshold=2.0, xi=xi, beta=0.7, n=1000, n_exceedances=50, log_likelihood=0)
    alpha = 0.99
    # u = 1 - (1 - alpha) e^(-t) maps (alpha, 1) to t in (0, inf) with du / (1 - alpha) = e^(-t) dt
    t = np.linspace(0.0, 120.0, 1_200_001)
    ratio = (1.0 - alpha) / fit.tail_probability
    integrand = (2.0 + stats.genpareto.isf(ratio * np.exp(-t), xi, scale=0.7)) * np.exp(-t)
    integral = float(np.sum((integrand[1:] + integrand[:-1]) * np.diff(t)) / 2.0)
    assert pot_es(fit, alpha) == pytest.approx(integral, rel=1e-6)


def test_fit_pot_exponential_tail_has_zero_shape() -> None:
    """Exponential(mean 2) excesses are GPD(0, 2): xi within 0.03 of 0, VaR99 of -2 log 0.01."""
    sample = np.random.default_rng(SEED).exponential(2.0, 100_000)
    fit = fit_pot(sample)
    assert fit.xi == pytest.approx(0.0, abs=0.03)
    assert pot_var(fit, 0.99) == pytest.approx(-2.0 * math.log(0.01), rel=0.02)


def test_pot_rejects_infinite_es_low_alpha_and_thin_samples() -> None:
    """ES needs xi < 1, alpha must lie in the fitted tail, and 10 exceedances are required."""
    heavy = GPDTailFit(threshold=1.0, xi=1.2, beta=1.0, n=1000, n_exceedances=100, log_likelihood=0)
    with pytest.raises(ValueError, match="no finite expected shortfall"):
        pot_es(heavy, 0.99)
    with pytest.raises(ValueError, match="lies below it"):
        pot_var(heavy, 0.85)
    with pytest.raises(ValueError, match="at least 10 losses above the threshold"):
        fit_pot(np.arange(50.0))


def test_fit_pot_excludes_losses_tied_at_the_threshold() -> None:
    """Lattice losses tied at u (up to 1e-13 float noise) are not exceedances: 15 of 200 are."""
    tied = 0.5 + np.array([0.0, 1e-13, -1e-13] * 5)
    above = 0.5 + np.arange(1, 16) * 0.01
    sample = np.concatenate([np.linspace(-1.0, 0.0, 170), tied, above])
    fit = fit_pot(sample)  # n 200: the 21st largest loss is the threshold, one of the ties
    assert fit.threshold == pytest.approx(0.5, abs=1e-12)
    assert fit.n_exceedances == 15 and fit.tail_probability == pytest.approx(0.075)
    assert fit.xi < 1.0 and fit.beta > 0.01


def test_cornish_fisher_equals_normal_with_zero_skew_and_kurtosis() -> None:
    """With S = K = 0 the Cornish-Fisher quantile and tail mean are the normal ones."""
    for alpha in (0.9, 0.95, 0.99):
        assert cornish_fisher_var(alpha, 1.0, 2.0) == pytest.approx(normal_var(alpha, 1.0, 2.0))
        assert cornish_fisher_es(alpha, 1.0, 2.0) == pytest.approx(normal_es(alpha, 1.0, 2.0))


@pytest.mark.parametrize(("skew", "kurtosis"), [(0.5, 1.0), (-0.3, 2.0), (0.8, 0.0)])
def test_cornish_fisher_es_is_average_of_cf_quantiles(skew: float, kurtosis: float) -> None:
    """CF ES = mean of CF VaR over (alpha, 1), integrated numerically via u = Phi(z)."""
    alpha = 0.975
    c = normal_var(alpha)
    # beyond z = 8 (where Phi rounds to 1) the tail weighs less than 1e-14
    z = np.linspace(c, 8.0, 6001)
    values = [cornish_fisher_var(float(stats.norm.cdf(v)), 0.0, 1.0, skew, kurtosis) for v in z]
    integrand = np.array(values) * stats.norm.pdf(z)
    integral = float(np.sum((integrand[1:] + integrand[:-1]) * np.diff(z)) / 2.0)
    expected = cornish_fisher_es(alpha, 0.0, 1.0, skew, kurtosis)
    assert expected == pytest.approx(integral / (1.0 - alpha), rel=1e-5)


def test_cornish_fisher_method_uses_sample_skew_and_kurtosis() -> None:
    """method='cornish_fisher' feeds sample mean, std, skewness and excess kurtosis."""
    losses = np.random.default_rng(SEED).exponential(1.0, 5000)
    centred = losses - losses.mean()
    m2 = np.mean(centred**2)
    skew = np.mean(centred**3) / m2**1.5
    kurtosis = np.mean(centred**4) / m2**2 - 3.0
    expected = cornish_fisher_var(0.95, losses.mean(), losses.std(ddof=1), skew, kurtosis)
    assert value_at_risk(losses, 0.95, method="cornish_fisher") == pytest.approx(expected)


def test_value_at_risk_rejects_bad_method_alpha_and_losses() -> None:
    """Unknown method, alpha outside (0, 1), empty or NaN losses are ValueErrors."""
    with pytest.raises(ValueError, match="unknown method"):
        value_at_risk([1.0, 2.0], 0.9, method="gaussian")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        expected_shortfall([1.0, 2.0], 1.0)
    with pytest.raises(ValueError, match="non-empty"):
        value_at_risk([], 0.9)
    with pytest.raises(ValueError, match="finite"):
        value_at_risk([1.0, math.nan], 0.9)


def test_all_methods_agree_on_a_large_normal_sample(normal_losses: np.ndarray) -> None:
    """Every estimator is consistent for normal losses: all within 0.03 of the closed form."""
    for method in METHODS:
        assert value_at_risk(normal_losses, 0.99, method=method) == pytest.approx(
            normal_var(0.99), abs=0.03
        )
        assert expected_shortfall(normal_losses, 0.99, method=method) == pytest.approx(
            normal_es(0.99), abs=0.03
        )


def test_losses_from_pnl_sign_convention() -> None:
    """A fall in P&L is a positive loss; windows of horizon_steps do not overlap."""
    pnl = [0.0, 1.0, -2.0, -1.0, 4.0]
    np.testing.assert_array_equal(losses_from_pnl(pnl), [-1.0, 3.0, -1.0, -5.0])
    np.testing.assert_array_equal(losses_from_pnl(pnl, horizon_steps=2), [2.0, -6.0])


def test_max_drawdown_hand_made_series() -> None:
    """Series 0 2 1 3 1 0 2 4 3: deepest fall 3 (peak at 3, trough at 5), back above 3 at 7."""
    drawdown = max_drawdown([0, 2, 1, 3, 1, 0, 2, 4, 3])
    assert drawdown.depth == 3.0
    assert (drawdown.peak_index, drawdown.trough_index) == (3, 5)
    assert (drawdown.recovery_index, drawdown.time_to_recover) == (7, 2)
    assert drawdown.duration == 4
    # underwater spells: 1 -> 3 (2 steps), 3 -> 7 (4 steps), 7 -> end (1 step)
    assert drawdown.longest_underwater == 4


def test_max_drawdown_unrecovered_runs_to_the_end() -> None:
    """A fall never made good: no recovery, duration from the peak to the last point."""
    drawdown = max_drawdown([1.0, 5.0, 5.0, 2.0, 3.0, 1.0, 4.0])
    assert drawdown.depth == 4.0
    assert (drawdown.peak_index, drawdown.trough_index) == (2, 5)
    assert drawdown.recovery_index is None and drawdown.time_to_recover is None
    assert drawdown.duration == 4
    assert drawdown.longest_underwater == 4


def test_max_drawdown_of_rising_series_is_zero() -> None:
    """A non-decreasing series has no drawdown and no time under water."""
    drawdown = max_drawdown([1.0, 1.0, 2.0, 3.0])
    assert drawdown.depth == 0.0
    assert drawdown.duration == 0 and drawdown.longest_underwater == 0
    with pytest.raises(ValueError, match="non-empty, finite"):
        max_drawdown([1.0, math.nan])


def test_ensemble_tail_risk_uses_negated_final_pnls() -> None:
    """Ensemble losses are -pnl: pnls -10..9 give losses -9..10, VaR 8 (18th of 20), ES 9.5."""
    pnls = np.arange(-10.0, 10.0)
    risk = ensemble_tail_risk(pnls, 0.9)
    assert (risk.var, risk.es) == (8.0, pytest.approx(9.5))
    assert risk.n == 20 and risk.worst_loss == 10.0
    assert risk.loss_probability == pytest.approx(0.5)
    assert risk.mean_loss == pytest.approx(0.5)
    assert tail_risk(-pnls, 0.9) == risk


def test_agent_tail_risk_one_row_per_agent() -> None:
    """Per agent: step-ordered pnl, one-step losses, final pnl and max drawdown."""
    agents = pd.DataFrame(
        {
            "step": [1, 0, 2, 0, 1, 2],
            "agent_id": [7, 7, 7, 8, 8, 8],
            "kind": ["market_maker"] * 6,
            "pnl": [-3.0, 0.0, 1.0, 0.0, 2.0, 5.0],
        }
    )
    table = agent_tail_risk(agents, 0.75).set_index("agent_id")
    assert table.loc[7, "pnl_final"] == 1.0 and table.loc[7, "max_drawdown"] == 3.0
    assert table.loc[7, "var"] == 3.0  # pnl 0, -3, 1 in step order: losses 3 and -4
    assert table.loc[8, "max_drawdown"] == 0.0 and table.loc[8, "n"] == 2
