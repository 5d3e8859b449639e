"""Bundled scenarios (`abm.scenario.bundle`): `abm.load_scenario` by name, from any directory.

The bundle is the repository's scenarios/ folder installed as the package data of
``abm.scenarios``; these tests run from a temporary working directory so that nothing is
found relative to the checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import abm
from abm.scenario.bundle import bundle_dir, bundled_names, bundled_path, resolve_scenario
from abm.scenario.schema import ScenarioError

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_bundled_names_are_every_shipped_scenario() -> None:
    """One name per YAML file under scenarios/, its relative path without .yaml."""
    shipped = sorted(
        p.relative_to(SCENARIOS).with_suffix("").as_posix() for p in SCENARIOS.rglob("*.yaml")
    )
    assert bundled_names() == shipped
    assert "crisis/fire_sale_spiral" in shipped


def test_bundle_dir_holds_the_shipped_files() -> None:
    """The bundle's baseline is the same text as scenarios/baseline.yaml."""
    bundled = (bundle_dir() / "baseline.yaml").read_text(encoding="utf-8")
    assert bundled == (SCENARIOS / "baseline.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["baseline", "baseline.yaml"])
def test_load_scenario_takes_a_bundled_name_with_or_without_suffix(name: str) -> None:
    """From a directory without scenarios, a bundled name loads the shipped file."""
    assert abm.load_scenario(name) == abm.load_scenario(SCENARIOS / "baseline.yaml")


def test_load_scenario_takes_a_nested_bundled_name() -> None:
    """A name under a sub-folder (crisis/...) loads that file."""
    scenario = abm.load_scenario("crisis/fire_sale_spiral")
    assert scenario == abm.load_scenario(SCENARIOS / "crisis" / "fire_sale_spiral.yaml")


def test_load_scenario_existing_file_wins_over_a_bundled_name(tmp_path: Path) -> None:
    """A file named like a bundled scenario, in the working directory, is read instead."""
    document = yaml.safe_load((SCENARIOS / "baseline.yaml").read_text(encoding="utf-8"))
    document["name"] = "my_baseline"
    (tmp_path / "baseline.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    assert abm.load_scenario("baseline.yaml").name == "my_baseline"
    assert abm.load_scenario("baseline").name == "baseline"  # no file "baseline": the bundle


def test_resolve_scenario_prefers_a_bundled_name_to_a_directory(tmp_path: Path) -> None:
    """``abm run baseline`` beside a ``baseline/`` run directory still means the bundled file."""
    (tmp_path / "baseline").mkdir()
    assert resolve_scenario("baseline") == bundled_path("baseline")


def test_load_scenario_unknown_name_lists_close_matches() -> None:
    """A misspelt name is a ScenarioError naming it and the closest bundled names."""
    with pytest.raises(ScenarioError, match=r"baselin: file not found.*close matches: baseline"):
        abm.load_scenario("baselin")


def test_load_scenario_unknown_name_finds_matches_inside_folders() -> None:
    """A bundled file's own name, misspelt and without its folder, suggests the full name."""
    with pytest.raises(ScenarioError, match=r"close matches: .*crisis/fire_sale_spiral"):
        abm.load_scenario("fire_sale_spirl")


def test_bundled_path_refuses_paths_outside_the_bundle() -> None:
    """Absolute paths and ``..`` never name a bundled scenario."""
    for name in ("/etc/passwd", "../pyproject.toml", "../../baseline"):
        with pytest.raises(ScenarioError, match="no bundled scenario"):
            bundled_path(name)


def test_load_scenario_edge_list_path_is_relative_to_the_scenario(tmp_path: Path) -> None:
    """An edge_list CSV beside the scenario is found from another directory, and builds."""
    document = abm.load_scenario("crisis/network_complete").model_dump(mode="json")
    document["network"]["topology"] = {"kind": "edge_list", "path": "edges.csv"}
    folder = tmp_path / "study"
    folder.mkdir()
    n = document["agents"]["mm"]["count"]
    edges = "\n".join(f"{i},{(i + 1) % n}" for i in range(n))
    (folder / "edges.csv").write_text(f"source,target\n{edges}\n", encoding="utf-8")
    (folder / "ring.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    scenario = abm.load_scenario(folder / "ring.yaml")  # the working directory is tmp_path
    assert scenario.network is not None
    assert scenario.network.model_dump()["topology"]["path"] == str(folder.resolve() / "edges.csv")
    assert len(abm.run(scenario, steps=1).network) == n
