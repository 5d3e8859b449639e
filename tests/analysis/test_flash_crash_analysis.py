"""Tests for `analysis.flash_crash` on hand-built runs whose every number is known.

A synthetic run has two HFTs (ids 1, 2), a fundamental buyer (3) and a sell program (4)
starting at step 10, with dt 1 s and no price smoothing (``smooth_s`` = dt). The price holds
at 100, falls one point a step to 90 at step 20, then climbs to 96 by step 30; bid depth is 100
before the program and 10 during the fall. Four fills:

    step 6:  HFT 1 buys 2 from the fundamental buyer
    step 12: HFT 1 buys 10 from the program
    step 13: HFT 2 buys 10 from HFT 1          (hot potato)
    step 14: the fundamental buyer buys 9 from HFT 2

so the HFTs trade 39 lots in the fall (20 bought, 19 sold) for a net change of +1.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from matplotlib.figure import Figure

from abm.results.events import EventKind
from abm.results.recorder import Recorder
from abm.results.run_result import RunResult
from analysis.flash_crash import (
    COMPARISON_COLUMNS,
    FLASH_CRASH_FIGURE,
    class_inventory,
    class_shares,
    flash_crash_figure,
    flash_crash_summary,
    flash_crash_table,
    flash_crash_windows,
    hft_groups,
    hot_potato,
    is_flash_crash_run,
)
from analysis.report_sections import build_document
from tests._helpers import scenario_text

GROUPS = {1: "hft", 2: "hft", 3: "buyers", 4: "seller"}
FILLS = ((6, 3, 1, 2), (12, 4, 1, 10), (13, 1, 2, 10), (14, 2, 3, 9))  # step, seller, buyer, qty


def _scenario(start_step: int = 10, with_program: bool = True) -> str:
    agents: dict[str, object] = {
        # arrivals no faster than dt, which the schema requires (the run is hand-made anyway)
        "hft": {"kind": "paddrik", "role": "hft", "count": 2, "mean_interarrival_s": 1.0},
        "buyers": {"kind": "paddrik", "role": "fundamental_buyer", "count": 1},
    }
    if with_program:
        agents["seller"] = {
            "kind": "pov",
            "count": 1,
            "target_qty": 10,
            "participation": 0.5,
            "window_steps": 5,
            "start_step": start_step,
        }
    return scenario_text({"name": "synthetic", "dt": 1.0, "tick_size": 0.25, "agents": agents})


def _price(step: int) -> float:
    if step < 10:
        return 100.0
    if step <= 20:
        return 100.0 - (step - 10)
    return 90.0 + 0.6 * (step - 20)


def _run(
    fills: Sequence[tuple[int, int, int, int]] = FILLS,
    *,
    steps: int = 30,
    inventories: dict[int, int] | None = None,
    scenario: str | None = None,
) -> RunResult:
    recorder = Recorder()
    for step in range(steps + 1):
        depth = 10 if 10 <= step <= 20 else 100
        last = None if step == 0 else _price(step)
        recorder.market(step, float(step), 100.0, None, None, depth, 100, last, 0)
    start = inventories or {4: 100}
    for agent_id, group in GROUPS.items():
        kind = "pov" if group == "seller" else "paddrik"
        inventory = start.get(agent_id, 0)
        recorder.agent(
            0, agent_id, kind, inventory, 0.0, 0.0, 0.0, None, None, "NORMAL", "ACTIVE", group
        )
    for step, seller, buyer, qty in fills:
        recorder.trade(
            step,
            float(step),
            _price(step),
            qty,
            "sell",
            buyer,
            seller,
            "book",
            "underlying",
            "taker",
            None,
            None,
        )
    recorder.event(10, EventKind.POV_START, 4, None, 10.0, mode="aggressive")
    recorder.event(16, EventKind.POV_DONE, 4, None, 10.0)
    halt = {"reference": 95.0, "price": 93.1, "until_step": 17, "on_halt": "queue"}
    recorder.event(15, EventKind.HALT, None, None, 0.02, **halt)  # type: ignore[arg-type]
    text = scenario if scenario is not None else _scenario()
    return RunResult.from_recorder(recorder, scenario_yaml=text, summary={}, meta={})


def test_flash_crash_run_needs_a_program_group() -> None:
    """A pov group (any count) makes a flash-crash run; without one the measures refuse."""
    assert is_flash_crash_run(_run())
    plain = _run(scenario=_scenario(with_program=False))
    assert not is_flash_crash_run(plain)
    with pytest.raises(ValueError, match="no execution program"):
        flash_crash_summary(plain)


def test_flash_crash_hft_groups_are_the_hft_role() -> None:
    """Only paddrik groups of role hft count as high-frequency traders."""
    assert hft_groups(_run()) == ["hft"]


def test_flash_crash_class_inventory_adds_fills_to_opening_positions() -> None:
    """Aggregate positions after each step: the HFTs +2, +12, +12, +3; the program 100 -> 90."""
    inventory = class_inventory(_run())
    assert inventory.loc[[5, 6, 12, 13, 14, 30], "hft"].tolist() == [0, 2, 12, 12, 3, 3]
    assert inventory.loc[[11, 12], "seller"].tolist() == [100, 90]
    assert inventory.sum(axis=1).nunique() == 1  # lots are conserved


def test_flash_crash_class_shares_count_both_sides_of_every_fill() -> None:
    """HFTs are on 5 of 8 trade sides and 41 of 62 side-lots; the shares sum to one."""
    shares = class_shares(_run())
    assert shares.loc["hft", "transaction_share"] == pytest.approx(5 / 8)
    assert shares.loc["hft", "volume_share"] == pytest.approx(41 / 62)
    assert shares.loc["seller", "volume_share"] == pytest.approx(10 / 62)
    assert shares["volume_share"].sum() == pytest.approx(1.0)
    assert shares.loc["buyers", "volume"] == 11


def test_flash_crash_class_shares_restrict_to_a_window() -> None:
    """Steps 12-14 only: the fundamental buyer's step-6 fill is left out."""
    shares = class_shares(_run(), 12, 14)
    assert shares.loc["buyers", "volume"] == 9
    assert shares.loc["hft", "volume"] == 39


