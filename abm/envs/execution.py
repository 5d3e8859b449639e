"""`ExecutionEnv`: the ``pov`` agent's problem (sell or buy X lots over T steps), a Gymnasium env.

The agent controls one execution program of a scenario's ``pov`` group (side and block size
``X = target_qty`` from the group; the rest of the scenario runs as `abm.run` runs it). At
``reset`` the environment builds one `abm.MarketModel`, runs it up to the step before the
group's ``start_step`` (the program does nothing before it, so the market is the scenario's
own) and fixes the arrival price ``S_0``: the scenario's ``mark`` then. Each ``step(action)``
adds ``action * X`` lots to the program's schedule and runs one ``model.step()``, in which the
program sends a market order for the part of its schedule not yet executed, exactly as the
``pov`` agent's aggressive mode does (same rounding ``floor(schedule + 1e-9)``, same halt
queue, same settlement). A ``passive`` group is refused.

Action: a ``Box(0, 1, (1,), float32)``, the fraction of the block added to the schedule this
step; values outside ``[0, 1]`` are clipped, and the schedule never passes ``X``. A TWAP is
the constant action ``1 / T``; the ``pov`` agent with ``volume_feedback: false`` is a TWAP of
rate ``participation * V * interval_steps / window_steps`` lots a step.

Observation (float32 ``Box``, `EXECUTION_OBSERVATION_FIELDS`, read after the step):
``remaining`` (lots not yet executed / X, in [0, 1]), ``time_left`` ((T - k) / T after ``k``
steps), ``spread`` (best ask - best bid, price units; 0 if a side is empty), ``mid_change``
(mark now - ``S_0``, price units), ``order_flow_imbalance`` ((buy - sell) aggressor lots over
the step's book trades / their total), ``volatility`` (EWMA of squared mark changes per unit
of time, halflife ``volatility_halflife_steps``, from the first warm-up step on; price units
per sqrt(time)) and ``market_volume`` (book lots traded over the step).

Reward (Almgren and Chriss 2000): the implementation shortfall against the arrival price,
step by step, with the risk term of their mean-variance objective as a running penalty::

    r_k = (dCash_k + S_0 * dInventory_k) - phi * u_k^2 * dt   [ - pi * S_0 * u_T on the last step ]

``u_k`` is the quantity not yet executed (lots), ``phi`` =
`ExecutionReward.inventory_penalty` (Almgren-Chriss's ``lambda sigma^2``: their variance is
``sigma^2 sum tau x_k^2``) and ``pi`` = ``ExecutionReward.unfinished_penalty_bps / 1e4`` per
unfinished lot. For a sale, ``dCash + S_0 dInventory = q (p - S_0)`` per fill: the episode's
return is minus the shortfall ``sum q (S_0 - p)`` (``info["shortfall"]``, a cost when
positive) less the penalties. The episode ends (``terminated``) after ``T`` steps
(``horizon_steps``) or once the block is executed.

Seeding as `MarketMakingEnv`: ``reset(seed=s)`` is the market of ``abm run --seed s``;
``reset()`` continues the current root with ``SeedSequence(root, spawn_key=(e,))``.

References:
    Almgren, R. and Chriss, N. (2000). Optimal execution of portfolio transactions.
    Journal of Risk 3(2), 5-39.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsFloat

import gymnasium
import numpy as np
from gymnasium import spaces

from abm.envs.errors import EnvError
from abm.envs.market_making import EpisodeSeeds, scenario_of
from abm.market.circuit_breaker import HALTED_ORDER_ID
from abm.model import MarketModel
from abm.results.events import EventKind, TradePurpose
from abm.scenario.groups import PovGroup
from abm.scenario.schema import Scenario

if TYPE_CHECKING:
    from abm.agents.pov import PovTrader

EXECUTION_OBSERVATION_FIELDS = (
    "remaining",
    "time_left",
    "spread",
    "mid_change",
    "order_flow_imbalance",
    "volatility",
    "market_volume",
)
"""The components of `ExecutionEnv`'s observation, in order (module docstring)."""

_EPS = 1e-9  # the pov agent's rounding allowance


