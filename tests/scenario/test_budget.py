"""A scenario's estimated cost, its limits, and the refusal of absurd sizes before any build.

Outside references: the memory estimate is checked against the peak resident memory of a
measured run in a fresh process, and the fill count it assumes against the run's trades.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from abm.cli.main import main
from abm.scenario.budget import (
    DEFAULT_MAX_WORK,
    FILLS_PER_ARRIVAL,
    NO_LIMITS,
    LimitsSpec,
    ScenarioTooLargeError,
    check_limits,
    estimate,
)
from abm.scenario.bundle import bundled_names
from abm.scenario.schema import Scenario, load_scenario

ABSURD = {
    "a billion noise traders": ["agents.noise.count=1000000000"],
    "a million market makers": ["agents.mm.count=1000000"],
    "a Hawkes baseline of 1e9 a second": [
        "agents.noise.arrival={kind: hawkes, mu: 1.0e9, branching: 0.5, beta: 1.0}"
    ],
    "10^12 steps": ["steps=1000000000000"],
}


def _sets(values: list[str]) -> list[str]:
    return [item for value in values for item in ("--set", value)]


@pytest.mark.parametrize("case", sorted(ABSURD))
def test_validate_refuses_absurd_sizes_with_the_estimate_and_the_limit(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each absurd size of issue 16 (class 5) is refused at once, naming the limit passed."""
    assert main(["validate", "baseline", *_sets(ABSURD[case])]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "limits.max_work" in err or "limits.max_memory_gib" in err
    assert "estimated" in err and "above the limit" in err and "--no-limits" in err


@pytest.mark.parametrize("case", sorted(ABSURD))
def test_run_refuses_absurd_sizes_before_writing_anything(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``abm run`` refuses before building the model: no output directory appears."""
    out = tmp_path / "run"
    assert main(["run", "baseline", "--out", str(out), *_sets(ABSURD[case])]) == 2
    assert "above the limit" in capsys.readouterr().err
    assert not out.exists()


def test_run_steps_flag_is_counted_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--steps`` is part of the scenario whose cost is judged, not applied after the check."""
    out = tmp_path / "run"
    assert main(["run", "baseline", "--steps", str(10**12), "--out", str(out)]) == 2
    assert "1,000,000,000,000 steps" in capsys.readouterr().err
    assert not out.exists()


def test_no_limits_flag_and_the_scenario_field_lift_the_limits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--no-limits`` lifts both limits; a raised ``limits`` field lets a larger run through."""
    big = ["--set", "steps=100000000"]  # 1e8 steps: work ~7e9 messages
    assert main(["validate", "baseline", *big]) == 2
    capsys.readouterr()
    assert main(["validate", "baseline", *big, "--no-limits"]) == 0
    assert "estimated cost" in capsys.readouterr().out
    raised = ["--set", "limits.max_work=1.0e11", "--set", "limits.max_memory_gib=null"]
    assert main(["validate", "baseline", *big, *raised]) == 0


def test_every_shipped_scenario_is_within_the_default_limits() -> None:
    """The defaults refuse nothing a shipped study needs (with headroom: a tenth of each)."""
    for name in bundled_names():
        scenario = load_scenario(name)
        cost = check_limits(scenario, source=name)
        assert cost.work < DEFAULT_MAX_WORK / 10, name
        assert cost.memory_gib < LimitsSpec().max_memory_gib / 10, name  # type: ignore[operator]


def test_check_limits_names_the_heaviest_part() -> None:
    """The refusal says which group costs most, so the user knows what to shrink."""
    scenario = load_scenario("baseline").override({"agents.informed.count": 10**8})
    with pytest.raises(ScenarioTooLargeError) as caught:
        check_limits(scenario, source="here")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("here: limits.max_work:")
    assert "most from agents.informed" in lines[0]
    assert "most held by agents.informed" in lines[1]
    assert check_limits(scenario, source="here", limits=NO_LIMITS).traders == 10**8 + 910


def test_limits_do_not_change_the_digest_and_round_trip_through_yaml() -> None:
    """A ceiling on the cost is not part of what the run produces (digest), but is kept."""
    scenario = load_scenario("baseline")
    lifted = scenario.override({"limits": NO_LIMITS.model_dump()})
    assert lifted.digest() == scenario.digest()
    assert "limits" not in scenario.to_yaml()
    again = Scenario.from_yaml_text(lifted.to_yaml())
    assert again.limits == NO_LIMITS
    assert Scenario.from_yaml_text(scenario.to_yaml()) == scenario


def test_work_grows_linearly_in_steps_and_traders() -> None:
    """Work is additive: twice the steps or twice every group is twice the messages."""
    scenario = load_scenario("baseline")
    base = estimate(scenario)
    assert estimate(scenario.override({"steps": 4000})).messages == pytest.approx(2 * base.messages)
    doubled = {f"agents.{name}.count": 2 * group.count for name, group in scenario.agents.items()}
    assert estimate(scenario.override(doubled)).messages == pytest.approx(2 * base.messages)


def test_assumed_fills_match_a_run_within_a_factor_of_two() -> None:
    """The fills the estimate records (half an arrival each) against a real run's trades."""
    from abm.run import run as run_scenario

    scenario = load_scenario("baseline").override({"steps": 500})
    arrivals = sum(
        group.count * group.arrival.rate
        for group in scenario.agents.values()
        if group.kind in ("noise", "informed")
    )
    expected = FILLS_PER_ARRIVAL * arrivals * scenario.steps
    trades = len(run_scenario(scenario).trades)
    assert expected / 2 < trades < expected * 2


# VmHWM, the peak of this process's own memory: ru_maxrss would carry over, through exec, the
# peak of the (forked) test worker that started it
_PEAK = """
import sys
from abm.run import run
from abm.scenario.schema import load_scenario
run(load_scenario("baseline").override({"steps": int(sys.argv[1])}))
with open("/proc/self/status") as status:
    print(next(line for line in status if line.startswith("VmHWM:")).split()[1])
"""


def test_memory_estimate_is_within_a_factor_of_two_of_a_measured_peak() -> None:
    """Against the peak resident memory of the baseline run in a fresh process (Linux)."""
    if sys.platform != "linux":
        pytest.skip("reads the peak from /proc/self/status (Linux)")
    steps = 3000
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, str(steps)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    measured = int(done.stdout.split()[-1]) * 1024  # kB
    estimated = estimate(load_scenario("baseline").override({"steps": steps})).memory_bytes
    assert measured / 2 < estimated < measured * 2


def test_run_api_refuses_a_scenario_past_its_limits_before_building_it() -> None:
    """`abm.run` checks the limits too (sweeps and notebooks call it, not the CLI)."""
    from abm.run import run as run_scenario

    with pytest.raises(ScenarioTooLargeError, match=r"limits\.max_work"):
        run_scenario("baseline", steps=10**12)


@pytest.mark.parametrize("per_side", [False, True])
@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_budget_frees_exactly_the_groups_the_model_draws_sparsely(
    kind: str, per_side: bool
) -> None:
    """The budget's free idle traders are those of the groups `GroupArrivals` draws sparsely.

    Reference: the arrival code's own choice (`GroupArrivals`), over group sizes and rates on
    both sides of each threshold (`SPARSE_DRAW_SLOTS`; `SPARSE_RARE_SLOTS` at
    `SPARSE_RARE_RATE`).
    """
    from types import SimpleNamespace

    from abm.agents.arrivals import GroupArrivals
    from abm.scenario.budget import _draws_sparsely
    from abm.scenario.specs import (
        SPARSE_DRAW_SLOTS,
        SPARSE_RARE_RATE,
        SPARSE_RARE_SLOTS,
        ArrivalSpec,
    )

    seen = set()
    for slots in (
        SPARSE_RARE_SLOTS - 2,
        SPARSE_RARE_SLOTS,
        SPARSE_DRAW_SLOTS - 2,
        SPARSE_DRAW_SLOTS,
    ):
        for rate in (SPARSE_RARE_RATE / 2, SPARSE_RARE_RATE, SPARSE_RARE_RATE * 2, 0.5):
            count = slots // 2 if per_side else slots
            spec = ArrivalSpec(kind=kind, rate=rate, per_side=per_side)
            sparse = GroupArrivals(spec, count)._sparse
            assert _draws_sparsely(SimpleNamespace(arrival=spec, count=count)) is sparse
            seen.add(sparse)
    assert seen == {True, False}


def test_idle_traders_of_a_sparsely_drawn_group_cost_no_work() -> None:
    """A million idle traders (drawn sparsely) cost what their arrivals cost, no more.

    Reference: `abm bench scale`, where a step of 1M idle traders at 20 arrivals a step cost
    what 1k traders did. Just under the threshold the idle trader-steps still count.
    """
    from abm.scenario.budget import IDLE_STEP_WORK, CostEstimate, estimate
    from abm.scenario.specs import SPARSE_DRAW_SLOTS

    base = load_scenario("baseline")

    def noise(count: int) -> CostEstimate:
        return estimate(
            base.override(
                {
                    "steps": 1000,
                    "agents.noise.count": count,
                    "agents.noise.arrival.rate": 20 / count,
                }
            )
        )

    dense, sparse = noise(SPARSE_DRAW_SLOTS - 1), noise(1_000_000)
    assert sparse.messages == pytest.approx(dense.messages)
    others = sparse.trader_steps  # the other groups' traders, drawn slot by slot
    assert others == (sparse.traders - 1_000_000) * 1000
    assert dense.trader_steps == others + (SPARSE_DRAW_SLOTS - 1) * 1000
    assert sparse.work < dense.work < sparse.work + IDLE_STEP_WORK * SPARSE_DRAW_SLOTS * 1000
