"""Price formation: how order flow moves the mid, and how close the mid is to a random walk.

Kyle's lambda and Amihud illiquidity over step intervals of the ``market`` and ``trades`` tables
(DESIGN.md section 7), the order-flow imbalance of Cont, Kukanov & Stoikov (2014) over touch
prices and quantities (arrays, or the level-1 rows of the optional ``depth`` table), and the
Lo-MacKinlay (1988) variance ratio. Pure functions over DataFrames and arrays; the model is never
imported. Timing: ``market`` rows are end-of-step states, and trades recorded at step ``s``
happened during step ``s``, so they belong to the mid change from step ``s - 1`` to ``s``.
Prices are in price units, quantities in lots; ``aggressor "buy"`` is buyer-initiated flow.

Inference: order flow and mid changes are heteroskedastic and serially dependent (volatility
clustering, split orders), so the regressions report Newey-West (1987) HAC standard errors
beside the homoskedastic OLS ones, and the variance ratio reports Lo & MacKinlay's
heteroskedasticity-robust ``z*`` beside the iid ``z``. Test with the robust ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from abm.errors import AbmError


class InsufficientDataError(AbmError, ValueError):
    """The data cannot support the requested measure (too few observations, no variation)."""


@dataclass(frozen=True, slots=True)
class Regression:
    """Ordinary least squares ``y = intercept + slope * x + e``, with OLS and HAC standard errors.

    Attributes:
        slope: The OLS slope (units of y per unit of x).
        slope_se: Its homoskedastic standard error, ``sqrt(s^2 / Sxx)`` with
            ``s^2 = RSS / (n - 2)``; valid only for uncorrelated errors of constant variance.
        intercept: The OLS intercept.
        r_squared: Coefficient of determination, ``1 - RSS / TSS``.
        n: Observations used (pairs with both values finite).
        slope_hac_se: Newey-West (1987) heteroskedasticity- and autocorrelation-consistent
            standard error of the slope: Bartlett weights ``1 - l / (L + 1)`` up to ``hac_lags``
            lags, no small-sample correction (statsmodels' ``cov_type="HAC"`` default). The one
            to use for inference on market data.
        slope_hac_t: ``slope / slope_hac_se``, asymptotically N(0, 1) under a zero slope.
        slope_hac_p_value: Two-sided normal p-value of ``slope_hac_t``.
        hac_lags: The lag truncation ``L`` used for the HAC error.
    """

    slope: float
    slope_se: float
    intercept: float
    r_squared: float
    n: int
    slope_hac_se: float
    slope_hac_t: float
    slope_hac_p_value: float
    hac_lags: int


def newey_west_lags(n: int) -> int:
    """Default HAC lag truncation ``floor(4 (n / 100)^(2/9))`` for ``n`` observations.

    The rule of thumb of Newey & West (1994) for the Bartlett kernel (8 lags at n = 2,400).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))


