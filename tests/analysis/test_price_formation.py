"""Tests for analysis.price_formation: Kyle lambda, Amihud, order-flow imbalance, variance ratio."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _helpers import market_table, trades_table

from analysis.price_formation import (
    InsufficientDataError,
    amihud_illiquidity,
    depth_ofi,
    interval_flow,
    kyle_lambda,
    newey_west_lags,
    ofi_regression,
    ols,
    order_flow_imbalance,
    touch_from_depth,
    variance_ratio,
)

SEED = 20260101


def _market(mid: list[float]) -> pd.DataFrame:
    """A market table with the given end-of-step mids and a one-tick spread."""
    return market_table(mid, spread=0.01)


def _trades(rows: list[tuple[int, float, int, str]], venue: str = "book") -> pd.DataFrame:
    """A trades table from (step, price, qty, aggressor) rows."""
    return trades_table([(*row, venue) for row in rows])


def test_ols_recovers_exact_line() -> None:
    """Noise-free y = 2 + 3x: slope 3, intercept 2, R^2 1, standard error 0."""
    x = np.array([0.0, 1.0, 2.0, 5.0, math.nan])
    fit = ols(x, 2.0 + 3.0 * x)
    assert (fit.slope, fit.intercept, fit.n) == (pytest.approx(3.0), pytest.approx(2.0), 4)
    assert fit.r_squared == pytest.approx(1.0) and fit.slope_se == pytest.approx(0.0, abs=1e-12)


def test_ols_rejects_too_few_points_and_constant_regressor() -> None:
    """Fewer than 3 pairs or a constant x cannot identify a slope with a standard error."""
    with pytest.raises(InsufficientDataError, match="at least 3"):
        ols([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(InsufficientDataError, match="no variation"):
        ols([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])


def test_ols_hac_standard_error_hand_computed() -> None:
    """Hand case: x 0..3, residuals (1, -1, -1, 1), HAC(1) variance (5 - 1.75) / Sxx^2 = 3.25/25."""
    fit = ols([0.0, 1.0, 2.0, 3.0], [3.0, 4.0, 7.0, 12.0], hac_lags=1)
    assert (fit.slope, fit.intercept, fit.hac_lags) == (pytest.approx(3.0), pytest.approx(2.0), 1)
    assert fit.slope_se == pytest.approx(math.sqrt(2.0 / 5.0))  # s^2 = RSS / (n - 2) = 4 / 2
    assert fit.slope_hac_se == pytest.approx(math.sqrt(3.25 / 25.0))
    assert fit.slope_hac_t == pytest.approx(3.0 / math.sqrt(0.13))
    white = ols([0.0, 1.0, 2.0, 3.0], [3.0, 4.0, 7.0, 12.0], hac_lags=0)
    assert white.slope_hac_se == pytest.approx(math.sqrt(5.0 / 25.0))  # HC0: sum g^2 / Sxx^2


def test_ols_hac_matches_statsmodels() -> None:
    """HAC error, t and p equal statsmodels OLS cov_type="HAC" (Bartlett, no correction)."""
    import statsmodels.api as sm  # a dev dependency: the reference implementation

    rng = np.random.default_rng(SEED)
    flow = np.zeros(600)
    for t in range(1, flow.size):
        flow[t] = 0.6 * flow[t - 1] + rng.normal()
    dm = 0.3 * flow + rng.normal(size=flow.size) * (1.0 + np.abs(flow))
    for lags in (0, 3, newey_west_lags(flow.size)):
        fit = kyle_lambda(dm, flow, hac_lags=lags)
        ref = sm.OLS(dm, sm.add_constant(flow)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
        assert fit.slope == pytest.approx(ref.params[1], rel=1e-12)
        assert fit.slope_hac_se == pytest.approx(ref.bse[1], rel=1e-10)
        assert fit.slope_hac_t == pytest.approx(ref.tvalues[1], rel=1e-10)
        assert fit.slope_hac_p_value == pytest.approx(ref.pvalues[1], rel=1e-8)


def test_newey_west_lags_rule_of_thumb() -> None:
    """floor(4 (n/100)^(2/9)): 4 at n = 100, 8 at n = 2,400 (8.09), 3 at n = 50, the default."""
    assert [newey_west_lags(n) for n in (50, 100, 2400)] == [3, 4, 8]
    assert ols(np.arange(100.0), np.sin(np.arange(100.0))).hac_lags == 4


def test_ols_rejects_hac_lags_out_of_range() -> None:
    """A negative lag or one not below the number of pairs is an error naming hac_lags."""
    with pytest.raises(ValueError, match="hac_lags"):
        ols([0.0, 1.0, 2.0], [1.0, 0.0, 2.0], hac_lags=-1)
    with pytest.raises(ValueError, match="hac_lags"):
        ofi_regression([0.0, 1.0, 2.0], [1.0, 0.0, 2.0], hac_lags=3)


def test_kyle_lambda_hac_error_matches_spread_under_autocorrelation() -> None:
    """AR(0.7) flow and errors: HAC SE tracks the estimates' spread (±15%); OLS SE is too small."""
    rng = np.random.default_rng(SEED)
    slopes, hac, plain = [], [], []
    for _ in range(300):
        shocks = rng.normal(size=(2, 400))
        flow, noise = np.zeros(400), np.zeros(400)
        for t in range(1, 400):
            flow[t] = 0.7 * flow[t - 1] + shocks[0, t]
            noise[t] = 0.7 * noise[t - 1] + shocks[1, t]
        fit = kyle_lambda(0.01 * flow + 0.05 * noise, flow, hac_lags=12)
        slopes.append(fit.slope)
        hac.append(fit.slope_hac_se)
        plain.append(fit.slope_se)
    spread = np.std(slopes, ddof=1)
    assert np.mean(hac) == pytest.approx(spread, rel=0.15)
    # OLS variance understates by about (1 + 0.49) / (1 - 0.49), the AR(1) x AR(1) factor
    assert np.mean(plain) < 0.7 * spread


