"""Tests for abm.contagion.math: hand-computed cases, fixed-point properties and Gai-Kapadia."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import networkx as nx
import numpy as np
import pytest

from abm.contagion.math import (
    ContagionError,
    DebtRankState,
    _solve_defaulters,
    debtrank,
    default_cascade,
    eisenberg_noe,
    impact_matrix,
)

# --- Eisenberg-Noe helpers ----------------------------------------------------------------


def relative_liabilities(liabilities: np.ndarray) -> np.ndarray:
    p_bar = liabilities.sum(axis=1)
    safe = np.where(p_bar > 0, p_bar, 1.0)
    return liabilities / safe[:, None]


def clearing_map(liabilities: np.ndarray, external: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Phi(p) = min(p_bar, e + Pi^T p), Eisenberg and Noe (2001) eq. 1."""
    return np.minimum(liabilities.sum(axis=1), external + relative_liabilities(liabilities).T @ p)


def picard(liabilities: np.ndarray, external: np.ndarray, start: np.ndarray) -> np.ndarray:
    p = start
    for _ in range(20_000):
        nxt = clearing_map(liabilities, external, p)
        if np.max(np.abs(nxt - p)) < 1e-14:
            return nxt
        p = nxt
    return p


def three_bank() -> tuple[np.ndarray, np.ndarray]:
    liabilities = np.zeros((3, 3))
    liabilities[0, 1], liabilities[0, 2] = 8.0, 2.0  # A owes 10
    liabilities[1, 0], liabilities[1, 2] = 2.0, 4.0  # B owes 6
    liabilities[2, 0] = 4.0  # C owes 4
    return liabilities, np.array([0.0, 0.5, 3.0])


# --- Eisenberg-Noe ------------------------------------------------------------------------


def test_eisenberg_noe_three_bank_hand_example() -> None:
    """Hand algebra of the fictitious default algorithm (below) gives p = (125/22, 111/22, 4).

    p_bar = (10, 6, 4); Pi_A = (0, .8, .2), Pi_B = (1/3, 0, 2/3), Pi_C = (1, 0, 0); e = (0, .5, 3).
    Round 1 (p = p_bar): A has 0 + 6/3 + 4 = 6 < 10 -> defaults; B 0.5 + 8 >= 6; C 3 + 6 >= 4.
    Round 2 (D = {A}): p_A = 0 + 2 + 4 = 6; B has 0.5 + 0.8*6 = 5.3 < 6 -> defaults.
    Round 3 (D = {A, B}): p_A = 4 + p_B/3, p_B = 0.5 + 0.8 p_A  =>  (11/15) p_A = 25/6,
    p_A = 125/22, p_B = 111/22; C has 3 + 0.2 p_A + (2/3) p_B = 7.5 >= 4: no new default.
    Equity e + Pi^T p - p_bar = (125/22 - 10, 111/22 - 6, 7.5 - 4).
    """
    result = eisenberg_noe(*three_bank())
    assert result.payments == pytest.approx([125 / 22, 111 / 22, 4.0], abs=1e-12)
    assert result.waves == [[0], [1]]
    assert result.defaulted == [0, 1]
    assert result.equity == pytest.approx([125 / 22 - 10, 111 / 22 - 6, 3.5], abs=1e-12)
    assert result.equity_clipped == pytest.approx([0.0, 0.0, 3.5], abs=1e-12)


def test_eisenberg_noe_all_solvent_pays_in_full() -> None:
    """With enough external assets nobody defaults and p = p_bar (Eisenberg-Noe, Lemma 3)."""
    rng = np.random.default_rng(11)
    liabilities = rng.uniform(0.0, 5.0, size=(6, 6))
    p_bar = liabilities.sum(axis=1)
    result = eisenberg_noe(liabilities, p_bar)
    np.testing.assert_array_equal(result.payments, p_bar)
    assert result.waves == []
    assert result.defaulted == []
    assert np.all(result.equity >= 0)