def ols(x: Any, y: Any, *, hac_lags: int | None = None) -> Regression:
    """Regress ``y`` on ``x`` with an intercept; pairs where either value is NaN are dropped.

    The HAC error treats the kept pairs as consecutive observations, so drop gaps in a time
    series only where they are rare.

    Args:
        x: Regressor.
        y: Response, the same length as ``x``.
        hac_lags: Newey-West lag truncation ``L``; None uses `newey_west_lags` of the number of
            pairs kept. ``0`` gives White's (1980) heteroskedasticity-robust error.

    Raises:
        ValueError: If ``x`` and ``y`` differ in shape, or ``hac_lags`` is negative or not below
            the number of pairs kept.
        InsufficientDataError: If fewer than 3 finite pairs remain or ``x`` has no variation.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = x.size
    if n < 3:
        raise InsufficientDataError(f"OLS needs at least 3 finite (x, y) pairs, got {n}")
    lags = newey_west_lags(n) if hac_lags is None else hac_lags
    if not 0 <= lags < n:
        raise ValueError(f"hac_lags must be in [0, {n - 1}] for {n} observations, got {lags}")
    dx, dy = x - x.mean(), y - y.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        raise InsufficientDataError("OLS regressor has no variation; the slope is not identified")
    slope = float(dx @ dy) / sxx
    residuals = dy - slope * dx
    rss, tss = float(residuals @ residuals), float(dy @ dy)
    r_squared = 1.0 - rss / tss if tss > 0 else math.nan
    se = math.sqrt(rss / (n - 2) / sxx)
    hac_se = math.sqrt(_bartlett_long_run_variance(dx * residuals, lags)) / sxx
    hac_t = slope / hac_se if hac_se > 0.0 else math.nan  # an exact fit has no t statistic
    hac_p = _two_sided_p(hac_t)
    return Regression(
        slope, se, float(y.mean() - slope * x.mean()), r_squared, n, hac_se, hac_t, hac_p, lags
    )


def _bartlett_long_run_variance(scores: np.ndarray, lags: int) -> float:
    """``sum_t g_t^2 + 2 sum_{l=1}^{L} (1 - l / (L + 1)) sum_t g_t g_{t-l}`` (not divided by n).

    For the slope of a regression with an intercept, ``g_t = (x_t - xbar) e_t`` and the HAC
    variance of the slope is this over ``Sxx^2`` (the slope row of the sandwich
    ``(X'X)^-1 S (X'X)^-1``, by Frisch-Waugh-Lovell). Newey & West (1987): the Bartlett weights
    keep the estimate non-negative.
    """
    total = float(scores @ scores)
    for lag in range(1, lags + 1):
        total += 2.0 * (1.0 - lag / (lags + 1.0)) * float(scores[lag:] @ scores[:-lag])
    return max(total, 0.0)


# --- order-flow imbalance (touch) --------------------------------------------------------------


def touch_from_depth(depth: pd.DataFrame) -> pd.DataFrame:
    """Level-1 rows of a ``depth`` table as one row per snapshot step.

    ``depth`` has columns ``step, side ("bid"/"ask"), level (1 = touch), price, qty``. Returns
    columns ``step, best_bid, bid_qty, best_ask, ask_qty``, sorted by step; a side missing from a
    snapshot (empty side) has NaN price and zero quantity.
    """
    top = depth[depth["level"] == 1]
    wide = {}
    for side in ("bid", "ask"):
        rows = top[top["side"] == side]
        wide[side] = pd.DataFrame(
            {"price": rows["price"].to_numpy(float), "qty": rows["qty"].to_numpy(float)},
            index=rows["step"].to_numpy(),
        )
    steps = np.unique(depth["step"].to_numpy())
    bid, ask = wide["bid"].reindex(steps), wide["ask"].reindex(steps)
    return pd.DataFrame(
        {
            "step": steps,
            "best_bid": bid["price"].to_numpy(),
            "bid_qty": bid["qty"].fillna(0.0).to_numpy(),
            "best_ask": ask["price"].to_numpy(),
            "ask_qty": ask["qty"].fillna(0.0).to_numpy(),
        }
    )


def order_flow_imbalance(best_bid: Any, bid_qty: Any, best_ask: Any, ask_qty: Any) -> np.ndarray:
    """Per-update order-flow contributions ``e_n`` of Cont, Kukanov & Stoikov (2014).

    ``e_n = 1{B_n >= B_{n-1}} qB_n - 1{B_n <= B_{n-1}} qB_{n-1}
    - 1{A_n <= A_{n-1}} qA_n + 1{A_n >= A_{n-1}} qA_{n-1}`` for touch prices ``B, A`` and touch
    quantities ``qB, qA``. The OFI over an interval is the sum of its ``e_n``. CKS apply this to
    every quote update; on snapshots (one per step or stride) each ``e_n`` nets all updates
    between two snapshots, which loses cancellations that a later update hides.

    Returns:
        Array of length ``len(best_bid) - 1``; NaN where a touch price is missing.
    """
    bid, qb, ask, qa = (np.asarray(a, dtype=float) for a in (best_bid, bid_qty, best_ask, ask_qty))
    if not bid.shape == qb.shape == ask.shape == qa.shape or bid.ndim != 1:
        raise ValueError("best_bid, bid_qty, best_ask and ask_qty must be 1-D of equal length")
    b0, b1, a0, a1 = bid[:-1], bid[1:], ask[:-1], ask[1:]
    e = (b1 >= b0) * qb[1:] - (b1 <= b0) * qb[:-1] - (a1 <= a0) * qa[1:] + (a1 >= a0) * qa[:-1]
    missing = ~(np.isfinite(b0) & np.isfinite(b1) & np.isfinite(a0) & np.isfinite(a1))
    return np.where(missing, np.nan, e)


def depth_ofi(depth: pd.DataFrame) -> pd.DataFrame:
    """OFI and mid change between consecutive snapshots of a ``depth`` table (level-1 rows).

    Returns columns ``step`` (the later snapshot), ``ofi`` (lots) and ``mid_change`` (price
    units), ready for `ofi_regression`.
    """
    touch = touch_from_depth(depth)
    mid = 0.5 * (touch["best_bid"].to_numpy() + touch["best_ask"].to_numpy())
    ofi = order_flow_imbalance(
        touch["best_bid"], touch["bid_qty"], touch["best_ask"], touch["ask_qty"]
    )
    return pd.DataFrame(
        {"step": touch["step"].to_numpy()[1:], "ofi": ofi, "mid_change": np.diff(mid)}
    )


def ofi_regression(ofi: Any, mid_changes: Any, *, hac_lags: int | None = None) -> Regression:
    """Regress mid changes on OFI: ``dP = alpha + beta * OFI + e``.

    The linear price-impact model of Cont, Kukanov & Stoikov (2014); ``slope`` is their impact
    coefficient beta (price units per lot). CKS report an average R^2 of about 65% on intraday
    US equity data, so a much lower R^2 here says the book's prices are not driven by touch flow.
    Mid changes between snapshots are heteroskedastic and may be autocorrelated: test beta with
    ``slope_hac_se`` (Newey-West, ``hac_lags`` as in `ols`) rather than ``slope_se``.
    """
    return ols(ofi, mid_changes, hac_lags=hac_lags)


def interval_flow(
    market: pd.DataFrame,
    trades: pd.DataFrame,
    *,
    interval_steps: int = 1,
    venue: str | None = "book",
) -> pd.DataFrame:
    """Aggregate mid changes and trade flow over consecutive intervals of ``interval_steps``.

    Intervals are blocks of market rows from the first step; an incomplete last block is dropped.
    Returns one row per interval: ``step`` (its last step), ``mid`` (end-of-interval mid),
    ``mid_change`` and ``log_return`` (from the previous interval's end; NaN for the first),
    ``signed_flow`` (buyer- minus seller-initiated lots), ``volume`` (lots) and
    ``dollar_volume`` (sum of price * qty).
    """
    if interval_steps < 1:
        raise ValueError(f"interval_steps must be >= 1, got {interval_steps}")
    steps = market["step"].to_numpy(dtype=np.int64)
    n_blocks = steps.size // interval_steps
    first = int(steps[0]) if steps.size else 0
    if venue is not None:
        trades = trades[trades["venue"] == venue]
    block = (trades["step"].to_numpy(dtype=np.int64) - first) // interval_steps
    qty = trades["qty"].to_numpy(dtype=float)
    sign = np.where(trades["aggressor"].to_numpy(dtype=object) == "buy", 1.0, -1.0)
    price = trades["price"].to_numpy(dtype=float)
    inside = (block >= 0) & (block < n_blocks)
    sums = [
        np.bincount(block[inside], weights=w[inside], minlength=n_blocks)[:n_blocks]
        for w in (sign * qty, qty, price * qty)
    ]
    mid = market["mid"].to_numpy(dtype=float)[
        interval_steps - 1 : n_blocks * interval_steps : interval_steps
    ]
    with np.errstate(invalid="ignore", divide="ignore"):
        log_mid = np.log(mid)
    return pd.DataFrame(
        {
            "step": steps[interval_steps - 1 : n_blocks * interval_steps : interval_steps],
            "mid": mid,
            "mid_change": np.concatenate(([np.nan], np.diff(mid))),
            "log_return": np.concatenate(([np.nan], np.diff(log_mid))),
            "signed_flow": sums[0],
            "volume": sums[1],
            "dollar_volume": sums[2],
        }
    )


def kyle_lambda(mid_changes: Any, signed_flow: Any, *, hac_lags: int | None = None) -> Regression:
    """Kyle's lambda: the OLS slope of mid changes on signed order flow, price units per lot.

    Kyle (1985) prices move linearly in net order flow, ``dp = lambda * flow``; lambda is
    estimated here by OLS with an intercept. Pass the `interval_flow` columns ``mid_change`` and
    ``signed_flow``. Mid changes cluster in volatility and flow is autocorrelated (split
    orders), so test lambda with ``slope_hac_se`` (Newey-West, ``hac_lags`` as in `ols`).
    """
    return ols(signed_flow, mid_changes, hac_lags=hac_lags)


def amihud_illiquidity(returns: Any, dollar_volume: Any) -> float:
    """Amihud (2002) illiquidity: the mean of ``|return| / dollar_volume``.

    Taken over the intervals with positive dollar volume and a finite return; the unit is
    return per (price unit * lot) traded. Amihud uses daily returns and volume; pass
    `interval_flow` columns ``log_return`` and ``dollar_volume`` at the interval of interest.

    Raises:
        InsufficientDataError: If no interval has both.
    """
    r = np.asarray(returns, dtype=float)
    v = np.asarray(dollar_volume, dtype=float)
    keep = np.isfinite(r) & (v > 0)
    if not keep.any():
        raise InsufficientDataError("Amihud illiquidity needs intervals with volume and a return")
    return float(np.mean(np.abs(r[keep]) / v[keep]))


@dataclass(frozen=True, slots=True)
class VarianceRatio:
    """Lo-MacKinlay variance ratio test result (see `variance_ratio`).

    Attributes:
        ratio: VR(q).
        z: The homoskedastic test statistic, asymptotically N(0, 1) under an iid random walk.
            It over-rejects when volatility clusters; use ``z_robust`` on market data.
        p_value: Two-sided p-value of ``z``.
        q: The horizon.
        n_returns: One-step returns used.
        z_robust: The heteroskedasticity-robust statistic ``z*(q)`` of Lo & MacKinlay (1988),
            asymptotically N(0, 1) for uncorrelated returns whose variance may change over time
            (GARCH, regime shifts). The one to test a random walk with.
        p_value_robust: Two-sided p-value of ``z_robust``.
    """

    ratio: float
    z: float
    p_value: float
    q: int
    n_returns: int
    z_robust: float
    p_value_robust: float


def variance_ratio(prices: Any, q: int, *, log: bool = True) -> VarianceRatio:
    """Variance ratio ``VR(q) = Var(q-step returns) / (q * Var(1-step returns))``.

    Lo & MacKinlay (1988): the bias-corrected estimators over overlapping q-step returns, with
    the paper's ``nq`` replaced by the number of returns ``T`` (which need not be a multiple of
    q), and the homoskedastic statistic ``z = (VR - 1) / sqrt(2 (2q - 1)(q - 1) / (3 q T))``.
    VR > 1 means positively autocorrelated returns (trending), VR < 1 mean reversion. For AR(1)
    returns with coefficient phi, ``VR(2) = 1 + phi``.

    The robust statistic is their ``z*(q) = sqrt(T) (VR - 1) / sqrt(theta(q))`` with
    ``theta(q) = sum_{j=1}^{q-1} (2 (q - j) / q)^2 delta(j)`` and
    ``delta(j) = T sum_{t>j} d_t^2 d_{t-j}^2 / (sum_t d_t^2)^2``, ``d_t`` the demeaned returns:
    ``delta(j)`` estimates the variance of the lag-j autocorrelation without assuming constant
    variance, so ``z*`` keeps its size on returns with volatility clustering, where ``z`` does
    not (on uncorrelated GARCH(1,1) returns ``z`` rejects far more often than nominal).

    Args:
        prices: Price levels, all finite and (if ``log``) positive.
        q: Aggregation horizon in steps, ``q >= 2``.
        log: Use log prices (the paper's choice) rather than levels.

    Raises:
        ValueError: If ``q < 2`` or a price is not finite (drop one-sided steps first).
        InsufficientDataError: If fewer than ``2 q`` returns are given or returns have no variance.
    """
    if q < 2:
        raise ValueError(f"variance ratio horizon q must be >= 2, got {q}")
    p = np.asarray(prices, dtype=float)
    if not np.isfinite(p).all():
        raise ValueError("prices must be finite; drop steps without a two-sided book first")
    x = np.log(p) if log else p
    n = x.size - 1
    if n < 2 * q:
        raise InsufficientDataError(
            f"variance ratio VR({q}) needs at least {2 * q} returns, got {n}"
        )
    mu = (x[-1] - x[0]) / n
    squared = (np.diff(x) - mu) ** 2
    sum_squared = float(np.sum(squared))
    var_1 = sum_squared / (n - 1)
    m = q * (n - q + 1) * (1.0 - q / n)
    var_q = float(np.sum((x[q:] - x[:-q] - q * mu) ** 2)) / m
    if var_1 == 0.0:
        raise InsufficientDataError("returns have zero variance; the variance ratio is undefined")
    ratio = var_q / var_1
    z = (ratio - 1.0) / math.sqrt(2.0 * (2 * q - 1) * (q - 1) / (3.0 * q * n))
    theta = sum(
        (2.0 * (q - j) / q) ** 2 * n * float(squared[j:] @ squared[:-j]) / sum_squared**2
        for j in range(1, q)
    )
    z_robust = math.sqrt(n) * (ratio - 1.0) / math.sqrt(theta) if theta > 0.0 else math.nan
    return VarianceRatio(ratio, z, _two_sided_p(z), q, n, z_robust, _two_sided_p(z_robust))


def _two_sided_p(z: float) -> float:
    """Two-sided standard normal p-value of ``z`` (NaN stays NaN)."""
    return float(2.0 * stats.norm.sf(abs(z)))
