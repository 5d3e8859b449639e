"""Tests for the phases of a flash crash (`abm.results.flash_crash_phases`).

References: a naive double loop over every (high, low) pair for the largest fall; a hand-built
price path whose phases are known; the AR(1) half-life's closed form ln(0.5) / ln(phi).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.results.flash_crash_phases import ar1_pairs_half_life, flash_crash_phases, largest_fall


def _naive(price: np.ndarray, first: int, last: int, max_len: int) -> float:
    best = 0.0
    for i in range(first, last + 1):
        for j in range(i, min(last, i + max_len) + 1):
            best = max(best, price[i] - price[j])
    return best


def test_largest_fall_matches_a_naive_search() -> None:
    """On random walks, the fall found equals the best over every pair within max_len."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        price = 100 + np.cumsum(rng.normal(size=120))
        i, j = largest_fall(price, 10, 110, 15)
        assert 10 <= i <= j <= 110 and j - i <= 15
        assert price[i] - price[j] == pytest.approx(_naive(price, 10, 110, 15))


def test_largest_fall_of_a_rising_price_is_empty() -> None:
    """No fall: the window is (first, first)."""
    assert largest_fall(np.arange(50.0), 5, 40, 10) == (5, 5)


def test_flash_crash_phases_find_the_plunge_and_its_steepest_part() -> None:
    """Flat 100, then -3 over 200 s with -1.5 of it in 20 s, then flat: dt 1 s."""
    price = np.full(1000, 100.0)
    price[300:400] = np.linspace(100.0, 99.25, 100)
    price[400:420] = np.linspace(99.25, 97.75, 20)
    price[420:500] = np.linspace(97.75, 97.0, 80)
    price[500:] = 97.0
    phases = flash_crash_phases(price, 100, 999, 1.0)
    assert (phases.phase1_start, phases.phase1_end) == (300, 499)  # 300: the last 100.0
    assert phases.phase2_start >= 398 and phases.phase2_end <= 460
    assert price[phases.phase2_start] - price[phases.phase2_end] >= 1.5


def test_flash_crash_phases_widen_a_short_phase_two_to_fifteen_seconds() -> None:
    """A one-step drop gives a phase 2 of 15 s, and phase 1 is widened to hold it."""
    price = np.full(400, 100.0)
    price[200:] = 95.0
    phases = flash_crash_phases(price, 10, 399, 1.0)
    assert phases.phase2_end - phases.phase2_start == 15
    assert phases.phase1_start <= phases.phase2_start <= phases.phase2_end <= phases.phase1_end


def test_ar1_pairs_half_life_of_a_known_phi() -> None:
    """An AR(1) with phi = 0.9 has half-life ln 0.5 / ln 0.9 = 6.58 steps."""
    rng = np.random.default_rng(4)
    x = np.zeros(20_000)
    for t in range(1, x.size):
        x[t] = 0.9 * x[t - 1] + rng.normal()
    expected = math.log(0.5) / math.log(0.9)
    assert ar1_pairs_half_life(x[:-1], x[1:]) == pytest.approx(expected, rel=0.05)