def test_eisenberg_noe_ring_shortfall_satisfies_clearing_conditions() -> None:
    """Ring 0->1->...->4->0 owing 10 each, bank 0 also owes 20 to a sink: p = (7.5, 3.5, ...).

    All five ring banks default; p_0 = 1 + p_4, p_k = 1 + p_{k-1} (k = 2..4), p_1 = 1 + p_0/3
    give p_0 = 5 + p_0/3, so p = (7.5, 3.5, 4.5, 5.5, 6.5, 0); clearing p = Phi(p) to 1e-10.
    """
    liabilities = np.zeros((6, 6))
    for k in range(5):
        liabilities[k, (k + 1) % 5] = 10.0
    liabilities[0, 5] = 20.0
    external = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    result = eisenberg_noe(liabilities, external)
    assert result.payments == pytest.approx([7.5, 3.5, 4.5, 5.5, 6.5, 0.0], abs=1e-12)
    residual = result.payments - clearing_map(liabilities, external, result.payments)
    assert np.max(np.abs(residual)) < 1e-10
    assert result.waves == [[0], [1], [2], [3], [4]]
    assert result.equity_clipped[5] == pytest.approx(7.5 * 2 / 3)


def test_eisenberg_noe_chain_waves_match_fictitious_default_by_hand() -> None:
    """Chain 0->1->2->3->sink owing 10 each, e = (5, 2, 2, 2, 0): defaults arrive one per round.

    Round 1: only 0 is short (5 < 10); p_0 = 5. Round 2: 1 has 2 + 5 < 10; p_1 = 7.
    Round 3: 2 has 2 + 7 < 10; p_2 = 9. Round 4: 3 has 2 + 9 >= 10: stop. p = (5, 7, 9, 10, 0).
    """
    liabilities = np.zeros((5, 5))
    for k in range(4):
        liabilities[k, k + 1] = 10.0
    result = eisenberg_noe(liabilities, [5.0, 2.0, 2.0, 2.0, 0.0])
    assert result.waves == [[0], [1], [2]]
    assert result.payments == pytest.approx([5.0, 7.0, 9.0, 10.0, 0.0], abs=1e-12)
    assert result.equity[3] == pytest.approx(1.0)


def test_eisenberg_noe_picks_greatest_of_many_clearing_vectors() -> None:
    """Two banks owing each other 1 with no external assets: every (a, a) clears; ours is (1, 1)."""
    liabilities = np.array([[0.0, 1.0], [1.0, 0.0]])
    external = np.zeros(2)
    result = eisenberg_noe(liabilities, external)
    least = picard(liabilities, external, np.zeros(2))
    np.testing.assert_allclose(result.payments, [1.0, 1.0])
    np.testing.assert_allclose(least, [0.0, 0.0])
    assert result.defaulted == []


@pytest.mark.parametrize("seed", range(8))
def test_eisenberg_noe_is_greatest_fixed_point_on_random_networks(seed: int) -> None:
    """Ours equals Picard iteration from p_bar (greatest fixed point) and dominates it from 0."""
    rng = np.random.default_rng(seed)
    n = 12
    liabilities = rng.uniform(0.0, 10.0, size=(n, n)) * (rng.random((n, n)) < 0.4)
    np.fill_diagonal(liabilities, 0.0)
    external = rng.uniform(0.0, 8.0, size=n)
    result = eisenberg_noe(liabilities, external)
    p_bar = liabilities.sum(axis=1)
    np.testing.assert_allclose(result.payments, picard(liabilities, external, p_bar), atol=1e-9)
    assert np.all(picard(liabilities, external, np.zeros(n)) <= result.payments + 1e-9)
    residual = result.payments - clearing_map(liabilities, external, result.payments)
    assert np.max(np.abs(residual)) < 1e-10
    assert result.defaulted == sorted(i for wave in result.waves for i in wave)
    assert set(result.defaulted) == set(np.flatnonzero(result.payments < p_bar - 1e-9))


def test_eisenberg_noe_singular_round_falls_back_to_iteration() -> None:
    """A closed defaulting group makes (I - Pi_DD^T) singular; iteration keeps p at p_bar."""
    received_from = np.array([[0.0, 1.0], [1.0, 0.0]])
    p_bar = np.array([1.0, 1.0])
    in_default = np.array([True, True])
    payments = _solve_defaulters(received_from, np.zeros(2), p_bar, in_default, 1e-12, 100)
    np.testing.assert_allclose(payments, p_bar)


@pytest.mark.parametrize(
    ("liabilities", "external", "match"),
    [
        (np.ones((2, 3)), np.ones(2), "square"),
        (np.array([[0.0, -1.0], [1.0, 0.0]]), np.ones(2), "non-negative"),
        (np.ones((2, 2)), np.ones(3), "shape"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), np.ones(2), "finite"),
        (np.ones((2, 2)), np.array([1.0, -1.0]), "external_assets"),
    ],
)
def test_eisenberg_noe_rejects_malformed_input(
    liabilities: np.ndarray, external: np.ndarray, match: str
) -> None:
    """Malformed balance sheets raise ContagionError naming the problem."""
    with pytest.raises(ContagionError, match=match):
        eisenberg_noe(liabilities, external)


