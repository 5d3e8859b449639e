"""Stylized facts of asset returns (Cont 2001) measured on a price series, and a scorecard.

Cont, R. (2001), "Empirical properties of asset returns: stylized facts and statistical
issues", Quantitative Finance 1, 223-236, lists the properties that any realistic market model
should reproduce. This module measures four of them on one price series (normally the ``mid``
column of the ``market`` table, one row per step) with numpy, and scipy for the chi-square
tail:

* absence of linear autocorrelation of returns (beyond the first, microstructure-driven lags),
  by a portmanteau test that stays valid under volatility clustering (`robust_box_pierce`);
* heavy tails (positive excess kurtosis; a Hill tail index between 2 and 5);
* volatility clustering (slowly decaying positive autocorrelation of absolute returns);
* aggregational Gaussianity (the trend of kurtosis over sampling intervals falls towards 0).

Sampling. Returns are log returns over non-overlapping windows of ``interval_steps`` steps,
sampled in calendar (step) time, as Cont does. A simulated mid that did not move in a window
gives a return of exactly 0; such zeros are kept. They matter, and the scorecard reports their
share: a point mass at zero raises the sample kurtosis (a tick-discrete, often-flat mid can look
heavy-tailed for that reason alone), and it dilutes autocorrelations. Sampling only at windows
where the price changed (event time) would remove the zeros but measure a different clock, which
is not what the stylized facts refer to. Zeros carry no information about the tail, so the Hill
estimator uses the non-zero absolute returns only.

Missing prices. A NaN price (a step where one side of the book was empty, or step 0) makes the
returns that touch it NaN. They are not forward-filled, which would invent zero returns; the
scorecard drops them and counts them in its notes, which joins the segments either side of a gap
(harmless when gaps are few). The lower-level functions raise on non-finite input instead.

All functions are pure; inputs are never modified.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

KURTOSIS_THRESHOLD = 1.0
"""Excess kurtosis of 1-step returns above which tails count as heavy (see `scorecard`)."""
TAIL_INDEX_RANGE = (2.0, 5.0)
"""Open interval for the Hill tail index that Cont (2001) reports for most data sets."""
SIGNIFICANCE = 0.01
"""Level of the portmanteau tests in `scorecard`."""
MIN_RETURNS_PER_INTERVAL = 100
"""Fewest returns a sampling interval needs to enter the aggregational-Gaussianity trend."""
HILL_TAIL_FRACTION = 0.05
"""Default share of the largest non-zero absolute values used by `hill_tail_index`."""
Z_95 = 1.96
"""Two-sided 95% standard normal quantile, for autocorrelation bands."""

SCORECARD_COLUMNS = ("fact", "statistic", "value", "threshold", "passed", "note")


@dataclass(frozen=True, slots=True)
class LjungBox:
    """The result of a portmanteau test (`ljung_box` or `robust_box_pierce`).

    Attributes:
        statistic: The Q statistic.
        df: Degrees of freedom of its chi-square null distribution (number of lags summed).
        p_value: Probability that a chi-square(df) variable exceeds ``statistic``.
    """

    statistic: float
    df: int
    p_value: float


@dataclass(frozen=True, slots=True)
class KurtosisTrend:
    """The trend of excess kurtosis over sampling intervals (see `kurtosis_trend`).

    Attributes:
        slope: Change of excess kurtosis per unit of ``log(interval)``.
        ratio: Fitted kurtosis at the longest used interval over that at the shortest.
        table: `kurtosis_by_interval` for every interval asked for, shortest first.
        used: Number of intervals that entered the fit.
    """

    slope: float
    ratio: float
    table: pd.DataFrame
    used: int


def log_returns(
    prices: Sequence[float] | np.ndarray | pd.Series, interval_steps: int = 1
) -> np.ndarray:
    """Log returns over consecutive non-overlapping windows of ``interval_steps`` steps.

    ``r_j = log p[(j + 1) h] - log p[j h]`` for ``h = interval_steps``, starting at the first row;
    rows after the last complete window are unused. The input is read as one price per step
    (a pandas index is ignored).

    Args:
        prices: Prices in price units; NaN marks a missing price and gives NaN returns.
        interval_steps: Window length in steps, at least 1.

    Returns:
        A float array of ``(len(prices) - 1) // interval_steps`` returns.

    Raises:
        ValueError: If ``interval_steps < 1``, ``prices`` is not one-dimensional, or a price is
            zero, negative or infinite.
    """
    if interval_steps < 1:
        raise ValueError(f"interval_steps must be at least 1, got {interval_steps}")
    values = np.asarray(prices, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"prices must be one-dimensional, got shape {values.shape}")
    present = values[~np.isnan(values)]
    if np.any(present <= 0) or np.any(np.isinf(present)):
        raise ValueError("prices must be positive and finite (NaN is allowed for missing prices)")
    return np.diff(np.log(values[::interval_steps]))


def excess_kurtosis(values: Sequence[float] | np.ndarray) -> float:
    """Sample excess kurtosis ``m4 / m2**2 - 3`` with central moments ``m_k`` (divisor n).

    The moment estimator is biased downward in small samples; its standard error for Gaussian
    data is about ``sqrt(24 / n)``. It is 0 for a normal law and ``6 / (nu - 4)`` for Student's t
    with ``nu > 4`` degrees of freedom.

    Args:
        values: Finite observations.

    Returns:
        The excess kurtosis, or NaN if there are fewer than 2 values or they are all equal.

    Raises:
        ValueError: If a value is not finite.
    """
    x = _finite_1d(values, "values")
    if x.size < 2:
        return math.nan
    deviations = x - x.mean()
    m2 = float(np.mean(deviations**2))
    if m2 == 0.0:
        return math.nan
    return float(np.mean(deviations**4)) / m2**2 - 3.0


def kurtosis_by_interval(
    prices: Sequence[float] | np.ndarray | pd.Series, intervals: Sequence[int] = (1, 5, 20, 50)
) -> pd.DataFrame:
    """Excess kurtosis of log returns against the sampling interval (aggregational Gaussianity).

    Args:
        prices: One price per step, as for `log_returns`.
        intervals: Sampling intervals in steps.

    Returns:
        One row per interval with columns ``interval_steps``, ``n_returns`` (finite returns
        used), ``excess_kurtosis`` (NaN if undefined) and ``zero_fraction`` (share of returns
        exactly 0).

    Raises:
        ValueError: As `log_returns`.
    """
    rows = []
    for interval in intervals:
        returns = log_returns(prices, interval)
        returns = returns[np.isfinite(returns)]
        rows.append(
            {
                "interval_steps": int(interval),
                "n_returns": int(returns.size),
                "excess_kurtosis": excess_kurtosis(returns),
                "zero_fraction": float(np.mean(returns == 0)) if returns.size else math.nan,
            }
        )
    return pd.DataFrame(
        rows, columns=["interval_steps", "n_returns", "excess_kurtosis", "zero_fraction"]
    )


def hill_tail_index(
    values: Sequence[float] | np.ndarray,
    k: int | None = None,
    *,
    tail_fraction: float = HILL_TAIL_FRACTION,
) -> float:
    """Hill (1975) estimator of the tail index of ``|values|``.

    With the non-zero absolute values sorted in decreasing order ``x_(1) >= x_(2) >= ...``,
    ``alpha_hat = k / sum_{i=1..k} log(x_(i) / x_(k+1))``. For a Pareto tail
    ``P(X > x) ~ x**-alpha`` it is consistent, with standard error about ``alpha / sqrt(k)``.
    The choice of k trades bias (k too large reaches into the body) against variance (k too
    small); the default, the top 5% of the sample, is a common rule of thumb for a few thousand
    observations. Tick-discrete returns produce ties among the order statistics; ties with
    ``x_(k+1)`` add zero terms, which biases the estimate upward, so read it as indicative on
    coarse price grids.

    Args:
        values: Finite observations; only ``|values| > 0`` are used (zeros carry no tail data).
        k: Number of upper order statistics; if None, ``floor(tail_fraction * m)`` with ``m`` the
            number of non-zero values, at least 1.
        tail_fraction: Share of the non-zero values used when ``k`` is None, in (0, 1).

    Returns:
        The tail index estimate, or NaN if fewer than 2 non-zero values exist or the top ``k + 1``
        are all equal.

    Raises:
        ValueError: If a value is not finite, ``k < 1``, or ``tail_fraction`` is outside (0, 1).
    """
    if not 0.0 < tail_fraction < 1.0:
        raise ValueError(f"tail_fraction must be in (0, 1), got {tail_fraction}")
    magnitudes = np.abs(_finite_1d(values, "values"))
    magnitudes = magnitudes[magnitudes > 0]
    if magnitudes.size < 2:
        return math.nan
    if k is None:
        k = max(1, int(tail_fraction * magnitudes.size))
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    k = min(k, magnitudes.size - 1)
    top = -np.sort(-magnitudes)[: k + 1]
    total = float(np.sum(np.log(top[:k] / top[k])))
    return k / total if total > 0 else math.nan


def autocorrelation(values: Sequence[float] | np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation function at lags ``0..max_lag`` (Box and Jenkins estimator).

    ``rho_k = sum_t (x_t - xbar)(x_{t+k} - xbar) / sum_t (x_t - xbar)**2``, so ``rho_0 = 1``.

    Args:
        values: Finite observations in time order.
        max_lag: Largest lag, at least 1 and less than the number of values.

    Returns:
        Array of length ``max_lag + 1``; all NaN if the values are constant.

    Raises:
        ValueError: If a value is not finite or ``max_lag`` is out of range.
    """
    x = _finite_1d(values, "values")
    if not 1 <= max_lag < x.size:
        raise ValueError(f"max_lag must be in [1, {x.size - 1}] for {x.size} values, got {max_lag}")
    deviations = x - x.mean()
    denominator = float(deviations @ deviations)
    if denominator == 0.0:
        return np.full(max_lag + 1, math.nan)
    lags = [float(deviations[: x.size - lag] @ deviations[lag:]) for lag in range(max_lag + 1)]
    return np.asarray(lags) / denominator