@dataclass(frozen=True, slots=True)
class ExecutionReward:
    """The penalties of `ExecutionEnv`'s reward (module docstring); both >= 0 and finite.

    Attributes:
        inventory_penalty: ``phi``, per lot squared of unexecuted quantity per unit of time.
        unfinished_penalty_bps: ``pi`` in basis points of the arrival price, per lot left
            unexecuted at the end of the episode.
    """

    inventory_penalty: float = 0.0
    unfinished_penalty_bps: float = 100.0

    def __post_init__(self) -> None:
        for name in ("inventory_penalty", "unfinished_penalty_bps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise EnvError(f"{name}: must be a number >= 0, got {value!r}")
            if not (math.isfinite(value) and value >= 0):
                raise EnvError(f"{name}: must be finite and >= 0, got {value!r}")


class _Program:
    """Stands in ``model.executors`` for the controlled program: works the env's schedule."""

    __slots__ = ("lots", "market", "trader")

    def __init__(self, market: MarketModel, trader: PovTrader) -> None:
        self.market = market
        self.trader = trader
        self.lots = 0.0  # added to the schedule at the program's next activation

    def step(self) -> None:
        """The pov agent's aggressive step, with the env's lots instead of its volume rule."""
        trader, market = self.trader, self.market
        spec = trader.spec
        if trader.done or market.step_index < spec.start_step:
            return
        if not trader.started:
            trader.started = True
            market.log_event(
                EventKind.POV_START, trader.unique_id, None, float(spec.target_qty), mode=spec.mode
            )
        trader.scheduled = min(trader.scheduled + self.lots, float(spec.target_qty))
        self.lots = 0.0
        if self._finish_if_done():
            return
        executed = trader.executed
        remaining = spec.target_qty - executed - trader.pending
        want = min(remaining, math.floor(trader.scheduled + _EPS) - executed - trader.pending)
        if want > 0:
            result = market.book_venue.market(
                trader, trader.is_buy, want, purpose=TradePurpose.EXECUTION
            )
            if result.order_id == HALTED_ORDER_ID and not result.unfilled_qty:
                trader.pending += want
        self._finish_if_done()

    def _finish_if_done(self) -> bool:
        trader = self.trader
        if trader.executed < trader.spec.target_qty:
            return False
        trader.done = True
        self.market.log_event(EventKind.POV_DONE, trader.unique_id, None, float(trader.executed))
        return True


class ExecutionEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """A Gymnasium environment in which the agent schedules one execution program's trades.

    Observation, action, reward, episode end and seeding: the module docstring.

    Args:
        scenario: A `Scenario`, a scenario file, or a bundled scenario name.
        group: The ``pov`` group whose program the agent controls (default: the first).
        agent_index: Which program of the group (0-based).
        horizon_steps: ``T``, steps of an episode (default: from ``start_step`` to the
            scenario's end); ``start_step + T - 1`` must not pass the scenario's ``steps``.
        reward: The penalties (`ExecutionReward`; default 100 bp per unfinished lot).
        volatility_halflife_steps: Halflife of the observation's volatility estimate, steps.

    Raises:
        EnvError: On a group that is not a ``pov`` group of the scenario (or is passive), an
            index or horizon out of range, or a bad reward (the message names it).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's own declaration

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        group: str | None = None,
        agent_index: int = 0,
        horizon_steps: int | None = None,
        reward: ExecutionReward | None = None,
        volatility_halflife_steps: float = 20.0,
    ) -> None:
        self.scenario = scenario_of(scenario)
        programs = [name for name, spec in self.scenario.agents.items() if spec.kind == "pov"]
        if not programs:
            raise EnvError(f"scenario {self.scenario.name!r} has no pov group")
        self.group = programs[0] if group is None else group
        if self.group not in programs:
            raise EnvError(
                f"group: {self.group!r} is not a pov group of {self.scenario.name!r}; "
                f"choose one of {', '.join(programs)}"
            )
        spec = self.scenario.agents[self.group]
        assert isinstance(spec, PovGroup)
        if spec.mode != "aggressive":
            raise EnvError(f"group: {self.group!r} is passive; the env sends market orders")
        if isinstance(agent_index, bool) or not isinstance(agent_index, int):
            raise EnvError(f"agent_index: must be an integer, got {agent_index!r}")
        if not 0 <= agent_index < spec.count:
            raise EnvError(f"agent_index: must be in 0..{spec.count - 1} for {self.group!r}")
        self.agent_index = agent_index
        self.start_step = max(spec.start_step, 1)
        available = self.scenario.steps - self.start_step + 1
        if available < 1:
            raise EnvError(f"group: {self.group!r} starts after the scenario's last step")
        if horizon_steps is None:
            horizon_steps = available
        if isinstance(horizon_steps, bool) or not isinstance(horizon_steps, int):
            raise EnvError(f"horizon_steps: must be an integer, got {horizon_steps!r}")
        if not 1 <= horizon_steps <= available:
            raise EnvError(
                f"horizon_steps: must be in 1..{available} (steps from start_step to the end)"
            )
        self.horizon_steps = horizon_steps
        self.target_qty = spec.target_qty
        self.reward_spec = ExecutionReward() if reward is None else reward
        if not isinstance(self.reward_spec, ExecutionReward):
            raise EnvError(f"reward: must be an ExecutionReward, got {reward!r}")
        halflife = volatility_halflife_steps
        if isinstance(halflife, bool) or not isinstance(halflife, int | float) or not halflife > 0:
            raise EnvError(f"volatility_halflife_steps: must be a number > 0, got {halflife!r}")
        self._weight = 1.0 - 0.5 ** (1.0 / float(halflife))
        self.action_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        inf = np.inf
        self.observation_space = spaces.Box(
            np.array([0, 0, 0, -inf, -1, 0, 0], dtype=np.float32),
            np.array([1, 1, inf, inf, 1, inf, inf], dtype=np.float32),
            dtype=np.float32,
        )
        self._seeds = EpisodeSeeds(self.scenario.seed)
        self.model: MarketModel | None = None
        self.trader: PovTrader | None = None
        self._program: _Program | None = None
        self.arrival_price = 0.0
        self._k = 0
        self._cursor = 0
        self._mark = 0.0
        self._variance: float | None = None
        self._value = 0.0
        self._shortfall = 0.0

    # ----- the Gymnasium API ----------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Build the model, run it to the program's start and fix the arrival price."""
        super().reset(seed=seed)
        model_seed = self._seeds.next(seed)
        self._release()
        model = MarketModel(self.scenario, seed=model_seed)
        traders = [t for t in model.executors if t.group == self.group]
        trader: PovTrader = traders[self.agent_index]  # type: ignore[assignment]
        program = _Program(model, trader)
        model.executors[model.executors.index(trader)] = program  # type: ignore[call-overload]
        self.model, self.trader, self._program = model, trader, program
        self._mark, self._variance = model.mark_price(), None
        while model.step_index < self.start_step - 1:
            model.step()
            self._update_volatility()
        self.arrival_price = model.mark_price()
        self._k, self._shortfall = 0, 0.0
        self._cursor = model.exchange.tape_position
        self._value = self._trader_value()
        info = self._info()
        info["seed"] = model_seed
        return self._observe(), info

    def step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Add ``action * X`` lots to the schedule, run one model step, return the reward."""
        model, trader, program = self.model, self.trader, self._program
        if model is None or trader is None or program is None:
            raise EnvError("step: call reset() before step()")
        if self._done():
            raise EnvError("step: the episode has ended; call reset()")
        values = np.asarray(action, dtype=np.float64).reshape(-1)
        if values.shape != (1,) or not np.isfinite(values[0]):
            raise EnvError(f"action: must be one finite number, got {action!r}")
        program.lots = float(np.clip(values[0], 0.0, 1.0)) * self.target_qty
        model.step()
        self._k += 1
        self._update_volatility()
        value = self._trader_value()
        gain = value - self._value
        self._value = value
        self._shortfall -= gain
        unfinished = self.target_qty - trader.executed
        spec = self.reward_spec
        reward = gain - spec.inventory_penalty * unfinished * unfinished * model.dt
        terminated = self._done()
        if terminated and unfinished > 0:
            reward -= spec.unfinished_penalty_bps / 1e4 * self.arrival_price * unfinished
        return self._observe(), float(reward), terminated, False, self._info()

    def close(self) -> None:
        """Free the episode's model (Mesa 3.3 keeps models alive otherwise; PITFALLS.md)."""
        self._release()
        super().close()

    # ----- helpers --------------------------------------------------------------------

    def _done(self) -> bool:
        assert self.model is not None and self.trader is not None
        return self._k >= self.horizon_steps or self.trader.done or self.model.finished

    def _trader_value(self) -> float:
        """Cash plus position at the arrival price: its changes are the shortfall's."""
        assert self.trader is not None
        return self.trader.cash + self.trader.inventory * self.arrival_price

    def _update_volatility(self) -> None:
        assert self.model is not None
        mark = self.model.mark_price()
        squared = (mark - self._mark) ** 2 / self.model.dt
        self._mark = mark
        if self._variance is None:
            self._variance = squared
        else:
            self._variance += self._weight * (squared - self._variance)

    def _observe(self) -> np.ndarray:
        model, trader = self.model, self.trader
        assert model is not None and trader is not None
        buys = sells = 0
        for is_buy, _price, qty in model.exchange.tape_since(self._cursor):
            if is_buy:
                buys += qty
            else:
                sells += qty
        self._cursor = model.exchange.tape_position
        book = model.book
        best_bid, best_ask = book.best_bid_ticks(), book.best_ask_ticks()
        spread = 0 if best_bid is None or best_ask is None else best_ask - best_bid
        volumes = model.cumulative_volume
        values = (
            (self.target_qty - trader.executed) / self.target_qty,
            (self.horizon_steps - self._k) / self.horizon_steps,
            spread * model.tick_size,
            model.mark_price() - self.arrival_price,
            (buys - sells) / (buys + sells) if buys + sells else 0.0,
            math.sqrt(self._variance or 0.0),
            float(volumes[-1] - volumes[-2]) if len(volumes) > 1 else 0.0,
        )
        return np.array(values, dtype=np.float32)

    def _info(self) -> dict[str, Any]:
        assert self.model is not None and self.trader is not None
        return {
            "step": self.model.step_index,
            "executed": self.trader.executed,
            "remaining": self.target_qty - self.trader.executed,
            "arrival_price": self.arrival_price,
            "shortfall": self._shortfall,
        }

    def _release(self) -> None:
        if self.model is not None:
            self.model.release()
        self.model = self.trader = self._program = None


def execution_env_factory(
    scenario: Scenario | str | Path, **kwargs: Any
) -> Callable[[], ExecutionEnv]:
    """A picklable constructor of `ExecutionEnv` for ``gymnasium.vector`` (as `env_factory`)."""
    resolved = scenario_of(scenario)
    ExecutionEnv(resolved, **kwargs).close()  # check the arguments here, not in a worker
    return functools.partial(ExecutionEnv, resolved, **kwargs)
