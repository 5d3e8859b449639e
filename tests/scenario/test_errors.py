"""Tests for `abm.scenario.errors`, the one translator of validation errors (scenarios, sweeps)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from abm.experiments.sweep_spec import SweepError, load_sweep
from abm.scenario.errors import explain
from abm.scenario.schema import Scenario
from abm.scenario.types import PosInt, Spec

MINIMAL = {
    "name": "t",
    "fundamental": {"kind": "gbm", "s0": 100.0, "sigma": 0.2},
    "agents": {"mm": {"kind": "market_maker", "count": 1, "policy": {"kind": "symmetric"}}},
}


class _Counts(Spec):
    counts: list[PosInt]


def _errors(model: type[Spec], data: object) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return info.value


def test_explain_paths_skip_discriminator_tags() -> None:
    """A policy field's path is the YAML path agents.mm.policy.spread, without the kind tag."""
    assert explain(_errors(Scenario, MINIMAL), Scenario) == [
        ("agents.mm.policy.spread", "required field is missing")
    ]


def test_explain_problem_hint_replaces_the_default_message() -> None:
    """A format's hint for an error type is used with the input shown as YAML would write it."""
    exc = _errors(_Counts, {"counts": True})
    hinted = explain(exc, _Counts, problems={"list_type": "must be a list (got {got})"})
    assert hinted == [("counts", "must be a list (got true)")]
    assert explain(exc, _Counts)[0][1].endswith("(got true)")


def test_sweep_errors_come_from_the_scenario_translator(tmp_path: Path) -> None:
    """A sweep's plain ``kind`` literal is reported as the translator words it: no noun gap."""
    scenario = Path(__file__).parents[1] / "data" / "sweeps" / "tiny.yaml"
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"scenario: {scenario}\nsamples: {{kind: sobol, n: 2, ranges: {{dt: [1, 2]}}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SweepError, match=r"samples\.kind: unknown kind 'sobol'; expected one of: "):
        load_sweep(path)