def test_flash_crash_hot_potato_is_gross_and_net_of_the_members() -> None:
    """In the fall the HFTs trade 39 lots for a net +1; a trade between two counts twice."""
    assert hot_potato(_run(), ["hft"], 10, 20) == (39, 1)
    assert hot_potato(_run(), ["hft"], 5, 9) == (2, 2)


def test_flash_crash_windows_find_the_trough_after_the_start() -> None:
    """The trough is the lowest price from the program's start on: step 20."""
    windows = flash_crash_windows(_run(), before_s=5.0, smooth_s=1.0)
    assert (windows.before_first, windows.start, windows.trough) == (5, 10, 20)
    assert (windows.end, windows.program_end) == (30, 16)


def test_flash_crash_summary_price_measures() -> None:
    """100 -> 90 is 10% in 10 s; 90 -> 96 regains 60%; 95.4 (90% of it) comes 9 s later."""
    summary = flash_crash_summary(_run(), before_s=5.0, smooth_s=1.0)
    assert summary["price_before"] == pytest.approx(100.0)
    assert summary["fall_pct"] == pytest.approx(10.0)
    assert summary["fall_duration_s"] == pytest.approx(10.0)
    assert summary["recovery_pct"] == pytest.approx(6.0)
    assert summary["recovery_fraction"] == pytest.approx(0.6)
    assert summary["recovery_duration_s"] == pytest.approx(9.0)


def test_flash_crash_summary_depth_and_hot_potato() -> None:
    """Bid depth 10 against 100 before; hot-potato ratio 39 in the fall, 1 before."""
    summary = flash_crash_summary(_run(), before_s=5.0, smooth_s=1.0)
    assert summary["bid_depth_before"] == pytest.approx(100.0)
    assert summary["bid_depth_fall_min_ratio"] == pytest.approx(0.1)
    assert summary["bid_depth_fall_mean_ratio"] == pytest.approx(0.1)
    assert summary["hot_potato_ratio_fall"] == pytest.approx(39.0)
    assert summary["hft_net_to_gross_fall"] == pytest.approx(1 / 39)
    assert summary["hot_potato_ratio_before"] == pytest.approx(1.0)


def test_flash_crash_summary_program_and_shares() -> None:
    """The program started at 10 s, finished at 16 s, sold 10 lots; one halt was logged."""
    summary = flash_crash_summary(_run(), before_s=5.0, smooth_s=1.0)
    assert (summary["program_start_s"], summary["program_end_s"]) == (10.0, 16.0)
    assert (summary["program_executed"], summary["halts"]) == (10, 1)
    assert summary["hft_volume_share"] == pytest.approx(41 / 62)
    assert summary["hft_volume_share_fall"] == pytest.approx(39 / 58)
    assert summary["volume_share_fall_by_group"]["buyers"] == pytest.approx(9 / 58)


def test_flash_crash_hot_potato_ratio_without_net_change_is_infinite() -> None:
    """A window where the HFTs' position does not move has an infinite ratio (JSON null)."""
    fills = ((12, 4, 1, 10), (13, 1, 3, 10))
    summary = flash_crash_summary(_run(fills), before_s=5.0, smooth_s=1.0)
    assert summary["hot_potato_ratio_fall"] == float("inf")
    assert summary["hft_net_to_gross_fall"] == 0.0


def test_flash_crash_inventory_half_life_of_a_geometric_decay() -> None:
    """HFT inventory halving every second (exact AR(1), phi 1/2) has a half-life of 1 s."""
    fills = [(1, 3, 1, 1024)] + [(s, 1, 3, 2 ** (11 - s)) for s in range(2, 10)]
    summary = flash_crash_summary(_run(fills), before_s=8.0, smooth_s=1.0)
    assert summary["hft_inventory_half_life_s"] == pytest.approx(1.0)


def test_flash_crash_figure_has_four_panels() -> None:
    """Price, bid depth, limited classes' inventory, others' change: four shared-x panels."""
    figure = flash_crash_figure(_run(), smooth_s=1.0)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 4


def test_flash_crash_report_section_appears_only_for_flash_crash_runs() -> None:
    """The run report gets a 'Flash crash' section with the figure for a program run only."""
    with_program = build_document(_run(), figures=True)
    titles = [section.title for section in with_program.sections]
    assert "Flash crash" in titles
    assert FLASH_CRASH_FIGURE in [figure.file_name for figure in with_program.figures()]
    plain = build_document(_run(scenario=_scenario(with_program=False)), figures=False)
    assert "Flash crash" not in [section.title for section in plain.sections]


def test_flash_crash_table_puts_runs_side_by_side() -> None:
    """One row per label with the comparison columns; a run without a fall reads 0%."""
    flat = _run(scenario=_scenario(start_step=25))
    table = flash_crash_table({"crash": _run(), "late": flat})
    assert list(table.columns) == list(COMPARISON_COLUMNS)
    assert table.loc["crash", "fall_pct"] == pytest.approx(10.0, rel=0.2)
    assert table.loc["late", "halts"] == 1
