"""Tests for the flash-crash ensemble table (analysis.flash_crash_ensemble)."""

from __future__ import annotations

import math

import pytest

from analysis.flash_crash_ensemble import MEASURES, TARGETS, main, table


def _run(**values: float) -> dict[str, float]:
    run = dict.fromkeys(MEASURES, math.nan)
    run.update(values)
    return run


def test_flash_crash_ensemble_table_counts_the_seeds_meeting_each_target() -> None:
    """Mean and range by hand; a NaN measure meets no target (issue 18's thresholds)."""
    runs = [
        _run(phase1_fall_pct=4.0, phase1_duration_s=250.0, phase2_hft_net_to_gross=0.01, halts=1),
        _run(phase1_fall_pct=2.0, phase1_duration_s=250.0, phase2_hft_net_to_gross=0.03, halts=6),
    ]
    text = table(runs, [7, 9])
    line = next(row for row in text.splitlines() if row.startswith("phase1_fall_pct"))
    assert line.split()[1:] == ["3", "2", "4", "4"]
    assert "phase 1 >= 3% within 5 min           met on 1 of 2: [7]" in text
    assert "phase 2 HFT |net|/gross < 2%         met on 1 of 2: [7]" in text
    assert "rebound >= 1/2 in 20 min             met on 0 of 2: []" in text
    assert "one halt a run                       met on 1 of 2: [7]" in text
    assert len(TARGETS) == 7


def test_flash_crash_ensemble_bad_override_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An unknown scenario key is one usage error naming it, exit code 2, no run."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--set", "agents.hft.bogus=1"])
    assert exit_info.value.code == 2
    assert "agents.hft.bogus" in capsys.readouterr().err
