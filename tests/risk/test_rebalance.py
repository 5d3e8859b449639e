"""Tests for abm.risk.rebalancing: what each rebalancing rule trades, on hand-computed cases.

The expected quantities come from the rules in the `abm.risk.rebalancing` module docstring and the
`abm.risk.rebalancing` rebalance specs: with ``gap = inventory - target``, threshold trades ``-gap``
once ``|gap| > band``; proportional trades ``ceil(fraction * |gap|)`` towards the target;
scheduled splits the gap into ``horizon_steps`` near-equal slices (TWAP), larger slices first,
and never trades past the target. Inventories between calls are set by hand to play the part
of order flow.
"""

from __future__ import annotations

import math
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abm.risk.rebalancing import (
    REBALANCERS,
    NoRebalance,
    ProportionalRebalance,
    Rebalancer,
    RebalanceSpec,
    ScheduledRebalance,
    ThresholdRebalance,
    _twap_slices,
)


def _none() -> Rebalancer:
    return Rebalancer(NoRebalance(kind="none"))


def _threshold(band: int = 0, target: int = 0) -> Rebalancer:
    return Rebalancer(ThresholdRebalance(kind="threshold", band=band, target=target))


def _proportional(fraction: float, band: int = 0, target: int = 0) -> Rebalancer:
    return Rebalancer(
        ProportionalRebalance(kind="proportional", fraction=fraction, band=band, target=target)
    )


def _scheduled(horizon: int, band: int = 0, target: int = 0) -> Rebalancer:
    return Rebalancer(
        ScheduledRebalance(kind="scheduled", horizon_steps=horizon, band=band, target=target)
    )


def _run_without_flow(rebalancer: Rebalancer, inventory: int, steps: int) -> list[int]:
    """Orders over ``steps`` calls when each order fills in full and nothing else trades."""
    orders = []
    for _ in range(steps):
        qty = rebalancer.order(inventory)
        orders.append(qty)
        inventory += qty
    return orders


# --- none ---------------------------------------------------------------------------------


def test_rebalancer_none_never_trades() -> None:
    """The ``none`` rule returns 0 whatever the inventory (skew alone manages inventory)."""
    rebalancer = _none()
    assert [rebalancer.order(q) for q in (-1000, -1, 0, 1, 1000)] == [0] * 5


def test_rebalancer_active_is_false_only_for_none() -> None:
    """`Rebalancer.active` is False for ``none`` and True for every trading rule."""
    assert not _none().active
    assert _threshold().active
    assert _proportional(0.5).active
    assert _scheduled(3).active


# --- threshold ----------------------------------------------------------------------------


def test_rebalancer_threshold_holds_inside_band() -> None:
    """Threshold: no trade while ``|inventory - target| <= band`` (the band edge included)."""
    rebalancer = _threshold(band=5, target=2)
    assert [rebalancer.order(q) for q in (-3, 0, 2, 5, 7)] == [0] * 5


def test_rebalancer_threshold_trades_whole_gap_beyond_band() -> None:
    """Threshold: beyond the band, the whole gap at once: 13 -> -11 and -8 -> +10 (target 2)."""
    rebalancer = _threshold(band=5, target=2)
    assert rebalancer.order(13) == -11
    assert rebalancer.order(-8) == 10
    assert rebalancer.order(8) == -6  # gap 6, one past the band edge


# --- proportional -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        (10, -3),
        (11, -4),  # ceil(3.3)
        (-7, 3),  # ceil(2.1), towards the target
        (1, -1),  # ceil(0.3): never a zero trade beyond the band
        (20, -6),
    ],
)
def test_rebalancer_proportional_trades_ceil_fraction_of_gap(inventory: int, expected: int) -> None:
    """Proportional (fraction 0.3, band 0): trade ``ceil(0.3 * |gap|)`` towards the target."""
    assert _proportional(0.3).order(inventory) == expected


def test_rebalancer_proportional_exact_product_is_not_rounded_up() -> None:
    """0.28 x 25 is 7.000000000000001 in floats; ceil of the exact product 7 is 7, not 8."""
    assert _proportional(0.28).order(25) == -7


def test_rebalancer_proportional_uses_gap_to_target() -> None:
    """Proportional measures the gap from ``target``: inventory 14, target 4 -> ceil(0.25 * 10)."""
    assert _proportional(0.25, target=4).order(14) == -3
    assert _proportional(0.25, target=4).order(-6) == 3


def test_rebalancer_proportional_holds_inside_band() -> None:
    """Proportional: no trade while ``|gap| <= band``."""
    rebalancer = _proportional(0.5, band=3)
    assert [rebalancer.order(q) for q in (-3, -1, 0, 2, 3)] == [0] * 5
    assert rebalancer.order(4) == -2


def test_rebalancer_proportional_converges_without_overshoot() -> None:
    """Proportional 0.3 from 20 without flow: gaps 20, 14, 9, 6, 4, 2, 1, 0 (hand-computed)."""
    orders = _run_without_flow(_proportional(0.3), 20, 8)
    assert orders == [-6, -5, -3, -2, -2, -1, -1, 0]


def test_rebalancer_proportional_fraction_one_is_threshold() -> None:
    """Proportional with fraction 1 trades the whole gap, like threshold."""
    assert _proportional(1.0, band=2).order(-9) == 9


# --- scheduled (TWAP) ---------------------------------------------------------------------


def test_rebalancer_scheduled_slices_sum_to_gap() -> None:
    """TWAP without flow: 10 lots over 4 steps are -3, -3, -2, -2, then nothing (at target)."""
    orders = _run_without_flow(_scheduled(4), 10, 6)
    assert orders == [-3, -3, -2, -2, 0, 0]


