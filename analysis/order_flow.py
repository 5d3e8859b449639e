"""Order flow: trade signs, their long memory, order-flow imbalance, and Hawkes arrivals.

Trade signs come from the ``aggressor`` column of the ``trades`` table (DESIGN.md section 7):
+1 for a buyer-initiated trade, -1 for a seller-initiated one. Lillo and Farmer (2004), "The long
memory of the efficient market", Studies in Nonlinear Dynamics and Econometrics 8(3), find that
the sign autocorrelation decays slowly, as a power law of the lag; `sign_autocorrelation` gives
that function.

Arrival times are modelled by a univariate Hawkes (1971) process with exponential kernel,
parameterised by its branching ratio::

    lambda(t) = mu + n * sum_{t_i < t} beta * exp(-beta * (t - t_i))

``mu > 0`` is the background rate (events per time unit), ``beta > 0`` the decay rate (per time
unit, so ``1 / beta`` is the memory), and ``n`` the branching ratio: the kernel integrates to
``n``, the mean number of events each event triggers directly. In the common ``alpha * exp(-beta
t)`` form, ``alpha = n * beta``. The process is stationary only for ``0 <= n < 1``, with mean rate
``mu / (1 - n)``. `fit_hawkes` maximises the exact log-likelihood (Ozaki 1979), computed in O(N)
from the recursion ``A_i = exp(-beta (t_i - t_{i-1})) (1 + A_{i-1})``, here evaluated in closed
form through a cumulative log-sum-exp so that it runs as numpy array operations.

Event times must be strictly increasing: a simple point process has no ties, and with ties the
likelihood grows without bound as ``beta`` grows. Trades of one step share one time, so fit
per-step event times (e.g. the steps with at least one trade) or add sub-step times.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.stylized_facts import autocorrelation

AGGRESSOR_SIGNS = {"buy": 1, "sell": -1}
"""Sign of a trade by its ``aggressor`` value."""

IMBALANCE_COLUMNS = (
    "interval",
    "start_step",
    "n_trades",
    "buy_volume",
    "sell_volume",
    "signed_volume",
    "imbalance",
)

_LOGIT_BOUND = 15.0  # n within [3e-7, 1 - 3e-7]: enough to reach "no excitation" and "critical"
_LOG_SCALE_BOUND = 12.0  # mu and beta within e**12 of the scale set by the mean event rate
_SIMPLEX_STEP = 0.5  # initial simplex edge in (log mu, logit n, log beta)
_RESTARTS = 5  # Nelder-Mead runs at most, each from the previous optimum


@dataclass(frozen=True, slots=True)
class HawkesFit:
    """Maximum-likelihood estimate of an exponential-kernel Hawkes process (module docstring).

    Attributes:
        mu: Background rate, events per time unit.
        branching_ratio: ``n``, the integral of the kernel.
        beta: Kernel decay rate, per time unit.
        log_likelihood: Maximised log-likelihood on ``[0, T]``.
        mu_se: Standard error of ``mu`` (NaN if the Hessian is not positive definite).
        branching_ratio_se: Standard error of ``branching_ratio`` (likewise).
        beta_se: Standard error of ``beta`` (likewise).
        n_events: Number of events fitted.
        T: End of the observation window.
        converged: Whether the optimiser met its tolerance before its evaluation budget.
    """

    mu: float
    branching_ratio: float
    beta: float
    log_likelihood: float
    mu_se: float
    branching_ratio_se: float
    beta_se: float
    n_events: int
    T: float
    converged: bool

    @property
    def stationary_rate(self) -> float:
        """Mean event rate ``mu / (1 - n)`` of the fitted stationary process."""
        return self.mu / (1.0 - self.branching_ratio)


def trade_signs(trades: pd.DataFrame) -> np.ndarray:
    """Trade signs in tape (row) order: +1 buyer-initiated, -1 seller-initiated.

    Every row counts, whatever its ``venue``; select rows first (e.g.
    ``trades[trades["venue"] == "book"]``) to study one venue.

    Args:
        trades: The ``trades`` table, or any frame with an ``aggressor`` column of
            ``"buy"``/``"sell"``.

    Returns:
        An ``int8`` array with one sign per row.

    Raises:
        ValueError: If the ``aggressor`` column is missing or holds another value.
    """
    if "aggressor" not in trades.columns:
        raise ValueError("trades must have an 'aggressor' column ('buy' or 'sell')")
    aggressor = trades["aggressor"].astype(object).to_numpy()
    unknown = set(aggressor.tolist()) - set(AGGRESSOR_SIGNS)
    if unknown:
        raise ValueError(f"aggressor must be 'buy' or 'sell', found {sorted(map(str, unknown))}")
    return np.where(aggressor == "buy", 1, -1).astype(np.int8)


def sign_autocorrelation(signs: Sequence[int] | np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation of trade signs at lags ``0..max_lag`` (mean removed).

    For i.i.d. signs the values at lags >= 1 lie within ``1.96 / sqrt(N)`` of 0 with
    probability 95% each (`analysis.stylized_facts.confidence_band`); order splitting makes them
    positive and slowly decaying (Lillo and Farmer 2004).

    Raises:
        ValueError: If a sign is not +1 or -1, or ``max_lag`` is not in ``[1, N - 1]``.
    """
    values = np.asarray(signs)
    if not np.isin(values, (-1, 1)).all():
        raise ValueError("signs must be +1 or -1 (see trade_signs)")
    return autocorrelation(values.astype(float), max_lag)


