"""Vectorised MarketMakingEnv: gymnasium.vector's sync and async (spawned) vector envs."""

from __future__ import annotations

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from abm.envs import EnvError, MarketMakingEnv, env_factory  # noqa: E402

AS = "avellaneda_stoikov_2008"
KWARGS = {"action": "skew_spread", "max_offset_ticks": 5000}
ACTION = np.array([0.0, 700.0], dtype=np.float32)


def _single(seed: int, steps: int) -> list[np.ndarray]:
    env = MarketMakingEnv(AS, **KWARGS)  # type: ignore[arg-type]
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, *_ = env.step(ACTION)
        out.append(obs)
    env.close()
    return out


@pytest.mark.parametrize("vector", ["sync", "async"])
def test_vector_env_matches_single_envs(vector: str) -> None:
    """Each sub-env of a vector env sees what a lone env with its seed sees (bit-identical)."""
    factory = env_factory(AS, **KWARGS)
    cls = gymnasium.vector.SyncVectorEnv if vector == "sync" else gymnasium.vector.AsyncVectorEnv
    envs = cls([factory, factory])
    try:
        obs, _ = envs.reset(seed=[5, 6])
        rows = [obs]
        for _ in range(10):
            obs, *_ = envs.step(np.stack([ACTION, ACTION]))
            rows.append(obs)
    finally:
        envs.close()
    for index, seed in enumerate((5, 6)):
        expected = _single(seed, 10)
        for row, want in zip(rows, expected, strict=True):
            assert np.array_equal(row[index], want)


def test_env_factory_checks_its_arguments_at_once() -> None:
    """A bad argument fails when the factory is made, not later inside a worker process."""
    with pytest.raises(EnvError, match="group"):
        env_factory(AS, group="nobody")
