"""The model behind the live dashboard (`abm.dashboard.app`): flat keywords to a `MarketModel`.

Mesa's SolaraViz rebuilds its model as ``ModelClass(**params)`` on Reset, so the dashboard
needs a model whose constructor takes the controls (seed, steps, trader counts, quoting
policy) as keyword arguments with defaults. `DashboardModel` is that thin wrapper: it reads
a scenario file, applies the controls as scenario overrides (`dashboard_scenario`), and
keeps a bounded history of market snapshots for the charts. A control changed in the page
takes effect on Reset; `pending_controls` says which controls differ from the running
model, so the page can mark them. It does not import solara.
"""

from __future__ import annotations

import operator
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, SupportsIndex

from abm.errors import AbmError
from abm.model import MarketModel
from abm.scenario.bundle import resolve_scenario
from abm.scenario.schema import Scenario, ScenarioError, load_scenario

SCENARIO_ENV = "ABM_DASHBOARD_SCENARIO"  # the scenario `abm dashboard` passes to abm.dashboard.app
DEFAULT_SCENARIO = "baseline"  # a bundled name (abm.scenario.bundle)
HISTORY_STEPS = 1000
POLICY_CHOICES = ("scenario", "avellaneda_stoikov", "glft", "symmetric")
CONTROLS = ("seed", "steps", "n_noise", "informed_count", "mm_policy")  # the page's inputs


class DashboardError(AbmError, ValueError):
    """A dashboard control holds a value the scenario cannot take; the message says which."""


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """The market at the end of one step, as the charts need it (prices in price units)."""

    step: int
    fundamental: float
    best_bid: float | None
    best_ask: float | None
    last_price: float | None
    bid_depth: int
    ask_depth: int
    pool_price: float | None = None  # the AMM pool's price (price units), if the run has one


def resolve_scenario_path(path: str | os.PathLike[str] | None) -> Path:
    """The scenario file to show: ``path``, else the bundled scenario of that name.

    ``None`` or an empty string means the bundled baseline. A path that is not a file is
    looked up among the bundled scenarios (`abm.scenario.bundle.resolve_scenario`), so
    ``"crisis/hot_potato"`` or ``"crisis/hot_potato.yaml"`` works from anywhere and from an
    installed wheel; a path that is neither comes back as given, for `load_scenario` to refuse.

    Raises:
        DashboardError: If ``path`` is not None, a str or an ``os.PathLike`` of str.
    """
    if path is not None and not (
        isinstance(path, str | os.PathLike) and isinstance(os.fspath(path), str)
    ):
        raise DashboardError(
            f"scenario_path: must be a scenario file path or a bundled name, got {_shown(path)}"
        )
    if path is None or not os.fspath(path):
        path = DEFAULT_SCENARIO
    try:
        return resolve_scenario(path)
    except ScenarioError:
        return Path(path)


# a seed typed in the page has at most this many digits (far above any SeedSequence need,
# far below Python's int-conversion limit)
SEED_DIGITS_MAX = 100


def _shown(value: object) -> str:
    """``repr(value)`` cut short, so that an error message stays one line."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def parse_seed(value: int | str | None) -> int | None:
    """Read the seed control: an integer, its text (text boxes return strings), or blank.

    Raises:
        DashboardError: If the value is not a non-negative integer (a bool, a float or a
            text of other than up to `SEED_DIGITS_MAX` decimal digits is not one).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= SEED_DIGITS_MAX):
            raise DashboardError(f"seed: must be a non-negative integer, got {_shown(value)}")
        return int(text)
    return control_int(value, "seed")


def control_int(value: object, control: str) -> int:
    """A numeric control's value as an int >= 0: an int or a numpy integer, never a bool.

    Raises:
        DashboardError: Naming ``control``, for any other value.
    """
    number = None
    if not isinstance(value, bool) and isinstance(value, SupportsIndex):
        try:
            number = operator.index(value)
        except TypeError:
            number = None
    if number is None or number < 0:
        raise DashboardError(f"{control}: must be a non-negative integer, got {_shown(value)}")
    return number


def _sole_group(scenario: Scenario, kind: str, control: str, count: int) -> str | None:
    names = list(scenario.groups_of(kind))
    if len(names) == 1:
        return names[0]
    if not names and count == 0:
        return None
    if not names:
        raise DashboardError(f"{control}: the scenario has no {kind} group; set it to 0")
    raise DashboardError(
        f"{control}: the scenario has several {kind} groups ({', '.join(names)}); "
        "edit their counts in the scenario file instead"
    )


def policy_document(scenario: Scenario, kind: str) -> dict[str, Any]:
    """The policy a ``mm_policy`` choice gives every market-maker group.

    The parameters come from the scenario's first market-maker group that already uses
    ``kind``; otherwise from the baseline scenario (Avellaneda & Stoikov 2008 with gamma
    0.01, k 60 and the run's horizon as T; Gueant, Lehalle & Fernandez-Tapia 2013 with
    gamma 0.5, k 60, A 1; a symmetric spread of 4 ticks).

    Raises:
        DashboardError: If ``kind`` is not one of `POLICY_CHOICES` (other than ``scenario``).
    """
    for group in scenario.groups_of("market_maker").values():
        policy = getattr(group, "policy", None)
        if policy is not None and policy.kind == kind:
            return policy.model_dump()
    if kind == "avellaneda_stoikov":
        return {"kind": kind, "gamma": 0.01, "k": 60.0, "T": scenario.steps * scenario.dt}
    if kind == "glft":
        return {"kind": kind, "gamma": 0.5, "k": 60.0, "A": 1.0}
    if kind == "symmetric":
        return {"kind": kind, "spread": 4 * scenario.tick_size}
    raise DashboardError(f"mm_policy: unknown policy {kind!r}; expected one of {POLICY_CHOICES}")


