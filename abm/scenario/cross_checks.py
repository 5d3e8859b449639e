"""Constraints between scenario fields, checked at validation so that a run never fails on them.

Each field of `abm.scenario.schema.Scenario` is validated on its own by its spec; what only
fields together decide (or a field and the file system) lives here: a Paddrik class's mean
gap against ``dt``, a program's start against ``steps``, every price the scenario sets against
``tick_size``, the network against the number of market makers, and an edge list's CSV
against the file system.
Each of these would otherwise surface in the middle of a run (a slow step, a missing fall, an
overflowing tick count, a ``NetworkError``), after the user has waited for it.

The functions are pure: they take the parts of a scenario they compare and raise
`DocumentProblem` naming the document path to change, which `abm.scenario.errors.explain` turns
into the scenario's ``<file>: <path>: <problem>`` line. The scenario's model validators call
them, since pydantic needs its decorators on the class. `edge_list_path` is the one that
`load_scenario` calls instead (only a file has a directory), so it raises the whole
`ScenarioError` line itself and returns the path to put in the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from abm.contagion.specs import (
    BarabasiAlbertTopology,
    CorePeripheryTopology,
    EdgeListTopology,
    ErdosRenyiTopology,
    GivenExposure,
    NetworkSpec,
    StarTopology,
)
from abm.fundamental import FundamentalSpec
from abm.scenario.errors import DocumentProblem, ScenarioError, show
from abm.scenario.groups import AgentGroup, MarketMakerGroup, PovGroup
from abm.scenario.paddrik import PaddrikGroup
from abm.scenario.types import MAX_PRICE_TICKS
from abm.shocks import LENDING_SHOCKS, POOL_SHOCKS

if TYPE_CHECKING:
    from abm.scenario.lending import LendingSpec

__all__ = [
    "check_amm_section",
    "check_lending_section",
    "check_network",
    "check_network_fits_the_market_makers",
    "check_prices_fit_the_tick",
    "check_programs_start_within_the_run",
    "check_step_resolves_arrivals",
    "edge_list_path",
    "initial_prices",
]

_LONGEST_SHOWN_PATH = 4096
"""The longest edge-list path shown whole in a message (about the longest path a system takes)."""


def check_step_resolves_arrivals(agents: Mapping[str, AgentGroup], dt: float) -> None:
    """Refuse a Paddrik class whose mean gap between orders is shorter than one step.

    A trader acts at most once per step, so a step longer than its mean gap would slow it.

    Args:
        agents: Group name -> group, as in the scenario.
        dt: Model time per step, seconds.

    Raises:
        DocumentProblem: Naming ``agents.<group>.mean_interarrival_s``.
    """
    for name, group in agents.items():
        if isinstance(group, PaddrikGroup) and group.mean_interarrival_s < dt:
            raise DocumentProblem(
                f"agents.{name}.mean_interarrival_s",
                f"{group.mean_interarrival_s!r} s is shorter than dt ({dt!r} s); lower "
                "dt so that one step resolves the fastest traders",
            )


def check_programs_start_within_the_run(agents: Mapping[str, AgentGroup], steps: int) -> None:
    """Refuse a POV program that starts after the run's last step.

    A program that never starts has no fall to measure: the run would end in an error.

    Args:
        agents: Group name -> group, as in the scenario.
        steps: Number of model steps.

    Raises:
        DocumentProblem: Naming ``agents.<group>.start_step``.
    """
    for name, group in agents.items():
        if isinstance(group, PovGroup) and group.start_step > steps:
            raise DocumentProblem(
                f"agents.{name}.start_step",
                f"{group.start_step} is after the run's last step (steps: {steps}); "
                "start the program earlier or run more steps",
            )


def check_prices_fit_the_tick(
    fundamental: FundamentalSpec, agents: Mapping[str, AgentGroup], tick_size: float
) -> None:
    """Refuse an opening value below one tick, or a price beyond `MAX_PRICE_TICKS` ticks.

    Prices live in integer ticks (`MAX_PRICE_TICKS` says why they are bounded).

    Args:
        fundamental: The scenario's fundamental process (``s0``, or ``high`` for a binary one).
        agents: Group name -> group; market makers' policy values count as prices.
        tick_size: Price of one tick.

    Raises:
        DocumentProblem: Naming the fundamental's opening field, or the first price too large.
    """
    opening = "s0" if hasattr(fundamental, "s0") else "high"
    value = float(getattr(fundamental, opening))
    if value < tick_size:
        raise DocumentProblem(
            f"fundamental.{opening}",
            f"{value!r} is less than one tick ({tick_size!r}); lower tick_size",
        )
    for path, price in initial_prices(fundamental, agents):
        if price / tick_size > MAX_PRICE_TICKS:
            raise DocumentProblem(
                path,
                f"{price!r} is {price / tick_size:.3g} ticks of {tick_size!r}; "
                f"prices may be at most {MAX_PRICE_TICKS:.0e} ticks (raise tick_size or "
                "lower the price)",
            )


def initial_prices(
    fundamental: FundamentalSpec, agents: Mapping[str, AgentGroup]
) -> list[tuple[str, float]]:
    """(document path, price) of the prices a scenario sets: its fundamental's and policies'.

    Policy values (``v_low``, ``v_high``) count by magnitude, in document order of the groups.
    """
    prices = [
        (f"fundamental.{field}", float(getattr(fundamental, field)))
        for field in ("s0", "low", "high")
        if hasattr(fundamental, field)
    ]
    for name, group in agents.items():
        if not isinstance(group, MarketMakerGroup):
            continue
        policy = group.policy
        prices += [
            (f"agents.{name}.policy.{field}", abs(float(getattr(policy, field))))
            for field in ("v_low", "v_high")
            if hasattr(policy, field)
        ]
    return prices


def check_network_fits_the_market_makers(
    network: NetworkSpec, makers: Mapping[str, AgentGroup]
) -> None:
    """Refuse what `abm.contagion.graph.build_network` would refuse at run time.

    Args:
        network: The scenario's network.
        makers: The market-maker groups, name -> group (`Scenario.groups_of`).

    Raises:
        DocumentProblem: Naming the ``network`` field (`check_network`), or the
            ``agents.<group>.cash`` of a market maker with negative cash: with a network,
            cash is a market maker's capital.
    """
    check_network(network, sum(group.count for group in makers.values()))
    for name, group in makers.items():
        if group.count and group.cash < 0:
            raise DocumentProblem(
                f"agents.{name}.cash",
                f"{group.cash!r} is negative; with a network, a market maker's cash "
                "is its capital and must be >= 0",
            )


def check_amm_section(
    has_amm: bool, agents: Mapping[str, AgentGroup], shock_kinds: list[str]
) -> None:
    """Refuse what needs an AMM pool in a scenario without an ``amm`` section.

    Liquidity-provider and arbitrageur groups, takers routed with ``venue: amm | best`` and
    the pool shocks (`abm.shocks.POOL_SHOCKS`) all trade at the pool, which would be missing
    at run time.

    Raises:
        DocumentProblem: Naming the first group or shock that needs the pool.
    """
    if has_amm:
        return
    for name, group in agents.items():
        if group.kind in ("liquidity_provider", "arbitrageur"):
            raise DocumentProblem(
                f"agents.{name}.kind", f"{group.kind} needs an amm section (the AMM pool)"
            )
        route = getattr(group, "venue", "book")
        if route != "book":
            raise DocumentProblem(
                f"agents.{name}.venue", f"{route!r} needs an amm section (the AMM pool)"
            )
    for index, kind in enumerate(shock_kinds):
        if kind in POOL_SHOCKS:
            raise DocumentProblem(
                f"shocks.{index}.kind", f"{kind} needs an amm section (the AMM pool)"
            )


LENDING_KINDS = ("borrower", "liquidator")
"""Agent kinds that act at the lending pool."""


def check_lending_section(
    lending: LendingSpec | None,
    has_amm: bool,
    agents: Mapping[str, AgentGroup],
    shock_kinds: list[str],
    makers: Mapping[str, AgentGroup],
) -> None:
    """Refuse what needs a lending pool without a ``lending`` section, or an AMM without one.

    Borrower and liquidator groups and the lending shocks (`abm.shocks.LENDING_SHOCKS`) act at
    the pool; an oracle that reads the AMM pool (``amm_twap``, or ``push`` of source ``amm``)
    needs an ``amm`` section; a dealer position names a market maker that must exist.

    Raises:
        DocumentProblem: Naming the first field at fault.
    """
    if lending is None:
        for name, group in agents.items():
            if group.kind in LENDING_KINDS:
                raise DocumentProblem(
                    f"agents.{name}.kind", f"{group.kind} needs a lending section (the pool)"
                )
        for index, kind in enumerate(shock_kinds):
            if kind in LENDING_SHOCKS:
                raise DocumentProblem(
                    f"shocks.{index}.kind", f"{kind} needs a lending section (the pool)"
                )
        return
    if lending.oracle.observes == "amm" and not has_amm:
        raise DocumentProblem(
            "lending.oracle.kind",
            f"{lending.oracle.kind!r} reads the AMM pool's price and needs an amm section",
        )
    factor = lending.collateral_factor_bps / 10_000
    threshold = lending.liquidation_threshold_bps / 10_000
    for name, group in agents.items():
        if group.kind != "borrower":
            continue
        leverage = group.target_leverage
        if leverage * (1 - factor) >= 1:
            raise DocumentProblem(
                f"agents.{name}.target_leverage",
                f"{leverage!r} is out of reach: the collateral factor "
                f"{lending.collateral_factor_bps} bp allows below {1 / (1 - factor):.4g}",
            )
        target_health = threshold * leverage / (leverage - 1)
        if group.delever_health >= target_health:
            raise DocumentProblem(
                f"agents.{name}.delever_health",
                f"{group.delever_health!r} must be below the health factor at the target "
                f"leverage, {target_health:.4g}, or the borrower de-levers as it levers up",
            )
    count = sum(group.count for group in makers.values())
    for index, position in enumerate(lending.dealer_positions):
        if position.maker >= count:
            raise DocumentProblem(
                f"lending.dealer_positions.{index}.maker",
                f"{position.maker} is not a market maker index (the scenario has {count})",
            )


def check_network(network: NetworkSpec, makers: int) -> None:
    """Refuse a network topology that cannot be built among ``makers`` market makers.

    Raises:
        DocumentProblem: Naming the ``network`` field to change.
    """
    if makers < 1:
        raise DocumentProblem(
            "network",
            "a network links market makers, but the market_maker groups have no agents "
            "(count 0); add market makers or remove the network",
        )
    topology = network.topology
    if isinstance(topology, ErdosRenyiTopology) and (topology.mean_degree or 0.0) > makers - 1:
        raise DocumentProblem(
            "network.topology.mean_degree",
            f"{topology.mean_degree!r} exceeds {makers - 1}, the most links a market maker can "
            f"have among {makers}; lower it or add market makers",
        )
    if isinstance(topology, BarabasiAlbertTopology) and topology.m >= makers:
        raise DocumentProblem(
            "network.topology.m",
            f"{topology.m} must be below the number of market makers ({makers})",
        )
    if isinstance(topology, StarTopology) and topology.center >= makers:
        raise DocumentProblem(
            "network.topology.center",
            f"{topology.center} is not a market maker (nodes are 0..{makers - 1})",
        )
    if isinstance(topology, CorePeripheryTopology) and topology.core > makers:
        raise DocumentProblem(
            "network.topology.core",
            f"{topology.core} exceeds the number of market makers ({makers})",
        )
    if isinstance(network.exposure, GivenExposure) and not isinstance(topology, EdgeListTopology):
        raise DocumentProblem(
            "network.exposure.kind",
            "'given' reads the exposure column of an edge list; use topology kind "
            "'edge_list' or another exposure kind",
        )


def edge_list_path(network: NetworkSpec | None, directory: Path, *, source: str) -> str | None:
    """The absolute path of an edge-list network's CSV, relative paths taken from ``directory``.

    Checked when a scenario file is loaded (not by validation, which sees no directory), since
    the run would fail when it builds the network.

    Args:
        network: The scenario's network.
        directory: The directory of the scenario file.
        source: Where the scenario came from; starts the error line.

    Returns:
        The path to put in ``network.topology.path``, or None if the topology is not an edge
        list or its path is already that absolute path.

    Raises:
        ScenarioError: ``source: network.topology.path: ...`` if the edge list is not a file.
    """
    topology = None if network is None else network.topology
    if not isinstance(topology, EdgeListTopology):
        return None
    path = Path(topology.path)
    if not path.is_absolute():
        path = directory.resolve() / path
    try:
        found = path.is_file()
    except OSError:  # a name too long for the file system, say
        found = False
    if not found:
        # a path is shown whole (up to the longest path a system takes): cut, it says nothing
        shown = repr(str(path)) if len(str(path)) <= _LONGEST_SHOWN_PATH else show(str(path))
        raise ScenarioError(
            f"{source}: network.topology.path: {shown} is not a file; give the "
            "edge-list CSV's path, relative to the scenario file"
        )
    return None if str(path) == topology.path else str(path)