def test_kyle_lambda_recovers_known_slope_within_standard_error() -> None:
    """Data dm = 0.002 * flow + noise: the estimate is within 3 SE of 0.002, SE as in theory."""
    rng = np.random.default_rng(SEED)
    flow = rng.integers(-50, 51, 5000).astype(float)
    dm = 0.002 * flow + rng.normal(0.0, 0.02, flow.size)
    fit = kyle_lambda(dm, flow)
    assert abs(fit.slope - 0.002) < 3.0 * fit.slope_se
    # OLS standard error: sigma / sqrt(n Var(flow)), Var of a uniform on -50..50 = 850
    assert fit.slope_se == pytest.approx(0.02 / math.sqrt(5000 * 850.0), rel=0.05)


def test_kyle_lambda_standard_error_matches_sampling_spread() -> None:
    """Across 300 replicates, the spread of the estimates equals the mean reported SE (±15%)."""
    rng = np.random.default_rng(SEED)
    slopes, errors = [], []
    for _ in range(300):
        flow = rng.normal(0.0, 10.0, 200)
        fit = kyle_lambda(0.01 * flow + rng.normal(0.0, 0.05, flow.size), flow)
        slopes.append(fit.slope)
        errors.append(fit.slope_se)
    assert np.std(slopes, ddof=1) == pytest.approx(np.mean(errors), rel=0.15)


def test_interval_flow_aggregates_hand_made_tables() -> None:
    """Blocks of 2 steps: end mids, their changes, signed/total/dollar volume per block."""
    market = _market([100.0, 100.1, 100.2, 100.0, 100.4, 100.5, 100.6])
    trades = _trades([(1, 100.1, 2, "buy"), (2, 100.2, 3, "sell"), (3, 100.0, 1, "sell")])
    flow = interval_flow(market, trades, interval_steps=2)
    np.testing.assert_array_equal(flow["step"], [1, 3, 5])  # step 6 is an incomplete block
    np.testing.assert_allclose(flow["mid_change"], [math.nan, -0.1, 0.5], atol=1e-12)
    np.testing.assert_allclose(flow["log_return"][1:], np.log([100.0 / 100.1, 100.5 / 100.0]))
    np.testing.assert_array_equal(flow["signed_flow"], [2.0, -4.0, 0.0])
    np.testing.assert_array_equal(flow["volume"], [2.0, 4.0, 0.0])
    np.testing.assert_allclose(flow["dollar_volume"], [200.2, 400.6, 0.0])


def test_interval_flow_skips_other_venues() -> None:
    """Interdealer trades are not book order flow and are left out by default."""
    market = _market([100.0, 100.1, 100.2])
    trades = _trades([(1, 100.1, 2, "buy")], venue="interdealer")
    assert interval_flow(market, trades)["volume"].sum() == 0.0
    assert interval_flow(market, trades, venue=None)["volume"].sum() == 2.0


def test_amihud_illiquidity_hand_computed() -> None:
    """Mean of |r| / dollar volume over intervals with volume: (0.01/100 + 0.03/300) / 2."""
    returns = [math.nan, 0.01, -0.03, 0.5]
    volume = [50.0, 100.0, 300.0, 0.0]
    assert amihud_illiquidity(returns, volume) == pytest.approx((1e-4 + 1e-4) / 2)
    with pytest.raises(InsufficientDataError, match="volume"):
        amihud_illiquidity([0.1, 0.2], [0.0, 0.0])


