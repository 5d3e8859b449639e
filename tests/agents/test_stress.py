"""Tests for the stress gauge (`abm.agents.stress`): a trailing high-low range and the Hill step.

References: the range is checked against a naive max/min over the window's samples; the Hill
function against its closed form (0 at 0, one half at ``half``).
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.agents.stress import RangeGauge, hill


def test_range_gauge_matches_a_naive_window() -> None:
    """For a random walk sampled at random steps, the range of the last 20 steps' samples."""
    rng = np.random.default_rng(1)
    gauge = RangeGauge(20)
    samples: list[tuple[int, float]] = []
    step, price = 0, 100.0
    for _ in range(500):
        step += int(rng.integers(0, 4))
        price += float(rng.normal())
        samples.append((step, price))
        window = [p for s, p in samples if s > step - 20]
        expected = 100.0 * (max(window) - min(window)) / max(window)
        assert gauge.range_pct(step, price) == pytest.approx(expected)


def test_range_gauge_restart_forgets_the_fall() -> None:
    """After restart the range starts again from the next price."""
    gauge = RangeGauge(100)
    gauge.range_pct(0, 100.0)
    assert gauge.range_pct(1, 95.0) == pytest.approx(5.0)
    gauge.restart()
    assert gauge.range_pct(2, 95.0) == 0.0


def test_hill_is_half_at_half_and_steeper_with_n() -> None:
    """x^n / (x^n + h^n): 0 at 0, 1/2 at h, and at 2h 0.8 (n = 2) or 16/17 (n = 4)."""
    assert hill(0.0, 1.0, 2.0) == 0.0
    assert hill(1.0, 1.0, 4.0) == pytest.approx(0.5)
    assert hill(2.0, 1.0, 2.0) == pytest.approx(0.8)
    assert hill(2.0, 1.0, 4.0) == pytest.approx(16 / 17)


def test_range_gauge_drawdown_is_the_fall_below_the_high_and_a_rebound_lowers_it() -> None:
    """100 -> 95 is a 5% drawdown; back at 99 it is 1%, while the range stays 5%."""
    gauge = RangeGauge(100)
    gauge.drawdown_pct(0, 100.0)
    assert gauge.drawdown_pct(1, 95.0) == pytest.approx(5.0)
    assert gauge.drawdown_pct(2, 99.0) == pytest.approx(1.0)
    assert gauge.range_pct(3, 99.0) == pytest.approx(5.0)
