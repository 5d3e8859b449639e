"""Backtests of value-at-risk and expected-shortfall forecasts over a P&L series.

Sign convention as in `analysis.risk_metrics`: losses are positive, ``VaR`` and ``ES`` at level
``alpha`` (for example 0.99) are upper-tail numbers of the loss distribution, and a *violation*
(a "hit") on day ``t`` is ``L_t > VaR_t``. Under a correct model the hits are i.i.d.
Bernoulli(``p = 1 - alpha``).

- `kupiec_pof`: unconditional coverage, the proportion-of-failures likelihood-ratio test of
  Kupiec (1995).
- `christoffersen`: independence of the hits against a first-order Markov alternative, and the
  joint conditional-coverage test (Christoffersen 1998).
- `acerbi_szekely_z2`, `acerbi_szekely_test`: the second ES test of Acerbi & Szekely (2014),
  ``Z2``, with a p-value simulated from the forecast distributions.
- `rolling_forecast` and `backtest_var_es`: VaR/ES forecast from a rolling window of past
  losses by any `analysis.risk_metrics` estimator (historical, normal, t, POT), backtested by the
  three tests; `backtest_methods` tabulates several estimators side by side.

Pure functions over arrays; chi-squared tail probabilities from `scipy.stats.chi2`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis.risk_metrics import (
    expected_shortfall,
    fit_pot,
    fit_student_t,
    losses_from_pnl,
    normal_es,
    normal_var,
    pot_es,
    pot_var,
    student_t_es,
    student_t_var,
    value_at_risk,
)

ForecastMethod = Literal["historical", "normal", "t", "pot"]
FORECAST_METHODS: tuple[ForecastMethod, ...] = ("historical", "normal", "t", "pot")

# Maps (step indices, probabilities in (alpha, 1)) to the forecast loss quantiles at those steps.
TailQuantile = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha is a confidence level strictly between 0 and 1, got {alpha}")


def _hits(hits: Any) -> np.ndarray:
    values = np.asarray(hits)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"hits must be a non-empty 1-D sequence, got shape {values.shape}")
    if not np.isin(values, (0, 1)).all():
        raise ValueError("hits must be booleans (or 0/1): True where the loss exceeded VaR")
    return values.astype(bool)


def violations(losses: Any, var: Any) -> np.ndarray:
    """Boolean hit sequence ``L_t > VaR_t`` for aligned arrays of losses and VaR forecasts.

    Raises:
        ValueError: If the arrays differ in shape, are not 1-D or hold a non-finite value.
    """
    loss = np.asarray(losses, dtype=float)
    var_ = np.asarray(var, dtype=float)
    if loss.ndim != 1 or loss.shape != var_.shape:
        raise ValueError(
            f"losses and var must be 1-D of one length, got {loss.shape}, {var_.shape}"
        )
    if not (np.isfinite(loss).all() and np.isfinite(var_).all()):
        raise ValueError("losses and var must be finite")
    return loss > var_


def _bernoulli_loglik(successes: float, trials: float, p: float) -> float:
    """``x log p + (n - x) log(1 - p)`` with ``0 log 0 = 0``."""
    return float(special.xlogy(successes, p) + special.xlog1py(trials - successes, -p))


@dataclass(frozen=True, slots=True)
class KupiecResult:
    """Kupiec (1995) proportion-of-failures test.

    Attributes:
        n: Number of forecasts.
        violations: Number of hits ``x``.
        expected_rate: ``p = 1 - alpha``.
        observed_rate: ``x / n``.
        statistic: ``LR_pof``, asymptotically chi-squared with 1 degree of freedom.
        p_value: ``P(chi2(1) > LR_pof)``.
    """

    n: int
    violations: int
    expected_rate: float
    observed_rate: float
    statistic: float
    p_value: float


def kupiec_pof(hits: Any, alpha: float) -> KupiecResult:
    """Kupiec (1995) proportion-of-failures (unconditional coverage) likelihood-ratio test.

    With ``x`` hits in ``n`` forecasts and ``p = 1 - alpha``,
    ``LR_pof = -2 [x log p + (n - x) log(1 - p)] + 2 [x log(x / n) + (n - x) log(1 - x / n)]``,
    asymptotically chi-squared(1) under ``H0: P(hit) = p`` (Kupiec 1995, "Techniques for
    verifying the accuracy of risk measurement models", J. Derivatives 3(2)).

    Raises:
        ValueError: For alpha outside (0, 1) or hits that are not a non-empty 0/1 sequence.
    """
    _check_alpha(alpha)
    h = _hits(hits)
    n, x = h.size, int(h.sum())
    p = 1.0 - alpha
    statistic = 2.0 * (_bernoulli_loglik(x, n, x / n) - _bernoulli_loglik(x, n, p))
    statistic = max(statistic, 0.0)  # rounding can leave -1e-13 when x / n == p
    return KupiecResult(n, x, p, x / n, statistic, float(stats.chi2.sf(statistic, 1)))


@dataclass(frozen=True, slots=True)
class ChristoffersenResult:
    """Christoffersen (1998) independence and conditional-coverage tests.

    Attributes:
        n00, n01, n10, n11: Transition counts ``n_ij = #{t: hit_{t-1} = i, hit_t = j}``.
        pi01: ``P(hit | no hit yesterday)`` estimate, ``n01 / (n00 + n01)``.
        pi11: ``P(hit | hit yesterday)`` estimate, ``n11 / (n10 + n11)`` (NaN with no hit
            before the last day).
        independence_statistic: ``LR_ind``, asymptotically chi-squared(1).
        independence_p_value: ``P(chi2(1) > LR_ind)``.
        conditional_coverage_statistic: ``LR_cc = LR_pof + LR_ind``, asymptotically
            chi-squared(2).
        conditional_coverage_p_value: ``P(chi2(2) > LR_cc)``.
    """

    n00: int
    n01: int
    n10: int
    n11: int
    pi01: float
    pi11: float
    independence_statistic: float
    independence_p_value: float
    conditional_coverage_statistic: float
    conditional_coverage_p_value: float


def christoffersen(hits: Any, alpha: float) -> ChristoffersenResult:
    """Christoffersen (1998) Markov independence test of the hits and its conditional coverage.

    The alternative is a first-order Markov chain with ``pi01 = P(hit_t | no hit_{t-1})`` and
    ``pi11 = P(hit_t | hit_{t-1})``; the null is one hit rate ``pi = (n01 + n11) / (n - 1)``:
    ``LR_ind = -2 [(n00 + n10) log(1 - pi) + (n01 + n11) log pi]
    + 2 [n00 log(1 - pi01) + n01 log pi01 + n10 log(1 - pi11) + n11 log pi11]``,
    chi-squared(1). Conditional coverage ``LR_cc = LR_pof + LR_ind``, chi-squared(2), with
    `kupiec_pof` on the same hits (Christoffersen 1998, "Evaluating interval forecasts",
    International Economic Review 39(4); the sum is exact when the first observation is
    conditioned on, and the usual practice otherwise).

    Raises:
        ValueError: For fewer than 2 hits values, alpha outside (0, 1) or non-0/1 hits.
    """
    h = _hits(hits)
    if h.size < 2:
        raise ValueError("the independence test needs at least 2 observations")
    previous, current = h[:-1], h[1:]
    n00 = int(np.sum(~previous & ~current))
    n01 = int(np.sum(~previous & current))
    n10 = int(np.sum(previous & ~current))
    n11 = int(np.sum(previous & current))
    pi = (n01 + n11) / (h.size - 1)
    pi01 = n01 / (n00 + n01) if n00 + n01 else math.nan
    pi11 = n11 / (n10 + n11) if n10 + n11 else math.nan
    markov = 0.0
    if n00 + n01:
        markov += _bernoulli_loglik(n01, n00 + n01, pi01)
    if n10 + n11:
        markov += _bernoulli_loglik(n11, n10 + n11, pi11)
    independence = max(2.0 * (markov - _bernoulli_loglik(n01 + n11, h.size - 1, pi)), 0.0)
    coverage = kupiec_pof(h, alpha).statistic + independence
    return ChristoffersenResult(
        n00=n00,
        n01=n01,
        n10=n10,
        n11=n11,
        pi01=pi01,
        pi11=pi11,
        independence_statistic=independence,
        independence_p_value=float(stats.chi2.sf(independence, 1)),
        conditional_coverage_statistic=coverage,
        conditional_coverage_p_value=float(stats.chi2.sf(coverage, 2)),
    )


def acerbi_szekely_z2(losses: Any, var: Any, es: Any, alpha: float) -> float:
    """The Acerbi & Szekely (2014) ``Z2`` statistic ("Backtesting expected shortfall", Risk).

    In their P&L notation ``Z2 = sum_t X_t I_t / (T alpha ES_t) + 1`` with ``alpha`` the tail
    probability and ``I_t = 1{X_t < -VaR_t}``; in losses ``L = -X`` and our ``alpha`` (the
    confidence level), ``Z2 = 1 - sum_t L_t 1{L_t > VaR_t} / (T (1 - alpha) ES_t)``.
    ``E[Z2] = 0`` when the forecast distributions are right (continuous ones), ``Z2 < 0`` when
    the realised tail is heavier than the forecast ES says, ``Z2 > 0`` when ES is too prudent.

    Raises:
        ValueError: For misaligned or non-finite arrays, alpha outside (0, 1) or ``ES <= 0``.
    """
    _check_alpha(alpha)
    loss = np.asarray(losses, dtype=float)
    es_ = np.asarray(es, dtype=float)
    hits = violations(loss, var)
    if es_.shape != loss.shape or not np.isfinite(es_).all() or not (es_ > 0).all():
        raise ValueError("es must be positive, finite and aligned with losses")
    return float(1.0 - np.sum(np.where(hits, loss, 0.0) / es_) / (loss.size * (1.0 - alpha)))


@dataclass(frozen=True, slots=True)
class AcerbiSzekelyResult:
    """Acerbi & Szekely (2014) ``Z2`` test of expected shortfall.

    Attributes:
        statistic: ``Z2`` (`acerbi_szekely_z2`); negative means ES is underestimated.
        p_value: ``P(Z2 <= observed)`` under the forecast distributions, by simulation:
            ``(1 + #{Z2_sim <= Z2}) / (1 + n_simulations)``.
        n_simulations: Number of simulated samples.
    """

    statistic: float
    p_value: float
    n_simulations: int


def acerbi_szekely_test(
    losses: Any,
    var: Any,
    es: Any,
    alpha: float,
    tail_quantile: TailQuantile,
    *,
    n_simulations: int = 2000,
    seed: int | np.random.SeedSequence = 0,
) -> AcerbiSzekelyResult:
    """``Z2`` with its one-sided p-value simulated under the null (Acerbi & Szekely 2014).

    Each simulation draws ``L_t = Q_t(U_t)`` from the forecast distribution of every step by
    inversion and recomputes ``Z2`` with the same ``VaR_t`` and ``ES_t``. Only draws with
    ``U_t > alpha`` can exceed ``VaR_t = Q_t(alpha)``, so ``tail_quantile(steps, u)`` is asked
    for ``Q_t(u)`` at those alone. The paper tabulates critical values instead (for
    ``alpha = 97.5%`` and 250 days, about -0.7 at 5% significance); simulating adapts them to the
    forecasts and sample size at hand.

    Args:
        losses: Realised losses.
        var: VaR forecasts, aligned with ``losses``.
        es: ES forecasts, aligned with ``losses``.
        alpha: Confidence level of the forecasts.
        tail_quantile: ``Q(steps, u)``, the forecast loss quantile at step indices ``steps``
            and probabilities ``u`` (element-wise, ``u`` in ``(alpha, 1)``).
        n_simulations: Number of samples simulated under the null, at least 100.
        seed: Seed of the simulation's generator (same seed, same p-value).

    Raises:
        ValueError: For the reasons of `acerbi_szekely_z2`, or ``n_simulations < 100``.
    """
    statistic = acerbi_szekely_z2(losses, var, es, alpha)
    if n_simulations < 100:
        raise ValueError(f"n_simulations must be at least 100, got {n_simulations}")
    var_ = np.asarray(var, dtype=float)
    es_ = np.asarray(es, dtype=float)
    rng = np.random.default_rng(seed)
    size = var_.size
    u = rng.random((n_simulations, size))
    sims, steps = np.nonzero(u > alpha)
    draws = np.asarray(tail_quantile(steps, u[sims, steps]), dtype=float)
    excess = np.where(draws > var_[steps], draws / es_[steps], 0.0)
    simulated = 1.0 - np.bincount(sims, excess, n_simulations) / (size * (1.0 - alpha))
    p_value = (1.0 + np.sum(simulated <= statistic)) / (1.0 + n_simulations)
    return AcerbiSzekelyResult(statistic, float(p_value), n_simulations)


# --- rolling forecasts -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RollingForecast:
    """One-step-ahead VaR/ES forecasts from a rolling window of past losses.

    ``var[i]`` and ``es[i]`` forecast ``losses[i]``, from the ``window`` losses before it in the
    input series (so ``losses`` here is the input without its first ``window`` values).

    Attributes:
        method: Estimator (`FORECAST_METHODS`).
        alpha: Confidence level.
        window: Number of past losses each forecast uses.
        losses: Realised losses, aligned with the forecasts.
        var: VaR forecasts.
        es: ES forecasts.
        tail_quantile: The forecast distributions' quantile function (see `TailQuantile`).
    """

    method: str
    alpha: float
    window: int
    losses: np.ndarray
    var: np.ndarray
    es: np.ndarray
    tail_quantile: TailQuantile = field(repr=False, compare=False)


def rolling_forecast(
    losses: Any,
    alpha: float = 0.99,
    *,
    window: int = 250,
    method: ForecastMethod = "historical",
    threshold_quantile: float = 0.9,
) -> RollingForecast:
    """Forecast ``VaR_t`` and ``ES_t`` of each loss from the ``window`` losses before it.

    Estimators as in `analysis.risk_metrics`: ``"historical"`` (empirical quantile and
    Acerbi-Tasche tail mean of the window), ``"normal"`` (window mean and standard deviation),
    ``"t"`` (maximum-likelihood Student-t, `fit_student_t`), ``"pot"`` (`fit_pot` at
    ``threshold_quantile``, `pot_var`, `pot_es`).

    Raises:
        ValueError: For a window under 20 or not shorter than the series, an unknown method,
            bad losses, or a window the estimator cannot fit (POT: too few exceedances, or
            ``xi >= 1``).
    """
    _check_alpha(alpha)
    series = np.asarray(losses, dtype=float)
    if series.ndim != 1 or not np.isfinite(series).all():
        raise ValueError("losses must be a finite 1-D series")
    if not 20 <= window < series.size:
        raise ValueError(
            f"window must be at least 20 and shorter than the series ({series.size}), got {window}"
        )
    if method not in FORECAST_METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {FORECAST_METHODS}")
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], window)
    params = []
    for start, past in enumerate(windows):
        try:
            params.append(_window_forecast(past, alpha, method, threshold_quantile))
        except ValueError as error:
            raise ValueError(
                f"the {method} forecast of loss {start + window} (from losses {start} to "
                f"{start + window - 1}) failed: {error}"
            ) from error
    var = np.array([p[0] for p in params])
    es = np.array([p[1] for p in params])
    table = np.array([p[2] for p in params])
    ordered = np.sort(windows, axis=1) if method == "historical" else windows[:0]
    quantile = _tail_quantile(method, table, ordered)
    return RollingForecast(method, alpha, window, series[window:].copy(), var, es, quantile)


def _window_forecast(
    window: np.ndarray, alpha: float, method: str, threshold_quantile: float
) -> tuple[float, float, tuple[float, ...]]:
    """VaR, ES and the parameters of the forecast distribution from one window."""
    if method == "normal":
        mean, std = float(window.mean()), float(window.std(ddof=1))
        return normal_var(alpha, mean, std), normal_es(alpha, mean, std), (mean, std)
    if method == "t":
        fit = fit_student_t(window)
        var = student_t_var(alpha, fit.dof, fit.loc, fit.scale)
        es = student_t_es(alpha, fit.dof, fit.loc, fit.scale)
        return var, es, (fit.dof, fit.loc, fit.scale)
    if method == "pot":
        tail = fit_pot(window, threshold_quantile=threshold_quantile)
        var, es = pot_var(tail, alpha), pot_es(tail, alpha)
        return var, es, (tail.threshold, tail.xi, tail.beta, tail.tail_probability)
    return value_at_risk(window, alpha), expected_shortfall(window, alpha), ()


def _tail_quantile(method: str, table: np.ndarray, sorted_windows: np.ndarray) -> TailQuantile:
    """The forecast quantile function ``Q(steps, u)`` of a rolling forecast's method."""

    def historical(steps: np.ndarray, u: np.ndarray) -> np.ndarray:
        n = sorted_windows.shape[1]
        rank = np.clip(np.ceil(n * u - 1e-12).astype(int), 1, n) - 1
        return sorted_windows[steps, rank]

    def normal(steps: np.ndarray, u: np.ndarray) -> np.ndarray:
        return table[steps, 0] + table[steps, 1] * stats.norm.ppf(u)

    def student_t(steps: np.ndarray, u: np.ndarray) -> np.ndarray:
        dof, loc, scale = table[steps, 0], table[steps, 1], table[steps, 2]
        return loc + scale * stats.t.ppf(u, dof)

    def pot(steps: np.ndarray, u: np.ndarray) -> np.ndarray:
        threshold, xi, beta, tail = (table[steps, j] for j in range(4))
        ratio = (1.0 - u) / tail
        safe_xi = np.where(np.abs(xi) < 1e-12, 1.0, xi)
        power = threshold + beta / safe_xi * (ratio ** (-safe_xi) - 1.0)
        return np.where(np.abs(xi) < 1e-12, threshold - beta * np.log(ratio), power)

    return {"historical": historical, "normal": normal, "t": student_t, "pot": pot}[method]


@dataclass(frozen=True, slots=True)
class VaRBacktest:
    """A rolling VaR/ES forecast and its three backtests.

    Attributes:
        forecast: The forecasts and realised losses.
        kupiec: Unconditional coverage (`kupiec_pof`).
        christoffersen: Independence and conditional coverage (`christoffersen`).
        acerbi_szekely: Expected-shortfall ``Z2`` test (`acerbi_szekely_test`).
    """

    forecast: RollingForecast
    kupiec: KupiecResult
    christoffersen: ChristoffersenResult
    acerbi_szekely: AcerbiSzekelyResult


def backtest_var_es(
    pnl: Any,
    alpha: float = 0.99,
    *,
    window: int = 250,
    method: ForecastMethod = "historical",
    horizon_steps: int = 1,
    threshold_quantile: float = 0.9,
    n_simulations: int = 2000,
    seed: int | np.random.SeedSequence = 0,
) -> VaRBacktest:
    """Backtest one-step-ahead VaR/ES forecasts of a P&L path with a rolling window.

    Losses are `losses_from_pnl` of ``pnl`` over ``horizon_steps``; each is forecast by
    `rolling_forecast` from the ``window`` losses before it, and the hits and tail losses are
    tested by `kupiec_pof`, `christoffersen` and `acerbi_szekely_test`.

    Raises:
        ValueError: For the reasons of `losses_from_pnl`, `rolling_forecast` and the tests.
    """
    losses = losses_from_pnl(pnl, horizon_steps=horizon_steps)
    forecast = rolling_forecast(
        losses, alpha, window=window, method=method, threshold_quantile=threshold_quantile
    )
    hits = violations(forecast.losses, forecast.var)
    es_test = acerbi_szekely_test(
        forecast.losses,
        forecast.var,
        forecast.es,
        alpha,
        forecast.tail_quantile,
        n_simulations=n_simulations,
        seed=seed,
    )
    return VaRBacktest(forecast, kupiec_pof(hits, alpha), christoffersen(hits, alpha), es_test)


def backtest_methods(
    pnl: Any,
    alpha: float = 0.99,
    *,
    methods: Sequence[ForecastMethod] = FORECAST_METHODS,
    **options: Any,
) -> pd.DataFrame:
    """`backtest_var_es` for several estimators, one row each.

    Columns: ``method, n, violations, expected_violations, mean_var, mean_es, kupiec_lr,
    kupiec_p, independence_lr, independence_p, conditional_coverage_lr,
    conditional_coverage_p, z2, z2_p``. ``options`` are passed to `backtest_var_es`.
    """
    rows = []
    for method in methods:
        result = backtest_var_es(pnl, alpha, method=method, **options)
        kupiec, markov, es_test = result.kupiec, result.christoffersen, result.acerbi_szekely
        rows.append(
            {
                "method": method,
                "n": kupiec.n,
                "violations": kupiec.violations,
                "expected_violations": kupiec.n * kupiec.expected_rate,
                "mean_var": float(result.forecast.var.mean()),
                "mean_es": float(result.forecast.es.mean()),
                "kupiec_lr": kupiec.statistic,
                "kupiec_p": kupiec.p_value,
                "independence_lr": markov.independence_statistic,
                "independence_p": markov.independence_p_value,
                "conditional_coverage_lr": markov.conditional_coverage_statistic,
                "conditional_coverage_p": markov.conditional_coverage_p_value,
                "z2": es_test.statistic,
                "z2_p": es_test.p_value,
            }
        )
    return pd.DataFrame(rows)
