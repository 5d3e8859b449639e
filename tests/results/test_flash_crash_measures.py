"""`abm.results.flash_crash`: the engine's flash-crash measures and what they read of a scenario.

The numbers themselves are checked on hand-built runs in tests/analysis/test_flash_crash_analysis.py
(through `analysis.flash_crash`, which calls this module); here: the setup taken from a validated
scenario, and that `abm.run` reports exactly the measures analysis computes from the saved tables.
"""

from __future__ import annotations

import math

import abm
from abm.results.flash_crash import FlashCrashSetup
from analysis.flash_crash import flash_crash_summary

PROGRAM_START = 9000  # scenarios/crisis/flash_crash_2010.yaml: agents.seller.start_step


def test_flash_crash_setup_of_scenario_reads_dt_programs_and_hfts() -> None:
    """flash_crash_2010: dt 0.1 s, one program ``seller`` from step 9000, one HFT group."""
    setup = FlashCrashSetup.of_scenario(abm.load_scenario("crisis/flash_crash_2010"))
    assert setup == FlashCrashSetup(dt=0.1, program_starts={"seller": 9000}, hft_groups=("hft",))


def test_flash_crash_setup_of_scenario_without_program_is_empty() -> None:
    """The baseline has no pov group and no paddrik HFTs: nothing to measure."""
    setup = FlashCrashSetup.of_scenario(abm.load_scenario("baseline"))
    assert setup.program_starts == {}
    assert setup.hft_groups == ()


def test_run_summary_holds_the_flash_crash_measures_of_analysis() -> None:
    """abm.run's summary has every flash_crash_summary key, with the value analysis computes."""
    result = abm.run(abm.load_scenario("crisis/flash_crash_2010"), steps=PROGRAM_START + 50)
    expected = flash_crash_summary(result)
    for key, value in expected.items():
        got = result.summary[key]
        if isinstance(value, float) and not math.isfinite(value):
            # summary.json has no NaN or infinity: null, as documented
            assert got is None or (isinstance(got, float) and math.isnan(got)), key
        else:
            assert got == value, key


def test_run_summary_of_a_run_without_program_has_no_flash_crash_keys() -> None:
    """A baseline run's summary has no flash-crash measures."""
    result = abm.run(abm.load_scenario("baseline"), steps=20)
    assert "hot_potato_ratio_fall" not in result.summary
    assert "program_start_s" not in result.summary