def order_flow_imbalance_series(
    trades: pd.DataFrame, interval_steps: int, *, n_steps: int | None = None
) -> pd.DataFrame:
    """Buy, sell and signed volume per window of ``interval_steps`` steps, with the imbalance.

    Window ``j`` covers steps ``[j * interval_steps, (j + 1) * interval_steps)``. Volume is in lots
    (``qty``) and signed by the aggressor: ``B`` buyer-initiated, ``S`` seller-initiated;
    ``signed_volume = B - S`` and ``imbalance = (B - S) / (B + S)`` in [-1, 1], NaN for a window
    without trades.

    Args:
        trades: The ``trades`` table (uses ``step``, ``qty``, ``aggressor``).
        interval_steps: Window length in steps, at least 1.
        n_steps: Number of steps recorded, normally ``len(market)`` (the ``market`` table has
            rows for steps ``0..steps``); if given, windows cover steps ``0..n_steps - 1``,
            trailing windows without trades included; otherwise they end at the last trade's.

    Returns:
        One row per window with columns `IMBALANCE_COLUMNS`.

    Raises:
        ValueError: If a column is missing, ``interval_steps < 1``, a step is negative or not
            below ``n_steps``, or an aggressor is unknown.
    """
    if interval_steps < 1:
        raise ValueError(f"interval_steps must be at least 1, got {interval_steps}")
    missing = {"step", "qty", "aggressor"} - set(trades.columns)
    if missing:
        raise ValueError(f"trades lacks column(s) {sorted(missing)}")
    signs = trade_signs(trades)
    steps = trades["step"].to_numpy(dtype=np.int64)
    qty = trades["qty"].to_numpy(dtype=float)
    if steps.size and steps.min() < 0:
        raise ValueError("trade steps must be non-negative")
    if n_steps is None:
        n_windows = int(steps.max()) // interval_steps + 1 if steps.size else 0
    else:
        if steps.size and steps.max() >= n_steps:
            raise ValueError(f"a trade at step {steps.max()} is outside n_steps={n_steps}")
        n_windows = -(-n_steps // interval_steps)
    window = steps // interval_steps
    buy = np.bincount(window[signs > 0], weights=qty[signs > 0], minlength=n_windows)
    sell = np.bincount(window[signs < 0], weights=qty[signs < 0], minlength=n_windows)
    total = buy + sell
    with np.errstate(invalid="ignore", divide="ignore"):
        imbalance = np.where(total > 0, (buy - sell) / total, np.nan)
    return pd.DataFrame(
        {
            "interval": np.arange(n_windows),
            "start_step": np.arange(n_windows) * interval_steps,
            "n_trades": np.bincount(window, minlength=n_windows),
            "buy_volume": buy,
            "sell_volume": sell,
            "signed_volume": buy - sell,
            "imbalance": imbalance,
        },
        columns=list(IMBALANCE_COLUMNS),
    )


def simulate_hawkes(
    mu: float, n: float, beta: float, T: float, rng: np.random.Generator
) -> np.ndarray:
    """Event times of the exponential Hawkes process on ``[0, T)`` by Ogata (1981) thinning.

    Between events the intensity only decays, so its value just after the current time bounds it
    until the next event: propose the next time from an exponential at that bound and accept it
    with probability ``lambda(t) / bound``. The process starts empty at time 0 (no history), so
    its rate approaches ``mu / (1 - n)`` after a burn-in of a few ``1 / beta`` and cascades.

    Args:
        mu: Background rate, positive.
        n: Branching ratio, in [0, 1).
        beta: Kernel decay rate, positive.
        T: Horizon, positive.
        rng: The only source of randomness.

    Returns:
        Strictly increasing event times in ``[0, T)``.

    Raises:
        ValueError: If a parameter is out of range.
    """
    _check_parameters(mu, n, beta)
    if not T > 0:
        raise ValueError(f"T must be positive, got {T}")
    times: list[float] = []
    t = 0.0
    excitation = 0.0  # sum of exp(-beta (t - t_i)) over past events
    # Draw in blocks to keep the per-candidate cost low; about two candidates per event.
    block = min(1 << 20, int(2.0 * mu / (1.0 - n) * T) + 64)
    while True:
        waits = rng.standard_exponential(block)
        uniforms = rng.random(block)
        for wait, uniform in zip(waits.tolist(), uniforms.tolist(), strict=True):
            bound = mu + n * beta * excitation
            t += wait / bound
            if t >= T:
                return np.asarray(times)
            excitation *= math.exp(-beta * wait / bound)
            if uniform * bound <= mu + n * beta * excitation:
                times.append(t)
                excitation += 1.0


def hawkes_log_likelihood(
    event_times: Sequence[float] | np.ndarray, mu: float, n: float, beta: float, T: float
) -> float:
    """Exact log-likelihood of event times on ``[0, T]`` (Ozaki 1979).

    ``sum_i log lambda(t_i) - mu T - n sum_i (1 - exp(-beta (T - t_i)))``.

    Raises:
        ValueError: If the times are not strictly increasing in ``[0, T]`` or a parameter is out
            of range (``n`` may be any value in ``[0, 1)``).
    """
    _check_parameters(mu, n, beta)
    times = _check_times(event_times, T)
    return _log_likelihood(times, T, mu, n, beta)


def hawkes_compensator(
    event_times: Sequence[float] | np.ndarray, mu: float, n: float, beta: float
) -> np.ndarray:
    """Compensator ``Lambda(t_i) = integral_0^{t_i} lambda(s) ds`` at each event time.

    By the time-rescaling theorem (Brown et al. 2002), if the model is right the increments
    ``Lambda(t_i) - Lambda(t_{i-1})`` are i.i.d. Exp(1).

    Raises:
        ValueError: As `hawkes_log_likelihood`.
    """
    _check_parameters(mu, n, beta)
    times = _check_times(event_times, None)
    past = _excitation(times, beta)
    return mu * times + n * (np.arange(times.size) - past)


def fit_hawkes(event_times: Sequence[float] | np.ndarray, *, T: float | None = None) -> HawkesFit:
    """Fit ``mu``, ``n`` and ``beta`` by maximum likelihood (parameterisation in module docstring).

    The log-likelihood is maximised over ``(log mu, logit n, log beta)``, which keeps
    ``mu, beta > 0`` and ``0 < n < 1`` without constraints, by the bounded Nelder and Mead (1965)
    simplex search of `scipy.optimize.minimize` from the best of three starting decay rates,
    restarted at its optimum until it stops improving (a simplex can stall short of the optimum).
    Standard errors come from the inverse of a central-difference Hessian in those coordinates,
    mapped to the natural ones by the delta method; near ``n = 0`` (Poisson data) the likelihood
    is flat in ``beta`` and the errors are NaN or very large.

    Args:
        event_times: Strictly increasing times in ``[0, T]``, at least 10 of them.
        T: End of the observation window; defaults to the last event time.

    Returns:
        The estimate.

    Raises:
        ValueError: If there are fewer than 10 events or the times are invalid.
    """
    times = _check_times(event_times, T)
    if times.size < 10:
        raise ValueError(f"need at least 10 events to fit a Hawkes process, got {times.size}")
    horizon = float(times[-1]) if T is None else float(T)
    rate = times.size / horizon
    half_width = np.array([_LOG_SCALE_BOUND, _LOGIT_BOUND, _LOG_SCALE_BOUND])
    center = np.array([math.log(rate), 0.0, math.log(rate)])
    lower, upper = center - half_width, center + half_width

    def objective(theta: np.ndarray) -> float:
        mu, n, beta = _natural(theta)
        return -_log_likelihood(times, horizon, mu, n, beta)

    starts = [np.array([math.log(0.5 * rate), 0.0, math.log(rate) + shift]) for shift in (-2, 0, 2)]
    best = min(starts, key=objective)
    best_value = objective(best)
    converged = False
    box = optimize.Bounds(lower, upper)
    for _ in range(_RESTARTS):
        options = {
            "initial_simplex": np.clip(best + _SIMPLEX_STEP * np.eye(4, 3, -1), lower, upper),
            "xatol": 1e-7,
            "fatol": 1e-10 * (1.0 + abs(best_value)),  # scipy's fatol is absolute
            "maxfev": 3000,
        }
        result = optimize.minimize(
            objective, best, method="Nelder-Mead", bounds=box, options=options
        )
        improved = best_value - result.fun > 1e-9 * (1.0 + abs(result.fun))
        if result.fun < best_value:
            best, best_value = np.asarray(result.x), float(result.fun)
        converged = bool(result.success)
        if not improved and converged:
            break
    mu, n, beta = _natural(best)
    jacobian = np.array([mu, n * (1.0 - n), beta])
    errors = np.full(3, math.nan)
    hessian = _hessian(objective, best)
    if np.isfinite(hessian).all() and np.all(np.linalg.eigvalsh(hessian) > 0):
        errors = jacobian * np.sqrt(np.diag(np.linalg.inv(hessian)))
    return HawkesFit(
        mu=mu,
        branching_ratio=n,
        beta=beta,
        log_likelihood=-best_value,
        mu_se=float(errors[0]),
        branching_ratio_se=float(errors[1]),
        beta_se=float(errors[2]),
        n_events=int(times.size),
        T=horizon,
        converged=converged,
    )


def time_rescaling_ks(
    event_times: Sequence[float] | np.ndarray, fit: HawkesFit
) -> tuple[float, float]:
    """Kolmogorov-Smirnov test of the rescaled inter-arrival times against Exp(1).

    The increments of `hawkes_compensator` (the first measured from time 0) are compared with the
    Exp(1) distribution function by `scipy.stats.kstest`, whose p-value comes from the
    finite-sample distribution of ``D`` under a fully specified null (`scipy.stats.kstwo`).
    With parameters estimated from the same data it is conservative (too large), so a small
    value is strong evidence of misspecification.

    Returns:
        The KS statistic ``D`` and its p-value.

    Raises:
        ValueError: As `hawkes_compensator`.
    """
    compensator = hawkes_compensator(event_times, fit.mu, fit.branching_ratio, fit.beta)
    test = stats.kstest(np.diff(compensator, prepend=0.0), stats.expon.cdf)
    return float(test.statistic), float(test.pvalue)


def _check_parameters(mu: float, n: float, beta: float) -> None:
    """Raise `ValueError` unless ``mu > 0``, ``0 <= n < 1`` and ``beta > 0``."""
    if not (mu > 0 and beta > 0 and 0 <= n < 1):
        raise ValueError(f"need mu > 0, beta > 0 and 0 <= n < 1; got mu={mu}, n={n}, beta={beta}")


def _check_times(event_times: Sequence[float] | np.ndarray, T: float | None) -> np.ndarray:
    """Event times as a float array, checked strictly increasing, finite and within ``[0, T]``."""
    times = np.asarray(event_times, dtype=float)
    if times.ndim != 1 or not np.isfinite(times).all():
        raise ValueError("event_times must be a one-dimensional array of finite times")
    if times.size and times[0] < 0:
        raise ValueError(f"event times must be non-negative, got {times[0]}")
    if np.any(np.diff(times) <= 0):
        raise ValueError(
            "event times must be strictly increasing; trades of one step share a time, so use "
            "one event per step or add sub-step times"
        )
    if T is not None and times.size and times[-1] > T:
        raise ValueError(f"T={T} is before the last event time {times[-1]}")
    return times


def _excitation(times: np.ndarray, beta: float) -> np.ndarray:
    """``A_i = sum_{j < i} exp(-beta (t_i - t_j))`` for every event, in O(N) array operations."""
    if times.size == 0:
        return np.zeros(0)
    scaled = beta * times
    # log sum_{j < i} exp(beta t_j), without overflow; -inf for the first event (empty sum).
    running = np.logaddexp.accumulate(scaled)
    log_past = np.concatenate(([-np.inf], running[:-1]))
    return np.exp(log_past - scaled)


def _log_likelihood(times: np.ndarray, T: float, mu: float, n: float, beta: float) -> float:
    """The log-likelihood of `hawkes_log_likelihood`, on already checked input."""
    intensity = mu + n * beta * _excitation(times, beta)
    compensator = mu * T + n * float(np.sum(-np.expm1(-beta * (T - times))))
    return float(np.sum(np.log(intensity))) - compensator


def _natural(theta: np.ndarray) -> tuple[float, float, float]:
    """``(mu, n, beta)`` from ``(log mu, logit n, log beta)``."""
    return math.exp(theta[0]), 1.0 / (1.0 + math.exp(-theta[1])), math.exp(theta[2])


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-3) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x`` with the same absolute ``step`` per axis."""
    dim = x.size
    hessian = np.empty((dim, dim))
    shifts = step * np.eye(dim)
    center = f(x)
    for i in range(dim):
        hessian[i, i] = (f(x + shifts[i]) - 2.0 * center + f(x - shifts[i])) / step**2
        for j in range(i):
            corners = (
                f(x + shifts[i] + shifts[j])
                - f(x + shifts[i] - shifts[j])
                - f(x - shifts[i] + shifts[j])
                + f(x - shifts[i] - shifts[j])
            )
            hessian[i, j] = hessian[j, i] = corners / (4.0 * step**2)
    return hessian
