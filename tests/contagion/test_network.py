"""Tests for abm.contagion.graph: topologies, exposures, edge-list CSVs and the network table."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, get_args

import networkx as nx
import numpy as np
import pytest

from abm.contagion.graph import (
    EXPOSURES,
    TOPOLOGIES,
    NetworkError,
    build_network,
    network_table_rows,
)
from abm.contagion.specs import ExposureSpec, NetworkSpec, TopologySpec

SEED = 20260105


def _spec(
    topology: dict[str, Any], exposure: dict[str, Any] | None = None, **extra: Any
) -> NetworkSpec:
    fields: dict[str, Any] = {"topology": topology, **extra}
    if exposure is not None:
        fields["exposure"] = exposure
    return NetworkSpec.model_validate(fields)


def _build(
    spec: NetworkSpec, n: int, seed: int = SEED, capital: list[float] | None = None
) -> nx.DiGraph:
    capital = [1000.0] * n if capital is None else capital
    return build_network(spec, n, capital, np.random.default_rng(seed))


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _block_density(graph: nx.DiGraph, sources: range, targets: range) -> tuple[float, int]:
    pairs = sum(1 for i in sources for j in targets if i != j)
    links = sum(1 for i, j in graph.edges() if i in sources and j in targets)
    return links / pairs, pairs


GENERATED_TOPOLOGIES = [
    {"kind": "complete"},
    {"kind": "erdos_renyi", "p": 0.3},
    {"kind": "erdos_renyi", "mean_degree": 2.0},
    {"kind": "barabasi_albert", "m": 2},
    {"kind": "core_periphery", "core": 3, "p_periphery": 0.5},
    {"kind": "ring"},
    {"kind": "ring", "bidirectional": True},
    {"kind": "star", "center": 4},
]

# --- topology structure -------------------------------------------------------------------


def test_build_network_complete_has_every_ordered_pair() -> None:
    """A complete digraph on n nodes has the n(n - 1) ordered pairs i != j as edges."""
    graph = _build(_spec({"kind": "complete"}), 7)
    assert graph.number_of_edges() == 7 * 6
    assert set(graph.edges()) == {(i, j) for i in range(7) for j in range(7) if i != j}


def test_build_network_ring_links_each_node_to_its_successor() -> None:
    """A one-way ring has exactly the edges i -> (i + 1) mod n."""
    graph = _build(_spec({"kind": "ring"}), 6)
    assert set(graph.edges()) == {(i, (i + 1) % 6) for i in range(6)}


def test_build_network_bidirectional_ring_adds_reverse_links() -> None:
    """A bidirectional ring on n >= 3 nodes has 2n edges and is symmetric."""
    graph = _build(_spec({"kind": "ring", "bidirectional": True}), 6)
    assert graph.number_of_edges() == 12
    assert all(graph.has_edge(j, i) for i, j in graph.edges())


def test_build_network_star_links_center_both_ways() -> None:
    """A star has center -> i and i -> center for every other node i, and nothing else."""
    graph = _build(_spec({"kind": "star", "center": 3}), 6)
    others = [0, 1, 2, 4, 5]
    assert set(graph.edges()) == {(3, i) for i in others} | {(i, 3) for i in others}


def test_build_network_core_periphery_block_densities_match_probabilities() -> None:
    """Each block's link density is within 4 binomial standard errors of its probability."""
    probabilities = {"p_core": 0.8, "p_core_periphery": 0.3, "p_periphery": 0.05}
    graph = _build(_spec({"kind": "core_periphery", "core": 30, **probabilities}), 300)
    core, periphery = range(30), range(30, 300)
    blocks = [
        (core, core, 0.8),
        (core, periphery, 0.3),
        (periphery, core, 0.3),
        (periphery, periphery, 0.05),
    ]
    for sources, targets, p in blocks:
        density, pairs = _block_density(graph, sources, targets)
        assert density == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / pairs))


def test_build_network_core_periphery_nodes_below_core_are_the_core() -> None:
    """With p_core = 1 and the other probabilities 0, the edges are exactly the core clique."""
    spec = _spec({"kind": "core_periphery", "core": 4, "p_core_periphery": 0.0, "p_periphery": 0.0})
    graph = _build(spec, 10)
    assert set(graph.edges()) == {(i, j) for i in range(4) for j in range(4) if i != j}


