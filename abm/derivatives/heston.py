"""Heston (1993) European option prices by the characteristic function, in the stable form.

The variance v follows dv = kappa (theta - v) dt + sigma sqrt(v) dW_v beside the price
dS/S = (r - q) dt + sqrt(v) dW_S, corr(dW_S, dW_v) = rho (`HestonParams`; theta is the
long-run *variance*, not a volatility).

**Characteristic function.** `heston_log_cf` is E[exp(i z X)] of the log forward return
X = ln(S_T / F_T), F_T = S e^{(r-q)T}, in the "little trap" form of Albrecher, Mayer,
Schoutens & Tistaert (2007, eq. 4), whose e^{-dT} never grows, so that the complex logarithm
stays on its principal branch for any maturity. With beta = kappa - rho sigma i z,
d = sqrt(beta^2 + sigma^2 (i z + z^2)) and g = (beta - d) / (beta + d):

    ln phi = (kappa theta / sigma^2) [(beta - d) T - 2 ln((1 - g e^{-dT}) / (1 - g))]
             + v0 (beta - d) / sigma^2 * (1 - e^{-dT}) / (1 - g e^{-dT}).

beta - d is evaluated as -sigma^2 (i z + z^2) / (beta + d) (the same number, without the
cancellation that loses every digit as sigma -> 0), and the logarithm through an accurate
log1p, so the formula is uniform in sigma and sigma = 0 gives the deterministic-variance limit
exactly (Black-Scholes with the mean variance when v0 = theta).

**Price.** Lewis (2001, eq. 2.10), one real integral per strike, along Im z = -1/2, where the
integrand is smooth and decays at least exponentially:

    call = S e^{-qT} - sqrt(S K) e^{-(r+q)T/2} / pi
                     * int_0^inf Re[e^{i u k} phi(u - i/2)] / (u^2 + 1/4) du,

with k = ln(F_T / K); a put follows by put-call parity.

**Quadrature** (`heston_price`). Composite Gauss-Legendre on [0, U]: U is the first point of the
grid 2^{j/2} where the integrand's envelope |phi(u - i/2)| / (u^2 + 1/4) falls below 1e-16
(the tail beyond is smaller than the rounding of the price); the panels double in width from
[0, 1/2] (the integrand's nearest singularities are the poles at u = +-i/2) and are split
further so that none spans more than two turns of the integrand (the strike's phase k u plus
the characteristic function's own, measured on each interval) or more than U/32, with 32
nodes each. Parameters whose integrand decays so slowly that this takes
more than `MAX_NODES` nodes (a tiny variance with a vol-of-vol of several hundred percent, or
|rho| near 1) are refused with a `DerivativesError` rather than priced inaccurately.
Checked against adaptive `scipy.integrate.quad` at 1e-13 and against Alan Lewis's published
reference values (tests/derivatives/test_heston.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from abm.derivatives._inputs import FloatArray, finite, flags, positive
from abm.derivatives.errors import DerivativesError

ComplexArray = NDArray[np.complex128]

_NODES_PER_PANEL = 32
_PERIODS_PER_PANEL = 2.0
MAX_NODES = 2**17
"""The most quadrature nodes one expiry may take; parameters that need more are refused."""
_ENVELOPE_FLOOR = 1e-16
_GRID = 2.0 ** (np.arange(-2, 49) / 2.0)
"""Where the envelope is scanned for the truncation point: 0.5 to 2^24 by factors sqrt(2)."""


@dataclass(frozen=True, slots=True)
class HestonParams:
    """Heston's five parameters (annual units).

    Attributes:
        kappa: Speed of mean reversion of the variance (> 0).
        theta: Long-run variance (> 0), e.g. 0.04 for a 20% long-run volatility.
        sigma: Volatility of the variance (>= 0; 0 makes the variance deterministic).
        rho: Correlation of the price and variance shocks, in [-1, 1].
        v0: Variance at time 0 (> 0).

    Raises:
        DerivativesError: Naming the first parameter outside its range.
    """

    kappa: float
    theta: float
    sigma: float
    rho: float
    v0: float

    def __post_init__(self) -> None:
        for name in ("kappa", "theta", "sigma", "rho", "v0"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not np.isfinite(value):
                raise DerivativesError(f"{name}: must be a finite number, got {value!r}")
        for name in ("kappa", "theta", "v0"):
            if getattr(self, name) <= 0.0:
                raise DerivativesError(f"{name}: must be positive, got {getattr(self, name)!r}")
        if self.sigma < 0.0:
            raise DerivativesError(f"sigma: must be >= 0, got {self.sigma!r}")
        if not -1.0 <= self.rho <= 1.0:
            raise DerivativesError(f"rho: must lie in [-1, 1], got {self.rho!r}")

    @property
    def feller_ratio(self) -> float:
        """2 kappa theta / sigma^2: above 1 the variance never reaches zero (Feller 1951)."""
        return float("inf") if self.sigma == 0.0 else 2.0 * self.kappa * self.theta / self.sigma**2

    @property
    def satisfies_feller(self) -> bool:
        """Whether 2 kappa theta > sigma^2 (Feller's condition)."""
        return self.feller_ratio > 1.0

    def as_array(self) -> FloatArray:
        """(kappa, theta, sigma, rho, v0) as an array, the order `calibrate_heston` fits."""
        return np.array([self.kappa, self.theta, self.sigma, self.rho, self.v0])


PARAMETER_NAMES = ("kappa", "theta", "sigma", "rho", "v0")
"""The fields of `HestonParams` in the order of `HestonParams.as_array`."""


def _log1p(w: ComplexArray) -> ComplexArray:
    """log(1 + w) for complex w, accurate for small |w| (numpy's complex log1p is not)."""
    real = 0.5 * np.log1p(2.0 * w.real + w.real**2 + w.imag**2)
    imag = np.arctan2(w.imag, 1.0 + w.real)
    return np.asarray(real + 1j * imag, dtype=np.complex128)


def heston_log_cf(z: ArrayLike, expiry: float, params: HestonParams) -> ComplexArray:
    """E[exp(i z ln(S_T / F_T))] under Heston, for complex ``z`` (Albrecher et al. 2007).

    Defined where the moment exists, which includes the strip -1 <= Im z <= 0 for every
    parameter set (Im z = -1/2 is where `heston_price` integrates).

    Raises:
        DerivativesError: If ``expiry`` is not positive and finite.
    """
    t = float(positive("expiry", expiry))
    return np.asarray(np.exp(_log_cf(np.asarray(z, dtype=np.complex128), t, params)))


def _log_cf(zc: ComplexArray, t: float, params: HestonParams) -> ComplexArray:
    """The logarithm of phi(z), continuous along the integration line (no branch crossed)."""
    kappa, theta, sigma, rho, v0 = params.as_array()
    iz = 1j * zc
    quadratic = iz + zc * zc
    beta = kappa - rho * sigma * iz
    d = np.sqrt(beta * beta + sigma * sigma * quadratic)
    beta_plus_d = beta + d
    a = -quadratic / beta_plus_d  # (beta - d) / sigma^2, without the cancellation
    g = sigma * sigma * a / beta_plus_d
    decay = np.exp(-d * t)
    one_minus_decay = -np.expm1(-d * t)
    w_over_s2 = a / beta_plus_d * one_minus_decay / (1.0 - g)
    w = sigma * sigma * w_over_s2
    tiny = np.abs(w) < 1e-300
    safe_w = np.where(tiny, 1.0, w)
    log_ratio = np.where(tiny, 1.0, _log1p(safe_w) / safe_w)  # log(1 + w) / w, -> 1 as w -> 0
    c_term = kappa * theta * (a * t - 2.0 * w_over_s2 * log_ratio)
    d_term = a * one_minus_decay / (1.0 - g * decay)
    return np.asarray(c_term + d_term * v0, dtype=np.complex128)


def _lewis_integrand_parts(
    expiry: float, params: HestonParams, max_abs_k: float
) -> tuple[FloatArray, FloatArray, ComplexArray]:
    """Nodes u, weights w / (u^2 + 1/4), and phi(u - i/2) of the quadrature for one expiry."""
    envelope = np.abs(heston_log_cf(_GRID - 0.5j, expiry, params)) / (_GRID**2 + 0.25)
    below = np.flatnonzero(envelope < _ENVELOPE_FLOOR)
    if below.size == 0:
        raise DerivativesError(
            f"expiry: {expiry!r}: the Heston integrand has not decayed by u = {_GRID[-1]:.3g} "
            "(expiry or variance too small to price by this quadrature)"
        )
    upper = float(_GRID[below[0]])
    edges = [0.0, 0.5]
    while edges[-1] < upper:
        edges.append(min(2.0 * edges[-1], upper))
    # each doubling interval is cut into panels spanning at most _PERIODS_PER_PANEL turns of
    # the integrand: the strike's phase k u plus phi's own, whose turning is measured as the
    # total variation of Im ln phi over 16 points of the interval
    pieces = []
    for start, stop in itertools.pairwise(edges):
        samples = np.linspace(start, stop, 17)
        line = np.asarray(samples - 0.5j, dtype=np.complex128)
        phase = np.sum(np.abs(np.diff(_log_cf(line, expiry, params).imag)))
        turns = (max_abs_k * (stop - start) + phase) / (2.0 * np.pi)
        pieces.append(
            max(
                1,
                int(np.ceil(turns / _PERIODS_PER_PANEL)),
                int(np.ceil(32.0 * (stop - start) / upper)),
            )
        )
    if sum(pieces) * _NODES_PER_PANEL > MAX_NODES:
        raise DerivativesError(
            f"params: {params} at expiry {expiry!r}: the Heston integrand decays too slowly "
            f"(it needs u up to {upper:.3g}, more than {MAX_NODES:,} quadrature nodes): "
            "its decay rate (v0 + kappa theta T) sqrt(1 - rho^2) / sigma is too small"
        )
    refined = [0.0]
    for (start, stop), count in zip(itertools.pairwise(edges), pieces, strict=True):
        refined.extend(np.linspace(start, stop, count + 1)[1:])
    bounds = np.asarray(refined)
    x, w = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
    half = 0.5 * np.diff(bounds)[:, None]
    middle = 0.5 * (bounds[1:] + bounds[:-1])[:, None]
    nodes = (middle + half * x).ravel()
    weights = (half * w).ravel() / (nodes**2 + 0.25)
    return nodes, weights, heston_log_cf(nodes - 0.5j, expiry, params)


def heston_price(
    spot: ArrayLike,
    strike: ArrayLike,
    expiry: ArrayLike,
    rate: ArrayLike,
    dividend: ArrayLike,
    params: HestonParams,
    is_call: ArrayLike = True,
) -> FloatArray:
    """Heston price of European calls (``is_call``) or puts, vectorised over every argument.

    The characteristic function is evaluated once per distinct expiry and shared by all the
    strikes of that expiry; see the module docstring for the formula and the quadrature.

    Raises:
        DerivativesError: If spot, strike or expiry is not positive and finite, rate or
            dividend is not finite, or the integrand cannot be truncated.
    """
    s, k, t, r, q, call = np.broadcast_arrays(
        positive("spot", spot),
        positive("strike", strike),
        positive("expiry", expiry),
        finite("rate", rate),
        finite("dividend", dividend),
        flags("is_call", is_call),
    )
    log_moneyness = np.log(s / k) + (r - q) * t  # ln(F / K)
    integral = np.empty(s.shape)
    for maturity in np.unique(t):
        here = t == maturity
        k_here = log_moneyness[here]
        nodes, weights, phi = _lewis_integrand_parts(
            float(maturity), params, float(np.max(np.abs(k_here)))
        )
        phase = np.outer(k_here, nodes)
        integrand = np.cos(phase) * phi.real - np.sin(phase) * phi.imag
        integral[here] = integrand @ weights
    forward_leg = s * np.exp(-q * t)
    strike_leg = k * np.exp(-r * t)
    call_price = forward_leg - np.sqrt(s * k) * np.exp(-0.5 * (r + q) * t) / np.pi * integral
    put_price = call_price - forward_leg + strike_leg
    return np.asarray(np.where(call, call_price, put_price), dtype=np.float64)