def dashboard_scenario(
    scenario: Scenario,
    *,
    seed: int | str | None = None,
    steps: int | None = None,
    n_noise: int | None = None,
    informed_count: int | None = None,
    mm_policy: str = "scenario",
) -> Scenario:
    """Apply the dashboard's controls to ``scenario`` (None or ``"scenario"``: unchanged).

    ``n_noise`` and ``informed_count`` size the scenario's noise and informed group (it
    must have exactly one of each kind to size, or none and a count of 0).

    Raises:
        DashboardError: On a bad seed, policy, step or group count (a bool, a float or a
            negative count is refused, never truncated).
        abm.scenario.schema.ScenarioError: If the changed scenario is invalid (e.g. steps < 1).
    """
    changes: dict[str, Any] = {}
    parsed_seed = parse_seed(seed)
    if parsed_seed is not None:
        changes["seed"] = parsed_seed
    if steps is not None:
        changes["steps"] = control_int(steps, "steps")
    for kind, control, count in (
        ("noise", "n_noise", n_noise),
        ("informed", "informed_count", informed_count),
    ):
        if count is None:
            continue
        number = control_int(count, control)
        if name := _sole_group(scenario, kind, control, number):
            changes[f"agents.{name}.count"] = number
    if mm_policy != "scenario":
        document = policy_document(scenario, mm_policy)
        for name in scenario.groups_of("market_maker"):
            changes[f"agents.{name}.policy"] = document
    return scenario.override(changes) if changes else scenario


class DashboardModel(MarketModel):
    """A `MarketModel` built from flat keyword arguments, as SolaraViz's Reset needs.

    SolaraViz rebuilds the model as ``DashboardModel(**params)``; the parameters are
    those of `dashboard_scenario` plus the scenario file. The model keeps the last
    ``history_steps`` market snapshots for the charts, and sets ``running`` to False once
    the scenario's steps have run (Mesa then disables Step and Play).

    Raises:
        abm.scenario.schema.ScenarioError: If the file is not a valid scenario.
        DashboardError: On a bad control value (see `dashboard_scenario`).
    """

    def __init__(
        self,
        *,
        scenario_path: str = DEFAULT_SCENARIO,
        seed: int | str | None = None,
        steps: int | None = None,
        n_noise: int | None = None,
        informed_count: int | None = None,
        mm_policy: str = "scenario",
        history_steps: int = HISTORY_STEPS,
    ) -> None:
        original = load_scenario(resolve_scenario_path(scenario_path))
        scenario = dashboard_scenario(
            original,
            seed=seed,
            steps=steps,
            n_noise=n_noise,
            informed_count=informed_count,
            mm_policy=mm_policy,
        )
        super().__init__(scenario)
        self.mm_policy = mm_policy
        self.file_seed = original.seed  # what a blank seed box means
        self.history: deque[MarketSnapshot] = deque(maxlen=history_steps)
        self._snapshot()

    def control_values(self) -> dict[str, int | str | None]:
        """The value of each control (`CONTROLS`) this model runs with.

        The seed and steps are the scenario's after the controls were applied; a trader
        count is the size of the scenario's sole group of that kind (None without one);
        ``mm_policy`` is the choice the model was built with.
        """
        counts = {
            control: groups[0].count if len(groups) == 1 else None
            for control, groups in (
                ("n_noise", list(self.scenario.groups_of("noise").values())),
                ("informed_count", list(self.scenario.groups_of("informed").values())),
            )
        }
        return {
            "seed": self.seed,
            "steps": self.scenario.steps,
            **counts,
            "mm_policy": self.mm_policy,
        }

    def step(self) -> None:
        """One `MarketModel` step, then a snapshot for the charts."""
        super().step()
        self._snapshot()

    def _snapshot(self) -> None:
        book = self.book
        last = self.exchange.last_price_ticks
        self.history.append(
            MarketSnapshot(
                self.step_index,
                self.fundamental.value,
                book.best_bid(),
                book.best_ask(),
                None if last is None else book.to_price(last),
                book.total_qty("buy"),
                book.total_qty("sell"),
                self._pool_price(),
            )
        )
        self.running = not self.finished

    def _pool_price(self) -> float | None:
        """The AMM pool's price now (`abm.market.amm.venue.AmmVenue.price`), or None."""
        venue = self.exchange.venues.get("amm")
        price = getattr(venue, "price", None)
        return None if price is None or getattr(venue, "pool", None) is None else price()


def pending_controls(
    model: DashboardModel, chosen: dict[str, Any]
) -> dict[str, tuple[int | str | None, object]]:
    """Controls whose chosen value differs from the running model's: ``{name: (now, chosen)}``.

    ``chosen`` maps control names (`CONTROLS`; other keys are ignored) to the values set
    in the page; Reset would build the model from them. A seed typed as text counts as
    its integer (``" 7 "`` is 7) and a blank one as the scenario file's seed; a seed that
    is not an integer always counts as changed (Reset then reports it). A control missing
    from ``chosen`` is not compared.
    """
    now = model.control_values()
    changed: dict[str, tuple[int | str | None, object]] = {}
    for name in CONTROLS:
        if name not in chosen:
            continue
        value = chosen[name]
        if name == "seed":
            try:
                parsed = parse_seed(value)
            except DashboardError:
                changed[name] = (now[name], value)
                continue
            value = model.file_seed if parsed is None else parsed
        elif name != "mm_policy" and value is not None:
            try:
                value = control_int(value, name)
            except DashboardError:  # junk is a change, which Reset then reports
                changed[name] = (now[name], value)
                continue
        if value != now[name]:
            changed[name] = (now[name], value)
    return changed
