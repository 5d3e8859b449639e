"""Discrete delta hedging against Derman & Kamal (1999)'s error law.

Reference: Derman & Kamal, "When you cannot hedge continuously" (Risk 1999): the standard
deviation of the error of an at-the-money option hedged N times at the true volatility is
about sqrt(pi/4) vega sigma / sqrt(N); the error has mean zero (the Black-Scholes price
replicates the payoff in the continuous limit).
"""

from __future__ import annotations

import numpy as np
import pytest

from abm.derivatives import DerivativesError
from abm.derivatives.hedging import delta_hedging_errors, derman_kamal_std

MARKET = {"spot": 100.0, "strike": 100.0, "expiry": 1.0, "rate": 0.05, "vol": 0.2}
PATHS = 20_000


def _errors(rebalances: int, seed: int, **overrides: object) -> np.ndarray:
    return delta_hedging_errors(
        **{**MARKET, **overrides},  # type: ignore[arg-type]
        rebalances=rebalances,
        n_paths=PATHS,
        rng=np.random.default_rng(seed),
    )


@pytest.mark.parametrize("is_call", [True, False])
def test_hedging_error_matches_derman_kamal_and_halves_per_quadrupling(is_call: bool) -> None:
    """std(error) -> sqrt(pi/4) vega sigma / sqrt(N): within 3% from 64 rebalances.

    Measured (calls, 20,000 paths): std / formula 0.913, 0.967, 0.982, 0.989 at N 4, 16,
    64, 256; the standard error of each std is about 0.5%.
    """
    ratios = []
    for n in (16, 64, 256):
        errors = _errors(n, seed=n, is_call=is_call)
        formula = float(derman_kamal_std(100.0, 100.0, 1.0, 0.05, 0.2, n))
        ratios.append(float(errors.std(ddof=1)) / formula)
        assert abs(errors.mean()) < 4 * errors.std(ddof=1) / np.sqrt(PATHS)  # unbiased
    assert abs(ratios[1] - 1) < 0.03 and abs(ratios[2] - 1) < 0.03
    # 1/sqrt(N): each quadrupling halves the error (within the law's own small-N drift)
    assert ratios[0] < ratios[1] + 0.02 and ratios[1] < ratios[2] + 0.02


def test_hedging_errors_are_the_generators_only() -> None:
    """The same generator state gives the same errors; another seed other ones."""
    assert np.array_equal(_errors(8, seed=5), _errors(8, seed=5))
    assert not np.array_equal(_errors(8, seed=5), _errors(8, seed=6))


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"vol": 0.0}, "vol: must be positive"),
        ({"spot": float("nan")}, "spot: must be finite"),
        ({"rebalances": 0}, "rebalances: must be an integer >= 1"),
        ({"n_paths": 1}, "n_paths: must be an integer >= 2"),
        ({"rng": 7}, "rng: must be a numpy.random.Generator"),
    ],
)
def test_bad_input_is_one_error_naming_it(overrides: dict[str, object], problem: str) -> None:
    arguments: dict[str, object] = {
        **MARKET,
        "rebalances": 4,
        "n_paths": 10,
        "rng": np.random.default_rng(0),
        **overrides,
    }
    with pytest.raises(DerivativesError, match=problem):
        delta_hedging_errors(**arguments)  # type: ignore[arg-type]