def test_order_flow_imbalance_hand_computed_cks_sequence() -> None:
    """CKS e_n by hand: bid queue +2; bid up (+3) and ask queue -2 (+2); both down (-3, -1)."""
    bid = [10.0, 10.0, 10.5, 10.0]
    bid_qty = [5, 7, 3, 6]
    ask = [11.0, 11.0, 11.0, 10.5]
    ask_qty = [4, 4, 2, 1]
    np.testing.assert_array_equal(order_flow_imbalance(bid, bid_qty, ask, ask_qty), [2, 5, -4])


def test_order_flow_imbalance_nan_when_a_touch_is_missing() -> None:
    """An empty side has no touch price; its two transitions have no e_n."""
    ofi = order_flow_imbalance([10.0, math.nan, 10.0], [1, 0, 1], [11.0, 11.0, 11.0], [1, 1, 1])
    assert np.isnan(ofi).all()


def _depth_rows(rows: list[tuple[int, str, int, float, int]]) -> pd.DataFrame:
    step, side, level, price, qty = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "step": np.asarray(step, dtype=np.int64),
            "side": pd.array(side, dtype="string"),
            "level": np.asarray(level, dtype=np.int64),
            "price": np.asarray(price, dtype=float),
            "qty": np.asarray(qty, dtype=np.int64),
        }
    )


def test_touch_from_depth_and_depth_ofi_use_level_one_rows() -> None:
    """The depth table's level-1 rows give the touch; OFI and mid change per snapshot pair."""
    depth = _depth_rows(
        [
            (0, "bid", 1, 10.0, 5),
            (0, "bid", 2, 9.5, 50),
            (0, "ask", 1, 11.0, 4),
            (5, "bid", 1, 10.0, 7),
            (5, "ask", 1, 11.0, 4),
            (10, "ask", 1, 11.0, 2),
            (10, "bid", 1, 10.5, 3),
            (15, "ask", 2, 12.0, 9),
        ]
    )
    touch = touch_from_depth(depth)
    np.testing.assert_array_equal(touch["step"], [0, 5, 10, 15])
    np.testing.assert_array_equal(touch["bid_qty"], [5, 7, 3, 0])
    assert math.isnan(touch["best_bid"].iloc[3])
    frame = depth_ofi(depth)
    np.testing.assert_array_equal(frame["step"], [5, 10, 15])
    np.testing.assert_array_equal(frame["ofi"][:2], [2.0, 5.0])
    np.testing.assert_allclose(frame["mid_change"][:2], [0.0, 0.25])
    assert math.isnan(frame["ofi"].iloc[2])


def test_ofi_regression_recovers_linear_impact() -> None:
    """Data dP = 0.01 * OFI + noise with signal variance 9x noise: beta 0.01, R^2 near 0.9."""
    rng = np.random.default_rng(SEED)
    ofi = rng.normal(0.0, 30.0, 4000)
    fit = ofi_regression(ofi, 0.01 * ofi + rng.normal(0.0, 0.1, ofi.size))
    assert abs(fit.slope - 0.01) < 3.0 * fit.slope_se
    assert fit.r_squared == pytest.approx(0.9, abs=0.02)


def test_variance_ratio_near_one_for_random_walk() -> None:
    """An iid Gaussian random walk has VR(q) = 1; z stays within N(0, 1) range."""
    rng = np.random.default_rng(SEED)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, 20_000)))
    for q in (2, 5, 10):
        result = variance_ratio(prices, q)
        assert result.ratio == pytest.approx(1.0, abs=0.05)
        assert abs(result.z) < 3.5
        assert result.n_returns == 19_999


def test_variance_ratio_of_ar1_returns_is_one_plus_phi() -> None:
    """AR(1) returns with phi = 0.3: VR(2) = 1 + phi, and the test rejects the random walk."""
    rng = np.random.default_rng(SEED)
    noise = rng.normal(0.0, 1e-3, 20_000)
    returns = np.empty_like(noise)
    returns[0] = noise[0]
    for t in range(1, noise.size):
        returns[t] = 0.3 * returns[t - 1] + noise[t]
    prices = 100.0 * np.exp(np.concatenate(([0.0], np.cumsum(returns))))
    result = variance_ratio(prices, 2)
    assert result.ratio == pytest.approx(1.3, abs=0.03)
    assert result.z > 10 and result.p_value < 1e-6
    assert variance_ratio(prices, 10).ratio > 1.5


