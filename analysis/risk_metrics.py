"""Tail risk of P&L: value at risk, expected shortfall and drawdowns, for one run or an ensemble.

Sign convention: risk measures take *losses*, positive numbers for money lost. A P&L series
becomes losses by ``loss = -(pnl[t + h] - pnl[t])`` (`losses_from_pnl`); an ensemble of final
P&Ls by ``loss = -pnl``. VaR and ES at level ``alpha`` (for example 0.95) are then upper-tail
numbers of the loss distribution, positive when the tail loses money:

- ``VaR_alpha = inf{l : P(L <= l) >= alpha}``, the alpha-quantile of the loss;
- ``ES_alpha = (1 / (1 - alpha)) * integral_alpha^1 VaR_u du``, the mean of the worst
  ``1 - alpha`` of outcomes (Acerbi & Tasche 2002, which makes it coherent for any sample).

Estimators (``method``): ``"historical"`` (the empirical distribution of the sample),
``"normal"``, ``"t"`` (Student-t fitted by maximum likelihood, `fit_student_t`),
``"cornish_fisher"`` (normal quantile corrected for sample skewness and excess kurtosis) and
``"pot"`` (peaks over threshold: a generalised Pareto tail above the 90% quantile, `fit_pot`).
Distribution functions come from `scipy.stats`. Pure functions over arrays; nothing imports the
model. Backtests of rolling VaR/ES forecasts live in `analysis.backtests`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

Method = Literal["historical", "normal", "t", "cornish_fisher", "pot"]
METHODS: tuple[Method, ...] = ("historical", "normal", "t", "cornish_fisher", "pot")
TFitMethod = Literal["mle", "moments"]


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha is a confidence level strictly between 0 and 1, got {alpha}")


def _losses(losses: Any) -> np.ndarray:
    values = np.asarray(losses, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"losses must be a non-empty 1-D sequence, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("losses must be finite; drop NaN P&L values first")
    return values


def losses_from_pnl(pnl: Any, *, horizon_steps: int = 1) -> np.ndarray:
    """Losses over consecutive, non-overlapping windows of ``horizon_steps`` of a P&L path.

    ``loss_k = -(pnl[(k + 1) h] - pnl[k h])``: a fall in P&L is a positive loss. Works the same
    for an equity path. Raises `ValueError` for ``horizon_steps < 1`` or a non-finite value.
    """
    if horizon_steps < 1:
        raise ValueError(f"horizon_steps must be >= 1, got {horizon_steps}")
    path = np.asarray(pnl, dtype=float)
    if path.ndim != 1 or not np.isfinite(path).all():
        raise ValueError("pnl must be a finite 1-D series")
    return -np.diff(path[::horizon_steps])


# --- closed forms ------------------------------------------------------------------------------


def normal_var(alpha: float, loc: float = 0.0, scale: float = 1.0) -> float:
    """VaR of normal losses: ``loc + scale * z_alpha`` (1.6449 at 95%, 2.3263 at 99%)."""
    _check_alpha(alpha)
    return loc + scale * float(stats.norm.ppf(alpha))


def normal_es(alpha: float, loc: float = 0.0, scale: float = 1.0) -> float:
    """ES of normal losses: ``loc + scale * phi(z_alpha) / (1 - alpha)`` (2.0627 at 95%)."""
    _check_alpha(alpha)
    return loc + scale * float(stats.norm.pdf(stats.norm.ppf(alpha))) / (1.0 - alpha)


def student_t_var(alpha: float, dof: float, loc: float = 0.0, scale: float = 1.0) -> float:
    """VaR of losses ``loc + scale * T`` with ``T`` standard Student-t(``dof``)."""
    _check_alpha(alpha)
    return loc + scale * float(stats.t.ppf(alpha, dof))


def student_t_es(alpha: float, dof: float, loc: float = 0.0, scale: float = 1.0) -> float:
    """ES of losses ``loc + scale * T``, ``T ~ t(dof)``, ``dof > 1``.

    Closed form ``loc + scale * f(q) (dof + q^2) / ((dof - 1)(1 - alpha))`` with ``q`` the
    t quantile and ``f`` the t density (for example McNeil, Frey & Embrechts, Quantitative
    Risk Management, 2015).

    Raises:
        ValueError: If ``dof <= 1`` (the mean, hence ES, does not exist).
    """
    _check_alpha(alpha)
    if not dof > 1:
        raise ValueError(f"Student-t ES needs dof > 1 (a finite mean), got {dof}")
    if math.isinf(dof):
        return normal_es(alpha, loc, scale)
    q = float(stats.t.ppf(alpha, dof))
    return loc + scale * float(stats.t.pdf(q, dof)) * (dof + q * q) / ((dof - 1.0) * (1.0 - alpha))


def cornish_fisher_var(
    alpha: float,
    loc: float = 0.0,
    scale: float = 1.0,
    skew: float = 0.0,
    excess_kurtosis: float = 0.0,
) -> float:
    """VaR from the Cornish-Fisher expansion of the quantile (Cornish & Fisher 1938).

    ``w(z) = z + (z^2 - 1) S / 6 + (z^3 - 3 z) K / 24 - (2 z^3 - 5 z) S^2 / 36`` at
    ``z = Phi^{-1}(alpha)``, VaR ``= loc + scale * w``. The expansion is a monotone quantile
    function only for moderate skewness ``S`` and excess kurtosis ``K`` (Maillard 2012); outside
    that domain its numbers are not a distribution's quantiles.
    """
    _check_alpha(alpha)
    z = float(stats.norm.ppf(alpha))
    w = z + (z * z - 1.0) * skew / 6.0 + (z**3 - 3.0 * z) * excess_kurtosis / 24.0
    return loc + scale * (w - (2.0 * z**3 - 5.0 * z) * skew * skew / 36.0)


def cornish_fisher_es(
    alpha: float,
    loc: float = 0.0,
    scale: float = 1.0,
    skew: float = 0.0,
    excess_kurtosis: float = 0.0,
) -> float:
    """ES as the exact average of Cornish-Fisher quantiles over the tail ``(alpha, 1)``.

    Substituting ``u = Phi(z)`` turns the average of the cubic ``w(z)`` into moments of the
    normal beyond ``c = Phi^{-1}(alpha)``, which are closed form; the result is
    ``loc + scale * phi(c) / (1 - alpha) * (1 + S c / 6 + K (c^2 - 1) / 24 - S^2 (2 c^2 - 1) / 36)``
    and reduces to `normal_es` when ``S = K = 0``. Same validity domain as `cornish_fisher_var`.
    """
    _check_alpha(alpha)
    c = float(stats.norm.ppf(alpha))
    bracket = 1.0 + skew * c / 6.0 + excess_kurtosis * (c * c - 1.0) / 24.0
    bracket -= skew * skew * (2.0 * c * c - 1.0) / 36.0
    return loc + scale * float(stats.norm.pdf(c)) / (1.0 - alpha) * bracket


# --- estimators --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StudentTFit:
    """A location-scale Student-t: losses ``= loc + scale * T``, ``T ~ t(dof)``.

    Attributes:
        dof: Degrees of freedom (``inf`` for the normal limit of the moment method).
        loc: Location (the mean when ``dof > 1``).
        scale: Scale; the variance is ``scale^2 dof / (dof - 2)`` when ``dof > 2``.
        method: ``"mle"`` (maximum likelihood) or ``"moments"`` (method of moments).
        log_likelihood: Log-likelihood of the sample under the fitted distribution.
    """

    dof: float
    loc: float
    scale: float
    method: str
    log_likelihood: float


# Degrees of freedom the likelihood is maximised over: above 1 so the mean (hence ES) exists;
# at 1,000 the t 99% quantile is 0.16% above the normal one and the likelihood is all but flat.
T_DOF_BOUNDS = (1.01, 1000.0)


def fit_student_t(
    losses: Any, *, dof: float | None = None, method: TFitMethod = "mle"
) -> StudentTFit:
    """Fit a location-scale Student-t to losses, by maximum likelihood (default) or moments.

    ``method="mle"`` maximises ``sum log f((x - loc) / scale; dof) - n log scale`` by bounded
    truncated Newton (`scipy.optimize.minimize`, method TNC, analytic gradient) over ``loc``,
    ``log scale`` and ``log dof`` with ``dof`` in `T_DOF_BOUNDS`; a given ``dof`` is held fixed.
    Unlike the moment method it can fit ``dof <= 4``: t(3) data get ``dof`` near 3 rather than
    the moment method's floor of 4 (which puts ES99 about 9% low, 6.3-6.5 instead of 7.00).
    The likelihood rewards a t for a mass point: losses that are often exactly zero (a market
    maker idle for 40% of steps) fit with ``dof`` at its lower bound and a tiny scale, hence a
    huge ES; `analysis.backtests` rejects such forecasts (use the historical or POT estimator).

    ``method="moments"``: ``loc`` is the sample mean. Without ``dof``, it comes from the sample
    excess kurtosis ``K = 6 / (dof - 4)``, so ``dof = 4 + 6 / K``; a sample no heavier-tailed
    than the normal (``K <= 0``) gets ``dof = inf``, the normal. ``scale = s sqrt((dof - 2) / dof)``
    makes the variance equal the sample variance ``s^2`` (ddof 1).

    Raises:
        ValueError: For fewer than 4 losses, an unknown method, a given ``dof`` outside
            `T_DOF_BOUNDS` (mle) or ``<= 2`` (moments, no variance to match), or a constant sample
            (mle).
    """
    values = _losses(losses)
    if values.size < 4:
        raise ValueError(f"fitting a Student-t needs at least 4 losses, got {values.size}")
    if method == "moments":
        return _fit_student_t_moments(values, dof)
    if method == "mle":
        return _fit_student_t_mle(values, dof)
    raise ValueError(f"unknown Student-t fit method {method!r}; use 'mle' or 'moments'")


def _fit_student_t_moments(values: np.ndarray, dof: float | None) -> StudentTFit:
    mean, std, _, kurtosis = _sample_moments(values)
    if dof is None:
        dof = 4.0 + 6.0 / kurtosis if kurtosis > 0 else math.inf
    elif not dof > 2:
        raise ValueError(f"a variance-matched Student-t needs dof > 2, got {dof}")
    scale = std * (1.0 if math.isinf(dof) else math.sqrt((dof - 2.0) / dof))
    if scale == 0.0:
        loglik = math.nan  # a point mass has no density
    elif math.isinf(dof):
        loglik = float(np.sum(stats.norm.logpdf(values, mean, scale)))
    else:
        loglik = float(np.sum(stats.t.logpdf(values, dof, mean, scale)))
    return StudentTFit(dof, mean, scale, "moments", loglik)


def _t_negloglik(
    params: np.ndarray, z: np.ndarray, fixed_dof: float | None
) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of standardised data and its gradient in (loc, log s, log dof)."""
    loc, log_scale = params[0], params[1]
    dof = fixed_dof if fixed_dof is not None else math.exp(params[2])
    scale = math.exp(log_scale)
    u = (z - loc) / scale
    u2 = u * u
    ratio = (dof + 1.0) / (dof + u2)
    loglik = (
        z.size
        * (
            special.gammaln((dof + 1) / 2)
            - special.gammaln(dof / 2)
            - 0.5 * math.log(dof * math.pi)
        )
        - z.size * log_scale
        - 0.5 * (dof + 1.0) * np.sum(np.log1p(u2 / dof))
    )
    d_loc = np.sum(ratio * u) / scale
    d_log_scale = -z.size + np.sum(ratio * u2)
    grad = [-d_loc, -d_log_scale]
    if fixed_dof is None:
        d_dof = z.size * 0.5 * (special.digamma((dof + 1) / 2) - special.digamma(dof / 2) - 1 / dof)
        d_dof += np.sum(-0.5 * np.log1p(u2 / dof) + 0.5 * ratio * u2 / dof)
        grad.append(-d_dof * dof)
    return -float(loglik), np.array(grad, dtype=float)


