"""The contagion network of one run: node ids, exposures, DebtRank of a shock, and its figure.

Pure functions over a `RunResult` (DESIGN.md section 7); the only model code used is
`abm.contagion.graph.debtrank`, which is pure math. Network node ``i`` is the ``i``-th market maker
in
creation order, that is the ``i``-th smallest market-maker ``agent_id``; an edge ``source ->
target`` of the ``network`` table means the source has lent ``exposure`` (price units, the
exposure at the start of the run) to the target. The crisis metrics over time are in
`analysis.contagion`, which re-exports `network_figure`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from abm.network import debtrank
from abm.results.events import EventKind
from abm.results.run_result import RunResult
from analysis.figures import new_figure
from analysis.tables import DEFAULTED, MARKET_MAKER_KIND, events_of_kind

if TYPE_CHECKING:
    from abm.contagion.math import DebtRankResult

_ACTIVE, _NO_WAVE = "lightgrey", "black"

# --- network ----------------------------------------------------------------------------------


def market_maker_ids(agents: pd.DataFrame) -> list[int]:
    """Market-maker agent ids in creation order: network node ``i`` is the ``i``-th."""
    ids = agents.loc[agents["kind"] == MARKET_MAKER_KIND, "agent_id"].to_numpy(dtype=np.int64)
    return sorted(set(ids.tolist()))


def exposure_matrix(network: pd.DataFrame, n_nodes: int) -> np.ndarray:
    """``(n, n)`` matrix with ``[i, j]`` the exposure of lender ``i`` to borrower ``j``."""
    matrix = np.zeros((n_nodes, n_nodes))
    sources = network["source"].to_numpy(dtype=np.int64)
    targets = network["target"].to_numpy(dtype=np.int64)
    np.add.at(matrix, (sources, targets), network["exposure"].to_numpy(dtype=float))
    return matrix


def shock_losses(events: pd.DataFrame, shock_step: int, ids: list[int]) -> np.ndarray:
    """Direct loss of each node from the shocks of ``shock_step`` (price units; inf = default).

    Loss shocks count their amount, price gaps the fall in value of the dealer's net position
    (``-gap_exposure`` when negative), default shocks (wave 0) an infinite loss. Inventory
    shocks trade at the mid and cause no direct loss; the rest of the step (trading, the
    cascade) is what DebtRank models, so it is left out.
    """
    node_of = {agent_id: node for node, agent_id in enumerate(ids)}
    losses = np.zeros(len(ids))
    at_step = events[(events["step"] == shock_step).to_numpy(dtype=bool)]
    for kind, agent_id, amount, wave in zip(
        at_step["kind"], at_step["agent_id"], at_step["amount"], at_step["wave"], strict=True
    ):
        node = node_of.get(int(agent_id)) if not pd.isna(agent_id) else None
        if node is None:
            continue
        if kind == EventKind.LOSS:
            losses[node] += float(amount)
        elif kind == EventKind.GAP_EXPOSURE:
            losses[node] += max(0.0, -float(amount))
        elif kind == EventKind.DEFAULT and wave == 0:
            losses[node] = math.inf
    return losses


@dataclass(frozen=True, slots=True)
class ShockDebtRank:
    """DebtRank inputs built from a run, and the result.

    Attributes:
        exposures: ``(n, n)`` initial exposures (`exposure_matrix`).
        capital: Initial equity of each node (price units, floored at 0).
        shock: Initial relative distress ``h(1)`` of each node, in [0, 1].
        weights: Relative economic value ``v`` of each node (each lender's share of all
            lending, Battiston et al. 2012; uniform without lending).
        result: The `abm.contagion.graph.debtrank` result.
    """

    exposures: np.ndarray
    capital: np.ndarray
    shock: np.ndarray
    weights: np.ndarray
    result: DebtRankResult

    @property
    def initial_distress(self) -> float:
        """``sum_j v_j h_j(1)``: the weighted distress of the shock itself."""
        return float(self.weights @ self.shock)


def shock_debtrank(result: RunResult, shock_step: int) -> ShockDebtRank | None:
    """DebtRank (Battiston et al. 2012) of the shock at ``shock_step`` on the initial network.

    Exposures are the ``network`` table (initial exposures), capital is each market maker's
    equity at step 0 (credit-line funding leaves it unchanged, so it is the starting cash),
    and the initial distress is ``h(1) = min(1, loss / capital)`` with the direct losses of
    `shock_losses` (1 for a node with no capital and a positive loss). Weights are
    Battiston et al.'s, each lender's share of all lending (``1/n`` each without lending).

    Returns:
        The inputs and the `abm.contagion.graph.debtrank` result, or None for a run without market
        makers.
    """
    agents = result.agents
    ids = market_maker_ids(agents)
    if not ids:
        return None
    start = agents[((agents["step"] == 0) & (agents["kind"] == MARKET_MAKER_KIND)).to_numpy(bool)]
    equity = start.set_index("agent_id")["equity"]
    capital = np.maximum(np.array([float(equity.loc[i]) for i in ids]), 0.0)
    losses = shock_losses(result.events, shock_step, ids)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(capital > 0, losses / capital, np.where(losses > 0, 1.0, 0.0))
    shock = np.clip(np.nan_to_num(relative, nan=1.0, posinf=1.0), 0.0, 1.0)
    exposures = exposure_matrix(result.network, len(ids))
    lending = exposures.sum(axis=1)
    total = float(lending.sum())
    weights = lending / total if total > 0 else np.full(len(ids), 1.0 / len(ids))
    rank = debtrank(exposures, capital, shock, weights)
    return ShockDebtRank(exposures, capital, shock, weights, rank)


# --- figure -----------------------------------------------------------------------------------


def network_figure(result: RunResult, *, seed: int = 0) -> Figure:
    """The lending network with each market maker coloured by final status and default wave.

    Nodes are network node indices (``i`` = the ``i``-th market maker), coloured by their
    final ``status``: survivors grey, defaulted market makers by the wave in which they
    defaulted (0 = a default shock; black if no ``default`` event names them). Arrows point
    from lender to borrower, with widths proportional to the initial exposure. The layout is
    ``networkx.spring_layout`` with ``seed``, so the same run always gives the same picture.
    Built as a plain ``Figure`` (no pyplot state).

    Returns:
        A one-panel figure; it says "no market makers" when there are none.
    """
    figure = new_figure((7.0, 6.0))
    ax = figure.add_subplot()
    ax.set_axis_off()
    ids = market_maker_ids(result.agents)
    if not ids:
        ax.text(0.5, 0.5, "no market makers", ha="center", va="center", transform=ax.transAxes)
        return figure
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(ids)))
    network = result.network
    for source, target, exposure in zip(
        network["source"].tolist(),
        network["target"].tolist(),
        network["exposure"].tolist(),
        strict=True,
    ):
        graph.add_edge(int(source), int(target), exposure=float(exposure))
    wave_of = default_wave_by_agent(result.events)
    palette = _wave_palette(max(wave_of.values(), default=0))
    defaulted = final_defaulted(result.agents)
    colours = [
        palette[wave_of[agent_id]]
        if agent_id in wave_of
        else (_NO_WAVE if agent_id in defaulted else _ACTIVE)
        for agent_id in ids
    ]
    pos = nx.spring_layout(graph, seed=seed)
    exposures = np.array([data["exposure"] for _, _, data in graph.edges(data=True)])
    largest = float(exposures.max()) if exposures.size and exposures.max() > 0 else 1.0
    nx.draw_networkx_edges(
        graph,
        pos,
        ax=ax,
        width=list(0.3 + 3.0 * exposures / largest),
        alpha=0.5,
        edge_color="tab:blue",
        arrows=True,
        arrowsize=8,
        node_size=300,
    )
    nx.draw_networkx_nodes(
        graph, pos, ax=ax, node_color=colours, node_size=300, edgecolors="black", linewidths=0.5
    )
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=8)
    handles = [Patch(facecolor=_ACTIVE, edgecolor="black", label="active")]
    handles += [
        Patch(facecolor=palette[w], edgecolor="black", label=f"defaulted, wave {w}")
        for w in sorted(set(wave_of.values()))
    ]
    ax.legend(handles=handles, loc="best", fontsize=8)
    ax.set_title("Lending network (edge width: initial exposure)")
    return figure


def final_defaulted(agents: pd.DataFrame) -> set[int]:
    """Market makers whose ``status`` at their last ``agents`` row is DEFAULTED."""
    mms = agents[(agents["kind"] == MARKET_MAKER_KIND).to_numpy(dtype=bool)]
    last = mms.sort_values("step", kind="stable").groupby("agent_id").tail(1)
    return set(last.loc[(last["status"] == DEFAULTED).to_numpy(dtype=bool), "agent_id"].tolist())


def default_wave_by_agent(events: pd.DataFrame) -> dict[int, int]:
    """Each defaulted market maker's default wave (its first default event)."""
    defaults = events_of_kind(events, EventKind.DEFAULT)
    waves: dict[int, int] = {}
    for agent_id, wave in zip(
        defaults["agent_id"].tolist(), defaults["wave"].tolist(), strict=True
    ):
        waves.setdefault(int(agent_id), int(wave))
    return waves


def _wave_palette(deepest: int) -> list[tuple[float, float, float, float]]:
    """One colour per wave 0..deepest, darker red for later waves."""
    cmap = matplotlib.colormaps["autumn_r"]
    return [cmap(0.3 + 0.7 * w / max(deepest, 1)) for w in range(deepest + 1)]
