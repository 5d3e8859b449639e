"""Stable-Baselines3 on MarketMakingEnv, as abm.envs documents it (run only where SB3 is installed).

SB3 is not a dependency of abm: these tests skip without it. They check SB3's own env checker
accepts the env, that a tiny PPO ``learn()`` runs and updates the policy, that the trained
policy quotes through the env (totals conserved by the exchange's settlement) and that the
same seed trains the same policy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")
sb3 = pytest.importorskip("stable_baselines3")

from gymnasium.wrappers import RescaleAction  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

from abm.envs import MarketMakingEnv, env_factory  # noqa: E402

AS = "avellaneda_stoikov_2008"
KWARGS = {"action": "skew_spread", "max_offset_ticks": 2000}


def make_env() -> gymnasium.Env:
    """The documented wrapper: PPO's Gaussian policy acts in [-1, 1], the env in ticks."""
    return RescaleAction(MarketMakingEnv(AS, **KWARGS), np.float32(-1.0), np.float32(1.0))  # type: ignore[arg-type]


def train(seed: int, timesteps: int = 128) -> sb3.PPO:
    model = sb3.PPO(
        "MlpPolicy",
        make_env(),
        n_steps=64,
        batch_size=32,
        n_epochs=2,
        seed=seed,
        device="cpu",
        verbose=0,
    )
    return model.learn(total_timesteps=timesteps)


def parameters(model: sb3.PPO) -> list[np.ndarray]:
    return [p.detach().cpu().numpy().copy() for p in model.policy.parameters()]


def test_sb3_env_checker_accepts_the_market_making_env() -> None:
    """SB3's check_env (its own API and space checks) raises nothing on the wrapped env."""
    env = make_env()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # advice on unbounded observation boxes only
        sb3_check_env(env, warn=False)
    env.close()


def test_sb3_ppo_learns_and_its_policy_quotes_through_the_env() -> None:
    """learn() takes its budget of steps and moves the policy; the result quotes an episode."""
    untrained = sb3.PPO("MlpPolicy", make_env(), n_steps=64, batch_size=32, seed=0, device="cpu")
    model = train(0)
    assert model.num_timesteps == 128
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(parameters(untrained), parameters(model), strict=True)
    )
    env = make_env()
    inner = env.unwrapped
    assert isinstance(inner, MarketMakingEnv)
    obs, _ = env.reset(seed=3)
    done = False
    while not done:
        action, _ = model.predict(obs, deterministic=True)
        assert env.action_space.contains(action)
        obs, reward, done, truncated, _ = env.step(action)
        assert np.isfinite(reward) and not truncated
    assert inner.model is not None
    assert inner.model.totals() == inner.model.initial_totals
    env.close()


def test_sb3_same_seed_trains_the_same_policy() -> None:
    """Determinism: the env's seeding and SB3's seed give bit-identical weights."""
    first, second = parameters(train(4)), parameters(train(4))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_sb3_vec_env_from_the_factory() -> None:
    """SB3's DummyVecEnv over env_factory's picklable constructor steps and resets."""
    factory = env_factory(AS, **KWARGS)
    venv = DummyVecEnv([factory, factory])
    venv.seed(7)
    obs = venv.reset()
    assert obs.shape == (2, venv.observation_space.shape[0])
    actions = np.array([[0.0, 700.0], [10.0, 700.0]], dtype=np.float32)
    obs, rewards, dones, _ = venv.step(actions)
    assert obs.shape[0] == 2 and rewards.shape == (2,) and not dones.any()
    venv.close()
