"""The trained baseline against the analytic optimum on Avellaneda and Stoikov (2008).

`avellaneda_stoikov_benchmark` trains a `LinearQuoteRule` by cross-entropy search
(`abm.envs.train`) on ``scenarios/avellaneda_stoikov_2008.yaml`` with the reward's running
penalty ``phi = gamma sigma^2 / 2`` (so the training return estimates the mean-variance
objective), then scores three rules on the same held-out seeds by
``mean(PnL) - gamma/2 var(PnL)``: the learned rule, the analytic Avellaneda-Stoikov policy
(eqs. 29-30, the scenario's gamma, k and T) and symmetric quotes at the paper's average
inventory-strategy spread (1.49, Table 1 of the journal version).

References:
    Avellaneda, M. and Stoikov, S. (2008). High-frequency trading in a limit order book.
    Quantitative Finance 8(3), 217-224.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm.envs.market_making import MarketMakingEnv, RewardSpec
from abm.envs.train import TrainingResult, cross_entropy_search, evaluate_rule, mean_variance
from abm.policies.intensity import AvellanedaStoikovSpec
from abm.policies.learned import LinearQuoteRule
from abm.scenario.schema import Scenario, load_scenario

AS_SCENARIO = "avellaneda_stoikov_2008"
"""The bundled scenario of the benchmark."""
SYMMETRIC_SPREAD = 1.49
"""Symmetric benchmark's spread: the inventory strategy's average spread (journal Table 1)."""
MAX_OFFSET_TICKS = 5000.0
"""Action bound of the benchmark's env: 5 price units at the scenario's 0.001 tick."""


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    """Scores of the learned, analytic and symmetric rules on the same held-out seeds.

    Attributes:
        training: The search's result (rule and learning curve).
        gamma: The risk aversion of the objective (the scenario's AS gamma).
        pnls: Final P&L per held-out seed, by rule name (``learned``, ``avellaneda_stoikov``,
            ``symmetric``).
        objective: ``mean - gamma/2 var`` of each rule's P&L (`mean_variance`).
    """

    training: TrainingResult
    gamma: float
    pnls: dict[str, np.ndarray]
    objective: dict[str, float]

    @property
    def ratio_to_analytic(self) -> float:
        """The learned objective divided by the analytic policy's."""
        return self.objective["learned"] / self.objective["avellaneda_stoikov"]


def benchmark_env(scenario: Scenario, *, inventory_penalty: float = 0.0) -> MarketMakingEnv:
    """The benchmark's env: skew and half spread (ticks) for the scenario's ``mm``."""
    return MarketMakingEnv(
        scenario,
        group="mm",
        action="skew_spread",
        max_offset_ticks=MAX_OFFSET_TICKS,
        reward=RewardSpec(inventory_penalty=inventory_penalty),
    )


def avellaneda_stoikov_benchmark(
    *,
    iterations: int = 12,
    population: int = 16,
    episodes: int = 8,
    eval_episodes: int = 400,
    seed: int = 0,
    scenario: Scenario | None = None,
) -> BenchmarkResult:
    """Train by cross-entropy search, then score learned, analytic and symmetric quoting.

    The search starts from symmetric quotes (no skew, half spread 1.49 / 2) with standard
    deviations (0.05, 0.1, 0.2, 0.05); held-out seeds are ``10_000 + i`` (never drawn by
    the search, whose seeds come from its own generator).

    Args:
        iterations: Updates of the search (`cross_entropy_search`).
        population: Candidates per iteration.
        episodes: Training episodes per candidate.
        eval_episodes: Held-out episodes per rule (>= 2).
        seed: The search's seed.
        scenario: Defaults to the bundled ``avellaneda_stoikov_2008`` (its ``mm`` must quote
            Avellaneda-Stoikov with a ``given`` volatility).

    Returns:
        The training result and the three rules' P&Ls and objectives (`BenchmarkResult`).
    """
    scenario = load_scenario(AS_SCENARIO) if scenario is None else scenario
    group = scenario.agents["mm"]
    policy = getattr(group, "policy", None)
    volatility = getattr(group, "volatility", None)
    if not isinstance(policy, AvellanedaStoikovSpec) or getattr(volatility, "sigma", None) is None:
        from abm.envs.errors import EnvError

        raise EnvError("scenario: agents.mm must quote avellaneda_stoikov with a given sigma")
    gamma, sigma = policy.gamma, float(volatility.sigma)  # type: ignore[union-attr]
    train_env = benchmark_env(scenario, inventory_penalty=gamma * sigma * sigma / 2)
    training = cross_entropy_search(
        train_env,
        initial_mean=[0.0, 0.0, SYMMETRIC_SPREAD / 2, 0.0],
        initial_std=[0.05, 0.1, 0.2, 0.05],
        iterations=iterations,
        population=population,
        episodes=episodes,
        seed=seed,
    )
    train_env.close()
    horizon = scenario.steps * scenario.dt
    rules = {
        "learned": training.rule,
        "avellaneda_stoikov": LinearQuoteRule.from_avellaneda_stoikov(gamma, policy.k, policy.T),
        "symmetric": LinearQuoteRule(0.0, 0.0, SYMMETRIC_SPREAD / 2, 0.0, horizon),
    }
    env = benchmark_env(scenario)
    seeds = [10_000 + i for i in range(eval_episodes)]
    pnls = {name: evaluate_rule(env, rule, seeds) for name, rule in rules.items()}
    env.close()
    objective = {name: mean_variance(values, gamma) for name, values in pnls.items()}
    return BenchmarkResult(training, gamma, pnls, objective)