def test_build_network_erdos_renyi_mean_degree_sets_expected_out_degree() -> None:
    """Mean out-degree is within 4 SE of mean_degree (edges ~ Binomial(n(n-1), k/(n-1)))."""
    n, mean_degree = 400, 5.0
    graph = _build(_spec({"kind": "erdos_renyi", "mean_degree": mean_degree}), n)
    p = mean_degree / (n - 1)
    standard_error = math.sqrt(n * (n - 1) * p * (1 - p)) / n
    assert graph.number_of_edges() / n == pytest.approx(mean_degree, abs=4 * standard_error)


def test_build_network_erdos_renyi_full_mean_degree_is_complete() -> None:
    """mean_degree = n - 1 gives p = (n - 1) / (n - 1) = 1: every ordered pair is linked."""
    graph = _build(_spec({"kind": "erdos_renyi", "mean_degree": 5.0}), 6)
    assert graph.number_of_edges() == 6 * 5


def test_build_network_erdos_renyi_p_sets_link_density() -> None:
    """Link density is within 4 binomial SE of p over the n(n - 1) ordered pairs."""
    n, p = 200, 0.1
    graph = _build(_spec({"kind": "erdos_renyi", "p": p}), n)
    pairs = n * (n - 1)
    assert graph.number_of_edges() / pairs == pytest.approx(
        p, abs=4 * math.sqrt(p * (1 - p) / pairs)
    )


def test_build_network_barabasi_albert_is_symmetric_with_m_links_per_new_node() -> None:
    """BA from networkx's (m + 1)-node star seed has m(n - m) links, each lending both ways."""
    n, m = 60, 3
    graph = _build(_spec({"kind": "barabasi_albert", "m": m}), n)
    assert graph.number_of_edges() == 2 * m * (n - m)
    assert all(graph.has_edge(j, i) for i, j in graph.edges())


@pytest.mark.parametrize("topology", GENERATED_TOPOLOGIES, ids=lambda t: str(t))
def test_build_network_has_no_self_loops(topology: dict[str, Any]) -> None:
    """No generated topology links a node to itself."""
    graph = _build(_spec(topology), 12)
    assert nx.number_of_selfloops(graph) == 0
    assert set(graph.nodes()) == set(range(12))


@pytest.mark.parametrize("kind", ["complete", "ring", "star"])
def test_build_network_single_node_has_no_edges(kind: str) -> None:
    """One market maker cannot lend to anyone: the graph is one isolated node."""
    graph = _build(_spec({"kind": kind}), 1)
    assert list(graph.nodes()) == [0]
    assert graph.number_of_edges() == 0


def test_build_network_ring_of_two_has_one_link_each_way() -> None:
    """On two nodes the ring and its reverse coincide: edges 0 -> 1 and 1 -> 0 once each."""
    graph = _build(_spec({"kind": "ring", "bidirectional": True}), 2)
    assert sorted(graph.edges()) == [(0, 1), (1, 0)]


def test_build_network_stores_capital_on_nodes() -> None:
    """Node i carries capital[i] as a float."""
    capital = [10.0, 20.0, 30.5]
    graph = _build(_spec({"kind": "complete"}), 3, capital=capital)
    assert [graph.nodes[i]["capital"] for i in range(3)] == capital


# --- exposure and capacity ----------------------------------------------------------------


def test_build_network_uniform_exposure_is_value_on_every_edge() -> None:
    """Uniform exposure puts the same value on every edge."""
    graph = _build(_spec({"kind": "complete"}, {"kind": "uniform", "value": 42.5}), 5)
    assert {d["exposure"] for _, _, d in graph.edges(data=True)} == {42.5}


