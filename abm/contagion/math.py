"""Contagion mathematics: Eisenberg-Noe clearing, DebtRank and threshold default cascades.

Pure functions over numpy arrays and networkx graphs; no Mesa, no model state. The contagion
layer (`abm.contagion.graph`, `abm.contagion.engine`) builds on them and feeds them the market
makers' balance sheets.

Conventions shared by the three functions (one unit of money throughout, any currency):

* Eisenberg-Noe: ``liabilities[i, j]`` is what node ``i`` owes node ``j``.
* DebtRank: ``exposures[i, j]`` is what ``i`` has lent to ``j`` (an asset of ``i``), so ``i``
  loses when ``j`` is distressed.
* Default cascade: a graph edge ``i -> j`` means ``i`` lent to ``j`` (same direction as
  ``exposures``).

References:
    Eisenberg, L. and Noe, T. H. (2001). Systemic risk in financial systems. Management
    Science 47(2), 236-249.
    Battiston, S., Puliga, M., Kaushik, R., Tasca, P. and Caldarelli, G. (2012). DebtRank:
    too central to fail? Financial networks, the FED and systemic risk. Scientific Reports 2,
    541.
    Gai, P. and Kapadia, S. (2010). Contagion in financial networks. Proceedings of the Royal
    Society A 466(2120), 2401-2423.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from abm.errors import AbmError

FloatArray = npt.NDArray[np.float64]


class ContagionError(AbmError, ValueError):
    """A contagion computation was given malformed balance sheets or graph attributes."""


# --- validation -------------------------------------------------------------------------


def _matrix(name: str, value: npt.ArrayLike) -> FloatArray:
    """``value`` as a square, finite, non-negative float matrix, or ContagionError."""
    try:
        matrix = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ContagionError(f"{name} must be a numeric square matrix: {exc}") from exc
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ContagionError(f"{name} must be a square (n, n) matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise ContagionError(f"{name} must be finite; replace NaN/inf entries")
    if np.any(matrix < 0):
        raise ContagionError(f"{name} must be non-negative; found min {matrix.min()!r}")
    return matrix


def _vector(
    name: str, value: npt.ArrayLike, n: int, *, low: float = 0.0, high: float = np.inf
) -> FloatArray:
    """``value`` as a finite float vector of length ``n`` with entries in [low, high]."""
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ContagionError(f"{name} must be a numeric vector: {exc}") from exc
    if vector.shape != (n,):
        raise ContagionError(
            f"{name} must have shape ({n},) to match the {n}x{n} matrix, got {vector.shape}"
        )
    if not np.all(np.isfinite(vector)):
        raise ContagionError(f"{name} must be finite; replace NaN/inf entries")
    if np.any(vector < low) or np.any(vector > high):
        raise ContagionError(
            f"{name} entries must lie in [{low}, {high}]; found [{vector.min()}, {vector.max()}]"
        )
    return vector


# --- Eisenberg-Noe ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClearingResult:
    """Outcome of Eisenberg-Noe clearing.

    Attributes:
        payments: ``p``, total payment of each node: the greatest clearing vector.
        equity: ``e_ext + Pi^T p - p_bar`` (external assets plus payments received minus
            nominal liabilities). Negative for a defaulted node, where it equals minus its
            unpaid debt ``p_i - p_bar_i``; before limited liability.
        equity_clipped: ``max(equity, 0)``: Eisenberg-Noe's net worth ``e_ext + Pi^T p - p``
            at the clearing vector (shareholders lose at most everything).
        waves: Node indices newly found in default at each round of the fictitious default
            algorithm, in order; each list sorted.
        defaulted: All defaulted nodes (``p_i < p_bar_i``), sorted.
    """

    payments: FloatArray
    equity: FloatArray
    equity_clipped: FloatArray
    waves: list[list[int]]
    defaulted: list[int]


def eisenberg_noe(
    liabilities: npt.ArrayLike,
    external_assets: npt.ArrayLike,
    *,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> ClearingResult:
    """Greatest clearing payment vector by the fictitious default algorithm.

    With nominal liabilities ``p_bar_i = sum_j L_ij`` and relative liabilities
    ``Pi_ij = L_ij / p_bar_i`` (zero row when ``p_bar_i = 0``), a clearing vector satisfies
    ``p = min(p_bar, e + Pi^T p)`` (Eisenberg and Noe 2001, Definition 1). Their fictitious
    default algorithm starts from ``p = p_bar``; at each round the nodes that
    cannot pay in full given the others' current payments join the default set ``D``, and
    the payments of ``D`` are re-solved from the linear system
    ``(I - Pi^T_DD) p_D = e_D + Pi^T_{D,S} p_bar_S`` (``S`` the solvent nodes). It stops when
    no new node defaults, after at most ``n`` rounds, at the greatest clearing vector.

    Args:
        liabilities: ``(n, n)`` matrix, ``liabilities[i, j]`` = what ``i`` owes ``j``; finite,
            non-negative. The diagonal is used as given (a self-liability pays itself).
        external_assets: Length-``n`` vector ``e`` of operating cash flow / external assets,
            finite and non-negative.
        tol: Relative tolerance: node ``i`` defaults when its available funds fall below
            ``p_bar_i * (1 - tol)``; also the convergence tolerance of the fallback below.
        max_iter: Iteration cap of the fallback used when the linear system of a round is
            singular (a closed group of defaulters): Picard iteration of the clearing map
            from ``p_bar``, which converges to the greatest fixed point from above.

    Returns:
        ClearingResult with payments, equity (unclipped and clipped), waves and defaulted.

    Raises:
        ContagionError: Non-square, negative, non-finite or mismatched inputs; ``tol`` or
            ``max_iter`` not positive; the fallback iteration not converging.
    """
    matrix = _matrix("liabilities", liabilities)
    n = matrix.shape[0]
    external = _vector("external_assets", external_assets, n)
    if not tol > 0:
        raise ContagionError(f"tol must be > 0, got {tol!r}")
    if max_iter < 1:
        raise ContagionError(f"max_iter must be >= 1, got {max_iter!r}")

    p_bar = matrix.sum(axis=1)
    owes = p_bar > 0
    relative = np.zeros_like(matrix)
    relative[owes] = matrix[owes] / p_bar[owes, None]
    received_from = relative.T  # received_from[i, j] = Pi_ji, share of j's payment to i

    payments = p_bar.copy()
    in_default = np.zeros(n, dtype=bool)
    waves: list[list[int]] = []
    while True:
        available = external + received_from @ payments
        newly = ~in_default & (available < p_bar * (1.0 - tol))
        if not newly.any():
            break
        waves.append([int(i) for i in np.flatnonzero(newly)])
        in_default |= newly
        payments = _solve_defaulters(received_from, external, p_bar, in_default, tol, max_iter)

    equity = external + received_from @ payments - p_bar
    return ClearingResult(
        payments=payments,
        equity=equity,
        equity_clipped=np.maximum(equity, 0.0),
        waves=waves,
        defaulted=[int(i) for i in np.flatnonzero(in_default)],
    )


def _solve_defaulters(
    received_from: FloatArray,
    external: FloatArray,
    p_bar: FloatArray,
    in_default: npt.NDArray[np.bool_],
    tol: float,
    max_iter: int,
) -> FloatArray:
    """Payments when exactly ``in_default`` default and everyone else pays ``p_bar``."""
    d = np.flatnonzero(in_default)
    s = np.flatnonzero(~in_default)
    inner = received_from[np.ix_(d, d)]
    rhs = external[d] + received_from[np.ix_(d, s)] @ p_bar[s]
    scale = max(1.0, float(p_bar.max()))
    slack = 1e-9 * scale
    try:
        solved = np.linalg.solve(np.eye(d.size) - inner, rhs)
    except np.linalg.LinAlgError:
        solved = None
    # A near-singular system can "solve" to garbage without raising; the theory bounds the
    # defaulters' payments to [0, p_bar], so anything outside that is treated as singular.
    if solved is None or not np.all((solved >= -slack) & (solved <= p_bar[d] + slack)):
        solved = p_bar[d]
        for _ in range(max_iter):
            step = np.minimum(p_bar[d], rhs + inner @ solved)
            converged = np.max(np.abs(step - solved)) <= tol * scale
            solved = step
            if converged:
                break
        else:
            raise ContagionError(
                f"clearing iteration did not converge in {max_iter} steps; raise max_iter or tol"
            )
    payments = p_bar.copy()
    # rounding can leave payments a few ulps outside [0, p_bar]
    payments[d] = np.clip(solved, 0.0, p_bar[d])
    return payments


# --- DebtRank ---------------------------------------------------------------------------


class DebtRankState(StrEnum):
    """Node state in DebtRank (Battiston et al. 2012): undistressed, distressed, inactive."""

    UNDISTRESSED = "U"
    DISTRESSED = "D"
    INACTIVE = "I"


@dataclass(frozen=True, slots=True)
class DebtRankResult:
    """Outcome of DebtRank.

    Attributes:
        h: Final relative equity loss of each node, in [0, 1].
        debtrank: ``R = sum_j v_j h_j(T) - sum_j v_j h_j(1)``: weighted distress caused by
            the shock beyond the shock itself.
        states: Final state of each node: INACTIVE if it was ever distressed, else
            UNDISTRESSED (no node is left DISTRESSED).
        iterations: Number of propagation steps until no node was distressed.
    """

    h: FloatArray
    debtrank: float
    states: tuple[DebtRankState, ...]
    iterations: int


def impact_matrix(exposures: npt.ArrayLike, capital: npt.ArrayLike) -> FloatArray:
    """``W_ij = min(1, exposures[i, j] / capital[i])``: loss of ``i`` per unit distress of ``j``.

    Battiston et al. (2012), impact matrix (indices transposed: their ``W_ij``
    is the impact of ``i`` on ``j``). A node with zero capital loses everything on any
    positive exposure (``W = 1``).

    Raises:
        ContagionError: Non-square, negative or non-finite exposures; capital of the wrong
            length, negative or non-finite.
    """
    matrix = _matrix("exposures", exposures)
    cap = _vector("capital", capital, matrix.shape[0])
    impact = (matrix > 0).astype(np.float64)
    funded = cap > 0
    impact[funded] = np.minimum(1.0, matrix[funded] / cap[funded, None])
    return impact


def debtrank(
    exposures: npt.ArrayLike,
    capital: npt.ArrayLike,
    shock: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> DebtRankResult:
    """Single-propagation DebtRank of Battiston et al. (2012).

    With ``h(1) = shock``, nodes with ``h > 0`` start DISTRESSED, the others UNDISTRESSED.
    Each step: ``h_i(t) = min(1, h_i(t-1) + sum_{j DISTRESSED at t-1} W_ij h_j(t-1))`` (see
    :func:`impact_matrix`), then DISTRESSED nodes become INACTIVE and UNDISTRESSED nodes with
    ``h > 0`` become DISTRESSED. A node thus passes its distress on once, in the step after it
    becomes distressed, so cycles cannot amplify it; the loop ends in at most ``n + 1``
    steps. Loss keeps accruing to INACTIVE nodes; they just do not pass it on.

    Note: ``h`` grows with the shock's size on a fixed set of shocked nodes, but not with
    adding shocked nodes: a node shocked at ``t = 1`` propagates its (small) shock and goes
    inactive, instead of propagating the larger distress it would later have received.

    Args:
        exposures: ``(n, n)``, ``exposures[i, j]`` = amount ``i`` has lent to ``j``.
        capital: Length-``n`` equity (capital) of each node, non-negative.
        shock: Length-``n`` initial relative equity loss ``h(1)``, entries in [0, 1].
        weights: Length-``n`` relative economic value ``v``, non-negative, used as given.
            Default: Battiston et al.'s asset share ``v_i = sum_j exposures[i, j] /
            sum_kj exposures[k, j]`` (uniform ``1/n`` when there are no exposures).

    Returns:
        DebtRankResult with final ``h``, ``R``, final states and step count.

    Raises:
        ContagionError: Malformed or mismatched inputs (see :func:`impact_matrix`), shock
            outside [0, 1], negative or non-finite weights.
    """
    impact = impact_matrix(exposures, capital)
    n = impact.shape[0]
    initial = _vector("shock", shock, n, high=1.0)
    h = initial.copy()
    if weights is None:
        assets = np.asarray(exposures, dtype=np.float64).sum(axis=1)
        total = float(assets.sum())
        value = assets / total if total > 0 else np.full(n, 1.0 / n)
    else:
        value = _vector("weights", weights, n)

    # 0 = undistressed, 1 = distressed, 2 = inactive: integer codes keep the loop vectorised
    state = np.where(h > 0, 1, 0)
    iterations = 0
    while np.any(state == 1):
        distressed = state == 1
        h_next = np.minimum(1.0, h + impact[:, distressed] @ h[distressed])
        state = np.where(distressed, 2, np.where((state == 0) & (h_next > 0), 1, state))
        h = h_next
        iterations += 1

    codes = (DebtRankState.UNDISTRESSED, DebtRankState.DISTRESSED, DebtRankState.INACTIVE)
    return DebtRankResult(
        h=h,
        debtrank=float(value @ h - value @ initial),
        states=tuple(codes[int(c)] for c in state),
        iterations=iterations,
    )


# --- threshold default cascade ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CascadeResult:
    """Outcome of a threshold default cascade.

    Attributes:
        defaulted: Every defaulted node, initial ones included, sorted.
        waves: ``waves[0]`` is the initial defaults; ``waves[k]`` the nodes that default
            from the losses of wave ``k - 1``. Each list sorted.
        losses: Total credit loss of every node of the graph (0.0 if untouched), including
            losses booked by nodes after they defaulted.
    """

    defaulted: list[Hashable]
    waves: list[list[Hashable]]
    losses: dict[Hashable, float]


def _ordered(nodes: Iterable[Hashable], graph: nx.DiGraph) -> list[Hashable]:
    """Nodes sorted; in the graph's node order when the labels are not mutually comparable."""
    chosen: list[Any] = list(nodes)
    try:
        return sorted(chosen)
    except TypeError:
        members = set(chosen)
        return [node for node in graph if node in members]