def _fit_student_t_mle(values: np.ndarray, dof: float | None) -> StudentTFit:
    low, high = T_DOF_BOUNDS
    if dof is not None and not low <= dof <= high:
        raise ValueError(f"a given Student-t dof must lie in [{low}, {high}], got {dof}")
    # standardise by median and interquartile range so the optimiser sees unit-sized numbers
    centre = float(np.median(values))
    q25, q75 = np.quantile(values, [0.25, 0.75])
    spread = float(q75 - q25) or float(values.std())
    if spread == 0.0:
        raise ValueError("a Student-t cannot be fitted by maximum likelihood to a constant sample")
    z = (values - centre) / spread
    _, _, _, kurtosis = _sample_moments(z)
    start_dof = float(np.clip(4.0 + 6.0 / kurtosis if kurtosis > 0 else high, 2.5, 50.0))
    # the t(dof) interquartile range is 2 t_0.75(dof); start from its scale
    start = [0.0, -math.log(2.0 * float(stats.t.ppf(0.75, dof or start_dof)))]
    bounds: list[tuple[float | None, float | None]] = [(None, None), (None, None)]
    if dof is None:
        start.append(math.log(start_dof))
        bounds.append((math.log(low), math.log(high)))
    result = optimize.minimize(
        _t_negloglik, np.array(start), args=(z, dof), jac=True, method="TNC", bounds=bounds
    )
    fitted_dof = dof
    if fitted_dof is None:  # exp(log(bound)) may miss the bound by an ulp; report the bound
        fitted_dof = float(np.clip(math.exp(float(result.x[2])), low, high))
        fitted_dof = high if fitted_dof > high * (1 - 1e-12) else fitted_dof
    scale = spread * math.exp(float(result.x[1]))
    loglik = -float(result.fun) - values.size * math.log(spread)
    return StudentTFit(fitted_dof, centre + spread * float(result.x[0]), scale, "mle", loglik)


