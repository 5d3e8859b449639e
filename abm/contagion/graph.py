"""Contagion network construction: who has lent to whom, how much, and at what capacity.

:func:`build_network` turns a :class:`~abm.contagion.specs.NetworkSpec` into a
``networkx.DiGraph`` over the market makers. Nodes are ``0..n-1`` in creation order and
carry their ``capital``; an edge ``i -> j`` means *i has lent to j* and carries
``exposure`` (price units, what i loses if j defaults with zero recovery) and
``capacity`` (lots per step that may pass along the link in hot-potato trades).
The graph never has self-loops.

Randomness comes only from the ``numpy.random.Generator`` passed in: the topology is
drawn first (networkx generators receive that generator as ``seed=``), then the
exposures, with one draw per edge in sorted edge order. The same generator state
therefore always yields the same graph and attributes.

:func:`network_table_rows` flattens a graph into the rows of the run's ``network`` table.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import networkx as nx
import numpy as np

from abm.contagion.specs import (
    BarabasiAlbertTopology,
    CompleteTopology,
    CorePeripheryTopology,
    EdgeListTopology,
    ErdosRenyiTopology,
    GivenExposure,
    LognormalExposure,
    NetworkSpec,
    ProportionalExposure,
    RingTopology,
    StarTopology,
    UniformExposure,
)
from abm.errors import AbmError

Edge = tuple[int, int]
NetworkRow = tuple[int, int, float, int]

_REQUIRED_COLUMNS = ("source", "target")
_OPTIONAL_COLUMNS = ("exposure", "capacity")
# Plain decimal integers only: int() would also take "1_000" and non-ASCII digits.
_INTEGER = re.compile(r"[+-]?[0-9]+")


class NetworkError(AbmError, ValueError):
    """A network spec cannot be built for these market makers, or its edge list is invalid."""


@dataclass(frozen=True, slots=True)
class _EdgeList:
    """A topology's sorted edges, and the edge list's columns when it came from a CSV.

    A column is ``None`` when there is none (a generated topology, or a file without it);
    ``from_file`` is True for an edge-list CSV.
    """

    edges: list[Edge]
    exposure: list[float] | None
    capacity: list[int] | None
    from_file: bool = False


def build_network(
    spec: NetworkSpec,
    n_nodes: int,
    capital: Sequence[float],
    rng: np.random.Generator,
) -> nx.DiGraph:
    """Build the market makers' lending network.

    Topologies (see :mod:`abm.contagion.specs`): ``complete`` (every ordered pair);
    ``erdos_renyi`` (each ordered pair independently with probability ``p``, or
    ``p = mean_degree / (n - 1)`` so that the expected out-degree is ``mean_degree``;
    Erdos & Renyi 1959, Gilbert 1959); ``barabasi_albert`` (preferential attachment,
    Barabasi & Albert 1999, each undirected link lending both ways); ``core_periphery``
    (a directed two-block stochastic block model, Holland, Laskey & Leinhardt 1983,
    with nodes ``0..core-1`` as the core); ``ring`` (i -> i+1 mod n, plus the reverse
    when bidirectional); ``star`` (``center`` <-> every other node); ``edge_list``
    (a ``source,target[,exposure][,capacity]`` CSV).

    Exposures: ``uniform`` (``value`` on every edge); ``proportional`` (lender i lends
    ``fraction * capital[i]`` in total, split equally over its out-edges); ``lognormal``
    (``median * exp(sigma * Z)``, Z i.i.d. standard normal, one per edge in sorted
    order); ``given`` (the edge list's ``exposure`` column). Capacity is
    ``spec.capacity`` on every edge, or the edge list's ``capacity`` column if present.

    Args:
        spec: The network spec.
        n_nodes: Number of market makers (>= 1); nodes are ``0..n_nodes-1``.
        capital: Initial capital of each market maker (price units), ``n_nodes`` finite
            non-negative numbers; stored as node attribute ``capital``.
        rng: Source of all randomness (topology first, then exposures).

    Returns:
        A ``networkx.DiGraph`` with node attribute ``capital`` (float) and edge
        attributes ``exposure`` (float, price units) and ``capacity`` (int, lots/step).

    Raises:
        NetworkError: If ``n_nodes`` or ``capital`` is invalid, the topology does not fit
            ``n_nodes`` (``m >= n``, ``core > n``, ``center >= n``, ``mean_degree > n - 1``),
            the edge-list file is missing or malformed, or ``given`` exposure is used
            without an edge list that has an ``exposure`` column.
    """
    if n_nodes < 1:
        raise NetworkError(f"the network needs at least one market maker, got n_nodes={n_nodes}")
    capitals = _validated_capital(capital, n_nodes)

    drawn = TOPOLOGIES[spec.topology.kind](spec.topology, n_nodes, rng)
    edges = drawn.edges
    exposures = EXPOSURES[spec.exposure.kind](spec.exposure, drawn, capitals, rng)
    capacities = drawn.capacity if drawn.capacity is not None else [spec.capacity] * len(edges)

    graph = nx.DiGraph()
    for node in range(n_nodes):
        graph.add_node(node, capital=float(capitals[node]))
    for (source, target), exposure, capacity in zip(edges, exposures, capacities, strict=True):
        graph.add_edge(source, target, exposure=exposure, capacity=capacity)
    return graph


def network_table_rows(graph: nx.DiGraph) -> list[NetworkRow]:
    """Return the rows ``(source, target, exposure, capacity)`` of the ``network`` table.

    Args:
        graph: A graph from :func:`build_network` (edges need ``exposure`` and ``capacity``).

    Returns:
        One row per edge, sorted by ``(source, target)``.

    Raises:
        NetworkError: If an edge lacks the ``exposure`` or ``capacity`` attribute.
    """
    rows: list[NetworkRow] = []
    for source, target, data in graph.edges(data=True):
        try:
            rows.append((int(source), int(target), float(data["exposure"]), int(data["capacity"])))
        except KeyError as exc:
            raise NetworkError(
                f"edge {source} -> {target} has no {exc.args[0]!r} attribute; "
                "build the graph with build_network"
            ) from exc
    rows.sort()
    return rows


# --- topology ---------------------------------------------------------------------------
# Each builder returns the sorted, self-loop-free directed edges; generated topologies carry
# no exposure or capacity columns (only an edge list can).


def _generated(edges: list[Edge]) -> _EdgeList:
    # A set because ring with n <= 2 and ring+reverse can repeat pairs; sorted for a
    # draw order (exposures) that does not depend on generator internals.
    return _EdgeList(sorted({(int(i), int(j)) for i, j in edges if i != j}), None, None)


def _complete(topology: CompleteTopology, n: int, rng: np.random.Generator) -> _EdgeList:
    return _generated([(i, j) for i in range(n) for j in range(n) if i != j])


def _erdos_renyi(topology: ErdosRenyiTopology, n: int, rng: np.random.Generator) -> _EdgeList:
    p = _erdos_renyi_probability(topology, n)
    return _generated(list(nx.gnp_random_graph(n, p, seed=rng, directed=True).edges()))


def _barabasi_albert(
    topology: BarabasiAlbertTopology, n: int, rng: np.random.Generator
) -> _EdgeList:
    m = topology.m
    if m >= n:
        raise NetworkError(
            f"barabasi_albert needs m < number of market makers, got m={m} with {n}; "
            "lower m or add market makers"
        )
    undirected = nx.barabasi_albert_graph(n, m, seed=rng).edges()
    return _generated([pair for i, j in undirected for pair in ((i, j), (j, i))])


def _ring(topology: RingTopology, n: int, rng: np.random.Generator) -> _EdgeList:
    forward = [(i, (i + 1) % n) for i in range(n)]
    backward = [(j, i) for i, j in forward] if topology.bidirectional else []
    return _generated(forward + backward)


def _star(topology: StarTopology, n: int, rng: np.random.Generator) -> _EdgeList:
    center = topology.center
    if center >= n:
        raise NetworkError(
            f"star center {center} is not a market maker (nodes are 0..{n - 1}); "
            f"choose center < {n}"
        )
    others = [i for i in range(n) if i != center]
    return _generated([(center, i) for i in others] + [(i, center) for i in others])


def _edge_list(topology: EdgeListTopology, n: int, rng: np.random.Generator) -> _EdgeList:
    return _read_edge_list(Path(topology.path), n)


def _erdos_renyi_probability(topology: ErdosRenyiTopology, n: int) -> float:
    """Return the link probability of an Erdos-Renyi topology, from ``p`` or ``mean_degree``."""
    if topology.p is not None:
        return topology.p
    mean_degree = topology.mean_degree if topology.mean_degree is not None else 0.0
    if mean_degree == 0.0:
        return 0.0
    if mean_degree > n - 1:
        raise NetworkError(
            f"erdos_renyi mean_degree={mean_degree} exceeds n - 1 = {n - 1} (the most links "
            f"a market maker can have among {n}); lower mean_degree or add market makers"
        )
    return mean_degree / (n - 1)


def _core_periphery(topology: CorePeripheryTopology, n: int, rng: np.random.Generator) -> _EdgeList:
    """The edges of a two-block directed stochastic block model, core first."""
    if topology.core > n:
        raise NetworkError(
            f"core_periphery core={topology.core} exceeds the {n} market makers; choose core <= {n}"
        )
    between = topology.p_core_periphery
    probabilities = [[topology.p_core, between], [between, topology.p_periphery]]
    sizes = [topology.core, n - topology.core]
    # The block model numbers nodes block by block, so 0..core-1 are the core.
    graph = nx.stochastic_block_model(sizes, probabilities, seed=rng, directed=True)
    return _generated(list(graph.edges()))


TOPOLOGIES: Mapping[str, Callable[[Any, int, np.random.Generator], _EdgeList]] = MappingProxyType(
    {
        "complete": _complete,
        "erdos_renyi": _erdos_renyi,
        "barabasi_albert": _barabasi_albert,
        "core_periphery": _core_periphery,
        "ring": _ring,
        "star": _star,
        "edge_list": _edge_list,
    }
)
"""Topology kind -> builder ``(spec, n_nodes, rng) -> edges`` (see `build_network`)."""


# --- exposure and capacity --------------------------------------------------------------


def _uniform(
    spec: UniformExposure, drawn: _EdgeList, capital: np.ndarray, rng: np.random.Generator
) -> list[float]:
    return [float(spec.value)] * len(drawn.edges)


def _proportional(
    spec: ProportionalExposure, drawn: _EdgeList, capital: np.ndarray, rng: np.random.Generator
) -> list[float]:
    lenders = np.asarray([i for i, _ in drawn.edges], dtype=np.int64)
    out_degree = np.bincount(lenders, minlength=len(capital))
    return [float(spec.fraction * capital[i] / out_degree[i]) for i, _ in drawn.edges]


def _lognormal(
    spec: LognormalExposure, drawn: _EdgeList, capital: np.ndarray, rng: np.random.Generator
) -> list[float]:
    draws = spec.median * np.exp(spec.sigma * rng.standard_normal(len(drawn.edges)))
    return [float(x) for x in draws]


def _given(
    spec: GivenExposure, drawn: _EdgeList, capital: np.ndarray, rng: np.random.Generator
) -> list[float]:
    if not drawn.from_file:
        raise NetworkError(
            "exposure kind 'given' reads the edge list's exposure column; "
            "use topology kind 'edge_list' or another exposure kind"
        )
    if drawn.exposure is None:
        raise NetworkError(
            "exposure kind 'given' needs an 'exposure' column in the edge list; "
            "add the column or use another exposure kind"
        )
    return drawn.exposure


EXPOSURES: Mapping[
    str, Callable[[Any, _EdgeList, np.ndarray, np.random.Generator], list[float]]
] = MappingProxyType(
    {
        "uniform": _uniform,
        "proportional": _proportional,
        "lognormal": _lognormal,
        "given": _given,
    }
)
"""Exposure kind -> sizing ``(spec, edges, capital, rng) -> exposure per edge, in edge order``."""


def _validated_capital(capital: Sequence[float], n: int) -> np.ndarray:
    """Return ``capital`` as a float array of length ``n``, finite and non-negative."""
    try:
        values = np.asarray(capital, dtype=float)
    except (TypeError, ValueError) as exc:
        raise NetworkError(f"capital must be {n} numbers, one per market maker") from exc
    if values.shape != (n,):
        raise NetworkError(
            f"capital must have one entry per market maker ({n}), got shape {values.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0.0))
    if bad.size:
        node = int(bad[0])
        raise NetworkError(
            f"capital of market maker {node} must be finite and >= 0, got {values[node]}"
        )
    return values


# --- edge-list CSV ----------------------------------------------------------------------


def _read_edge_list(path: Path, n: int) -> _EdgeList:
    """Read and validate an edge-list CSV (header ``source,target[,exposure][,capacity]``).

    Raises:
        NetworkError: If the file cannot be read, the header lacks ``source`` or
            ``target`` or has unknown or repeated columns, or a line has a missing value,
            a node id that is not an integer in ``0..n-1``, a self-loop, a repeated edge,
            or an exposure or capacity that is not a finite non-negative number (capacity:
            a whole number of lots).
    """
    seen: set[Edge] = set()
    exposure_by_edge: dict[Edge, float] = {}
    capacity_by_edge: dict[Edge, int] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise NetworkError(f"edge list {path} is empty; it needs a source,target header")
            columns = _edge_list_columns(path, header)
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                edge, exposure, capacity = _edge_list_row(path, reader.line_num, columns, record, n)
                if edge in seen:
                    raise NetworkError(
                        f"{path}, line {reader.line_num}: edge {edge[0]} -> {edge[1]} appears "
                        "twice; keep one line per edge"
                    )
                seen.add(edge)
                if exposure is not None:
                    exposure_by_edge[edge] = exposure
                if capacity is not None:
                    capacity_by_edge[edge] = capacity
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise NetworkError(f"cannot read edge list {path}: {exc}") from exc
    edges = sorted(seen)
    # Empty cells are rejected, so a present column has a value for every edge.
    return _EdgeList(
        edges,
        [exposure_by_edge[e] for e in edges] if "exposure" in columns else None,
        [capacity_by_edge[e] for e in edges] if "capacity" in columns else None,
        from_file=True,
    )


def _edge_list_columns(path: Path, header: list[str]) -> dict[str, int]:
    """Map each known column name to its index, rejecting unknown, repeated or missing ones."""
    names = [name.strip().lower() for name in header]
    known = _REQUIRED_COLUMNS + _OPTIONAL_COLUMNS
    unknown = [name for name in names if name not in known]
    if unknown:
        raise NetworkError(
            f"edge list {path} has unknown column(s) {unknown}; allowed: {', '.join(known)}"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise NetworkError(f"edge list {path} repeats column(s) {repeated}")
    missing = [name for name in _REQUIRED_COLUMNS if name not in names]
    if missing:
        raise NetworkError(f"edge list {path} lacks column(s) {missing} in its header")
    return {name: index for index, name in enumerate(names)}


def _edge_list_row(
    path: Path, line: int, columns: dict[str, int], record: list[str], n: int
) -> tuple[Edge, float | None, int | None]:
    """Validate one CSV record; return its edge, exposure and capacity (``None`` if absent)."""
    where = f"{path}, line {line}"
    if len(record) != len(columns):
        raise NetworkError(f"{where}: expected {len(columns)} values, got {len(record)}")
    cells = {name: record[index].strip() for name, index in columns.items()}
    for name, text in cells.items():
        if not text:
            raise NetworkError(f"{where}: {name} is empty")
    source = _node_id(where, "source", cells["source"], n)
    target = _node_id(where, "target", cells["target"], n)
    if source == target:
        raise NetworkError(f"{where}: self-loop {source} -> {target}; a node cannot lend to itself")
    exposure = _non_negative_real(where, cells["exposure"]) if "exposure" in cells else None
    capacity = _lots(where, cells["capacity"]) if "capacity" in cells else None
    return (source, target), exposure, capacity


def _node_id(where: str, name: str, text: str, n: int) -> int:
    """Parse a node id: an integer in ``0..n-1``."""
    if not _INTEGER.fullmatch(text):
        raise NetworkError(f"{where}: {name} {text!r} is not an integer node id")
    node = int(text)
    if not 0 <= node < n:
        raise NetworkError(f"{where}: {name} {node} is not a market maker (nodes are 0..{n - 1})")
    return node


def _non_negative_real(where: str, text: str) -> float:
    """Parse an exposure: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError as exc:
        raise NetworkError(f"{where}: exposure {text!r} is not a number") from exc
    if not math.isfinite(value) or value < 0.0:
        raise NetworkError(f"{where}: exposure must be finite and >= 0, got {text!r}")
    return value


def _lots(where: str, text: str) -> int:
    """Parse a capacity: a whole number of lots >= 0."""
    if not _INTEGER.fullmatch(text):
        raise NetworkError(f"{where}: capacity {text!r} is not a whole number of lots")
    value = int(text)
    if value < 0:
        raise NetworkError(f"{where}: capacity must be >= 0, got {value}")
    return value


# the pure contagion math (abm.contagion.math) is public here too, as abm.contagion.graph.*
__all__ = [
    "NetworkError",
    "NetworkRow",
    "build_network",
    "network_table_rows",
]