def test_variance_ratio_rejects_short_or_non_finite_series() -> None:
    """A q < 2, NaN prices and fewer than 2q returns are errors with a fix in the message."""
    with pytest.raises(ValueError, match="q must be >= 2"):
        variance_ratio([1.0, 2.0, 3.0], 1)
    with pytest.raises(ValueError, match="drop steps"):
        variance_ratio([1.0, math.nan, 3.0, 4.0, 5.0], 2)
    with pytest.raises(InsufficientDataError, match="at least 4 returns"):
        variance_ratio([1.0, 2.0, 3.0], 2)


def test_variance_ratio_matches_arch() -> None:
    """VR, z and robust z* equal arch.unitroot.VarianceRatio (overlapping, debiased)."""
    from arch import unitroot  # a dev dependency: the reference implementation

    rng = np.random.default_rng(SEED)
    log_prices = np.cumsum(rng.standard_t(4, 1500) * 0.01)
    for q in (2, 5, 10):
        ours = variance_ratio(np.exp(log_prices), q)
        robust = unitroot.VarianceRatio(log_prices, lags=q, robust=True)
        plain = unitroot.VarianceRatio(log_prices, lags=q, robust=False)
        assert ours.ratio == pytest.approx(robust.vr, rel=1e-12)
        assert ours.z_robust == pytest.approx(robust.stat, rel=1e-10)
        assert ours.p_value_robust == pytest.approx(robust.pvalue, rel=1e-8)
        assert ours.z == pytest.approx(plain.stat, rel=1e-10)


def test_variance_ratio_robust_z_closed_form_for_constant_magnitude_returns() -> None:
    """Returns mu +- a (balanced signs): delta(j) = (T - j) / T, so theta has a closed form."""
    rng = np.random.default_rng(SEED)
    signs = rng.permutation(np.repeat([1.0, -1.0], 500))
    prices = 50.0 + np.concatenate(([0.0], np.cumsum(0.01 + 0.2 * signs)))
    t = signs.size
    for q in (2, 5):
        result = variance_ratio(prices, q, log=False)
        theta = sum((2.0 * (q - j) / q) ** 2 * (t - j) / t for j in range(1, q))
        expected = math.sqrt(t) * (result.ratio - 1.0) / math.sqrt(theta)
        assert result.z_robust == pytest.approx(expected, rel=1e-12)


def _garch_returns(n_paths: int, n: int, seed: int) -> np.ndarray:
    """Uncorrelated GARCH(1,1) returns, alpha 0.15, beta 0.80 (finite kurtosis), 500 burn-in."""
    omega, alpha, beta, burn = 1e-6, 0.15, 0.80, 500
    shocks = np.random.default_rng(seed).standard_normal((n_paths, n + burn))
    variance = np.full(n_paths, omega / (1.0 - alpha - beta))
    returns = np.empty_like(shocks)
    for t in range(n + burn):
        returns[:, t] = np.sqrt(variance) * shocks[:, t]
        variance = omega + alpha * returns[:, t] ** 2 + beta * variance
    return returns[:, burn:]


def _rejection_rates(returns: np.ndarray, q: int) -> tuple[float, float]:
    """Share of paths where z and z* reject a random walk at 5%."""
    results = [
        variance_ratio(np.exp(np.concatenate(([0.0], np.cumsum(path)))), q) for path in returns
    ]
    return (
        float(np.mean([r.p_value < 0.05 for r in results])),
        float(np.mean([r.p_value_robust < 0.05 for r in results])),
    )


def test_variance_ratio_robust_z_keeps_size_on_garch_returns() -> None:
    """400 GARCH paths, VR(2): z* rejects 5% +- 3 binomial SE; z rejects more than that."""
    n_paths = 400
    tolerance = 3.0 * math.sqrt(0.05 * 0.95 / n_paths)
    z_rate, robust_rate = _rejection_rates(_garch_returns(n_paths, 1000, SEED), 2)
    assert abs(robust_rate - 0.05) < tolerance
    assert z_rate > 0.05 + tolerance


@pytest.mark.slow
def test_variance_ratio_robust_z_size_study_on_garch_returns() -> None:
    """1,000 GARCH paths of 2,000 returns, q = 2, 5, 10: z* at 5% +- 3 SE, z over-rejects."""
    n_paths = 1000
    tolerance = 3.0 * math.sqrt(0.05 * 0.95 / n_paths)
    returns = _garch_returns(n_paths, 2000, SEED + 1)
    for q in (2, 5, 10):
        z_rate, robust_rate = _rejection_rates(returns, q)
        assert abs(robust_rate - 0.05) < tolerance, (q, robust_rate)
        assert z_rate > 0.05 + tolerance, (q, z_rate)