# --- DebtRank -----------------------------------------------------------------------------


def test_debtrank_chain_hand_example() -> None:
    """A lent 5 to B (capital 10), B lent 4 to C (capital 8); C shocked by 0.4.

    W_AB = 5/10 = 0.5, W_BC = 4/8 = 0.5. t=1: h = (0, 0, .4), C distressed.
    t=2: h_B = 0.5 * 0.4 = 0.2, C inactive. t=3: h_A = 0.5 * 0.2 = 0.1, B inactive.
    t=4: A inactive, nobody distressed. Asset shares v = (5/9, 4/9, 0), so
    R = 0.1 * 5/9 + 0.2 * 4/9 - 0.4 * 0 = 1.3/9.
    """
    exposures = np.zeros((3, 3))
    exposures[0, 1], exposures[1, 2] = 5.0, 4.0
    result = debtrank(exposures, [10.0, 8.0, 10.0], [0.0, 0.0, 0.4])
    assert result.h == pytest.approx([0.1, 0.2, 0.4])
    assert result.debtrank == pytest.approx(1.3 / 9)
    assert result.iterations == 3
    assert result.states == (DebtRankState.INACTIVE,) * 3


def test_debtrank_cycle_propagates_each_node_once() -> None:
    """Two-node cycle, W_AB = min(1, 10/5) = 1, W_BA = 2/4 = .5, h_A(1) = .5: h = (.75, .25).

    t=2: h_B = .5 * .5 = .25. t=3: h_A = .5 + 1 * .25 = .75 and B goes inactive; A's extra
    distress is never passed back, where repeated propagation would drive both towards 1.
    """
    exposures = np.array([[0.0, 10.0], [2.0, 0.0]])
    result = debtrank(exposures, [5.0, 4.0], [0.5, 0.0], weights=[0.5, 0.5])
    assert result.h == pytest.approx([0.75, 0.25])
    assert result.iterations == 2
    assert result.debtrank == pytest.approx(0.5 * 0.75 + 0.5 * 0.25 - 0.5 * 0.5)


def test_debtrank_h_stays_in_unit_interval() -> None:
    """With exposures far above capital, h is capped at 1 (Battiston et al. 2012 min(1, .))."""
    rng = np.random.default_rng(3)
    n = 30
    exposures = rng.uniform(0.0, 50.0, size=(n, n))
    result = debtrank(exposures, rng.uniform(1.0, 5.0, size=n), rng.uniform(0.0, 1.0, size=n))
    assert np.all(result.h >= 0.0)
    assert np.all(result.h <= 1.0)
    assert result.iterations <= n + 1


def test_debtrank_zero_exposures_add_no_distress() -> None:
    """Without exposures nothing propagates: h = shock and R = 0."""
    shock = np.array([0.3, 0.0, 1.0])
    result = debtrank(np.zeros((3, 3)), [1.0, 1.0, 1.0], shock)
    np.testing.assert_array_equal(result.h, shock)
    assert result.debtrank == 0.0
    assert result.states[1] is DebtRankState.UNDISTRESSED


def test_debtrank_monotone_in_shock_size() -> None:
    """Scaling a shock up on the same shocked nodes never lowers any h nor R."""
    rng = np.random.default_rng(5)
    n = 20
    exposures = rng.uniform(0.0, 3.0, size=(n, n)) * (rng.random((n, n)) < 0.3)
    capital = rng.uniform(2.0, 10.0, size=n)
    base = np.zeros(n)
    base[[0, 7]] = 0.1
    results = [debtrank(exposures, capital, base * scale) for scale in (1.0, 2.0, 5.0, 10.0)]
    for small, large in pairwise(results):
        assert np.all(large.h >= small.h - 1e-15)
        assert large.debtrank >= small.debtrank - 1e-15


def test_debtrank_star_hub_reaches_all_leaves() -> None:
    """Leaves lent 5 each to a hub and hold capital 10: hub default gives each leaf h = 0.5."""
    n_leaves = 6
    exposures = np.zeros((n_leaves + 1, n_leaves + 1))
    exposures[1:, 0] = 5.0
    shock = np.zeros(n_leaves + 1)
    shock[0] = 1.0
    result = debtrank(exposures, np.full(n_leaves + 1, 10.0), shock)
    assert result.h[1:] == pytest.approx(np.full(n_leaves, 0.5))
    assert result.iterations == 2
    # the hub lent nothing, so its asset share is 0; each leaf holds 1/6 of the assets
    assert result.debtrank == pytest.approx(0.5)