def test_build_network_proportional_exposure_lends_fraction_of_capital() -> None:
    """Each lender's exposures sum to fraction x its capital, split equally over out-edges."""
    n, fraction = 40, 0.25
    capital = [100.0 + 7.0 * i for i in range(n)]
    spec = _spec({"kind": "erdos_renyi", "p": 0.2}, {"kind": "proportional", "fraction": fraction})
    graph = _build(spec, n, capital=capital)
    for i in range(n):
        lent = [d["exposure"] for _, _, d in graph.out_edges(i, data=True)]
        if lent:
            assert sum(lent) == pytest.approx(fraction * capital[i], rel=1e-12)
            assert max(lent) == pytest.approx(min(lent), rel=1e-12)


def test_build_network_lognormal_exposure_has_log_mean_and_sd() -> None:
    """log(exposure) ~ N(log median, sigma^2): sample mean and sd within 4 SE."""
    median, sigma = 50.0, 0.7
    spec = _spec({"kind": "complete"}, {"kind": "lognormal", "median": median, "sigma": sigma})
    graph = _build(spec, 60)
    logs = np.log([d["exposure"] for _, _, d in graph.edges(data=True)])
    count = logs.size
    assert logs.mean() == pytest.approx(math.log(median), abs=4 * sigma / math.sqrt(count))
    assert logs.std(ddof=1) == pytest.approx(sigma, abs=4 * sigma / math.sqrt(2 * (count - 1)))


def test_build_network_lognormal_with_zero_sigma_is_the_median() -> None:
    """With sigma = 0 every lognormal exposure equals the median exactly."""
    spec = _spec({"kind": "ring"}, {"kind": "lognormal", "median": 3.0, "sigma": 0.0})
    graph = _build(spec, 5)
    assert {d["exposure"] for _, _, d in graph.edges(data=True)} == {3.0}


def test_build_network_capacity_defaults_to_spec_capacity() -> None:
    """Without an edge-list capacity column every edge carries spec.capacity (int lots)."""
    graph = _build(_spec({"kind": "complete"}, capacity=7), 4)
    capacities = [d["capacity"] for _, _, d in graph.edges(data=True)]
    assert capacities == [7] * 12
    assert all(isinstance(c, int) for c in capacities)


def test_build_network_given_exposure_requires_edge_list_topology() -> None:
    """Given exposure on a generated topology is rejected with a message naming edge_list."""
    with pytest.raises(NetworkError, match="edge_list"):
        _build(_spec({"kind": "complete"}, {"kind": "given"}), 3)


def test_build_network_given_exposure_requires_exposure_column(tmp_path: Path) -> None:
    """Given exposure with an edge list lacking the exposure column is rejected."""
    path = _write_csv(tmp_path / "edges.csv", ["source", "target"], [[0, 1]])
    with pytest.raises(NetworkError, match="'exposure' column"):
        _build(_spec({"kind": "edge_list", "path": str(path)}, {"kind": "given"}), 3)


# --- determinism --------------------------------------------------------------------------


def _lognormal_er(seed: int) -> list[tuple[int, int, float, int]]:
    spec = _spec(
        {"kind": "erdos_renyi", "p": 0.3}, {"kind": "lognormal", "median": 10.0, "sigma": 1.0}
    )
    return network_table_rows(_build(spec, 30, seed=seed))


def test_build_network_same_seed_gives_identical_network() -> None:
    """Two builds from generators with the same seed give the same edges and attributes."""
    assert _lognormal_er(SEED) == _lognormal_er(SEED)


def test_build_network_different_seed_gives_different_network() -> None:
    """Different seeds give different edge sets (P(equal) is negligible at n = 30, p = 0.3)."""
    first, second = _lognormal_er(SEED), _lognormal_er(SEED + 1)
    assert {r[:2] for r in first} != {r[:2] for r in second}


def test_build_network_barabasi_albert_is_seeded_from_rng() -> None:
    """The networkx generator draws from the passed rng: same seed same graph, else not."""
    spec = _spec({"kind": "barabasi_albert", "m": 2})
    edges = [sorted(_build(spec, 40, seed=s).edges()) for s in (SEED, SEED, SEED + 1)]
    assert edges[0] == edges[1]
    assert edges[0] != edges[2]


# --- edge-list CSV ------------------------------------------------------------------------


