"""Tests for abm.fundamental: moments and closed forms of each fundamental process.

Statistical checks compare an estimate with its exact expectation and allow Z standard errors.
With Z = 4 a correct implementation fails a given check with probability ~6e-5, while the errors
each test targets (missing drift, missing Ito or jump compensator, wrong variance scaling) are
tens of standard errors away. Seeds are fixed, so every outcome is reproducible.
"""

from __future__ import annotations

import math
import re
from typing import Any, get_args

import numpy as np
import pytest

from abm.fundamental import (
    FUNDAMENTALS,
    FundamentalError,
    FundamentalSpec,
    GeometricBrownian,
    MertonSpec,
    build_fundamental,
    make_fundamental,
    markov_transition_matrix,
)

Z = 4.0

RATES_3 = [[-1.0, 0.6, 0.4], [0.5, -1.5, 1.0], [0.2, 0.8, -1.0]]
SIGMAS_3 = [0.5, 1.5, 3.0]

PARAMS: dict[str, dict[str, Any]] = {
    "arithmetic": {"s0": 100.0, "dt": 0.01, "sigma": 2.0, "mu": 0.5},
    "gbm": {"s0": 100.0, "dt": 0.01, "sigma": 0.3, "mu": 0.1},
    "merton": {
        "s0": 100.0,
        "dt": 0.01,
        "sigma": 0.2,
        "jump_intensity": 5.0,
        "jump_mean": -0.05,
        "jump_sd": 0.1,
    },
    "regime_switching": {"s0": 100.0, "dt": 0.01, "sigmas": SIGMAS_3, "transition_rates": RATES_3},
    "heston": {
        "s0": 100.0,
        "dt": 0.01,
        "v0": 0.04,
        "kappa": 2.0,
        "theta": 0.04,
        "xi": 0.3,
        "rho": -0.7,
    },
    "binary": {"low": 99.0, "high": 101.0, "p_high": 0.5},
}


def assert_within_se(estimate: float, expected: float, se: float, slack: float = 0.0) -> None:
    """Assert |estimate - expected| <= Z * se + slack (slack: a known deterministic bias bound)."""
    assert abs(estimate - expected) <= Z * se + slack, (estimate, expected, se)


def mean_se(x: np.ndarray) -> float:
    """Standard error of the sample mean of i.i.d. draws."""
    return float(np.std(x, ddof=1) / math.sqrt(x.size))


def variance_se(x: np.ndarray) -> float:
    """CLT standard error of the sample variance: sd of the squared deviations over sqrt(n)."""
    return mean_se((x - x.mean()) ** 2)


def terminal_values(kind: str, n_paths: int, n_steps: int, seed: int, **params: Any) -> np.ndarray:
    """S_T of n_paths independent paths of one kind that share one generator."""
    rng = np.random.default_rng(seed)
    return np.array(
        [make_fundamental(kind, rng, **params).simulate(n_steps)[-1] for _ in range(n_paths)]
    )


# --- arithmetic Brownian motion -----------------------------------------------------------------


@pytest.fixture(scope="module")
def abm_increments() -> np.ndarray:
    process = make_fundamental("arithmetic", np.random.default_rng(1), **PARAMS["arithmetic"])
    return np.diff(np.r_[process.value, process.simulate(400_000)])


def test_arithmetic_increment_mean_is_mu_dt(abm_increments: np.ndarray) -> None:
    """E[dS] = mu dt for dS = mu dt + sigma dW."""
    assert_within_se(abm_increments.mean(), 0.5 * 0.01, mean_se(abm_increments))


def test_arithmetic_increment_variance_is_sigma2_dt(abm_increments: np.ndarray) -> None:
    """Var[dS] = sigma^2 dt."""
    expected = 2.0**2 * 0.01
    assert_within_se(abm_increments.var(ddof=1), expected, variance_se(abm_increments))