def default_cascade(
    graph: nx.DiGraph,
    initial_defaults: Iterable[Hashable],
    recovery_rate: float = 0.0,
) -> CascadeResult:
    """Propagate defaults through lending links until no more node fails.

    The threshold model of Gai and Kapadia (2010): when ``j`` defaults, each creditor ``i``
    (edge ``i -> j``) loses ``exposure_ij * (1 - recovery_rate)``; ``i`` defaults once its
    cumulative loss is positive and reaches its capital (``>=``). Rounds are synchronous:
    the nodes defaulting in one wave all hit their creditors in the next.

    Args:
        graph: Directed graph (not a multigraph). Every node needs a ``capital`` attribute
            (>= 0) and every edge an ``exposure`` attribute (>= 0), in money.
        initial_defaults: Nodes that default exogenously (wave 0).
        recovery_rate: Fraction of an exposure recovered from a defaulted borrower, in [0, 1].

    Returns:
        CascadeResult with defaulted nodes, waves and per-node losses.

    Raises:
        ContagionError: Undirected or multigraph input; a missing, negative or non-finite
            ``capital``/``exposure``; recovery rate outside [0, 1]; unknown initial nodes.
    """
    if not graph.is_directed() or graph.is_multigraph():
        raise ContagionError("graph must be a networkx DiGraph (directed, no parallel edges)")
    if not 0.0 <= recovery_rate <= 1.0:
        raise ContagionError(f"recovery_rate must lie in [0, 1], got {recovery_rate!r}")
    capital = _attribute_values("capital", graph.nodes(data="capital"))
    _attribute_values("exposure", (((i, j), x) for i, j, x in graph.edges(data="exposure")))
    initial = list(dict.fromkeys(initial_defaults))
    unknown = [node for node in initial if node not in graph]
    if unknown:
        raise ContagionError(f"initial_defaults not in the graph: {unknown!r}")

    loss_given_default = 1.0 - recovery_rate
    losses: dict[Hashable, float] = dict.fromkeys(graph, 0.0)
    defaulted = set(initial)
    waves = [_ordered(initial, graph)]
    while waves[-1]:
        hit: set[Hashable] = set()
        for borrower in waves[-1]:
            for lender, _, exposure in graph.in_edges(borrower, data="exposure"):
                loss = float(exposure) * loss_given_default
                if loss > 0:
                    losses[lender] += loss
                    hit.add(lender)
        failing = [i for i in hit if i not in defaulted and losses[i] >= capital[i]]
        if not failing:
            break
        defaulted.update(failing)
        waves.append(_ordered(failing, graph))
    return CascadeResult(defaulted=_ordered(defaulted, graph), waves=waves, losses=losses)


def _attribute_values(name: str, items: Iterable[tuple[Any, Any]]) -> dict[Any, float]:
    """Validate ``(key, value)`` pairs of a graph attribute as finite, non-negative floats."""
    values: dict[Any, float] = {}
    for key, raw in items:
        if raw is None:
            raise ContagionError(f"missing {name!r} attribute on {key!r}; set it on every one")
        try:
            value = float(raw)
        except (TypeError, ValueError) as exc:
            raise ContagionError(f"{name!r} of {key!r} must be a number, got {raw!r}") from exc
        if not np.isfinite(value) or value < 0:
            raise ContagionError(f"{name!r} of {key!r} must be finite and >= 0, got {raw!r}")
        values[key] = value
    return values
