"""MarketMakingEnv: Gymnasium's checker, exact agreement with abm.run, seeding and rewards."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

import abm  # noqa: E402
from abm.envs import (  # noqa: E402
    OBSERVATION_FIELDS,
    EnvError,
    MarketMakingEnv,
    RewardSpec,
)
from abm.envs.train import rule_action, run_episode  # noqa: E402
from abm.policies import LinearQuoteRule  # noqa: E402

AS = "avellaneda_stoikov_2008"
AS_RULE = LinearQuoteRule.from_avellaneda_stoikov(0.1, 1.5, 1.0)


def as_env(**kwargs: object) -> MarketMakingEnv:
    return MarketMakingEnv(AS, action="skew_spread", max_offset_ticks=5000, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("scenario", [AS, "baseline", "crisis/margin_spiral"])
def test_market_making_env_passes_gymnasium_check_env(scenario: str) -> None:
    """gymnasium.utils.env_checker.check_env (API, spaces, seeding determinism) raises nothing."""
    env = MarketMakingEnv(scenario)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # advice on unbounded or unnormalised boxes only
        check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_market_making_env_as_rule_reproduces_the_scenario_run(seed: int) -> None:
    """The AS rule through the env gives abm.run's P&L and inventory exactly (same seed)."""
    env = as_env()
    _, pnl = run_episode(env, AS_RULE, seed)
    inventory = env.maker.inventory if env.maker is not None else None
    result = abm.run(abm.load_scenario(AS).override({"seed": seed}))
    last = result.agents[result.agents["group"] == "mm"].iloc[-1]
    assert pnl == last["pnl"]
    assert inventory == last["inventory"]


def test_market_making_env_offsets_and_skew_spread_agree() -> None:
    """The two parameterisations of the same quotes give the same episode (same P&L)."""
    offsets = MarketMakingEnv(AS, action="offsets", max_offset_ticks=5000)
    assert run_episode(offsets, AS_RULE, 7) == run_episode(as_env(), AS_RULE, 7)


def test_market_making_env_same_seed_same_episode() -> None:
    """Determinism: reset(seed=s) and the same actions give bit-identical observations, rewards."""

    def episode() -> list[tuple[bytes, float]]:
        env = MarketMakingEnv("crisis/margin_spiral", max_offset_ticks=10)
        env.action_space.seed(5)
        obs, _ = env.reset(seed=11)
        rows = [(obs.tobytes(), 0.0)]
        for _ in range(60):
            obs, reward, terminated, _, _ = env.step(env.action_space.sample())
            rows.append((obs.tobytes(), float(reward)))
            if terminated:
                break
        return rows

    assert episode() == episode()


def test_market_making_env_reset_without_seed_continues_the_root() -> None:
    """reset() after reset(seed=s) runs a new episode; a second env repeats the same sequence."""
    seeds = []
    for _ in range(2):
        env = as_env()
        _, info = env.reset(seed=3)
        _, second = env.reset()
        seeds.append((info["seed"], second["seed"]))
    assert seeds[0] == seeds[1]
    assert seeds[0][0] == 3 and seeds[0][1] != 3


def test_market_making_env_reward_is_pnl_less_the_penalties() -> None:
    """Sum of rewards = P&L - phi * sum q^2 dt - alpha q_T^2 (the documented decomposition)."""
    phi, alpha = 0.2, 0.5
    env = as_env(reward=RewardSpec(inventory_penalty=phi, terminal_penalty=alpha))
    obs, _ = env.reset(seed=4)
    total, running, done = 0.0, 0.0, False
    info: dict[str, object] = {}
    while not done:
        obs, reward, done, _, info = env.step(rule_action(env, AS_RULE, obs))
        total += float(reward)
        running += float(info["inventory"]) ** 2 * env.scenario.dt  # type: ignore[arg-type]
    q_end = float(info["inventory"])  # type: ignore[arg-type]
    expected = float(info["pnl"]) - phi * running - alpha * q_end**2  # type: ignore[arg-type]
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_market_making_env_conserves_cash_and_inventory() -> None:
    """The exchange's one settlement: totals over all traders are unchanged after an episode."""
    env = MarketMakingEnv("crisis/margin_spiral", max_offset_ticks=20)
    env.action_space.seed(0)
    env.reset(seed=2)
    done = False
    while not done:
        _, _, done, _, _ = env.step(env.action_space.sample())
    assert env.model is not None
    assert env.model.totals() == env.model.initial_totals


def test_market_making_env_observation_fields_match_the_book() -> None:
    """Observation components read the book and the maker (spread, own quotes, time left)."""
    env = as_env()
    obs, _ = env.reset(seed=1)
    assert obs.shape == (len(OBSERVATION_FIELDS),) and obs.dtype == np.float32
    obs, *_ = env.step(np.array([0.0, 700.0], dtype=np.float32))
    fields = dict(zip(OBSERVATION_FIELDS, obs.tolist(), strict=True))
    assert env.model is not None and env.maker is not None
    bid, ask = env.maker.quotes()
    reference = env.model.fundamental_value
    assert fields["time_left"] == pytest.approx(199 / 200)
    if bid is not None:
        assert fields["bid_offset"] == pytest.approx(reference - bid, abs=1e-4)
    if ask is not None:
        assert fields["ask_offset"] == pytest.approx(ask - reference, abs=1e-4)
    assert -1.0 <= fields["order_flow_imbalance"] <= 1.0
    assert fields["volatility"] == pytest.approx(2.0)


def test_market_making_env_discrete_grid_maps_to_the_box_ends() -> None:
    """MultiDiscrete index 0 and levels-1 are the Box's low and high (ticks)."""
    env = MarketMakingEnv(AS, action="skew_spread", max_offset_ticks=800, levels=5)
    assert isinstance(env.action_space, gymnasium.spaces.MultiDiscrete)
    assert env.action_map.ticks(np.array([0, 4])) == (-800.0, 800.0)
    assert env.action_map.ticks(np.array([2, 2])) == (0.0, 400.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"group": "noise"}, "group: 'noise' is not a market_maker group"),
        ({"agent_index": 1}, "agent_index: must be in 0..0"),
        ({"action": "prices"}, "action: must be one of offsets, skew_spread"),
        ({"max_offset_ticks": 0}, "max_offset_ticks: must be a number > 0"),
        ({"levels": 1}, "levels: must be >= 2"),
    ],
)
def test_market_making_env_bad_argument_is_named(kwargs: dict[str, object], match: str) -> None:
    """Each bad argument raises one EnvError (an AbmError) naming it."""
    with pytest.raises(EnvError, match=match):
        MarketMakingEnv(AS, **kwargs)  # type: ignore[arg-type]


def test_market_making_env_bad_reward_is_named() -> None:
    """A negative penalty raises EnvError naming the penalty."""
    with pytest.raises(EnvError, match="inventory_penalty"):
        RewardSpec(inventory_penalty=-1.0)


def test_market_making_env_step_before_reset_raises() -> None:
    """step() without reset() is an EnvError, not an AttributeError."""
    with pytest.raises(EnvError, match="reset"):
        as_env().step(np.zeros(2, dtype=np.float32))