def test_arithmetic_binomial_increments_are_plus_minus_sigma_sqrt_dt() -> None:
    """Binomial steps are exactly mu dt +/- sigma sqrt(dt), each with probability 1/2 (A&S 3.3)."""
    process = make_fundamental(
        "arithmetic",
        np.random.default_rng(2),
        s0=100.0,
        dt=0.04,
        sigma=2.0,
        mu=0.5,
        step_kind="binomial",
    )
    moves = np.diff(np.r_[100.0, process.simulate(20_000)]) - 0.5 * 0.04
    assert np.allclose(np.abs(moves), 2.0 * math.sqrt(0.04), rtol=0.0, atol=1e-9)
    up = (moves > 0).astype(float)
    assert_within_se(up.mean(), 0.5, math.sqrt(0.25 / up.size))


# --- geometric Brownian motion ------------------------------------------------------------------


@pytest.fixture(scope="module")
def gbm_terminal() -> np.ndarray:
    return terminal_values("gbm", 20_000, 10, 3, s0=100.0, dt=0.1, sigma=0.4, mu=0.2)


def test_gbm_terminal_mean_is_s0_exp_mu_t(gbm_terminal: np.ndarray) -> None:
    """E[S_T] = s0 exp(mu T) (log-normal mean; T = 1)."""
    assert_within_se(gbm_terminal.mean(), 100.0 * math.exp(0.2), mean_se(gbm_terminal))


def test_gbm_log_terminal_variance_is_sigma2_t(gbm_terminal: np.ndarray) -> None:
    """Var[log S_T] = sigma^2 T (T = 1)."""
    logs = np.log(gbm_terminal)
    assert_within_se(logs.var(ddof=1), 0.4**2, variance_se(logs))


# --- Merton jump-diffusion ----------------------------------------------------------------------

LAM, M, SD, SIG, DT = 5.0, -0.05, 0.1, 0.2, 0.01
K_BAR = math.expm1(M + SD**2 / 2)


def _jumps(intensity: float) -> dict[str, float]:
    return {"jump_intensity": intensity, "jump_mean": M, "jump_sd": SD}


@pytest.fixture(scope="module")
def merton_path() -> tuple[np.ndarray, np.ndarray]:
    """(log increments, last_jump per step) of one long path."""
    process = make_fundamental(
        "merton",
        np.random.default_rng(4),
        s0=100.0,
        dt=DT,
        sigma=SIG,
        mu=0.05,
        jump_intensity=LAM,
        jump_mean=M,
        jump_sd=SD,
    )
    n = 400_000
    values, jumps = np.empty(n + 1), np.empty(n)
    values[0] = process.value
    for i in range(n):
        values[i + 1] = process.step()
        jumps[i] = process.last_jump
    return np.diff(np.log(values)), jumps


def test_merton_log_increment_mean(merton_path: tuple[np.ndarray, np.ndarray]) -> None:
    """E[d log S] = (mu - sigma^2/2 - lambda k_bar) dt + lambda dt m (Merton 1976 compensator)."""
    increments, _ = merton_path
    expected = (0.05 - SIG**2 / 2 - LAM * K_BAR) * DT + LAM * DT * M
    assert_within_se(increments.mean(), expected, mean_se(increments))


def test_merton_log_increment_variance(merton_path: tuple[np.ndarray, np.ndarray]) -> None:
    """Var[d log S] = sigma^2 dt + lambda dt (jump_sd^2 + jump_mean^2) (compound Poisson)."""
    increments, _ = merton_path
    expected = SIG**2 * DT + LAM * DT * (SD**2 + M**2)
    assert_within_se(increments.var(ddof=1), expected, variance_se(increments))


def test_merton_jump_fraction_is_poisson_probability(
    merton_path: tuple[np.ndarray, np.ndarray],
) -> None:
    """P(at least one jump in a step) = 1 - exp(-lambda dt); reported via last_jump != 0."""
    jumped = (merton_path[1] != 0.0).astype(float)
    p = -math.expm1(-LAM * DT)
    assert_within_se(jumped.mean(), p, math.sqrt(p * (1 - p) / jumped.size))