def test_build_network_edge_list_round_trips_network_table(tmp_path: Path) -> None:
    """Writing network_table_rows to CSV and reading it back (given exposure) is lossless."""
    spec = _spec(
        {"kind": "erdos_renyi", "p": 0.4}, {"kind": "lognormal", "median": 5.0, "sigma": 1.0}
    )
    original = network_table_rows(_build(spec, 15, capital=[float(i) for i in range(15)]))
    rows = [[s, t, repr(e), c] for s, t, e, c in reversed(original)]
    path = _write_csv(tmp_path / "edges.csv", ["source", "target", "exposure", "capacity"], rows)
    loaded = _build(_spec({"kind": "edge_list", "path": str(path)}, {"kind": "given"}), 15)
    assert network_table_rows(loaded) == original


def test_build_network_edge_list_without_optional_columns_uses_spec(tmp_path: Path) -> None:
    """A source,target-only edge list gets the spec's exposure and capacity."""
    path = _write_csv(tmp_path / "edges.csv", ["source", "target"], [[2, 0], [0, 1]])
    spec = _spec(
        {"kind": "edge_list", "path": str(path)}, {"kind": "uniform", "value": 9.0}, capacity=3
    )
    assert network_table_rows(_build(spec, 3)) == [(0, 1, 9.0, 3), (2, 0, 9.0, 3)]


def test_build_network_edge_list_capacity_column_overrides_spec(tmp_path: Path) -> None:
    """The CSV's capacity column replaces spec.capacity edge by edge."""
    path = _write_csv(
        tmp_path / "edges.csv", ["target", "source", "capacity"], [[1, 0, 4], [0, 1, 0]]
    )
    graph = _build(_spec({"kind": "edge_list", "path": str(path)}, capacity=99), 2)
    assert graph.edges[0, 1]["capacity"] == 4
    assert graph.edges[1, 0]["capacity"] == 0


BAD_EDGE_LISTS = [
    (["source", "target"], [[0, 5]], "not a market maker"),
    (["source", "target"], [[-1, 0]], "not a market maker"),
    (["source", "target"], [["a", 1]], "not an integer node id"),
    (["source", "target"], [["1.0", 2]], "not an integer node id"),
    (["source", "target"], [[1, 1]], "self-loop"),
    (["source", "target"], [[0, 1], [0, 1]], "appears twice"),
    (["source", "target"], [[0, ""]], "target is empty"),
    (["source", "target"], [[0, 1, 2]], "expected 2 values"),
    (["source", "target", "exposure"], [[0, 1, -1.0]], "exposure must be finite and >= 0"),
    (["source", "target", "exposure"], [[0, 1, "nan"]], "exposure must be finite and >= 0"),
    (["source", "target", "exposure"], [[0, 1, "inf"]], "exposure must be finite and >= 0"),
    (["source", "target", "exposure"], [[0, 1, "lots"]], "is not a number"),
    (["source", "target", "capacity"], [[0, 1, -2]], "capacity must be >= 0"),
    (["source", "target", "capacity"], [[0, 1, 2.5]], "not a whole number of lots"),
    (["source", "target", "weight"], [[0, 1, 2]], "unknown column"),
    (["source", "source", "target"], [[0, 1, 2]], "repeats column"),
    (["source", "exposure"], [[0, 1]], "lacks column"),
]


@pytest.mark.parametrize(("header", "rows", "message"), BAD_EDGE_LISTS)
def test_build_network_edge_list_rejects_invalid_file(
    tmp_path: Path, header: list[str], rows: list[list[Any]], message: str
) -> None:
    """Each malformed edge list raises NetworkError naming the problem."""
    path = _write_csv(tmp_path / "edges.csv", header, rows)
    with pytest.raises(NetworkError, match=message):
        _build(_spec({"kind": "edge_list", "path": str(path)}), 3)


def test_build_network_edge_list_error_names_file_and_line(tmp_path: Path) -> None:
    """A bad value's message names the file and its line number (header is line 1)."""
    path = _write_csv(tmp_path / "edges.csv", ["source", "target"], [[0, 1], [1, 7]])
    with pytest.raises(NetworkError, match=r"edges\.csv, line 3"):
        _build(_spec({"kind": "edge_list", "path": str(path)}), 3)


