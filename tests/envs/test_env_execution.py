"""ExecutionEnv: the pov agent run through abm.run, the reward's closed form, check_env, vector."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

import abm  # noqa: E402
from abm.envs import (  # noqa: E402
    EXECUTION_OBSERVATION_FIELDS,
    EnvError,
    ExecutionEnv,
    ExecutionReward,
    execution_env_factory,
)
from abm.scenario.schema import Scenario  # noqa: E402

TWAP = "rl/execution_twap"


def twap_rate(env: ExecutionEnv) -> float:
    """The pov seller's constant schedule rate (lots a step), from the env's own warm-up.

    ``volume_feedback: false``: participation x (book volume of the window before the start)
    x interval / window (`PovTrader.step`); the env's model ran exactly those steps at reset.
    """
    spec = env.scenario.agents["seller"]
    assert env.model is not None
    volumes = env.model.cumulative_volume
    last = spec.start_step - 1
    window = volumes[last] - volumes[max(0, last - spec.window_steps)]
    return spec.participation * window * spec.interval_steps / spec.window_steps  # type: ignore[no-any-return]


def run_constant(env: ExecutionEnv, fraction: float, seed: int) -> tuple[float, dict[str, object]]:
    env.reset(seed=seed)
    total, done, info = 0.0, False, {}
    while not done:
        _, reward, done, truncated, info = env.step(np.array([fraction]))
        assert not truncated
        total += float(reward)
    return total, info


@pytest.mark.parametrize("seed", [20260101, 3, 7])
def test_execution_env_twap_reproduces_the_pov_program_run_by_abm_run(seed: int) -> None:
    """Outside reference: the pov agent itself, run through abm.run on the same seed.

    With volume feedback off the pov program is a TWAP; the env's constant action rate / X
    must give the trades abm.run records for it: the same lots, the same shortfall
    sum q (S_0 - p) against the mark at the end of the step before the start, and the same
    step of completion.
    """
    env = ExecutionEnv(TWAP)
    env.reset(seed=seed)
    fraction = twap_rate(env) / env.target_qty
    _, info = run_constant(env, fraction, seed)
    result = abm.run(abm.load_scenario(TWAP).override({"seed": seed}))
    seller_id = int(result.agents.loc[result.agents["group"] == "seller", "agent_id"].iloc[0])
    trades = result.trades[result.trades["seller"] == seller_id]
    start = env.scenario.agents["seller"].start_step
    arrival = float(result.market.loc[result.market["step"] == start - 1, "mark"].iloc[0])
    assert info["arrival_price"] == arrival
    assert int(trades["qty"].sum()) == info["executed"] == env.target_qty
    expected = float((trades["qty"] * (arrival - trades["price"])).sum())
    assert info["shortfall"] == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert info["step"] == int(trades["step"].max())
    env.close()


def test_execution_env_reward_closed_form_without_trading() -> None:
    """Action 0 all episode: no fill, so the return is -phi X^2 dt T - pi S_0 X (exactly)."""
    phi, bps = 1e-4, 50.0
    env = ExecutionEnv(TWAP, horizon_steps=40, reward=ExecutionReward(phi, bps))
    total, info = run_constant(env, 0.0, 2)
    x, dt = env.target_qty, env.scenario.dt
    expected = -phi * x * x * dt * 40 - bps / 1e4 * env.arrival_price * x
    assert info["executed"] == 0 and info["shortfall"] == 0.0
    assert total == pytest.approx(expected, rel=1e-12)


def test_execution_env_return_is_minus_shortfall_less_the_penalties() -> None:
    """Sum of rewards = -shortfall - phi sum u_k^2 dt - pi S_0 u_T (module docstring)."""
    phi, bps = 2e-5, 80.0
    env = ExecutionEnv(TWAP, horizon_steps=60, reward=ExecutionReward(phi, bps))
    env.reset(seed=5)
    total, running, done, info = 0.0, 0.0, False, {}
    while not done:
        _, reward, done, _, info = env.step(np.array([0.01]))
        total += float(reward)
        running += float(info["remaining"]) ** 2 * env.scenario.dt  # type: ignore[arg-type]
    left = float(info["remaining"])  # type: ignore[arg-type]
    assert 0 < left < env.target_qty  # 60 steps of 10 lots: 600 of 1,000 at most
    expected = -float(info["shortfall"]) - phi * running - bps / 1e4 * env.arrival_price * left  # type: ignore[arg-type]
    assert total == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_execution_env_clips_the_action_and_never_passes_the_block() -> None:
    """Actions above 1 act as 1, below 0 as 0; the program never sells more than X."""
    low = ExecutionEnv(TWAP, horizon_steps=20)
    assert run_constant(low, -3.0, 1)[1]["executed"] == 0
    high, one = ExecutionEnv(TWAP), ExecutionEnv(TWAP)
    clipped, unit = run_constant(high, 7.5, 1), run_constant(one, 1.0, 1)
    assert clipped == unit
    assert unit[1]["executed"] == high.target_qty
    assert high.trader is not None and high.trader.inventory == 0  # it held exactly X


def test_execution_env_conserves_cash_and_inventory() -> None:
    """The exchange's one settlement: totals over all traders are unchanged after an episode."""
    env = ExecutionEnv(TWAP)
    env.action_space.seed(0)
    env.reset(seed=9)
    done = False
    while not done:
        _, _, done, _, _ = env.step(env.action_space.sample() * 0.02)
    assert env.model is not None
    assert env.model.totals() == env.model.initial_totals


