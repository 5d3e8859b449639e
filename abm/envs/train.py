"""A trained baseline without deep learning: cross-entropy search over linear quote rules.

The policy class is `abm.policies.LinearQuoteRule` (four coefficients: skew and half spread
linear in ``q``, ``q sigma^2 tau``, ``1`` and ``sigma^2 tau``), which holds the analytic
Avellaneda-Stoikov policy. `cross_entropy_search` is the cross-entropy method (Rubinstein
1999; de Boer et al. 2005) over those coefficients: each iteration draws ``population``
candidates from a diagonal Gaussian, scores each by its mean episode return over the same
``episodes`` seeds (common random numbers: candidates are compared on identical markets), and
refits the Gaussian to the ``elite_fraction`` best. Everything is drawn from one
``numpy.random.Generator`` seeded by ``seed``: the same call gives the same rule and curve.

Scoring: `mean_variance` is ``mean(PnL) - gamma/2 var(PnL)`` over episodes (sample variance),
the objective the Avellaneda-Stoikov policy trades off; with the env's
``inventory_penalty = gamma sigma^2 / 2`` the training return is its per-episode estimate
(`abm.envs.market_making`).

References:
    Rubinstein, R. Y. (1999). The cross-entropy method for combinatorial and continuous
    optimization. Methodology and Computing in Applied Probability 1(2), 127-190.
    de Boer, P.-T., Kroese, D. P., Mannor, S. and Rubinstein, R. Y. (2005). A tutorial on the
    cross-entropy method. Annals of Operations Research 134(1), 19-67.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm.envs.errors import EnvError
from abm.envs.market_making import MarketMakingEnv
from abm.policies.learned import COEFFICIENTS, LinearQuoteRule


def rule_action(env: MarketMakingEnv, rule: LinearQuoteRule, obs: np.ndarray) -> np.ndarray:
    """The action that makes ``env``'s maker quote ``rule`` at its next requote.

    The maker requotes one step after the observation, at model time
    ``(1 - time_left) * horizon + dt``; the rule reads inventory and volatility from ``obs``.
    """
    dt = env.scenario.dt
    time = (1.0 - float(obs[1])) * env.horizon + dt
    skew, half = rule.skew_and_half_spread(float(obs[0]), time, float(obs[5]))
    return env.action_map.from_skew_half(skew, half)


def run_episode(env: MarketMakingEnv, rule: LinearQuoteRule, seed: int) -> tuple[float, float]:
    """One episode of ``rule`` from ``reset(seed=seed)``: ``(return, final P&L)``."""
    obs, info = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(rule_action(env, rule, obs))
        total += float(reward)
        done = terminated or truncated
    return total, float(info["pnl"])


def episode_pnls(
    env: MarketMakingEnv, rule: LinearQuoteRule, seeds: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Returns and final P&Ls of ``rule`` over one episode per seed (two float arrays)."""
    pairs = [run_episode(env, rule, int(seed)) for seed in seeds]
    returns = np.array([r for r, _ in pairs], dtype=np.float64)
    pnls = np.array([p for _, p in pairs], dtype=np.float64)
    return returns, pnls


def evaluate_rule(env: MarketMakingEnv, rule: LinearQuoteRule, seeds: Sequence[int]) -> np.ndarray:
    """Final P&L of ``rule`` over one episode per seed."""
    return episode_pnls(env, rule, seeds)[1]


def mean_variance(pnls: np.ndarray, gamma: float) -> float:
    """``mean - gamma / 2 * var`` of a P&L sample (sample variance, ``ddof=1``).

    Raises:
        EnvError: With fewer than two values or a negative ``gamma``.
    """
    values = np.asarray(pnls, dtype=np.float64)
    if values.size < 2:
        raise EnvError("pnls: need at least two episodes for a variance")
    if not gamma >= 0:
        raise EnvError(f"gamma: must be >= 0, got {gamma!r}")
    return float(values.mean() - gamma / 2 * values.var(ddof=1))


@dataclass(frozen=True, slots=True)
class TrainingResult:
    """What `cross_entropy_search` found.

    Attributes:
        rule: The final Gaussian mean, as a rule.
        curve: One dict per iteration: ``iteration``, ``episodes`` (run so far),
            ``mean_return`` (of the population), ``elite_return`` (mean of the elites),
            ``mean_rule_return`` (of the mean before the update, on the same seeds), and
            the mean coefficients after the update (`COEFFICIENTS`).
        episodes: Episodes run in total.
    """

    rule: LinearQuoteRule
    curve: list[dict[str, float]]
    episodes: int


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EnvError(f"{name}: must be an integer >= 1, got {value!r}")
    return value


