"""Tests for abm.agents.arrivals.GroupArrivals: arrival laws checked against their moments.

Tolerances are ``Z`` standard errors of the estimator under the stated law; every test uses a
fixed seed, so a failure is a reproducible disagreement with the law, not bad luck.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from abm.agents.arrivals import SPARSE_MIN_SLOTS, GroupArrivals, poisson_slots, sparse_slots
from abm.scenario.schema import ArrivalLaw, ArrivalSpec, HawkesArrivalSpec

Z = 5.0  # standard errors allowed for a statistical check
N_TRADERS = 500
N_STEPS = 2000
# the law tests run on both draws: the per-slot one (groups under SPARSE_MIN_SLOTS slots)
# and the sparse one (larger groups), forced here on the tests' smaller groups
BOTH_DRAWS = pytest.mark.parametrize(
    "sparse_min", [SPARSE_MIN_SLOTS, 0], ids=["per_slot_draw", "sparse_draw"]
)


def _spec(kind: str, rate: float, *, per_side: bool = False) -> ArrivalSpec:
    return ArrivalSpec(kind=kind, rate=rate, per_side=per_side)


def _counts(
    arrivals: GroupArrivals, rng: np.random.Generator, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrivals per (step, trader): all, buy-side and sell-side (per-side laws only)."""
    total = np.zeros((steps, arrivals.n), dtype=np.int64)
    buys = np.zeros_like(total)
    sells = np.zeros_like(total)
    for step in range(steps):
        for index, side in arrivals.draw(rng):
            total[step, index] += 1
            if side is True:
                buys[step, index] += 1
            elif side is False:
                sells[step, index] += 1
    return total, buys, sells


@BOTH_DRAWS
def test_group_arrivals_bernoulli_frequency_equals_rate(sparse_min: int) -> None:
    """Bernoulli(p): the fraction of (trader, step) pairs with an arrival estimates p."""
    rate = 0.3
    arrivals = GroupArrivals(_spec("bernoulli", rate), N_TRADERS, sparse_min_slots=sparse_min)
    total, _, _ = _counts(arrivals, np.random.default_rng(1), N_STEPS)
    se = math.sqrt(rate * (1 - rate) / total.size)
    assert abs(total.mean() - rate) < Z * se


@BOTH_DRAWS
def test_group_arrivals_bernoulli_at_most_once_per_step(sparse_min: int) -> None:
    """Bernoulli arrivals: a trader arrives at most once per step, with side left to it."""
    arrivals = GroupArrivals(_spec("bernoulli", 0.9), N_TRADERS, sparse_min_slots=sparse_min)
    rng = np.random.default_rng(2)
    for _ in range(50):
        drawn = arrivals.draw(rng)
        indices = [i for i, _ in drawn]
        assert len(indices) == len(set(indices))
        assert all(0 <= i < N_TRADERS and side is None for i, side in drawn)


@BOTH_DRAWS
def test_group_arrivals_bernoulli_rate_one_wakes_everyone(sparse_min: int) -> None:
    """Bernoulli(1): every trader arrives every step (the law's degenerate end)."""
    arrivals = GroupArrivals(_spec("bernoulli", 1.0), 37, sparse_min_slots=sparse_min)
    drawn = arrivals.draw(np.random.default_rng(3))
    assert sorted(i for i, _ in drawn) == list(range(37))


@BOTH_DRAWS
def test_group_arrivals_poisson_mean_equals_rate(sparse_min: int) -> None:
    """Poisson(lambda): arrivals per trader per step have mean lambda."""
    rate = 0.7
    arrivals = GroupArrivals(_spec("poisson", rate), N_TRADERS, sparse_min_slots=sparse_min)
    total, _, _ = _counts(arrivals, np.random.default_rng(4), N_STEPS)
    se = math.sqrt(rate / total.size)
    assert abs(total.mean() - rate) < Z * se


@BOTH_DRAWS
def test_group_arrivals_poisson_variance_equals_rate(sparse_min: int) -> None:
    """Poisson(lambda): variance equals the mean; Var(s^2) ~ (lambda + 2 lambda^2) / N."""
    rate = 0.7
    arrivals = GroupArrivals(_spec("poisson", rate), N_TRADERS, sparse_min_slots=sparse_min)
    total, _, _ = _counts(arrivals, np.random.default_rng(5), N_STEPS)
    se = math.sqrt((rate + 2 * rate**2) / total.size)
    assert abs(total.var(ddof=1) - rate) < Z * se