def test_execution_env_observation_fields() -> None:
    """Fields remaining and time_left follow the lots and steps done; the rest read the market."""
    env = ExecutionEnv(TWAP, horizon_steps=50)
    obs, info = env.reset(seed=4)
    assert obs.shape == (len(EXECUTION_OBSERVATION_FIELDS),) and obs.dtype == np.float32
    fields = dict(zip(EXECUTION_OBSERVATION_FIELDS, obs.tolist(), strict=True))
    assert fields["remaining"] == 1.0 and fields["time_left"] == 1.0
    assert fields["mid_change"] == 0.0
    for _ in range(10):
        obs, _, _, _, info = env.step(np.array([0.005]))
    fields = dict(zip(EXECUTION_OBSERVATION_FIELDS, obs.tolist(), strict=True))
    assert env.model is not None
    assert fields["remaining"] == pytest.approx(info["remaining"] / env.target_qty)  # type: ignore[operator]
    assert info["executed"] == 50  # floor(10 x 5 + 1e-9): the pov rounding
    assert fields["time_left"] == pytest.approx(40 / 50)
    assert fields["mid_change"] == pytest.approx(env.model.mark_price() - env.arrival_price)
    book = env.model.book
    bid, ask = book.best_bid_ticks(), book.best_ask_ticks()
    if bid is not None and ask is not None:
        assert fields["spread"] == pytest.approx((ask - bid) * env.model.tick_size)
    assert -1.0 <= fields["order_flow_imbalance"] <= 1.0
    assert fields["volatility"] > 0 and fields["market_volume"] >= 0
    assert env.observation_space.contains(obs)