def test_merton_last_jump_is_the_log_gap() -> None:
    """With sigma = 0, log(S_n+1 / S_n) - last_jump is the constant drift (mu - lambda k_bar) dt."""
    process = make_fundamental(
        "merton", np.random.default_rng(5), s0=50.0, dt=0.1, sigma=0.0, mu=0.03, **_jumps(2.0)
    )
    previous, gaps = process.value, []
    for _ in range(2_000):
        current = process.step()
        gaps.append(math.log(current / previous) - process.last_jump)
        previous = current
    assert np.allclose(gaps, (0.03 - 2.0 * K_BAR) * 0.1, rtol=0.0, atol=1e-12)


def test_merton_jump_sum_is_compound_poisson() -> None:
    """last_jump has mean lambda dt m and variance lambda dt (s^2 + m^2) (compound Poisson sum)."""
    process = make_fundamental(
        "merton",
        np.random.default_rng(12),
        s0=1.0,
        dt=0.1,
        sigma=0.1,
        jump_intensity=20.0,
        jump_mean=0.3,
        jump_sd=0.2,
    )
    jumps = np.empty(50_000)
    for i in range(jumps.size):
        process.step()
        # Keep the level near 1 so that the exponential drift never overflows.
        process.value = 1.0
        jumps[i] = process.last_jump
    rate = 20.0 * 0.1
    assert_within_se(jumps.mean(), rate * 0.3, mean_se(jumps))
    assert_within_se(jumps.var(ddof=1), rate * (0.2**2 + 0.3**2), variance_se(jumps))


def test_merton_terminal_mean_is_s0_exp_mu_t() -> None:
    """E[S_T] = s0 exp(mu T): the jump compensator keeps the drift at mu (T = 1)."""
    terminal = terminal_values(
        "merton", 20_000, 10, 6, s0=100.0, dt=0.1, sigma=0.2, mu=0.1, **_jumps(3.0)
    )
    assert_within_se(terminal.mean(), 100.0 * math.exp(0.1), mean_se(terminal))


# --- regime switching ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regime_path() -> tuple[np.ndarray, np.ndarray]:
    """(regime at the start of each step, increment of that step) of one long path."""
    process = make_fundamental(
        "regime_switching", np.random.default_rng(7), **PARAMS["regime_switching"]
    )
    n = 400_000
    regimes, values = np.empty(n, dtype=int), np.empty(n + 1)
    values[0] = process.value
    for i in range(n):
        regimes[i] = process.regime
        values[i + 1] = process.step()
    return regimes, np.diff(values)


def test_regime_switching_stationary_distribution_solves_balance() -> None:
    """Pi Q = 0 and sum(pi) = 1; two regimes: pi = (b, a) / (a + b) for rates a (0->1), b (1->0)."""
    process = make_fundamental(
        "regime_switching", np.random.default_rng(0), **PARAMS["regime_switching"]
    )
    pi = process.stationary_distribution()
    assert np.allclose(pi @ np.array(RATES_3), 0.0, atol=1e-12)
    assert math.isclose(pi.sum(), 1.0)
    two = make_fundamental(
        "regime_switching",
        np.random.default_rng(0),
        s0=1.0,
        dt=0.1,
        sigmas=[1, 2],
        transition_rates=[[-3, 3], [1, -1]],
    )
    assert np.allclose(two.stationary_distribution(), [0.25, 0.75])


def test_regime_switching_occupation_matches_stationary_distribution(
    regime_path: tuple[np.ndarray, np.ndarray],
) -> None:
    """Long-run fraction of steps per regime -> pi (ergodic theorem; SE by 40 batch means)."""
    regimes, _ = regime_path
    process = make_fundamental(
        "regime_switching", np.random.default_rng(0), **PARAMS["regime_switching"]
    )
    expected = process.stationary_distribution()
    for r in range(3):
        batches = (regimes == r).reshape(40, -1).mean(axis=1)
        assert_within_se(batches.mean(), expected[r], mean_se(batches))


def test_regime_switching_increment_variance_given_regime(
    regime_path: tuple[np.ndarray, np.ndarray],
) -> None:
    """Var[dS | regime r at step start] = sigma_r^2 dt."""
    regimes, increments = regime_path
    for r, sigma in enumerate(SIGMAS_3):
        x = increments[regimes == r]
        assert_within_se(x.var(ddof=1), sigma**2 * 0.01, variance_se(x))