def cross_entropy_search(
    env: MarketMakingEnv,
    *,
    initial_mean: Sequence[float],
    initial_std: Sequence[float],
    iterations: int = 10,
    population: int = 16,
    episodes: int = 4,
    elite_fraction: float = 0.25,
    smoothing: float = 0.7,
    min_std: Sequence[float] | None = None,
    seed: int = 0,
) -> TrainingResult:
    """Cross-entropy search for a `LinearQuoteRule` maximising ``env``'s mean episode return.

    Budget: ``iterations * (population + 1) * episodes`` episodes (the ``+ 1`` scores the
    current mean on the iteration's seeds, for the learning curve).

    Args:
        env: The environment (continuous actions); its reward defines the objective.
        initial_mean: Starting coefficients, `COEFFICIENTS` order.
        initial_std: Starting standard deviations, > 0, same order.
        iterations: Updates of the Gaussian.
        population: Candidates per iteration (>= 2).
        episodes: Episodes per candidate; their seeds are shared by the iteration's candidates.
        elite_fraction: Share of candidates refitted on, in (0, 1].
        smoothing: Weight of the elites' statistics in each update, in (0, 1].
        min_std: Floor of the standard deviations (default: 5% of ``initial_std``).
        seed: Seeds the one generator of candidates and episode seeds.

    Returns:
        The final rule and the learning curve (`TrainingResult`).

    Raises:
        EnvError: On a bad argument (named).
    """
    iterations = _positive_int("iterations", iterations)
    population = _positive_int("population", population)
    episodes = _positive_int("episodes", episodes)
    if population < 2:
        raise EnvError(f"population: must be >= 2, got {population}")
    mean = np.array(initial_mean, dtype=np.float64)
    std = np.array(initial_std, dtype=np.float64)
    n = len(COEFFICIENTS)
    if mean.shape != (n,) or std.shape != (n,):
        names = ", ".join(COEFFICIENTS)
        raise EnvError(f"initial_mean, initial_std: need {n} values each ({names})")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise EnvError("initial_mean, initial_std: must be finite, with every std > 0")
    if not 0 < elite_fraction <= 1:
        raise EnvError(f"elite_fraction: must be in (0, 1], got {elite_fraction!r}")
    if not 0 < smoothing <= 1:
        raise EnvError(f"smoothing: must be in (0, 1], got {smoothing!r}")
    floor = 0.05 * std if min_std is None else np.array(min_std, dtype=np.float64)
    if floor.shape != (n,) or not np.all(floor >= 0):
        raise EnvError(f"min_std: need {n} values >= 0")
    elites = max(1, math.ceil(elite_fraction * population))
    rng = np.random.default_rng(seed)
    horizon = env.horizon
    curve: list[dict[str, float]] = []
    total = 0
    for iteration in range(1, iterations + 1):
        seeds = [int(value) for value in rng.integers(0, 2**63 - 1, size=episodes)]
        candidates = mean + std * rng.standard_normal((population, n))
        scores = np.array(
            [
                episode_pnls(env, LinearQuoteRule.from_vector(theta, horizon), seeds)[0].mean()
                for theta in candidates
            ]
        )
        current = episode_pnls(env, LinearQuoteRule.from_vector(mean, horizon), seeds)[0].mean()
        total += (population + 1) * episodes
        best = candidates[np.argsort(-scores, kind="stable")[:elites]]
        mean = smoothing * best.mean(axis=0) + (1 - smoothing) * mean
        std = np.maximum(smoothing * best.std(axis=0) + (1 - smoothing) * std, floor)
        row = {
            "iteration": float(iteration),
            "episodes": float(total),
            "mean_return": float(scores.mean()),
            "elite_return": float(np.sort(scores)[::-1][:elites].mean()),
            "mean_rule_return": float(current),
        }
        row.update({name: float(value) for name, value in zip(COEFFICIENTS, mean, strict=True)})
        curve.append(row)
    return TrainingResult(LinearQuoteRule.from_vector(mean, horizon), curve, total)
