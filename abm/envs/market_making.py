"""`MarketMakingEnv`: one market maker of a scenario quotes through a Gymnasium agent's actions.

The rest of the scenario runs as `abm.run` would run it. The environment builds one
`abm.MarketModel` per episode (at ``reset``) and replaces the controlled maker's quoting policy
by an :class:`ActionQuotes` object; each ``step(action)`` sets that object's offsets and runs
one ``model.step()``. The maker therefore quotes through its ordinary path (risk limits,
rounding outward to the grid, inventory limits, cancel/replace) and its accounting is the
exchange's one settlement: nothing is copied or re-simulated per step, and an episode costs
about what a run of the scenario costs.

Reward (Cartea, Jaimungal and Penalva 2015, ch. 10, the running-penalty objective
``E[X_T + q_T (S_T - alpha q_T) - phi int q_t^2 dt]``): after step ``n``,

    r_n = (E_n - E_{n-1}) - phi * q_n^2 * dt   [ - alpha * q_N^2 on the last step ]

with ``E`` the maker's equity at the scenario's ``mark`` (and the hedge venue's price), ``q``
its inventory, ``phi`` = `RewardSpec.inventory_penalty` and ``alpha`` =
`RewardSpec.terminal_penalty`. The episode's return is the maker's P&L less both penalties.
With ``phi = gamma * sigma^2 / 2`` the expected return approximates the mean-variance objective
``E[PnL] - gamma/2 Var[PnL]`` of a maker whose P&L variance comes from its inventory
(``Var ~ sigma^2 E int q^2 dt``).

An episode ends (``terminated``) after the scenario's ``steps`` or when the maker defaults.

Seeding: ``reset(seed=s)`` builds the model with seed ``s``: the episode that
``abm run --seed s`` would run, had the maker quoted the same way. ``reset()`` without a seed
runs the next episode of the current root (``scenario.seed`` until a seed is given): episode
``e > 0`` has seed ``SeedSequence(root, spawn_key=(e,))``'s first word. Gymnasium's
``np_random`` is seeded as usual and never drawn from by the environment.

References:
    Cartea, A., Jaimungal, S. and Penalva, J. (2015). Algorithmic and High-Frequency Trading.
    Cambridge University Press, ch. 10.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium
import numpy as np

from abm.agents.market_maker import MarketMaker
from abm.envs.actions import ActionMap
from abm.envs.errors import EnvError
from abm.envs.observation import Observer, observation_space
from abm.model import MarketModel
from abm.policies.base import QuotingPolicy
from abm.scenario.schema import Scenario, load_scenario
from abm.states import Status


@dataclass(frozen=True, slots=True)
class RewardSpec:
    """The penalties of the reward (module docstring); both >= 0 and finite.

    Attributes:
        inventory_penalty: ``phi``, per lot squared per unit of model time.
        terminal_penalty: ``alpha``, per lot squared of the final inventory.
    """

    inventory_penalty: float = 0.0
    terminal_penalty: float = 0.0

    def __post_init__(self) -> None:
        for name in ("inventory_penalty", "terminal_penalty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise EnvError(f"{name}: must be a number >= 0, got {value!r}")
            if not (np.isfinite(value) and value >= 0):
                raise EnvError(f"{name}: must be finite and >= 0, got {value!r}")


class ActionQuotes(QuotingPolicy):
    """The controlled maker's policy: quotes the offsets the environment set for this step."""

    name = "gymnasium_action"

    def __init__(self, spec: Any = None) -> None:
        self.bid_offset = 0.0
        self.ask_offset = 0.0

    def quote_prices(
        self, reference: float, inventory: int, time: float, sigma: float
    ) -> tuple[float, float]:
        """Quote ``reference - bid_offset`` and ``reference + ask_offset``."""
        return reference - self.bid_offset, reference + self.ask_offset


def scenario_of(source: Scenario | str | Path) -> Scenario:
    """``source`` as a `Scenario` (a file or bundled name is loaded).

    Raises:
        EnvError: If ``source`` is neither a Scenario nor a path or name.
    """
    if isinstance(source, Scenario):
        return source
    if isinstance(source, str | Path):
        return load_scenario(source)
    raise EnvError(f"scenario: must be a Scenario, a path or a bundled name, got {source!r}")


def episode_seed(root: int, episode: int) -> int:
    """The model seed of episode ``episode`` of root ``root`` (module docstring, Seeding)."""
    if not episode:
        return root
    sequence = np.random.SeedSequence(root, spawn_key=(episode,))
    return int(sequence.generate_state(1, np.uint64)[0])


class EpisodeSeeds:
    """The model seeds of an env's episodes (module docstring, Seeding).

    ``next(seed)`` gives the next episode's seed: ``seed`` itself restarts the sequence at
    that root (``reset(seed=s)`` is the market of ``abm run --seed s``); None continues it.
    """

    __slots__ = ("episode", "root")

    def __init__(self, root: int) -> None:
        self.root = root
        self.episode = 0

    def next(self, seed: int | None) -> int:
        """The seed of the next episode (``seed`` not None: the first of a new root)."""
        if seed is not None:
            self.root, self.episode = int(seed), 0
        model_seed = episode_seed(self.root, self.episode)
        self.episode += 1
        return model_seed


class MarketMakingEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """A Gymnasium environment in which the agent quotes for one market maker of a scenario.

    Observation: `abm.envs.observation` (a float32 ``Box`` of `OBSERVATION_FIELDS`).
    Action: `abm.envs.actions` (offsets or skew and half spread, in ticks; ``Box`` or
    ``MultiDiscrete``). Reward, episode end and seeding: the module docstring.

    Args:
        scenario: A `Scenario`, a scenario file, or a bundled scenario name.
        group: The ``market_maker`` group whose maker the agent controls (default: the first
            such group of the scenario).
        agent_index: Which maker of the group (0-based).
        action: ``"offsets"`` or ``"skew_spread"`` (`abm.envs.actions.ACTION_KINDS`).
        max_offset_ticks: Bound of each action component, ticks.
        levels: Grid points per action component for a ``MultiDiscrete`` space; None: ``Box``.
        reward: The penalties (`RewardSpec`); default none (reward = P&L change).

    Raises:
        EnvError: On a group that is not a market-maker group of the scenario, an index out
            of range, or a bad action or reward argument (the message names it).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's own declaration

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        group: str | None = None,
        agent_index: int = 0,
        action: str = "offsets",
        max_offset_ticks: float = 100.0,
        levels: int | None = None,
        reward: RewardSpec | None = None,
    ) -> None:
        self.scenario = scenario_of(scenario)
        makers = [
            name for name, spec in self.scenario.agents.items() if spec.kind == "market_maker"
        ]
        if not makers:
            raise EnvError(f"scenario {self.scenario.name!r} has no market_maker group")
        self.group = makers[0] if group is None else group
        if self.group not in makers:
            raise EnvError(
                f"group: {self.group!r} is not a market_maker group of {self.scenario.name!r}; "
                f"choose one of {', '.join(makers)}"
            )
        count = self.scenario.agents[self.group].count
        if isinstance(agent_index, bool) or not isinstance(agent_index, int):
            raise EnvError(f"agent_index: must be an integer, got {agent_index!r}")
        if not 0 <= agent_index < count:
            raise EnvError(f"agent_index: must be in 0..{count - 1} for {self.group!r}")
        self.agent_index = agent_index
        self.action_map = ActionMap(action, max_offset_ticks, self.scenario.tick_size, levels)
        self.reward_spec = RewardSpec() if reward is None else reward
        if not isinstance(self.reward_spec, RewardSpec):
            raise EnvError(f"reward: must be a RewardSpec, got {reward!r}")
        self.action_space = self.action_map.space
        self.observation_space = observation_space()
        self._seeds = EpisodeSeeds(self.scenario.seed)
        self.model: MarketModel | None = None
        self.maker: MarketMaker | None = None
        self._quotes = ActionQuotes()
        self._observer: Observer | None = None
        self._equity = 0.0

    # ----- the Gymnasium API ----------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: build the scenario's model (seeding: module docstring)."""
        super().reset(seed=seed)
        model_seed = self._seeds.next(seed)
        self._release()
        model = MarketModel(self.scenario, seed=model_seed)
        group = [mm for mm in model.market_makers if mm.group == self.group]
        maker = group[self.agent_index]
        self._quotes = ActionQuotes()
        maker.policy = self._quotes  # a policy that learns from trades is not replaced
        maker._learns = False
        self.model, self.maker = model, maker
        self._observer = Observer(model, maker)
        self._equity = self._maker_equity()
        return self._observer.observe(), self._info(model_seed)

    def step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Quote ``action`` for one model step; return the observation after it and the reward."""
        model, maker, observer = self.model, self.maker, self._observer
        if model is None or maker is None or observer is None:
            raise EnvError("step: call reset() before step()")
        if model.finished or maker.status is Status.DEFAULTED:
            raise EnvError("step: the episode has ended; call reset()")
        self._quotes.bid_offset, self._quotes.ask_offset = self.action_map.offsets(action)
        model.step()
        equity = self._maker_equity()
        q = maker.inventory
        spec = self.reward_spec
        reward = equity - self._equity - spec.inventory_penalty * q * q * model.dt
        self._equity = equity
        terminated = model.finished or maker.status is Status.DEFAULTED
        if terminated:
            reward -= spec.terminal_penalty * q * q
        return observer.observe(), float(reward), terminated, False, self._info(None)

    def close(self) -> None:
        """Free the episode's model (Mesa 3.3 keeps models alive otherwise; PITFALLS.md)."""
        self._release()
        super().close()

    # ----- helpers --------------------------------------------------------------------

    def _maker_equity(self) -> float:
        assert self.model is not None and self.maker is not None
        model = self.model
        return self.maker.equity(mark=model.mark_price(), hedge_mark=model.hedge_price)

    def _info(self, model_seed: int | None) -> dict[str, Any]:
        assert self.model is not None and self.maker is not None
        maker = self.maker
        info: dict[str, Any] = {
            "step": self.model.step_index,
            "inventory": maker.inventory,
            "pnl": self._equity - maker.initial_equity,
            "defaulted": maker.status is Status.DEFAULTED,
        }
        if model_seed is not None:
            info["seed"] = model_seed
        return info

    def _release(self) -> None:
        if self.model is not None:
            self.model.release()
        self.model = self.maker = self._observer = None

    @property
    def horizon(self) -> float:
        """The episode's length in model time (``steps * dt``)."""
        return self.scenario.steps * self.scenario.dt


def env_factory(scenario: Scenario | str | Path, **kwargs: Any) -> Callable[[], MarketMakingEnv]:
    """A picklable constructor of `MarketMakingEnv`, for ``gymnasium.vector``.

    ``AsyncVectorEnv`` starts its workers with the spawn method (Mesa sets it at import), so
    each worker unpickles the factory: a ``functools.partial`` of the class, not a lambda.

    Example:
        ``gymnasium.vector.AsyncVectorEnv([env_factory("avellaneda_stoikov_2008")] * 2)``
    """
    resolved = scenario_of(scenario)
    MarketMakingEnv(resolved, **kwargs).close()  # check the arguments here, not in a worker
    return functools.partial(MarketMakingEnv, resolved, **kwargs)