def test_regime_switching_transition_frequencies_match_matrix() -> None:
    """Empirical one-step transition frequencies match expm(Q dt) row by row (binomial SE)."""
    process = make_fundamental(
        "regime_switching",
        np.random.default_rng(8),
        s0=1.0,
        dt=0.5,
        sigmas=SIGMAS_3,
        transition_rates=RATES_3,
    )
    counts = np.zeros((3, 3))
    for _ in range(60_000):
        before = process.regime
        process.step()
        counts[before, process.regime] += 1
    p = process.transition_matrix
    n_row = counts.sum(axis=1, keepdims=True)
    se = np.sqrt(p * (1 - p) / n_row)
    assert np.all(np.abs(counts / n_row - p) <= Z * se)


def test_markov_transition_matrix_rows_sum_to_one() -> None:
    """expm(Q t) is row-stochastic for every t (rows of Q sum to 0)."""
    for t in (0.0, 1e-4, 0.01, 1.0, 37.0):
        p = markov_transition_matrix(RATES_3, t)
        assert np.all(p >= 0.0)
        assert np.allclose(p.sum(axis=1), 1.0, rtol=0.0, atol=1e-13)


def test_markov_transition_matrix_matches_taylor_series_for_small_dt() -> None:
    """For small dt, expm(Q dt) equals the plain Taylor sum of (Q dt)^k / k!."""
    a = np.array(RATES_3) * 0.01
    naive, term = np.eye(3), np.eye(3)
    for k in range(1, 30):
        term = term @ a / k
        naive += term
    assert np.allclose(markov_transition_matrix(RATES_3, 0.01), naive, rtol=0.0, atol=1e-14)


@pytest.mark.parametrize(("a", "b"), [(0.3, 1.7), (2.0, 0.05), (40.0, 25.0)])
def test_markov_transition_matrix_matches_two_state_closed_form(a: float, b: float) -> None:
    """Q = [[-a, a], [b, -b]] has P(t) = [[b + a e, a - a e], [b - b e, a + b e]] / (a + b).

    Here e = exp(-(a + b) t), the closed form of a two-state chain (Norris 1997, section 2.1).
    """
    for t in (0.0, 1e-3, 0.1, 1.0, 10.0):
        e = math.exp(-(a + b) * t)
        closed = np.array([[b + a * e, a - a * e], [b - b * e, a + b * e]]) / (a + b)
        p = markov_transition_matrix([[-a, a], [b, -b]], t)
        assert np.allclose(p, closed, rtol=1e-12, atol=1e-15)


def test_markov_transition_matrix_converges_to_stationary_rows() -> None:
    """For large t every row of expm(Q t) tends to the stationary distribution pi."""
    process = make_fundamental(
        "regime_switching", np.random.default_rng(0), **PARAMS["regime_switching"]
    )
    pi = process.stationary_distribution()
    p = markov_transition_matrix(RATES_3, 200.0)
    assert np.allclose(p, np.tile(pi, (3, 1)), rtol=0.0, atol=1e-10)


# --- Heston ---------------------------------------------------------------------------------------

HESTON = {"s0": 100.0, "dt": 0.01, "v0": 0.09, "kappa": 2.0, "theta": 0.04, "xi": 0.3}


