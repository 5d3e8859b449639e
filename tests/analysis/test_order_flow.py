"""Tests for analysis.order_flow: trade signs, imbalance, and the Hawkes fit and simulator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.order_flow import (
    IMBALANCE_COLUMNS,
    HawkesFit,
    fit_hawkes,
    hawkes_compensator,
    hawkes_log_likelihood,
    order_flow_imbalance_series,
    sign_autocorrelation,
    simulate_hawkes,
    time_rescaling_ks,
    trade_signs,
)
from analysis.stylized_facts import confidence_band

MU, N, BETA, HORIZON = 0.5, 0.6, 2.0, 20_000.0


def _tape() -> pd.DataFrame:
    """A hand-made trades table in the RunResult schema (DESIGN.md section 7)."""
    return pd.DataFrame(
        {
            "step": [0, 0, 1, 3, 4, 4],
            "time": [0.0, 0.0, 1.0, 3.0, 4.0, 4.0],
            "price": [100.01, 100.01, 99.99, 100.0, 100.02, 99.98],
            "qty": [2, 3, 4, 1, 5, 5],
            "aggressor": pd.array(["buy", "buy", "sell", "sell", "buy", "sell"], dtype="string"),
            "buyer": [1, 2, 3, 4, 5, 6],
            "seller": [7, 7, 8, 8, 9, 9],
            "venue": pd.array(["book"] * 6, dtype="string"),
        }
    )


def _naive_log_likelihood(times: np.ndarray, mu: float, n: float, beta: float, T: float) -> float:
    """The Hawkes log-likelihood by its O(N^2) definition, as a reference."""
    total = 0.0
    for i, t in enumerate(times):
        total += math.log(mu + n * beta * float(np.sum(np.exp(-beta * (t - times[:i])))))
    return total - mu * T - n * float(np.sum(1.0 - np.exp(-beta * (T - times))))


def _poisson_fit(mu: float, n_events: int) -> HawkesFit:
    """A Hawkes "fit" with no excitation: the Poisson model of rate ``mu``."""
    nan = math.nan
    return HawkesFit(mu, 0.0, BETA, nan, nan, nan, nan, n_events, HORIZON, converged=True)


@pytest.fixture(scope="module")
def hawkes_times() -> np.ndarray:
    return simulate_hawkes(MU, N, BETA, HORIZON, np.random.default_rng(11))


@pytest.fixture(scope="module")
def hawkes_fit(hawkes_times: np.ndarray) -> HawkesFit:
    return fit_hawkes(hawkes_times, T=HORIZON)


def test_trade_signs_hand_made_tape() -> None:
    """Buyer-initiated trades are +1 and seller-initiated -1, in row (tape) order."""
    np.testing.assert_array_equal(trade_signs(_tape()), [1, 1, -1, -1, 1, -1])


def test_trade_signs_rejects_unknown_aggressor() -> None:
    """An aggressor other than 'buy'/'sell' is an error, not a silently dropped trade."""
    tape = _tape().assign(aggressor=["buy", "sell", "bid", "buy", "buy", "sell"])
    with pytest.raises(ValueError, match="bid"):
        trade_signs(tape)


def test_sign_autocorrelation_iid_within_band() -> None:
    """I.i.d. signs: at most 3 of 20 lags leave the 95% band (P(Bin(20, .05) > 3) = 1.6%)."""
    rng = np.random.default_rng(12)
    signs = rng.choice(np.array([-1, 1]), 10_000)
    acf = sign_autocorrelation(signs, 20)
    assert acf[0] == pytest.approx(1.0)
    assert np.sum(np.abs(acf[1:]) > confidence_band(signs.size)) <= 3


def test_sign_autocorrelation_detects_order_splitting() -> None:
    """Pareto(1.5) metaorder lengths give long memory (Lillo, Mike, Farmer 2005): lags 1-20 > band.

    Over 200 seeds every lag from 1 to 20 exceeded the upper band.
    """
    rng = np.random.default_rng(13)
    lengths = np.ceil(rng.pareto(1.5, 20_000) + 1.0).astype(int)
    signs = np.repeat(rng.choice(np.array([-1, 1]), lengths.size), lengths)[:20_000]
    acf = sign_autocorrelation(signs, 20)
    assert np.all(acf[1:] > confidence_band(signs.size))


def test_sign_autocorrelation_rejects_non_signs() -> None:
    """Only +1/-1 are trade signs."""
    with pytest.raises(ValueError, match="signs"):
        sign_autocorrelation([1, 0, -1, 1], 1)


def test_order_flow_imbalance_hand_computed() -> None:
    """2-step windows of the hand tape: B=5,S=4 | S=1 | B=5,S=5, imbalance 1/9, -1, 0."""
    table = order_flow_imbalance_series(_tape(), 2)
    assert list(table.columns) == list(IMBALANCE_COLUMNS)
    assert table["start_step"].tolist() == [0, 2, 4]
    assert table["n_trades"].tolist() == [3, 1, 2]
    assert table["signed_volume"].tolist() == [1.0, -1.0, 0.0]
    np.testing.assert_allclose(table["imbalance"], [1 / 9, -1.0, 0.0])


def test_order_flow_imbalance_empty_windows_are_nan() -> None:
    """n_steps=9 in 3-step windows gives 3 windows; windows without trades have NaN imbalance."""
    table = order_flow_imbalance_series(_tape().iloc[:3], 3, n_steps=9)
    assert table["n_trades"].tolist() == [3, 0, 0]
    assert table["buy_volume"].tolist() == [5.0, 0.0, 0.0]
    assert table["imbalance"].isna().tolist() == [False, True, True]


def test_hawkes_log_likelihood_matches_naive_sum() -> None:
    """The O(N) recursive likelihood equals the O(N^2) definition (Ozaki 1979)."""
    times = simulate_hawkes(MU, N, BETA, 300.0, np.random.default_rng(14))
    fast = hawkes_log_likelihood(times, MU, N, BETA, 300.0)
    assert fast == pytest.approx(_naive_log_likelihood(times, MU, N, BETA, 300.0), rel=1e-10)


def test_hawkes_log_likelihood_rejects_ties() -> None:
    """Tied event times (trades of one step) are refused: the likelihood is unbounded there."""
    with pytest.raises(ValueError, match="strictly increasing"):
        hawkes_log_likelihood([1.0, 2.0, 2.0, 3.0], MU, N, BETA, 4.0)


def test_simulate_hawkes_mean_rate(hawkes_times: np.ndarray) -> None:
    """Event count over T matches the stationary rate mu/(1-n)=1.25 within 5% (SE ~1.5%)."""
    assert hawkes_times.size / HORIZON == pytest.approx(MU / (1.0 - N), rel=0.05)
    assert np.all(np.diff(hawkes_times) > 0)
    assert hawkes_times[0] >= 0.0 and hawkes_times[-1] < HORIZON


def test_simulate_hawkes_is_deterministic_given_seed() -> None:
    """The simulator draws only from the Generator passed in."""
    first = simulate_hawkes(MU, N, BETA, 500.0, np.random.default_rng(15))
    second = simulate_hawkes(MU, N, BETA, 500.0, np.random.default_rng(15))
    np.testing.assert_array_equal(first, second)


def test_simulate_hawkes_rejects_explosive_branching() -> None:
    """N >= 1 has no stationary regime and is refused."""
    with pytest.raises(ValueError, match="n < 1"):
        simulate_hawkes(MU, 1.0, BETA, 10.0, np.random.default_rng(16))


def test_fit_hawkes_recovers_parameters(hawkes_fit: HawkesFit) -> None:
    """mu, n within 10% and beta within 15% of the truth, and within 4 standard errors.

    At T=20000 (about 25000 events) the SEs are about 1.6% (mu), 1.1% (n) and 2% (beta) of the
    values, so the percentage tolerances are 6 SE or more; over 30 seeds |z| stayed below 2.3.
    """
    fit = hawkes_fit
    assert fit.converged
    assert fit.mu == pytest.approx(MU, rel=0.10)
    assert fit.branching_ratio == pytest.approx(N, rel=0.10)
    assert fit.beta == pytest.approx(BETA, rel=0.15)
    assert abs(fit.mu - MU) < 4 * fit.mu_se
    assert abs(fit.branching_ratio - N) < 4 * fit.branching_ratio_se
    assert abs(fit.beta - BETA) < 4 * fit.beta_se


def test_fit_hawkes_poisson_has_small_branching_ratio() -> None:
    """A Poisson process (rate 1, T=20000) fits n near 0: below 0.2 (30 seeds stayed below 0.15)."""
    rng = np.random.default_rng(17)
    times = np.cumsum(rng.exponential(1.0, 24_000))
    times = times[times < HORIZON]
    assert fit_hawkes(times, T=HORIZON).branching_ratio < 0.2


def test_time_rescaling_of_correct_fit_is_exponential(
    hawkes_times: np.ndarray, hawkes_fit: HawkesFit
) -> None:
    """Time-rescaling theorem: compensator increments are Exp(1); KS does not reject at 1%."""
    statistic, p_value = time_rescaling_ks(hawkes_times, hawkes_fit)
    assert statistic < 1.63 / math.sqrt(hawkes_times.size)
    assert p_value > 0.01


def test_time_rescaling_rejects_poisson_model_of_hawkes_data(hawkes_times: np.ndarray) -> None:
    """A Poisson model (n=0) of clustered data leaves non-exponential rescaled times: KS rejects."""
    poisson = _poisson_fit(hawkes_times.size / HORIZON, hawkes_times.size)
    assert time_rescaling_ks(hawkes_times, poisson)[1] < 1e-6


def test_time_rescaling_one_event_matches_exact_ks_distribution() -> None:
    """One event at t, Poisson rate mu: D = max(F, 1 - F) with F = 1 - e^(-mu t), p = 2 (1 - D)."""
    for t in (0.1, 0.7, 2.0, 5.0):
        cdf = 1.0 - math.exp(-2.0 * t)
        statistic, p_value = time_rescaling_ks(np.array([t]), _poisson_fit(2.0, 1))
        assert statistic == pytest.approx(max(cdf, 1.0 - cdf), rel=1e-12)
        assert p_value == pytest.approx(2.0 * (1.0 - statistic), rel=1e-9)


def test_fit_hawkes_is_a_local_maximum(hawkes_times: np.ndarray, hawkes_fit: HawkesFit) -> None:
    """The fitted log-likelihood beats the true parameters' and every 0.1%-step away from it."""
    fit = hawkes_fit
    best = hawkes_log_likelihood(hawkes_times, fit.mu, fit.branching_ratio, fit.beta, HORIZON)
    assert best == pytest.approx(fit.log_likelihood, rel=1e-12)
    assert best >= hawkes_log_likelihood(hawkes_times, MU, N, BETA, HORIZON)
    for axis in range(3):
        for factor in (0.999, 1.001):
            moved = [fit.mu, fit.branching_ratio, fit.beta]
            moved[axis] *= factor
            assert hawkes_log_likelihood(hawkes_times, *moved, HORIZON) < best


def test_hawkes_compensator_of_poisson_is_linear() -> None:
    """With n=0 the compensator is mu * t at every event."""
    times = np.array([0.5, 1.0, 4.0])
    np.testing.assert_allclose(hawkes_compensator(times, 2.0, 0.0, 1.0), 2.0 * times)


def test_hawkes_fit_stationary_rate(hawkes_fit: HawkesFit) -> None:
    """The fitted stationary rate mu/(1-n) matches the observed event rate within 5%."""
    rate = hawkes_fit.n_events / hawkes_fit.T
    assert hawkes_fit.stationary_rate == pytest.approx(rate, rel=0.05)