def test_execution_env_passes_gymnasium_check_env() -> None:
    """gymnasium.utils.env_checker.check_env (API, spaces, seeding determinism) raises nothing."""
    env = ExecutionEnv(TWAP, horizon_steps=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # advice on unbounded or unnormalised boxes only
        check_env(env, skip_render_check=True)
    env.close()


def test_execution_env_same_seed_same_episode_and_reset_continues_the_root() -> None:
    """Determinism: same seed and actions, bit-identical; reset() spawns the next episode."""

    def episode() -> tuple[list[tuple[bytes, float]], int]:
        env = ExecutionEnv(TWAP, horizon_steps=40)
        env.action_space.seed(3)
        obs, _ = env.reset(seed=11)
        rows = [(obs.tobytes(), 0.0)]
        for _ in range(40):
            obs, reward, terminated, _, _ = env.step(env.action_space.sample() * 0.05)
            rows.append((obs.tobytes(), float(reward)))
            if terminated:
                break
        _, info = env.reset()
        return rows, int(info["seed"])

    first, second = episode(), episode()
    assert first == second
    assert first[1] != 11


@pytest.mark.parametrize("vector", ["sync", "async"])
def test_execution_env_vector_matches_single_envs(vector: str) -> None:
    """Each sub-env of a vector env sees what a lone env with its seed sees (bit-identical)."""
    factory = execution_env_factory(TWAP, horizon_steps=15)
    cls = gymnasium.vector.SyncVectorEnv if vector == "sync" else gymnasium.vector.AsyncVectorEnv
    envs = cls([factory, factory])
    action = np.array([[0.004], [0.02]], dtype=np.float32)
    try:
        obs, _ = envs.reset(seed=[5, 6])
        rows, rewards = [obs], []
        for _ in range(10):
            obs, reward, *_ = envs.step(action)
            rows.append(obs)
            rewards.append(reward)
    finally:
        envs.close()
    for index, seed in enumerate((5, 6)):
        env = ExecutionEnv(TWAP, horizon_steps=15)
        want, _ = env.reset(seed=seed)
        assert np.array_equal(rows[0][index], want)
        for row, reward in zip(rows[1:], rewards, strict=True):
            want, want_reward, *_ = env.step(action[index])
            assert np.array_equal(row[index], want)
            assert reward[index] == want_reward
        env.close()


def test_execution_env_buy_program() -> None:
    """A buy program buys: its executed lots raise its inventory; totals are conserved."""
    data = abm.load_scenario(TWAP).model_dump(mode="json", exclude_none=True)
    data["agents"]["seller"].update(side="buy", inventory=0, cash=1_000_000.0)
    env = ExecutionEnv(Scenario.from_dict(data), horizon_steps=30)
    _, info = run_constant(env, 0.01, 2)
    assert env.trader is not None
    assert info["executed"] == env.trader.inventory == 300
    assert env.model is not None
    assert env.model.totals() == env.model.initial_totals


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"group": "mm"}, "group: 'mm' is not a pov group"),
        ({"agent_index": 1}, "agent_index: must be in 0..0"),
        ({"horizon_steps": 0}, r"horizon_steps: must be in 1\.\.300"),
        ({"horizon_steps": 301}, r"horizon_steps: must be in 1\.\.300"),
        ({"horizon_steps": 2.5}, "horizon_steps: must be an integer"),
        ({"volatility_halflife_steps": 0}, "volatility_halflife_steps: must be a number > 0"),
        ({"reward": "none"}, "reward: must be an ExecutionReward"),
    ],
)
def test_execution_env_bad_argument_is_named(kwargs: dict[str, object], match: str) -> None:
    """Each bad argument raises one EnvError naming it."""
    with pytest.raises(EnvError, match=match):
        ExecutionEnv(TWAP, **kwargs)  # type: ignore[arg-type]


def test_execution_env_refuses_scenarios_it_cannot_control() -> None:
    """No pov group, or a passive one: EnvError naming the problem."""
    with pytest.raises(EnvError, match="has no pov group"):
        ExecutionEnv("baseline")
    data = abm.load_scenario(TWAP).model_dump(mode="json", exclude_none=True)
    data["agents"]["seller"]["mode"] = "passive"
    with pytest.raises(EnvError, match="passive"):
        ExecutionEnv(Scenario.from_dict(data))


def test_execution_env_bad_reward_and_action_are_named() -> None:
    """A negative penalty, a NaN action, step before reset or after the end: EnvError."""
    with pytest.raises(EnvError, match="unfinished_penalty_bps"):
        ExecutionReward(unfinished_penalty_bps=-1.0)
    env = ExecutionEnv(TWAP, horizon_steps=2)
    with pytest.raises(EnvError, match="reset"):
        env.step(np.zeros(1, dtype=np.float32))
    env.reset(seed=1)
    with pytest.raises(EnvError, match="action: must be one finite number"):
        env.step(np.array([np.nan]))
    env.step(np.zeros(1))
    env.step(np.zeros(1))
    with pytest.raises(EnvError, match="episode has ended"):
        env.step(np.zeros(1))