@BOTH_DRAWS
def test_group_arrivals_poisson_allows_several_arrivals_per_step(sparse_min: int) -> None:
    """Poisson(lambda): P(N >= 2) = 1 - e^-l (1 + l), so repeats of one trader must occur."""
    rate = 0.7
    arrivals = GroupArrivals(_spec("poisson", rate), N_TRADERS, sparse_min_slots=sparse_min)
    total, _, _ = _counts(arrivals, np.random.default_rng(6), 200)
    p_two = 1 - math.exp(-rate) * (1 + rate)
    se = math.sqrt(p_two * (1 - p_two) / total.size)
    assert abs((total >= 2).mean() - p_two) < Z * se


@BOTH_DRAWS
@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_group_arrivals_per_side_each_side_at_rate(kind: str, sparse_min: int) -> None:
    """per_side: buy-side and sell-side arrivals each have mean ``rate`` per trader and step."""
    rate = 0.2
    arrivals = GroupArrivals(
        _spec(kind, rate, per_side=True), N_TRADERS, sparse_min_slots=sparse_min
    )
    total, buys, sells = _counts(arrivals, np.random.default_rng(7), N_STEPS)
    variance = rate * (1 - rate) if kind == "bernoulli" else rate
    se = math.sqrt(variance / total.size)
    assert abs(buys.mean() - rate) < Z * se
    assert abs(sells.mean() - rate) < Z * se
    assert np.array_equal(total, buys + sells)  # every arrival carries a side


@BOTH_DRAWS
@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_group_arrivals_per_side_draws_are_independent(kind: str, sparse_min: int) -> None:
    """per_side: buy and sell counts of a trader in a step are uncorrelated (independent)."""
    rate = 0.3
    arrivals = GroupArrivals(
        _spec(kind, rate, per_side=True), N_TRADERS, sparse_min_slots=sparse_min
    )
    _, buys, sells = _counts(arrivals, np.random.default_rng(8), N_STEPS)
    b = buys.ravel().astype(float)
    s = sells.ravel().astype(float)
    # Under independence the sample covariance has sd ~ Var(B) / sqrt(N).
    variance = rate * (1 - rate) if kind == "bernoulli" else rate
    covariance = float(np.mean((b - b.mean()) * (s - s.mean())))
    assert abs(covariance) < Z * variance / math.sqrt(b.size)


@BOTH_DRAWS
def test_group_arrivals_per_side_bernoulli_both_sides_at_rate_squared(sparse_min: int) -> None:
    """per_side Bernoulli: a trader arrives on both sides in one step with probability p^2."""
    rate = 0.3
    arrivals = GroupArrivals(
        _spec("bernoulli", rate, per_side=True), N_TRADERS, sparse_min_slots=sparse_min
    )
    _, buys, sells = _counts(arrivals, np.random.default_rng(9), N_STEPS)
    both = ((buys > 0) & (sells > 0)).mean()
    p = rate * rate
    assert abs(both - p) < Z * math.sqrt(p * (1 - p) / buys.size)


@BOTH_DRAWS
@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
@pytest.mark.parametrize("per_side", [False, True])
def test_group_arrivals_empty_group_draws_nothing(
    kind: str, per_side: bool, sparse_min: int
) -> None:
    """A group of zero traders never arrives."""
    arrivals = GroupArrivals(_spec(kind, 0.5, per_side=per_side), 0, sparse_min_slots=sparse_min)
    rng = np.random.default_rng(10)
    assert all(arrivals.draw(rng) == [] for _ in range(20))


@BOTH_DRAWS
@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
@pytest.mark.parametrize("per_side", [False, True])
def test_group_arrivals_zero_rate_draws_nothing(kind: str, per_side: bool, sparse_min: int) -> None:
    """Rate 0 switches a group off: no arrivals, whatever the group size."""
    arrivals = GroupArrivals(_spec(kind, 0.0, per_side=per_side), 100, sparse_min_slots=sparse_min)
    rng = np.random.default_rng(11)
    assert all(arrivals.draw(rng) == [] for _ in range(20))


@BOTH_DRAWS
def test_group_arrivals_same_generator_state_same_draws(sparse_min: int) -> None:
    """Draws depend only on the generator's state (reproducibility from the seed)."""
    arrivals = GroupArrivals(_spec("poisson", 0.4, per_side=True), 50, sparse_min_slots=sparse_min)
    rng_a, rng_b = np.random.default_rng(12), np.random.default_rng(12)
    first = [arrivals.draw(rng_a) for _ in range(3)]
    second = [arrivals.draw(rng_b) for _ in range(3)]
    assert first == second


