"""Gymnasium environments over scenarios, and a trained baseline without deep learning.

* :class:`MarketMakingEnv` (one market maker of a
  scenario group quotes through the agent's actions; `abm.envs.market_making`),
  :func:`env_factory` (a picklable constructor for ``gymnasium.vector``'s sync and async
  vector environments);
* :class:`ExecutionEnv` (`abm.envs.execution`): the ``pov`` agent's problem, sell or buy
  X lots over T steps against the same market, rewarded by the implementation shortfall
  against the arrival price (Almgren and Chriss 2000); :func:`execution_env_factory`;
* :func:`cross_entropy_search` (`abm.envs.train`): a seeded numpy cross-entropy search over
  :class:`~abm.policies.LinearQuoteRule`, with a budget and a learning curve, and
  :func:`evaluate_rule` / :func:`mean_variance` to score a rule against the analytic policies;
* :func:`avellaneda_stoikov_benchmark` (`abm.envs.benchmark`): the trained baseline against the
  analytic Avellaneda-Stoikov policy and symmetric quoting on ``avellaneda_stoikov_2008``.

Gymnasium is an optional dependency (the ``rl`` extra: ``pip install 'abm-microstructure[rl]'``);
the rest of abm never imports this package. A learned rule runs in a scenario without it
(``policy: {kind: learned, path: ...}``, `abm.policies.learned`).

Stable-Baselines3 (not a dependency of abm: ``pip install stable-baselines3`` brings PyTorch)
trains on these environments as on any Gymnasium env. Its Gaussian policies act in
``[-1, 1]``: rescale the action box (ticks) with Gymnasium's own wrapper (out-of-range
actions are clipped either way)::

    import numpy as np
    from gymnasium.wrappers import RescaleAction
    from stable_baselines3 import PPO

    from abm.envs import MarketMakingEnv, RewardSpec

    env = RescaleAction(
        MarketMakingEnv(
            "avellaneda_stoikov_2008",
            action="skew_spread",
            max_offset_ticks=2000,
            reward=RewardSpec(inventory_penalty=0.1 * 2.0**2 / 2),  # phi = gamma sigma^2 / 2
        ),
        np.float32(-1.0),  # float32 bounds, as the env's box
        np.float32(1.0),
    )
    model = PPO("MlpPolicy", env, n_steps=200, batch_size=50, seed=0, device="cpu")
    model.learn(20_000)  # 100 episodes of 200 steps; about 40 s on one core
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)  # in [-1, 1]: the wrapper maps it

Several workers: SB3's own ``DummyVecEnv([env_factory(...)] * n)`` or ``SubprocVecEnv``
(`env_factory` returns a picklable constructor). ``tests/envs/test_env_sb3.py`` runs a tiny
``learn()`` where SB3 is installed and skips elsewhere.
"""

from __future__ import annotations

try:
    import gymnasium  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "abm.envs needs gymnasium, an optional dependency: "
        "pip install 'abm-microstructure[rl]' (or pip install gymnasium)"
    ) from exc

from abm.envs.actions import ACTION_KINDS, ActionMap
from abm.envs.benchmark import BenchmarkResult, avellaneda_stoikov_benchmark
from abm.envs.errors import EnvError
from abm.envs.execution import (
    EXECUTION_OBSERVATION_FIELDS,
    ExecutionEnv,
    ExecutionReward,
    execution_env_factory,
)
from abm.envs.market_making import MarketMakingEnv, RewardSpec, env_factory
from abm.envs.observation import OBSERVATION_FIELDS
from abm.envs.train import (
    TrainingResult,
    cross_entropy_search,
    episode_pnls,
    evaluate_rule,
    mean_variance,
)

__all__ = [
    "ACTION_KINDS",
    "EXECUTION_OBSERVATION_FIELDS",
    "OBSERVATION_FIELDS",
    "ActionMap",
    "BenchmarkResult",
    "EnvError",
    "ExecutionEnv",
    "ExecutionReward",
    "MarketMakingEnv",
    "RewardSpec",
    "TrainingResult",
    "avellaneda_stoikov_benchmark",
    "cross_entropy_search",
    "env_factory",
    "episode_pnls",
    "evaluate_rule",
    "execution_env_factory",
    "mean_variance",
]