def test_debtrank_default_weights_are_asset_shares() -> None:
    """Default v is each node's share of all interbank assets; explicit weights used as given."""
    rng = np.random.default_rng(9)
    exposures = rng.uniform(0.0, 4.0, size=(5, 5))
    capital, shock = np.full(5, 6.0), np.array([0.5, 0.0, 0.0, 0.2, 0.0])
    shares = exposures.sum(axis=1) / exposures.sum()
    implicit = debtrank(exposures, capital, shock)
    explicit = debtrank(exposures, capital, shock, weights=shares)
    assert implicit.debtrank == pytest.approx(explicit.debtrank)
    doubled = debtrank(exposures, capital, shock, weights=2 * shares)
    assert doubled.debtrank == pytest.approx(2 * implicit.debtrank)


def test_debtrank_impact_matrix_caps_and_handles_zero_capital() -> None:
    """W_ij = min(1, exposure_ij / capital_i); zero capital loses all on any exposure."""
    exposures = np.array([[0.0, 2.0, 8.0], [1.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    impact = impact_matrix(exposures, [4.0, 2.0, 0.0])
    np.testing.assert_allclose(impact, [[0.0, 0.5, 1.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shock": [1.5, 0.0]}, "shock"),
        ({"capital": [1.0]}, "capital"),
        ({"capital": [1.0, -1.0]}, "capital"),
        ({"weights": [-0.1, 1.0]}, "weights"),
        ({"exposures": np.ones(2)}, "square"),
    ],
)
def test_debtrank_rejects_malformed_input(kwargs: dict[str, Any], match: str) -> None:
    """Bad shapes or ranges raise ContagionError naming the argument."""
    arguments: dict[str, Any] = {"exposures": np.ones((2, 2)), "capital": [1.0, 1.0]}
    arguments["shock"] = [0.5, 0.0]
    arguments.update(kwargs)
    with pytest.raises(ContagionError, match=match):
        debtrank(**arguments)


# --- default cascade ----------------------------------------------------------------------


def lending_chain() -> nx.DiGraph:
    """1 lent 10 to 0, 2 lent 6 to 1, 3 lent 8 to 2; capital (_, 5, 6, 10)."""
    graph = nx.DiGraph()
    for node, capital in enumerate([1.0, 5.0, 6.0, 10.0]):
        graph.add_node(node, capital=capital)
    graph.add_edge(1, 0, exposure=10.0)
    graph.add_edge(2, 1, exposure=6.0)
    graph.add_edge(3, 2, exposure=8.0)
    return graph


def test_default_cascade_chain_hand_example() -> None:
    """0 fails; 1 loses 10 >= 5; 2 loses 6 >= 6 (threshold inclusive); 3 loses 8 < 10 survives."""
    result = default_cascade(lending_chain(), [0])
    assert result.waves == [[0], [1], [2]]
    assert result.defaulted == [0, 1, 2]
    assert result.losses == {0: 0.0, 1: 10.0, 2: 6.0, 3: 8.0}


def test_default_cascade_recovery_scales_losses() -> None:
    """Recovery 0.5 halves losses: 1 loses 5 >= 5 and fails, 2 loses 3 < 6 and survives."""
    result = default_cascade(lending_chain(), [0], recovery_rate=0.5)
    assert result.waves == [[0], [1]]
    assert result.losses == {0: 0.0, 1: 5.0, 2: 3.0, 3: 0.0}


def test_default_cascade_full_recovery_stops_contagion() -> None:
    """Recovery 1 means no loss, so even a thinly capitalised complete graph stays up."""
    graph = nx.complete_graph(10, create_using=nx.DiGraph)
    nx.set_node_attributes(graph, 1e-6, "capital")
    nx.set_edge_attributes(graph, 100.0, "exposure")
    result = default_cascade(graph, [3], recovery_rate=1.0)
    assert result.defaulted == [3]
    assert result.waves == [[3]]
    assert all(loss == 0.0 for loss in result.losses.values())


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda g: g.to_undirected(), "DiGraph"),
        (lambda g: (g.nodes[2].pop("capital"), g)[1], "capital"),
        (lambda g: (g.edges[1, 0].update(exposure=-1.0), g)[1], "exposure"),
        (lambda g: (g.edges[1, 0].update(exposure="x"), g)[1], "number"),
    ],
)
def test_default_cascade_rejects_malformed_graph(mutate: Any, match: str) -> None:
    """Missing or invalid attributes and undirected graphs raise ContagionError."""
    with pytest.raises(ContagionError, match=match):
        default_cascade(mutate(lending_chain()), [0])


def test_default_cascade_rejects_bad_arguments() -> None:
    """Unknown initial nodes and recovery outside [0, 1] raise ContagionError."""
    with pytest.raises(ContagionError, match="not in the graph"):
        default_cascade(lending_chain(), [42])
    with pytest.raises(ContagionError, match="recovery_rate"):
        default_cascade(lending_chain(), [0], recovery_rate=1.5)


# --- Gai & Kapadia (2010): robust yet fragile ---------------------------------------------


def gai_kapadia_network(n: int, mean_degree: float, rng: np.random.Generator) -> nx.DiGraph:
    """Gai-Kapadia balance sheets on a directed Erdos-Renyi graph (edge i -> j: i lent to j).

    Total assets 100, interbank assets 20 split evenly over a bank's borrowers, capital 4
    (4% of assets), zero recovery.

    ``fast_gnp_random_graph`` draws from the same G(n, p) ensemble as ``gnp_random_graph``
    in O(n + m) instead of O(n^2) (about 15x faster at n = 200).
    """
    graph = nx.fast_gnp_random_graph(n, mean_degree / (n - 1), seed=rng, directed=True)
    nx.set_node_attributes(graph, 4.0, "capital")
    for _lender, borrowers in graph.adjacency():
        share = 20.0 / len(borrowers) if borrowers else 0.0
        for attributes in borrowers.values():
            attributes["exposure"] = share
    return graph


def contagion_curve(
    n: int, degrees: list[float], trials: int, seed: int
) -> dict[float, tuple[float, float]]:
    """Mean degree -> (P(> 5% of banks default), mean defaulted fraction given that)."""
    rng = np.random.default_rng(seed)
    curve = {}
    for z in degrees:
        sizes = np.empty(trials)
        for t in range(trials):
            graph = gai_kapadia_network(n, z, rng)
            sizes[t] = len(default_cascade(graph, [int(rng.integers(n))]).defaulted) / n
        spread = sizes > 0.05
        extent = float(sizes[spread].mean()) if spread.any() else float("nan")
        curve[z] = (float(spread.mean()), extent)
    return curve


@pytest.fixture(scope="module")
def gk_curve() -> dict[float, tuple[float, float]]:
    # n = 200, 80 trials: P(contagion) at z = 0.5 / 1 / 4 / 8 / 12 measured over 20 seeds
    # (100 trials) ranged 0-.04 / .17-.32 / .85-.97 / .21-.39 / 0-.01
    return contagion_curve(200, [0.5, 1.0, 4.0, 8.0, 12.0], trials=80, seed=20100)


def test_default_cascade_gai_kapadia_probability_is_hump_shaped(
    gk_curve: dict[float, tuple[float, float]],
) -> None:
    """Gai & Kapadia (2010, Fig. 3): contagion is rare at low and high degree, common between."""
    probability = {z: p for z, (p, _) in gk_curve.items()}
    assert probability[0.5] < 0.15
    assert probability[4.0] > 0.6
    assert probability[12.0] < 0.15
    assert probability[4.0] > probability[1.0] > probability[0.5]
    assert probability[4.0] > probability[8.0] > probability[12.0]


def test_default_cascade_gai_kapadia_extent_is_near_complete_at_high_degree(
    gk_curve: dict[float, tuple[float, float]],
) -> None:
    """Gai & Kapadia (2010, Fig. 3): when contagion occurs at high degree nearly all banks fail."""
    assert gk_curve[8.0][1] > 0.9
    assert gk_curve[1.0][1] < 0.5


@pytest.mark.slow
def test_default_cascade_gai_kapadia_curve_large() -> None:
    """GK (2010) at n = 1000: a single hump in P(contagion), near-total extent past its peak."""
    degrees = [0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    curve = contagion_curve(1000, degrees, trials=100, seed=2010)
    probability = [curve[z][0] for z in degrees]
    peak = int(np.argmax(probability))
    assert 0 < peak < len(degrees) - 1
    assert all(a <= b + 0.1 for a, b in pairwise(probability[: peak + 1]))
    assert all(a + 0.1 >= b for a, b in pairwise(probability[peak:]))
    assert probability[0] < 0.1
    assert probability[-1] < 0.1
    assert all(curve[z][1] > 0.9 for z in degrees if z >= 4.0 and curve[z][0] > 0)