def _sample_moments(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, standard deviation (ddof 1), skewness and excess kurtosis (moment ratios)."""
    centred = values - values.mean()
    m2 = float(np.mean(centred**2))
    if m2 == 0.0:
        return float(values.mean()), 0.0, 0.0, 0.0
    skew = float(np.mean(centred**3)) / m2**1.5
    kurtosis = float(np.mean(centred**4)) / (m2 * m2) - 3.0
    return float(values.mean()), float(values.std(ddof=1)), skew, kurtosis


def _historical(values: np.ndarray, alpha: float) -> tuple[float, float]:
    ordered = np.sort(values)
    n = ordered.size
    rank = np.arange(1, n + 1)
    # smallest loss whose empirical cdf reaches alpha; the 1e-12 absorbs n * alpha rounding
    var = float(ordered[min(n, max(1, math.ceil(n * alpha - 1e-12))) - 1])
    # weight of each order statistic in the integral of the empirical quantile over (alpha, 1]
    weight = np.clip(rank / n - np.maximum((rank - 1) / n, alpha), 0.0, None)
    return var, float(weight @ ordered) / (1.0 - alpha)


@dataclass(frozen=True, slots=True)
class GPDTailFit:
    """A peaks-over-threshold tail: losses above ``threshold`` have a generalised Pareto excess.

    ``P(L - u > y | L > u) = (1 + xi y / beta)^(-1 / xi)`` (``exp(-y / beta)`` at ``xi = 0``);
    ``P(L > u)`` is estimated by ``n_exceedances / n``.

    Attributes:
        threshold: ``u``, the ``floor(n (1 - q)) + 1``-th largest loss at threshold quantile q.
        xi: Shape (tail index); ``xi > 0`` is a power tail with ``P(L > x) ~ x^(-1 / xi)``.
        beta: Scale of the excesses over ``u``, positive.
        n: Sample size.
        n_exceedances: Number of losses strictly above ``threshold``, used in the fit (fewer
            than ``floor(n (1 - q))`` when losses tie at the threshold).
        log_likelihood: GPD log-likelihood of the excesses.
    """

    threshold: float
    xi: float
    beta: float
    n: int
    n_exceedances: int
    log_likelihood: float

    @property
    def tail_probability(self) -> float:
        """``P(L > threshold)`` as estimated, ``n_exceedances / n``."""
        return self.n_exceedances / self.n


# below this many excesses a two-parameter GPD fit is noise (its shape alone has s.e. ~ 1 / sqrt(k))
MIN_EXCEEDANCES = 10
POT_THRESHOLD_QUANTILE = 0.9
# losses within this fraction of the sample range of the threshold tie with it
TIE_TOLERANCE = 1e-9


def fit_pot(losses: Any, *, threshold_quantile: float = POT_THRESHOLD_QUANTILE) -> GPDTailFit:
    """Fit a generalised Pareto distribution to the excesses over a high sample quantile.

    The threshold ``u`` is the ``m + 1``-th largest loss, ``m = floor(n (1 - threshold_quantile))``;
    the ``k`` losses strictly above it (by more than `TIE_TOLERANCE` of the sample range) are the
    exceedances (``k = m`` unless losses tie at ``u``),
    and ``(xi, beta)`` are the maximum likelihood estimates of `scipy.stats.genpareto` on the
    excesses ``L_(i) - u`` (location 0).
    Justified by the Pickands-Balkema-de Haan theorem; the estimator is that of McNeil & Frey
    (2000) and Embrechts, Klueppelberg & Mikosch (1997, section 6.5).

    Raises:
        ValueError: If ``threshold_quantile`` is outside (0, 1), or fewer than
            `MIN_EXCEEDANCES` losses lie strictly above the threshold.
    """
    values = np.sort(_losses(losses))
    if not 0.0 < threshold_quantile < 1.0:
        raise ValueError(f"threshold_quantile must be in (0, 1), got {threshold_quantile}")
    n = values.size
    wanted = math.floor(n * (1.0 - threshold_quantile) + 1e-9)
    threshold = float(values[max(n - wanted - 1, 0)])
    # strict exceedances: on a price lattice many losses sit at the threshold (up to float noise
    # in P&L differences, hence the tolerance), and zero excesses make the GPD likelihood
    # unbounded (xi -> inf)
    tie = TIE_TOLERANCE * max(float(values[-1] - values[0]), abs(threshold), 1e-300)
    excesses = values[values > threshold + tie] - threshold
    k = excesses.size
    if k < MIN_EXCEEDANCES:
        raise ValueError(
            f"peaks over threshold needs at least {MIN_EXCEEDANCES} losses above the threshold: "
            f"{n} losses at threshold_quantile {threshold_quantile} leave {k} above {threshold:.6g}"
        )
    xi, _, beta = stats.genpareto.fit(excesses, floc=0.0)
    loglik = float(np.sum(stats.genpareto.logpdf(excesses, xi, 0.0, beta)))
    return GPDTailFit(threshold, float(xi), float(beta), n, k, loglik)


def _check_pot_alpha(fit: GPDTailFit, alpha: float) -> None:
    _check_alpha(alpha)
    if alpha < 1.0 - fit.tail_probability:
        raise ValueError(
            f"the POT tail starts at the {1.0 - fit.tail_probability:.4g} quantile; "
            f"alpha {alpha} lies below it (lower the threshold_quantile or use another method)"
        )


def pot_var(fit: GPDTailFit, alpha: float) -> float:
    """VaR from a POT tail: ``u + (beta / xi) (((1 - alpha) n / k)^(-xi) - 1)``.

    ``u - beta log((1 - alpha) n / k)`` at ``xi = 0`` (McNeil & Frey 2000; Embrechts,
    Klueppelberg & Mikosch 1997, section 6.5). Raises `ValueError` for ``alpha`` below the
    threshold's quantile.
    """
    _check_pot_alpha(fit, alpha)
    ratio = (1.0 - alpha) / fit.tail_probability
    if abs(fit.xi) < 1e-12:
        return fit.threshold - fit.beta * math.log(ratio)
    return fit.threshold + fit.beta / fit.xi * (ratio ** (-fit.xi) - 1.0)


def pot_es(fit: GPDTailFit, alpha: float) -> float:
    """ES from a POT tail: ``VaR / (1 - xi) + (beta - xi u) / (1 - xi)`` (McNeil & Frey 2000).

    The mean excess of a GPD is finite only for ``xi < 1``.

    Raises:
        ValueError: If ``xi >= 1`` (infinite ES) or ``alpha`` is below the threshold's quantile.
    """
    if not fit.xi < 1.0:
        raise ValueError(f"a GPD tail with xi = {fit.xi:.3g} >= 1 has no finite expected shortfall")
    var = pot_var(fit, alpha)
    return (var + fit.beta - fit.xi * fit.threshold) / (1.0 - fit.xi)


def _var_es(
    values: np.ndarray, alpha: float, method: str, dof: float | None
) -> tuple[float, float]:
    _check_alpha(alpha)
    if method == "historical":
        return _historical(values, alpha)
    if method == "pot":
        tail = fit_pot(values)
        return pot_var(tail, alpha), pot_es(tail, alpha)
    if method == "t":
        fit = fit_student_t(values, dof=dof)
        return (
            student_t_var(alpha, fit.dof, fit.loc, fit.scale),
            student_t_es(alpha, fit.dof, fit.loc, fit.scale),
        )
    mean, std, skew, kurtosis = _sample_moments(values)
    if method == "normal":
        return normal_var(alpha, mean, std), normal_es(alpha, mean, std)
    if method == "cornish_fisher":
        return (
            cornish_fisher_var(alpha, mean, std, skew, kurtosis),
            cornish_fisher_es(alpha, mean, std, skew, kurtosis),
        )
    raise ValueError(f"unknown method {method!r}; use one of {METHODS}")


def value_at_risk(
    losses: Any, alpha: float = 0.95, *, method: Method = "historical", dof: float | None = None
) -> float:
    """Value at risk of a loss sample at confidence ``alpha`` (see the module docstring).

    Args:
        losses: Loss sample (positive = money lost), finite, 1-D, non-empty.
        alpha: Confidence level in (0, 1).
        method: ``"historical"`` (empirical alpha-quantile, no interpolation), ``"normal"``
            (sample mean and standard deviation), ``"t"`` (`fit_student_t` by maximum
            likelihood; ``dof`` fixes the degrees of freedom instead of fitting them),
            ``"cornish_fisher"`` or ``"pot"`` (`fit_pot` above the 90% quantile, so it needs
            ``alpha >= 0.9`` and at least 100 losses).
        dof: Student-t degrees of freedom for ``method="t"``; ignored otherwise.

    Raises:
        ValueError: For an unknown method, alpha outside (0, 1) or bad losses.
    """
    return _var_es(_losses(losses), alpha, method, dof)[0]


def expected_shortfall(
    losses: Any, alpha: float = 0.95, *, method: Method = "historical", dof: float | None = None
) -> float:
    """Expected shortfall of a loss sample at confidence ``alpha``; arguments as `value_at_risk`.

    Historical: the average of the empirical quantile function over ``(alpha, 1]``, which
    weighs the order statistic straddling ``alpha`` by its share of the tail (Acerbi & Tasche
    2002). ``"t"``: `student_t_es` at the maximum-likelihood fit. Cornish-Fisher:
    `cornish_fisher_es`. ``"pot"``: `pot_es` (needs a fitted ``xi < 1``).
    """
    return _var_es(_losses(losses), alpha, method, dof)[1]


@dataclass(frozen=True, slots=True)
class TailRisk:
    """Tail risk of a loss sample (price units).

    Attributes:
        alpha: Confidence level.
        method: Estimator of `var` and `es`.
        n: Number of losses.
        var: Value at risk.
        es: Expected shortfall.
        mean_loss: Mean loss (negative when the sample makes money on average).
        worst_loss: Largest loss.
        loss_probability: Fraction of strictly positive losses.
    """

    alpha: float
    method: str
    n: int
    var: float
    es: float
    mean_loss: float
    worst_loss: float
    loss_probability: float


def tail_risk(
    losses: Any, alpha: float = 0.95, *, method: Method = "historical", dof: float | None = None
) -> TailRisk:
    """VaR, ES and loss statistics of a loss sample in one record; arguments as `value_at_risk`."""
    values = _losses(losses)
    var, es = _var_es(values, alpha, method, dof)
    return TailRisk(
        alpha=alpha,
        method=method,
        n=values.size,
        var=var,
        es=es,
        mean_loss=float(values.mean()),
        worst_loss=float(values.max()),
        loss_probability=float(np.mean(values > 0)),
    )


def ensemble_tail_risk(
    final_pnls: Any, alpha: float = 0.95, *, method: Method = "historical", dof: float | None = None
) -> TailRisk:
    """Tail risk across an ensemble of runs from their final P&Ls (``loss = -pnl``)."""
    return tail_risk(-np.asarray(final_pnls, dtype=float), alpha, method=method, dof=dof)


# --- drawdowns ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drawdown:
    """The maximum drawdown of a series (positions are 0-based; units of the series).

    Attributes:
        depth: Largest fall from a running peak, ``max_t (max_{s<=t} x_s - x_t) >= 0``.
        peak_index: Position of the peak the deepest fall started from (its last visit).
        trough_index: Position of the deepest point (first one if tied).
        recovery_index: First position after the trough back at the peak level, or None.
        time_to_recover: ``recovery_index - trough_index``, or None if never recovered.
        duration: Steps from the peak to recovery, or to the end of the series if unrecovered.
        longest_underwater: Longest such peak-to-recovery (or peak-to-end) time over every
            drawdown of the series, not only the deepest.
    """

    depth: float
    peak_index: int
    trough_index: int
    recovery_index: int | None
    time_to_recover: int | None
    duration: int
    longest_underwater: int


def max_drawdown(series: Any) -> Drawdown:
    """Maximum drawdown of an equity or P&L path (absolute, in the series' units).

    Raises:
        ValueError: If the series is empty, not 1-D or holds a non-finite value.
    """
    x = np.asarray(series, dtype=float)
    if x.ndim != 1 or x.size == 0 or not np.isfinite(x).all():
        raise ValueError("max_drawdown needs a non-empty, finite 1-D series")
    peak_level = np.maximum.accumulate(x)
    drawdown = peak_level - x
    trough = int(np.argmax(drawdown))
    peak = trough - int(np.argmax(x[trough::-1] == peak_level[trough]))
    recovery: int | None = trough  # a series that never falls has recovered at once
    if drawdown[trough] > 0:
        back = np.flatnonzero(x[trough + 1 :] >= peak_level[trough])
        recovery = trough + 1 + int(back[0]) if back.size else None
    last = x.size - 1
    # underwater spells: runs of positive drawdown; each starts right after its peak
    flags = np.concatenate(([0], (drawdown > 0).astype(np.int8), [0]))
    starts = np.flatnonzero(np.diff(flags) == 1)
    ends = np.flatnonzero(np.diff(flags) == -1)  # first position after each spell
    spell = np.minimum(ends, last) - (starts - 1)
    return Drawdown(
        depth=float(drawdown[trough]),
        peak_index=peak,
        trough_index=trough,
        recovery_index=recovery,
        time_to_recover=None if recovery is None else recovery - trough,
        duration=(last if recovery is None else recovery) - peak,
        longest_underwater=int(spell.max()) if spell.size else 0,
    )


def agent_tail_risk(
    agents: pd.DataFrame, alpha: float = 0.95, *, method: Method = "historical"
) -> pd.DataFrame:
    """Per-agent tail risk of per-row P&L changes and drawdown, from an ``agents`` table.

    Rows of each agent are taken in step order, rows with a NaN ``pnl`` dropped (an agent with
    none is left out); losses are `losses_from_pnl` of its ``pnl`` column. Market makers are
    recorded every step, so theirs are one-step losses; other traders are recorded at a
    stride, so theirs are losses per stride.

    Returns:
        One row per agent: ``agent_id, kind, n, pnl_final, var, es, max_drawdown,
        drawdown_duration, longest_underwater``; ``var``/``es`` NaN for an agent with fewer than
        two rows.
    """
    rows = []
    for agent_id, group in agents.sort_values(["agent_id", "step"]).groupby("agent_id"):
        pnl = group["pnl"].to_numpy(dtype=float)
        pnl = pnl[np.isfinite(pnl)]
        if pnl.size == 0:
            continue
        losses = losses_from_pnl(pnl)
        var, es = _var_es(losses, alpha, method, None) if losses.size else (math.nan, math.nan)
        drawdown = max_drawdown(pnl)
        rows.append(
            {
                "agent_id": agent_id,
                "kind": group["kind"].iloc[0],
                "n": losses.size,
                "pnl_final": float(pnl[-1]),
                "var": var,
                "es": es,
                "max_drawdown": drawdown.depth,
                "drawdown_duration": drawdown.duration,
                "longest_underwater": drawdown.longest_underwater,
            }
        )
    return pd.DataFrame(rows)