@pytest.mark.parametrize(("kind", "rate"), [("bernoulli", 0.3), ("poisson", 0.7)])
def test_group_arrivals_per_side_draw_is_both_sides_drawn_in_turn(kind: str, rate: float) -> None:
    """A per-side step equals numpy drawing the buy side's n values, then the sell side's."""
    n, seed = 57, 11
    arrivals = GroupArrivals(_spec(kind, rate, per_side=True), n)
    rng, reference = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(20):
        sides = []
        for _side in (True, False):
            if kind == "bernoulli":
                sides.append(np.flatnonzero(reference.random(n) < rate).tolist())
            else:
                sides.append(np.repeat(np.arange(n), reference.poisson(rate, n)).tolist())
        expected = [(i, True) for i in sides[0]] + [(i, False) for i in sides[1]]
        assert arrivals.draw(rng) == expected
    assert rng.random() == reference.random()  # the generator is left where numpy's would be


@pytest.mark.parametrize("n", [1, 12, 63, 64, 500])
def test_bernoulli_draw_is_numpys_uniforms_below_the_rate(n: int) -> None:
    """Against numpy itself: the slots whose uniform is below the rate, short groups included.

    Groups under 64 slots compare their uniforms in a Python loop, larger ones in numpy;
    both must give numpy's ``flatnonzero(rng.random(n) < rate)`` from the same stream.
    """
    rate = 0.3
    arrivals = GroupArrivals(_spec("bernoulli", rate), n)
    rng, reference = np.random.default_rng(n), np.random.default_rng(n)
    for _ in range(50):
        expected = [(i, None) for i in np.flatnonzero(reference.random(n) < rate).tolist()]
        assert arrivals.draw(rng) == expected
    assert rng.random() == reference.random()


@pytest.mark.parametrize("lam", [1e-6, 4.27e-5, 0.004, 0.02, 0.05, 0.3, 9.99, 12.0])
@pytest.mark.parametrize("n", [1, 12, 255, 256, 1000, 3001])
def test_poisson_slots_are_numpys_poisson_variates_from_the_same_stream(lam: float, n: int) -> None:
    """Against numpy itself: repeat(arange(n), rng.poisson(lam, n)), and the same state after."""
    for seed in range(4):
        rng, reference = np.random.default_rng(seed), np.random.default_rng(seed)
        for _ in range(25):
            expected = np.repeat(np.arange(n), reference.poisson(lam, n)).tolist()
            assert poisson_slots(rng, lam, n) == expected
        assert rng.random() == reference.random()


def test_poisson_slots_walk_reads_more_uniforms_when_the_last_slot_arrives() -> None:
    """A variate at the buffer's end reads uniforms drawn after it, exactly as numpy does."""
    n, lam, seen = 256, 0.05, 0
    for seed in range(400):
        rng, reference = np.random.default_rng(seed), np.random.default_rng(seed)
        counts = reference.poisson(lam, n)
        seen += bool(counts[-1])
        assert poisson_slots(rng, lam, n) == np.repeat(np.arange(n), counts).tolist()
        assert rng.random() == reference.random()
    assert seen > 5  # the case was exercised