def test_rebalancer_scheduled_works_towards_target() -> None:
    """TWAP gap is measured from ``target``: inventory -5, target 4 -> +9 over 3 steps of 3."""
    assert _run_without_flow(_scheduled(3, target=4), -5, 4) == [3, 3, 3, 0]


def test_rebalancer_scheduled_holds_inside_band() -> None:
    """TWAP starts no schedule while ``|gap| <= band``."""
    rebalancer = _scheduled(3, band=4)
    assert [rebalancer.order(q) for q in (4, -4, 0, 3)] == [0] * 4
    assert rebalancer.order(5) == -2  # 5 -> slices 2, 2, 1


def test_rebalancer_scheduled_finishes_schedule_inside_band() -> None:
    """A running schedule goes on to the target even once the gap is inside the band."""
    orders = _run_without_flow(_scheduled(3, band=4), 6, 4)
    assert orders == [-2, -2, -2, 0]


def test_rebalancer_scheduled_never_trades_past_target_after_flow() -> None:
    """Flow that has done part of the job caps the slice at the remaining gap (2, not 3)."""
    rebalancer = _scheduled(4)
    assert rebalancer.order(10) == -3  # slices left: -3, -2, -2
    assert rebalancer.order(2) == -2  # flow sold 5 more: only 2 left to the target
    assert rebalancer.order(0) == 0


def test_rebalancer_scheduled_stops_when_flow_closes_gap() -> None:
    """When flow brings inventory to the target mid-schedule, the remaining slices are dropped."""
    rebalancer = _scheduled(4)
    assert rebalancer.order(10) == -3
    assert rebalancer.order(0) == 0
    assert rebalancer.order(0) == 0


def test_rebalancer_scheduled_restarts_after_completion() -> None:
    """After its last slice, a new gap beyond the band starts a fresh schedule sized to it."""
    rebalancer = _scheduled(4)
    assert _run_without_flow(rebalancer, 10, 4) == [-3, -3, -2, -2]
    assert _run_without_flow(rebalancer, 7, 5) == [-2, -2, -2, -1, 0]


def test_rebalancer_scheduled_restarts_after_flow_closed_gap() -> None:
    """A schedule dropped because flow closed the gap is replaced by one for the next gap."""
    rebalancer = _scheduled(2)
    assert rebalancer.order(8) == -4
    assert rebalancer.order(0) == 0
    assert rebalancer.order(-6) == 3


def test_rebalancer_scheduled_restarts_at_once_when_flow_reverses_gap() -> None:
    """Gap reversed beyond the band with no valid schedule: the first new slice trades now."""
    rebalancer = _scheduled(4)
    assert rebalancer.order(10) == -3  # schedule -3, -3, -2, -2 towards the target
    # flow overshoots: gap -10, beyond the band (0), opposite to the running schedule
    assert rebalancer.order(-10) == 3


# --- every rule: never past the target ----------------------------------------------------

_SPECS: list[RebalanceSpec] = [
    ThresholdRebalance(kind="threshold", band=2, target=1),
    ProportionalRebalance(kind="proportional", fraction=0.35, band=1, target=-2),
    ScheduledRebalance(kind="scheduled", horizon_steps=5, band=3, target=0),
]


@settings(max_examples=150, deadline=None)
@given(
    spec_index=st.integers(0, len(_SPECS) - 1),
    start=st.integers(-60, 60),
    flows=st.lists(st.integers(-8, 8), min_size=1, max_size=30),
)
def test_rebalancer_never_trades_past_target(spec_index: int, start: int, flows: list[int]) -> None:
    """Whatever the flow between steps, an order moves towards the target by at most the gap."""
    spec = _SPECS[spec_index]
    rebalancer = Rebalancer(spec)
    inventory = start
    for flow in flows:
        gap = inventory - spec.target
        qty = rebalancer.order(inventory)
        if qty:
            assert qty * gap < 0, (inventory, qty)
            assert abs(qty) <= abs(gap), (inventory, qty)
        inventory += qty + flow


# --- _twap_slices -------------------------------------------------------------------------


def test_twap_slices_hand_examples() -> None:
    """-10 over 4 is -3, -3, -2, -2; 3 over 5 drops the two empty slices."""
    assert _twap_slices(-10, 4) == [-3, -3, -2, -2]
    assert _twap_slices(3, 5) == [1, 1, 1]
    assert _twap_slices(12, 1) == [12]


def test_twap_slices_zero_total_is_empty() -> None:
    """Nothing to trade gives no slices."""
    assert _twap_slices(0, 7) == []


@settings(max_examples=300, deadline=None)
@given(total=st.integers(-500, 500).filter(bool), horizon=st.integers(1, 60))
def test_twap_slices_sum_to_total_near_equal(total: int, horizon: int) -> None:
    """Slices sum to the total, share its sign, differ by at most one lot, larger first."""
    slices = _twap_slices(total, horizon)
    assert sum(slices) == total
    assert len(slices) == min(horizon, abs(total))
    assert all(math.copysign(1, s) == math.copysign(1, total) for s in slices)
    sizes = [abs(s) for s in slices]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)


def test_rebalancers_registry_covers_every_rebalance_kind() -> None:
    """Each kind the schema accepts has exactly one rule builder in REBALANCERS."""
    kinds = {
        get_args(spec.model_fields["kind"].annotation)[0]
        for spec in get_args(get_args(RebalanceSpec)[0])
    }
    assert set(REBALANCERS) == kinds