def confidence_band(n: int) -> float:
    """Half-width ``1.96 / sqrt(n)`` of the 95% band of a sample ACF of i.i.d. data (Bartlett)."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return Z_95 / math.sqrt(n)


def acf_table(returns: Sequence[float] | np.ndarray, max_lag: int = 20) -> pd.DataFrame:
    """ACF of returns and of absolute returns at lags ``1..max_lag``, with the 95% i.i.d. band.

    Args:
        returns: Finite returns in time order.
        max_lag: Largest lag.

    Returns:
        Columns ``lag``, ``acf_returns``, ``acf_abs_returns``, ``band`` (half-width
        ``1.96 / sqrt(n)``; values outside ``[-band, band]`` are significant at 5%).

    Raises:
        ValueError: As `autocorrelation`.
    """
    x = _finite_1d(returns, "returns")
    return pd.DataFrame(
        {
            "lag": np.arange(1, max_lag + 1),
            "acf_returns": autocorrelation(x, max_lag)[1:],
            "acf_abs_returns": autocorrelation(np.abs(x), max_lag)[1:],
            "band": confidence_band(x.size),
        }
    )


def ljung_box(
    values: Sequence[float] | np.ndarray, max_lag: int, *, first_lag: int = 1
) -> LjungBox:
    """Ljung and Box (1978) portmanteau test of no autocorrelation at lags ``first_lag..max_lag``.

    ``Q = n (n + 2) sum_{k=first_lag..max_lag} rho_k**2 / (n - k)``, chi-square with
    ``max_lag - first_lag + 1`` degrees of freedom under i.i.d. data. Starting above lag 1 skips
    lags dominated by microstructure (bid-ask bounce); under the null each ``sqrt(n) rho_k`` is
    asymptotically an independent standard normal, so any subset of lags is chi-square. With
    conditionally heteroskedastic but uncorrelated returns (GARCH) the null distribution is wider
    than chi-square and the test over-rejects (on GARCH(1,1) returns, alpha + beta = 0.99, it
    rejected at 1% in about a quarter of seeds); `robust_box_pierce` is the test for such data.

    Args:
        values: Finite observations in time order.
        max_lag: Last lag included.
        first_lag: First lag included, in ``[1, max_lag]``.

    Returns:
        The statistic, its degrees of freedom and the p-value (NaN if the values are constant).

    Raises:
        ValueError: If a value is not finite or the lags are out of range.
    """
    _check_lags(first_lag, max_lag)
    x = _finite_1d(values, "values")
    rho = autocorrelation(x, max_lag)
    lags = np.arange(first_lag, max_lag + 1)
    n = x.size
    statistic = float(n * (n + 2) * np.sum(rho[lags] ** 2 / (n - lags)))
    df = int(lags.size)
    return LjungBox(statistic=statistic, df=df, p_value=_chi2_p_value(statistic, df))


def _check_lags(first_lag: int, max_lag: int) -> None:
    if not 1 <= first_lag <= max_lag:
        raise ValueError(
            f"need 1 <= first_lag <= max_lag, got first_lag={first_lag}, max_lag={max_lag}"
        )


def robust_box_pierce(
    values: Sequence[float] | np.ndarray, max_lag: int, *, first_lag: int = 1
) -> LjungBox:
    """Modified Box-Pierce test Q* of Lobato, Nankervis and Savin (2001), robust to clustering.

    Lobato, I., Nankervis, J. C. and Savin, N. E. (2001), "Testing for autocorrelation using a
    modified Box-Pierce Q test", International Economic Review 42(1), 187-205. With the
    deviations ``x_t`` of the values from their mean,

        ``Q* = n * sum_{k=first_lag..max_lag} gamma_k**2 / tau_k``,
        ``gamma_k = (1/n) sum_t x_t x_{t-k}``,  ``tau_k = (1/n) sum_t x_t**2 x_{t-k}**2``,

    chi-square with ``max_lag - first_lag + 1`` degrees of freedom when the values are
    uncorrelated, whether or not they are independent. Why it holds where Ljung-Box does not:
    for a martingale difference (uncorrelated, with a conditional variance that moves, as in
    GARCH) ``sqrt(n) gamma_k`` is asymptotically normal with variance ``E[x_t**2 x_{t-k}**2]``,
    not ``sigma**4``; volatility clustering makes the former larger (it is ``sigma**4`` plus
    the lag-k autocovariance of ``x_t**2``, Diebold 1986), so Ljung-Box, which divides by
    ``sigma**4``, over-rejects. Q* divides each squared autocovariance by its own estimated
    variance ``tau_k`` instead. It takes the autocorrelations as asymptotically uncorrelated
    across lags, true for symmetric GARCH-type returns (Lobato et al. 2002, Econometric Theory
    18, extend the test to a full covariance matrix for other kinds of dependence). Each term
    ``n gamma_k**2 / tau_k = (sum_t x_t x_{t-k})**2 / sum_t x_t**2 x_{t-k}**2`` is the
    heteroskedasticity-robust (White) Lagrange-multiplier statistic for the slope of a regression
    of ``x_t`` on ``x_{t-k}``, so the divisor n cancels; sums run over the ``n - k`` available
    pairs. The test needs finite fourth moments of the values.

    Args:
        values: Finite observations in time order.
        max_lag: Last lag included; less than the number of values.
        first_lag: First lag included, in ``[1, max_lag]``.

    Returns:
        The statistic, its degrees of freedom and the p-value (NaN if some ``tau_k`` is 0, for
        instance when the values are constant).

    Raises:
        ValueError: If a value is not finite or the lags are out of range.
    """
    _check_lags(first_lag, max_lag)
    x = _finite_1d(values, "values")
    if max_lag >= x.size:
        raise ValueError(f"max_lag must be below the {x.size} values, got {max_lag}")
    deviations = x - x.mean()
    df = max_lag - first_lag + 1
    statistic = 0.0
    for lag in range(first_lag, max_lag + 1):
        products = deviations[lag:] * deviations[:-lag]
        variance = float(products @ products)
        if variance == 0.0:
            return LjungBox(statistic=math.nan, df=df, p_value=math.nan)
        statistic += float(np.sum(products)) ** 2 / variance
    return LjungBox(statistic=statistic, df=df, p_value=_chi2_p_value(statistic, df))


def kurtosis_trend(
    prices: Sequence[float] | np.ndarray | pd.Series,
    intervals: Sequence[int],
    *,
    min_returns: int = MIN_RETURNS_PER_INTERVAL,
) -> KurtosisTrend:
    """Weighted least-squares trend of excess kurtosis against the log of the sampling interval.

    Over the intervals with at least ``min_returns`` finite returns, fits
    ``kurtosis_h = a + b log(h)`` with weights proportional to the number of returns ``n_h``:
    the kurtosis of ``n_h`` Gaussian returns has sampling variance about ``24 / n_h``, so the
    long intervals, with few returns, count least. The trend's ratio is the fitted kurtosis at
    the longest used interval over that at the shortest.

    Args:
        prices: One price per step, as for `log_returns`.
        intervals: Sampling intervals in steps.
        min_returns: Fewest finite returns an interval needs to be used.

    Returns:
        The fit and the table it used (see `KurtosisTrend`); slope and ratio are NaN with fewer
        than three usable intervals with a defined kurtosis, and the ratio is NaN when the fitted
        kurtosis at the shortest interval is not positive.

    Raises:
        ValueError: As `log_returns`.
    """
    table = kurtosis_by_interval(prices, intervals).sort_values("interval_steps")
    used = table[(table["n_returns"] >= min_returns) & table["excess_kurtosis"].notna()]
    slope = ratio = math.nan
    if len(used) >= 3:
        log_h = np.log(used["interval_steps"].to_numpy(dtype=float))
        kurtosis = used["excess_kurtosis"].to_numpy(dtype=float)
        weights = used["n_returns"].to_numpy(dtype=float)
        centre = np.average(log_h, weights=weights)
        slope = float(
            np.sum(weights * (log_h - centre) * kurtosis) / np.sum(weights * (log_h - centre) ** 2)
        )
        at_centre = float(np.average(kurtosis, weights=weights))
        fitted_short = at_centre + slope * (log_h[0] - centre)
        fitted_long = at_centre + slope * (log_h[-1] - centre)
        ratio = fitted_long / fitted_short if fitted_short > 0 else math.nan
    return KurtosisTrend(
        slope=slope, ratio=ratio, table=table.reset_index(drop=True), used=len(used)
    )


def scorecard(
    prices: Sequence[float] | np.ndarray | pd.Series,
    *,
    intervals: Sequence[int] = (1, 5, 20, 50),
    significance: float = SIGNIFICANCE,
    return_lags: tuple[int, int] = (5, 20),
    abs_return_lags: int = 20,
    clustering_lags: int = 10,
    clustering_min_share: float = 0.8,
    kurtosis_threshold: float = KURTOSIS_THRESHOLD,
    tail_index_range: tuple[float, float] = TAIL_INDEX_RANGE,
    tail_fraction: float = HILL_TAIL_FRACTION,
    gaussianity_ratio: float = 0.5,
    min_returns_per_interval: int = MIN_RETURNS_PER_INTERVAL,
) -> pd.DataFrame:
    """Test four stylized facts of Cont (2001) on one price series; one row per fact.

    Returns are those of `log_returns` at the shortest interval in ``intervals`` (normally 1
    step) unless stated; missing returns are dropped (see the module docstring). ``value`` and
    ``threshold`` hold the primary criterion; a fact with a second criterion passes only if both
    hold, and ``note`` gives the second one's numbers, the sample size and the share of zero
    returns. A statistic that cannot be computed (too few or constant returns) is NaN and its fact
    fails, with the reason in ``note``. The defaults, and why:

    * ``absence_of_autocorrelation``: p-value of the modified Box-Pierce test Q* of Lobato,
      Nankervis and Savin (2001) on returns over lags ``return_lags = (5, 20)``; passes if
      ``p >= significance`` (1%). Cont notes that autocorrelations are insignificant except at
      the shortest scales, where microstructure (bid-ask bounce, quote updating) dominates, hence
      the skipped first lags. Returns with volatility clustering, the third fact, are uncorrelated
      but not independent; the plain Ljung-Box test assumes independence and over-rejects on them
      (a quarter of uncorrelated GARCH(1,1) series at 1%), while Q* keeps its level (see
      `robust_box_pierce`). The note gives the Ljung-Box p-value too, for comparison.
    * ``heavy_tails``: excess kurtosis of 1-step returns above ``kurtosis_threshold = 1`` and a
      Hill tail index (top ``tail_fraction = 5%`` of non-zero ``|returns|``) inside
      ``tail_index_range = (2, 5)``. A Gaussian sample's kurtosis has standard error about
      ``sqrt(24 / n)`` (0.07 at n = 5000), so 1 is far outside Gaussian noise for n above a few
      hundred, while empirical intraday kurtosis is far above 1. Cont (2001) reports tail indices
      between 2 and 5 for most data sets: above 2 (finite variance), not Gaussian-thin.
    * ``volatility_clustering``: Ljung-Box p-value of ``|returns|`` over lags
      ``1..abs_return_lags`` (20) below ``significance``, and the ACF of ``|returns|`` above the
      upper 95% band at no fewer than ``clustering_min_share = 80%`` of lags
      ``1..clustering_lags`` (10): positive and persistent, not one significant lag (i.i.d. data
      exceed the one-sided band at a lag with probability 2.5%). Here the null is i.i.d. returns,
      which is what Ljung-Box assumes, so the plain test is the right one.
    * ``aggregational_gaussianity``: the trend of excess kurtosis over all ``intervals`` with at
      least ``min_returns_per_interval = 100`` returns (`kurtosis_trend`: weighted least squares
      against ``log(interval)``, weights the number of returns), as the ratio of its fitted value
      at the longest used interval to that at the shortest, below ``gaussianity_ratio = 0.5``.
      It also needs the observed shortest-interval kurtosis above ``kurtosis_threshold`` (with
      no excess kurtosis to lose there is nothing to test, so the fact fails rather than passing
      vacuously) and at least three usable intervals. A trend over all intervals, weighted by
      their sample sizes, is less at the mercy of the longest interval, whose few returns give a
      kurtosis with standard error at least ``sqrt(24 / count)``, than a ratio of two endpoints;
      the note lists each interval's kurtosis and count.

    Args:
        prices: One price per step (e.g. ``market["mid"]``); NaN for missing prices.
        intervals: Sampling intervals in steps, for aggregational Gaussianity; at least two.
        significance: Level of the three portmanteau tests.
        return_lags: First and last lag of the returns' robust Box-Pierce test.
        abs_return_lags: Last lag of the absolute returns' Ljung-Box test.
        clustering_lags: Lags ``1..clustering_lags`` whose ACF of ``|returns|`` is checked.
        clustering_min_share: Share of those lags that must exceed the upper band.
        kurtosis_threshold: Minimum excess kurtosis for heavy tails.
        tail_index_range: Open interval for the Hill tail index.
        tail_fraction: Hill estimator's share of the non-zero absolute returns.
        gaussianity_ratio: Maximum ratio of the kurtosis trend's fitted values, longest to
            shortest used interval.
        min_returns_per_interval: Fewest returns an interval needs to enter the kurtosis trend.

    Returns:
        A DataFrame with columns `SCORECARD_COLUMNS` and rows ``absence_of_autocorrelation``,
        ``heavy_tails``, ``volatility_clustering``, ``aggregational_gaussianity``.

    Raises:
        ValueError: If fewer than two intervals are given or the prices are invalid (as
            `log_returns`).
    """
    if len(intervals) < 2:
        raise ValueError(f"intervals needs at least two sampling intervals, got {intervals!r}")
    shortest = min(intervals)
    raw = log_returns(prices, shortest)
    returns = raw[np.isfinite(raw)]
    n = returns.size
    sample = f"n={n} returns at {shortest} step(s), {raw.size - n} missing dropped"
    if n:
        sample += f", {np.mean(returns == 0):.1%} exactly zero"
    rows = []

    first, last = return_lags
    robust = _or_nan(robust_box_pierce, returns, last, first)
    plain = _or_nan(ljung_box, returns, last, first)
    rows.append(
        (
            "absence_of_autocorrelation",
            f"robust Box-Pierce Q* p-value of returns (Lobato, Nankervis and Savin 2001), "
            f"lags {first}-{last} (pass if >= threshold)",
            robust.p_value,
            significance,
            bool(robust.p_value >= significance),
            f"Q*={robust.statistic:.4g}, df={robust.df}; plain Ljung-Box (assumes constant "
            f"variance) Q={plain.statistic:.4g}, p={plain.p_value:.3g}; {sample}",
        )
    )

    kurtosis = excess_kurtosis(returns)
    hill = hill_tail_index(returns, tail_fraction=tail_fraction) if n else math.nan
    low, high = tail_index_range
    rows.append(
        (
            "heavy_tails",
            f"excess kurtosis of returns (pass if > threshold, Hill index in ({low:g}, {high:g}))",
            kurtosis,
            kurtosis_threshold,
            bool(kurtosis > kurtosis_threshold and low < hill < high),
            f"Hill tail index={hill:.4g} (top {tail_fraction:.0%} of non-zero |returns|); {sample}",
        )
    )

    lb_abs = _or_nan(ljung_box, np.abs(returns), abs_return_lags, 1)
    share = math.nan
    if n > clustering_lags:
        acf_abs = autocorrelation(np.abs(returns), clustering_lags)[1:]
        share = (
            float(np.mean(acf_abs > confidence_band(n))) if np.isfinite(acf_abs).all() else math.nan
        )
    rows.append(
        (
            "volatility_clustering",
            f"Ljung-Box p-value of |returns|, lags 1-{abs_return_lags} (pass if < threshold)",
            lb_abs.p_value,
            significance,
            bool(lb_abs.p_value < significance and share >= clustering_min_share),
            f"ACF of |returns| above the 95% band at {share:.0%} of lags 1-{clustering_lags} "
            f"(need {clustering_min_share:.0%}); {sample}",
        )
    )

    trend = kurtosis_trend(prices, intervals, min_returns=min_returns_per_interval)
    k_short = float(trend.table["excess_kurtosis"].iloc[0])
    ratio = trend.ratio if k_short > kurtosis_threshold else math.nan
    by_interval = ", ".join(
        f"{row.excess_kurtosis:.3g} at {row.interval_steps} (n={row.n_returns})"
        for row in trend.table.itertuples(index=False)
    )
    rows.append(
        (
            "aggregational_gaussianity",
            f"ratio of the kurtosis trend's fitted values, longest to shortest interval with "
            f">= {min_returns_per_interval} returns (pass if < threshold)",
            ratio,
            gaussianity_ratio,
            bool(ratio < gaussianity_ratio),
            f"excess kurtosis by interval in steps: {by_interval}; {trend.used} intervals used "
            f"(need 3), slope {trend.slope:.3g} per unit log(interval); the shortest interval's "
            f"kurtosis must exceed {kurtosis_threshold:g}",
        )
    )
    return pd.DataFrame(rows, columns=list(SCORECARD_COLUMNS))


def _or_nan(
    test: Callable[..., LjungBox], values: np.ndarray, max_lag: int, first_lag: int
) -> LjungBox:
    """``test(values, max_lag, first_lag=...)``, or all NaN when the sample is too short."""
    if values.size <= max_lag:
        return LjungBox(statistic=math.nan, df=max_lag - first_lag + 1, p_value=math.nan)
    return test(values, max_lag, first_lag=first_lag)


def _finite_1d(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    """``values`` as a one-dimensional float array, rejecting NaN and infinities."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} must be finite; drop missing values first (x[np.isfinite(x)])")
    return x


def _chi2_p_value(statistic: float, df: int) -> float:
    """``P(chi-square(df) > statistic)`` by scipy, or NaN for a NaN statistic."""
    return float(stats.chi2.sf(statistic, df)) if math.isfinite(statistic) else math.nan