@pytest.mark.parametrize(("kind", "rate"), [("bernoulli", 3e-4), ("poisson", 3e-4)])
def test_sparse_slots_step_counts_follow_binomial_and_poisson_laws(kind: str, rate: float) -> None:
    """Arrivals per step of a million slots: chi-square against scipy's Binomial/Poisson pmf."""
    from scipy import stats

    n, steps = 1_000_000, 4000
    rng = np.random.default_rng(21)
    counts = np.array([len(sparse_slots(rng, kind, rate, n)) for _ in range(steps)])
    law = stats.binom(n, rate) if kind == "bernoulli" else stats.poisson(n * rate)
    edges = np.arange(int(law.ppf(0.01)), int(law.ppf(0.99)) + 1)
    observed = [np.sum(counts < edges[0])]
    observed += [np.sum(counts == k) for k in edges]
    observed += [np.sum(counts > edges[-1])]
    expected = np.array([law.cdf(edges[0] - 1), *law.pmf(edges), law.sf(edges[-1])], dtype=float)
    _, p_value = stats.chisquare(observed, expected * steps / expected.sum())
    assert p_value > 1e-4


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_sparse_slots_spread_uniformly_over_the_group(kind: str) -> None:
    """Every slot is equally likely: chi-square of arrivals in 20 equal slot ranges (scipy)."""
    from scipy import stats

    n, bins = 200_000, 20
    rng = np.random.default_rng(22)
    drawn = np.concatenate([sparse_slots(rng, kind, 0.01, n) for _ in range(50)])
    observed = np.bincount(drawn * bins // n, minlength=bins)
    assert stats.chisquare(observed).pvalue > 1e-4


def test_sparse_slots_bernoulli_slots_are_distinct_and_ascending() -> None:
    """Bernoulli: a slot arrives at most once a step; the slots come sorted, all in range."""
    rng = np.random.default_rng(23)
    for rate in (1e-5, 0.01, 0.5, 1.0):
        drawn = sparse_slots(rng, "bernoulli", rate, 50_000)
        assert drawn == sorted(set(drawn))
        assert all(0 <= i < 50_000 for i in drawn)
    assert sparse_slots(rng, "bernoulli", 1.0, 20_000) == list(range(20_000))


@pytest.mark.parametrize("per_side", [False, True])
def test_group_arrivals_draw_sparsely_from_sparse_min_slots(per_side: bool) -> None:
    """Slots >= SPARSE_MIN_SLOTS: sparse_slots from the same stream; one fewer: numpy's per-slot."""
    slots_per_trader = 2 if per_side else 1
    n = SPARSE_MIN_SLOTS // slots_per_trader
    spec = _spec("bernoulli", 0.003, per_side=per_side)
    rng, reference = np.random.default_rng(24), np.random.default_rng(24)
    drawn = sorted(GroupArrivals(spec, n).draw(rng), key=lambda a: (a[1] is False, a[0]))
    expected = sparse_slots(reference, "bernoulli", 0.003, n * slots_per_trader)
    assert [i + (n if side is False else 0) for i, side in drawn] == expected
    small = GroupArrivals(spec, n - 1)
    slots = (n - 1) * slots_per_trader
    indices = [i + (n - 1 if side is False else 0) for i, side in small.draw(rng)]
    assert indices == np.flatnonzero(reference.random(slots) < 0.003).tolist()


@pytest.mark.parametrize(
    "law",
    [
        ArrivalSpec(kind="bernoulli", rate=0.02),
        ArrivalSpec(kind="bernoulli", rate=0.3),
        ArrivalSpec(kind="poisson", rate=0.01),
        ArrivalSpec(kind="poisson", rate=0.8),
        HawkesArrivalSpec(kind="hawkes", mu=2.0, branching=0.5, beta=1.5),
    ],
    ids=["bernoulli_rare", "bernoulli", "poisson_rare", "poisson", "hawkes"],
)
@pytest.mark.parametrize("n", [10, N_TRADERS, 5000])
def test_draw_unsided_is_draw_without_the_sides(law: ArrivalLaw, n: int) -> None:
    """`draw_unsided` is `draw`'s indices, from the same variates (a naive reference: `draw`).

    Two groups of the same law drawn from generators in the same state, step after step (the
    rng state carries over, so every later step checks that both read the same variates).
    """
    unsided, paired = GroupArrivals(law, n), GroupArrivals(law, n)
    rng_a, rng_b = np.random.default_rng(11), np.random.default_rng(11)
    arrived = 0
    for _ in range(300):
        who = unsided.draw_unsided(rng_a)
        assert paired.draw(rng_b) == [(i, None) for i in who]
        arrived += len(who)
    assert arrived > 0
    assert rng_a.random() == rng_b.random()


def test_draw_unsided_refuses_a_per_side_law() -> None:
    """A per-side law's arrivals carry their sides: `draw_unsided` says to use `draw`."""
    arrivals = GroupArrivals(_spec("bernoulli", 0.1, per_side=True), 10)
    with pytest.raises(ValueError, match="per_side"):
        arrivals.draw_unsided(np.random.default_rng(0))


@pytest.mark.parametrize("n", [64, N_TRADERS, 5000])
def test_draw_unsided_dense_bernoulli_is_one_uniform_per_trader(n: int) -> None:
    """Dense Bernoulli: trader i arrives when its uniform is below min(rate * intensity, 1).

    The reference is the naive draw in numpy (``rng.random(n)`` compared), across intensity
    shocks that lift the rate past 1 and down to 0.
    """
    arrivals = GroupArrivals(ArrivalSpec(kind="bernoulli", rate=0.02), n)
    rng, reference = np.random.default_rng(5), np.random.default_rng(5)
    for step in range(200):
        arrivals.intensity = (1.0, 3.0, 80.0, 0.0)[step % 4]
        rate = min(0.02 * arrivals.intensity, 1.0)
        assert arrivals.draw_unsided(rng) == np.flatnonzero(reference.random(n) < rate).tolist()
    assert rng.random() == reference.random()
