"""Tests for analysis.distributions: normal and Student-t functions written without scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.distributions import (
    incomplete_beta,
    normal_cdf,
    normal_pdf,
    normal_ppf,
    student_t_cdf,
    student_t_pdf,
    student_t_ppf,
)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.5, 0.0),
        (0.95, 1.6448536269514722),
        (0.975, 1.959963984540054),
        (0.99, 2.3263478740408408),
        (0.001, -3.090232306167813),
    ],
)
def test_normal_ppf_matches_standard_quantiles(p: float, expected: float) -> None:
    """Standard normal quantiles as tabulated (Abramowitz & Stegun table 26.5), to 1e-13."""
    assert normal_ppf(p) == pytest.approx(expected, abs=1e-13)


def test_normal_ppf_inverts_cdf_deep_in_both_tails() -> None:
    """Phi(Phi^{-1}(p)) = p to relative 1e-11 for p from 1e-300 to 1 - 1e-12."""
    lower = np.logspace(-300, -1, 300)
    p = np.concatenate([lower, np.linspace(0.1, 0.9, 81), 1.0 - np.logspace(-12, -1, 50)])
    x = normal_ppf(p)
    tail = np.minimum(p, 1.0 - p)
    recovered = np.where(p > 0.5, 1.0 - normal_cdf(x), normal_cdf(x))
    assert np.max(np.abs(recovered - tail) / tail) < 1e-9
    assert np.max(np.abs(normal_cdf(x[:300]) - lower) / lower) < 1e-11


def test_normal_ppf_rejects_probabilities_outside_open_interval() -> None:
    """0, 1 and NaN have no finite quantile; the error says what range is needed."""
    for bad in (0.0, 1.0, math.nan, [0.5, 1.2]):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            normal_ppf(bad)


def test_normal_pdf_and_cdf_known_values() -> None:
    """phi(0) = 1/sqrt(2 pi), Phi(0) = 1/2, Phi(-1.959963984540054) = 0.025."""
    assert normal_pdf(0.0) == pytest.approx(1.0 / math.sqrt(2.0 * math.pi), rel=1e-15)
    assert normal_cdf(0.0) == 0.5
    assert normal_cdf(-1.959963984540054) == pytest.approx(0.025, rel=1e-14)


@pytest.mark.parametrize(
    ("p", "dof", "expected"),
    [
        (0.95, 5, 2.0150),
        (0.99, 5, 3.3649),
        (0.975, 1, 12.7062),
        (0.975, 10, 2.2281),
        (0.99, 30, 2.4573),
        (0.995, 3, 5.8409),
    ],
)
def test_student_t_ppf_matches_t_table(p: float, dof: float, expected: float) -> None:
    """Critical values of Student's t as printed in standard tables (4 decimals)."""
    assert student_t_ppf(p, dof) == pytest.approx(expected, abs=6e-5)
    assert student_t_ppf(1.0 - p, dof) == pytest.approx(-expected, abs=6e-5)


def test_student_t_ppf_matches_closed_forms_for_one_and_two_dof() -> None:
    """t(1) is Cauchy, tan(pi (p - 1/2)); t(2) has quantile (2p - 1) / sqrt(2 p (1 - p))."""
    for p in (0.01, 0.3, 0.6, 0.9, 0.999):
        assert student_t_ppf(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-11)
        closed = (2.0 * p - 1.0) / math.sqrt(2.0 * p * (1.0 - p))
        assert student_t_ppf(p, 2) == pytest.approx(closed, rel=1e-11)


def test_student_t_cdf_inverts_ppf_over_dof_and_tails() -> None:
    """F(F^{-1}(p)) = p to relative 1e-10 of the tail probability, dof 0.5 to 1e4."""
    for dof in (0.5, 1.0, 2.5, 5.0, 30.0, 1e4):
        for p in (1e-12, 1e-6, 0.01, 0.4, 0.5, 0.7, 0.99, 1.0 - 1e-9):
            x = student_t_ppf(p, dof)
            tail = min(p, 1.0 - p)
            assert abs(student_t_cdf(x, dof) - p) / tail < 1e-10


def test_student_t_approaches_normal_for_large_dof() -> None:
    """t(dof) -> N(0, 1) as dof -> inf; dof=inf gives the normal exactly."""
    assert student_t_ppf(0.99, 1e7) == pytest.approx(2.3263478740408408, abs=1e-6)
    assert student_t_ppf(0.99, math.inf) == normal_ppf(0.99)
    assert student_t_pdf(0.3, math.inf) == pytest.approx(normal_pdf(0.3))


def test_student_t_pdf_integrates_to_cdf() -> None:
    """The trapezoid integral of the t(4) density over [-1, 2] equals F(2) - F(-1)."""
    x = np.linspace(-1.0, 2.0, 3001)
    density = np.array([student_t_pdf(v, 4.0) for v in x])
    integral = float(np.sum((density[1:] + density[:-1]) * np.diff(x)) / 2.0)
    expected = student_t_cdf(2.0, 4.0) - student_t_cdf(-1.0, 4.0)
    assert integral == pytest.approx(expected, abs=1e-6)


def test_incomplete_beta_matches_closed_forms() -> None:
    """I_x(a, 1) = x^a, I_x(1, b) = 1 - (1 - x)^b, I_x(1/2, 1/2) = (2 / pi) asin(sqrt x)."""
    for x in (1e-8, 0.1, 0.5, 0.77, 0.999):
        assert incomplete_beta(x, 3.5, 1.0) == pytest.approx(x**3.5, rel=1e-12)
        assert incomplete_beta(x, 1.0, 2.5) == pytest.approx(1.0 - (1.0 - x) ** 2.5, rel=1e-12)
        arcsine = 2.0 / math.pi * math.asin(math.sqrt(x))
        assert incomplete_beta(x, 0.5, 0.5) == pytest.approx(arcsine, rel=1e-12)


def test_incomplete_beta_rejects_bad_arguments() -> None:
    """An x outside [0, 1] or a non-positive shape is a ValueError, not a silent number."""
    with pytest.raises(ValueError, match="0 <= x <= 1"):
        incomplete_beta(1.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="a, b > 0"):
        incomplete_beta(0.5, 0.0, 1.0)


def test_student_t_rejects_non_positive_dof() -> None:
    """Degrees of freedom must be positive."""
    with pytest.raises(ValueError, match="degrees of freedom must be positive"):
        student_t_ppf(0.9, 0.0)