@pytest.fixture(scope="module")
def heston_paths() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(variance at t = 0.5, variance at t = 1, S at t = 1) over 4,000 paths (Feller holds)."""
    rng = np.random.default_rng(9)
    processes = [make_fundamental("heston", rng, rho=-0.7, mu=0.05, **HESTON) for _ in range(4_000)]
    v_half = np.empty(len(processes))
    for n in range(100):
        for p in processes:
            p.step()
        if n == 49:
            v_half[:] = [p.variance for p in processes]
    v_end = np.array([p.variance for p in processes])
    return v_half, v_end, np.array([p.value for p in processes])


@pytest.mark.parametrize("t", [0.5, 1.0])
def test_heston_mean_variance_follows_mean_reversion(
    heston_paths: tuple[np.ndarray, np.ndarray, np.ndarray], t: float
) -> None:
    """E[v_t] = theta + (v0 - theta) exp(-kappa t) (CIR mean; Heston 1993)."""
    v = heston_paths[0] if t == 0.5 else heston_paths[1]
    kappa, theta, v0, dt = HESTON["kappa"], HESTON["theta"], HESTON["v0"], HESTON["dt"]
    # Euler's mean is theta + (v0 - theta)(1 - kappa dt)^n; its gap to the closed form is the bias.
    bias = abs((v0 - theta) * (math.exp(-kappa * t) - (1 - kappa * dt) ** round(t / dt)))
    expected = theta + (v0 - theta) * math.exp(-kappa * t)
    assert_within_se(v.mean(), expected, mean_se(v), slack=bias)


def test_heston_terminal_mean_is_s0_exp_mu_t(
    heston_paths: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """E[S_T] = s0 exp(mu T): given the state, each price step has mean factor exp(mu dt)."""
    terminal = heston_paths[2]
    assert_within_se(terminal.mean(), 100.0 * math.exp(0.05), mean_se(terminal))


def test_heston_shocks_are_standard_normals_with_correlation_rho() -> None:
    """Inverting the Euler step recovers the shocks: unit variances and corr(Z_S, Z_v) = rho."""
    process = make_fundamental("heston", np.random.default_rng(13), rho=-0.7, mu=0.05, **HESTON)
    dt, kappa, theta, xi = HESTON["dt"], HESTON["kappa"], HESTON["theta"], HESTON["xi"]
    z_s, z_v = [], []
    for _ in range(100_000):
        v, s = process.variance, process.value
        process.step()
        if v > 0.0:  # from v <= 0 the step carries no shock to recover
            root = math.sqrt(v * dt)
            z_s.append((math.log(process.value / s) - (0.05 - v / 2) * dt) / root)
            z_v.append((process.variance - v - kappa * (theta - v) * dt) / (xi * root))
    n = len(z_s)
    assert_within_se(float(np.var(z_s, ddof=1)), 1.0, math.sqrt(2 / n))
    assert_within_se(float(np.var(z_v, ddof=1)), 1.0, math.sqrt(2 / n))
    # Asymptotic SE of a sample correlation of bivariate normals: (1 - rho^2) / sqrt(n).
    assert_within_se(np.corrcoef(z_s, z_v)[0, 1], -0.7, (1 - 0.7**2) / math.sqrt(n))


def test_heston_negative_variance_is_truncated() -> None:
    """Full truncation (Lord et al. 2010): from v < 0 the step uses v+ = 0, so no diffusion."""
    process = make_fundamental(
        "heston",
        np.random.default_rng(10),
        s0=100.0,
        dt=0.01,
        v0=0.01,
        kappa=0.5,
        theta=0.01,
        xi=1.0,
        rho=0.3,
        mu=0.02,
    )
    negative_steps = 0
    for _ in range(20_000):
        v, s = process.variance, process.value
        if v < 0.0:
            assert process.volatility == 0.0
        process.step()
        if v < 0.0:
            negative_steps += 1
            assert math.isclose(math.log(process.value / s), 0.02 * 0.01, abs_tol=1e-13)
            assert math.isclose(process.variance, v + 0.5 * 0.01 * 0.01, abs_tol=1e-15)
    assert negative_steps > 100  # Feller is violated (2 kappa theta = 0.01 < xi^2 = 1)


# --- binary value ---------------------------------------------------------------------------------


def test_binary_value_is_constant_over_steps() -> None:
    """The Glosten-Milgrom value is drawn once and never changes."""
    process = make_fundamental(
        "binary", np.random.default_rng(11), low=99.0, high=101.0, p_high=0.5
    )
    initial = process.value
    assert initial in (99.0, 101.0)
    assert np.all(process.simulate(500) == initial)
    assert process.volatility == 0.0


def test_binary_high_frequency_is_p_high() -> None:
    """Over many seeds the value is high with frequency p_high (binomial SE)."""
    draws = [
        make_fundamental("binary", np.random.default_rng(s), low=0.0, high=1.0, p_high=0.3)
        for s in range(10_000)
    ]
    highs = np.array([d.value for d in draws])
    assert_within_se(highs.mean(), 0.3, math.sqrt(0.3 * 0.7 / highs.size))


# --- registry, determinism, validation ------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_make_fundamental_same_seed_gives_identical_path(kind: str) -> None:
    """Same seed and parameters -> bit-identical path (randomness only from the given rng)."""
    a = make_fundamental(kind, np.random.default_rng(123), **PARAMS[kind]).simulate(500)
    b = make_fundamental(kind, np.random.default_rng(123), **PARAMS[kind]).simulate(500)
    assert np.array_equal(a, b)
    if kind != "binary":
        c = make_fundamental(kind, np.random.default_rng(124), **PARAMS[kind]).simulate(500)
        assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", sorted(PARAMS))
def test_make_fundamental_volatility_follows_documented_definition(kind: str) -> None:
    """Volatility is in price units: sigma, sigma S, sqrt(v) S, sigma_regime, or 0."""
    process: Any = make_fundamental(kind, np.random.default_rng(5), **PARAMS[kind])
    process.simulate(50)
    expected = {
        "arithmetic": lambda p: p.sigma,
        "gbm": lambda p: p.sigma * p.value,
        "merton": lambda p: p.sigma * p.value,
        "regime_switching": lambda p: SIGMAS_3[p.regime],
        "heston": lambda p: math.sqrt(max(p.variance, 0.0)) * p.value,
        "binary": lambda p: 0.0,
    }[kind](process)
    assert math.isclose(process.volatility, expected)


def test_simulate_returns_the_new_values() -> None:
    """simulate(n) returns n values, excluding s0, ending at .value."""
    process = make_fundamental("gbm", np.random.default_rng(0), **PARAMS["gbm"])
    path = process.simulate(7)
    assert path.shape == (7,)
    assert path[-1] == process.value
    assert process.simulate(0).shape == (0,)


def test_fundamentals_registry_is_read_only() -> None:
    """FUNDAMENTALS lists the six kinds and cannot be mutated."""
    assert set(FUNDAMENTALS) == set(PARAMS)
    with pytest.raises(TypeError):
        FUNDAMENTALS["other"] = GeometricBrownian  # type: ignore[index]


def test_make_fundamental_unknown_kind_lists_known_kinds() -> None:
    """An unknown kind raises FundamentalError naming every registered kind."""
    with pytest.raises(FundamentalError) as info:
        make_fundamental("ou", np.random.default_rng(0), s0=1.0, dt=1.0)
    assert all(kind in str(info.value) for kind in FUNDAMENTALS)


def _with(kind: str, **changes: Any) -> dict[str, Any]:
    return {**PARAMS[kind], **changes}


INVALID = [
    ("arithmetic", _with("arithmetic", sigma=-1.0), "sigma"),
    ("arithmetic", _with("arithmetic", dt=0.0), "dt"),
    ("arithmetic", _with("arithmetic", s0=math.nan), "s0"),
    ("arithmetic", _with("arithmetic", step_kind="trinomial"), "step_kind"),
    ("arithmetic", _with("arithmetic", sigmaa=1.0), "sigmaa"),
    ("gbm", _with("gbm", s0=0.0), "s0"),
    ("gbm", {"s0": 1.0, "dt": 1.0}, "sigma"),
    ("gbm", _with("gbm", mu="fast"), "mu"),
    ("merton", _with("merton", s0=-5.0), "s0"),
    ("merton", _with("merton", jump_sd=-0.1), "jump_sd"),
    ("merton", _with("merton", jump_intensity=-1.0), "jump_intensity"),
    ("heston", _with("heston", s0=0.0), "s0"),
    ("heston", _with("heston", kappa=-1.0), "kappa"),
    ("heston", _with("heston", theta=-0.01), "theta"),
    ("heston", _with("heston", xi=-0.3), "xi"),
    ("heston", _with("heston", v0=-0.01), "v0"),
    ("heston", _with("heston", rho=1.5), "rho"),
    ("binary", _with("binary", p_high=1.5), "p_high"),
    ("binary", _with("binary", low=101.0), "low"),
    ("regime_switching", _with("regime_switching", sigmas=[1.0, -1.0, 2.0]), "sigmas[1]"),
    ("regime_switching", _with("regime_switching", transition_rates=[[0.0]]), "transition_rates"),
    ("regime_switching", _with("regime_switching", initial_regime=3), "regime"),
    (
        "regime_switching",
        _with("regime_switching", transition_rates=[[1, -0.5, -0.5], [1, -1, 0], [0, 1, -1]]),
        "transition_rates",
    ),
    (
        "regime_switching",
        _with("regime_switching", transition_rates=[[-1, 1, 1], [1, -1, 0], [0, 1, -1]]),
        "transition_rates",
    ),
]


@pytest.mark.parametrize(("kind", "params", "name"), INVALID)
def test_make_fundamental_invalid_parameter_is_named(
    kind: str, params: dict[str, Any], name: str
) -> None:
    """Invalid parameters raise FundamentalError (a ValueError) naming the parameter."""
    with pytest.raises(FundamentalError, match=re.escape(name)):
        make_fundamental(kind, np.random.default_rng(0), **params)
    assert issubclass(FundamentalError, ValueError)


def test_fundamentals_registry_is_built_from_the_schema_specs() -> None:
    """Each fundamental spec of the schema is the spec_type of the process registered for it."""
    specs = {
        get_args(spec.model_fields["kind"].annotation)[0]: spec
        for spec in get_args(get_args(FundamentalSpec)[0])
    }
    assert {kind: cls.spec_type for kind, cls in FUNDAMENTALS.items()} == specs


def test_build_fundamental_matches_make_fundamental() -> None:
    """A process built from a validated spec draws the same path as one built from numbers."""
    spec = MertonSpec(
        kind="merton", s0=100.0, sigma=0.2, jump_intensity=2.0, jump_mean=-0.05, jump_sd=0.1
    )
    built = build_fundamental(spec, np.random.default_rng(5), dt=0.1)
    made = make_fundamental("merton", np.random.default_rng(5), dt=0.1, **spec.params())
    assert np.array_equal(built.simulate(50), made.simulate(50))


@pytest.mark.parametrize("kind", sorted(PARAMS))
@pytest.mark.parametrize("block", [1, 3, 7, 4096])
def test_draw_ahead_gives_the_one_at_a_time_path(kind: str, block: int) -> None:
    """Normals drawn in blocks give the path of one draw a step, bit for bit.

    Reference: the same process from the same seed drawing one variate at a time (numpy's
    ``standard_normal(n)`` reads the bit generator as ``n`` single calls do). Odd blocks make
    Heston's two normals a step straddle a block; a value assigned mid-path (a shock's gap)
    is continued from in both. Kinds that read other variates ignore the block.
    """
    one = make_fundamental(kind, np.random.default_rng(21), **PARAMS[kind])
    ahead = make_fundamental(kind, np.random.default_rng(21), **PARAMS[kind])
    ahead.draw_ahead(block)
    first = one.simulate(250), ahead.simulate(250)
    one.value = ahead.value = 97.5
    second = one.simulate(250), ahead.simulate(250)
    assert first[0].tobytes() == first[1].tobytes()
    assert second[0].tobytes() == second[1].tobytes()
    if kind == "heston":
        assert one.variance == ahead.variance  # type: ignore[attr-defined]


@pytest.mark.parametrize("block", [0, -3, 2.5, True, "8"])
def test_draw_ahead_rejects_a_bad_block(block: Any) -> None:
    """A block that is not an integer >= 1 is a typed error naming the parameter."""
    process = make_fundamental("gbm", np.random.default_rng(0), **PARAMS["gbm"])
    with pytest.raises(FundamentalError, match="block"):
        process.draw_ahead(block)