def test_build_network_edge_list_missing_file_raises(tmp_path: Path) -> None:
    """A missing edge-list file is a NetworkError naming the path."""
    with pytest.raises(NetworkError, match="cannot read edge list"):
        _build(_spec({"kind": "edge_list", "path": str(tmp_path / "nope.csv")}), 3)


def test_build_network_edge_list_empty_file_raises(tmp_path: Path) -> None:
    """An empty file (no header) is rejected."""
    path = tmp_path / "edges.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(NetworkError, match="empty"):
        _build(_spec({"kind": "edge_list", "path": str(path)}), 3)


# --- invalid inputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topology", "n", "message"),
    [
        ({"kind": "star", "center": 5}, 5, "center 5 is not a market maker"),
        ({"kind": "barabasi_albert", "m": 4}, 4, "m < number of market makers"),
        ({"kind": "core_periphery", "core": 6}, 5, "core=6 exceeds"),
        ({"kind": "erdos_renyi", "mean_degree": 5.0}, 5, "exceeds n - 1 = 4"),
        ({"kind": "erdos_renyi", "mean_degree": 1.0}, 1, "exceeds n - 1 = 0"),
        ({"kind": "complete"}, 0, "at least one market maker"),
    ],
)
def test_build_network_rejects_topology_that_does_not_fit(
    topology: dict[str, Any], n: int, message: str
) -> None:
    """A topology too large for the number of market makers raises NetworkError."""
    with pytest.raises(NetworkError, match=message):
        _build(_spec(topology), n, capital=[1.0] * n)


@pytest.mark.parametrize(
    ("capital", "message"),
    [
        ([1.0, 2.0], "one entry per market maker"),
        ([1.0, -2.0, 3.0], "market maker 1 must be finite and >= 0"),
        ([1.0, 2.0, math.nan], "market maker 2 must be finite and >= 0"),
        ([1.0, 2.0, "x"], "must be 3 numbers"),
    ],
)
def test_build_network_rejects_invalid_capital(capital: list[Any], message: str) -> None:
    """Capital must be one finite non-negative number per market maker."""
    with pytest.raises(NetworkError, match=message):
        _build(_spec({"kind": "complete"}), 3, capital=capital)


def test_network_error_is_a_value_error() -> None:
    """NetworkError subclasses ValueError, so callers catching ValueError see it."""
    assert issubclass(NetworkError, ValueError)


# --- network table ------------------------------------------------------------------------


def test_network_table_rows_are_sorted_typed_tuples() -> None:
    """Rows are (int, int, float, int), sorted by (source, target), one per edge."""
    graph = _build(_spec({"kind": "star", "center": 2}, {"kind": "uniform", "value": 1}), 4)
    rows = network_table_rows(graph)
    assert rows == sorted(rows)
    assert len(rows) == graph.number_of_edges()
    assert all(
        type(s) is int and type(t) is int and type(e) is float and type(c) is int
        for s, t, e, c in rows
    )


def test_network_table_rows_rejects_edge_without_attributes() -> None:
    """A graph whose edges lack exposure is not a network from build_network."""
    graph = nx.DiGraph([(0, 1)])
    with pytest.raises(NetworkError, match="'exposure'"):
        network_table_rows(graph)


def test_network_table_rows_sorts_edges_added_out_of_order() -> None:
    """Rows come sorted by (source, target) whatever order the edges were added in."""
    graph = nx.DiGraph()
    graph.add_edge(2, 0, exposure=1.0, capacity=1)
    graph.add_edge(0, 3, exposure=2.0, capacity=2)
    graph.add_edge(0, 1, exposure=3.0, capacity=3)
    assert network_table_rows(graph) == [(0, 1, 3.0, 3), (0, 3, 2.0, 2), (2, 0, 1.0, 1)]


def test_network_registries_cover_every_topology_and_exposure_kind() -> None:
    """Each topology and exposure kind the schema accepts has exactly one builder."""

    def kinds(union: Any) -> set[str]:
        members = get_args(get_args(union)[0])
        return {get_args(s.model_fields["kind"].annotation)[0] for s in members}

    assert set(TOPOLOGIES) == kinds(TopologySpec)
    assert set(EXPOSURES) == kinds(ExposureSpec)
