"""Tests for the scenario JSON schema (`abm schema`) and the README tables made from it."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
import yaml

from abm.cli.main import main
from abm.policies import POLICIES
from abm.scenario.docs import (
    BEGIN,
    END,
    agents_markdown,
    readme_section,
    replace_readme_section,
)
from abm.scenario.paddrik import PaddrikGroup
from abm.scenario.schema import AgentGroup, PolicySpec, Scenario, ScenarioError, load_scenario

ROOT = Path(__file__).parents[2]
VALID_FILES = sorted((ROOT / "scenarios").rglob("*.yaml")) + sorted(
    (ROOT / "tests" / "data" / "scenarios").glob("*.yaml")
)
# the keywords of JSON Schema 2020-12 that pydantic emits, plus OpenAPI's `discriminator`
# (an annotation validators ignore); anything else is a keyword no editor understands
STANDARD_KEYWORDS = {
    "$defs",
    "$ref",
    "additionalProperties",
    "anyOf",
    "const",
    "default",
    "description",
    "discriminator",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "items",
    "maxItems",
    "maxLength",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "oneOf",
    "pattern",
    "properties",
    "required",
    "title",
    "type",
}

MINIMAL = {
    "name": "minimal",
    "fundamental": {"kind": "arithmetic", "s0": 100.0, "sigma": 0.5},
    "agents": {
        "mm": {
            "kind": "market_maker",
            "count": 2,
            "policy": {"kind": "avellaneda_stoikov", "gamma": 0.1, "k": 1.5, "T": 1.0},
        },
        "noise": {"kind": "noise", "count": 100, "arrival": {"kind": "poisson", "rate": 0.05}},
    },
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The JSON schema exactly as `abm schema` prints it."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema"]) == 0
    loaded: dict[str, Any] = json.loads(out.getvalue())
    return loaded


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _with(path: str, value: Any) -> dict[str, Any]:
    """Return a fresh copy of the minimal document with ``value`` set at a dotted ``path``."""
    doc: dict[str, Any] = json.loads(json.dumps(MINIMAL))
    *parents, leaf = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    node[leaf] = value
    return doc


def _objects(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(path, schema object)`` for every subschema of ``node``."""
    if not isinstance(node, dict):
        return
    yield where, node
    for name, sub in node.get("properties", {}).items():
        yield from _objects(sub, f"{where}.{name}")
    for name, sub in node.get("$defs", {}).items():
        yield from _objects(sub, name)
    for key in ("items", "additionalProperties"):
        yield from _objects(node.get(key), f"{where}[]")
    for key in ("anyOf", "oneOf"):
        for sub in node.get(key, []):
            yield from _objects(sub, where)


@pytest.mark.parametrize("path", VALID_FILES, ids=[str(p.relative_to(ROOT)) for p in VALID_FILES])
def test_schema_accepts_every_shipped_scenario(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    """Every scenario the loader accepts (shipped and fixtures) validates against the schema."""
    load_scenario(path)
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))
    ]
    assert errors == []


INVALID = [
    pytest.param(_with("agents.noise.count", -1), id="negative_count"),
    pytest.param(_with("agents.mm.count", True), id="bool_count"),
    pytest.param(_with("dt", 0.0), id="dt_zero"),
    pytest.param(_with("dt", -1.0), id="dt_negative"),
    pytest.param(_with("agents.mm.kind", "foo"), id="unknown_agent_kind"),
    pytest.param(_with("agents.mm.policy.kind", "as"), id="unknown_policy_kind"),
    pytest.param(_with("agents.mm.gama", 0.1), id="unknown_group_key"),
    pytest.param(_with("stpes", 10), id="unknown_top_key"),
    pytest.param(_with("agents.mm.policy.gamma", 0.0), id="policy_bound"),
    pytest.param(_with("agents.noise.buy_prob", 1.5), id="probability_above_one"),
    pytest.param(_with("agents.mm.count", 2.5), id="fractional_count"),
    pytest.param(_with("agents", {}), id="no_groups"),
]


@pytest.mark.parametrize("doc", INVALID)
def test_schema_rejects_what_the_loader_rejects(
    doc: dict[str, Any], validator: jsonschema.Draft202012Validator
) -> None:
    """Negative counts, dt <= 0, unknown kinds and keys, broken limits fail in both places."""
    assert not validator.is_valid(doc)
    with pytest.raises(ScenarioError):
        Scenario.from_dict(doc)


def test_schema_minimal_document_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    """The document the invalid cases are built from is itself valid in both places."""
    assert validator.is_valid(MINIMAL)
    assert Scenario.from_dict(MINIMAL).name == "minimal"


def test_schema_every_property_has_a_description(schema: dict[str, Any]) -> None:
    """Every field of every spec says what it is (pydantic Field(description=...))."""
    missing = [
        f"{where}.{name}"
        for where, node in _objects(schema)
        for name, prop in node.get("properties", {}).items()
        if not prop.get("description", "").strip()
    ]
    assert missing == []


def test_schema_uses_only_standard_keywords(schema: dict[str, Any]) -> None:
    """Limits come out as minimum/exclusiveMinimum/... (not pydantic's gt/ge/lt/le)."""
    odd = sorted(
        f"{where}: {key}"
        for where, node in _objects(schema)
        for key in node
        if key not in STANDARD_KEYWORDS
    )
    assert odd == []


def test_schema_positive_float_is_exclusive_minimum(schema: dict[str, Any]) -> None:
    """The limits of dt (> 0) and seed (>= 0) are the JSON-schema keywords editors read."""
    dt, seed = schema["properties"]["dt"], schema["properties"]["seed"]
    assert (dt["type"], dt["exclusiveMinimum"], "minimum" in dt) == ("number", 0.0, False)
    assert (seed["type"], seed["minimum"]) == ("integer", 0)


def test_schema_paddrik_role_fills_required_fields(
    schema: dict[str, Any], validator: jsonschema.Draft202012Validator
) -> None:
    """A paddrik group needs only kind, role and count: its role supplies side, distance, ..."""
    assert sorted(schema["$defs"]["PaddrikGroup"]["required"]) == ["count", "kind", "role"]
    roles = get_args(PaddrikGroup.model_fields["role"].annotation)
    for role in roles:
        doc = _with("agents.flow", {"kind": "paddrik", "role": role, "count": 3})
        doc["dt"] = 0.1
        assert validator.is_valid(doc), role
        assert Scenario.from_dict(doc).agents["flow"].kind == "paddrik"


def test_schema_paddrik_role_defaults_are_described(schema: dict[str, Any]) -> None:
    """A field a role fills shows each role's value instead of one misleading default."""
    take = schema["$defs"]["PaddrikGroup"]["properties"]["take_prob"]
    assert "default" not in take
    assert "fundamental_buyer 0.3" in take["description"]
    assert "other roles: 0.0" in take["description"]


def test_schema_policy_kinds_are_the_policy_registry() -> None:
    """Each policy spec in the schema is the spec its registered policy class is built from."""
    specs = {
        get_args(spec.model_fields["kind"].annotation)[0]: spec
        for spec in get_args(get_args(PolicySpec)[0])
    }
    assert {kind: cls.spec_type for kind, cls in POLICIES.items()} == specs


def test_schema_docs_lists_every_agent_kind_and_policy_parameter() -> None:
    """The tables name every agent kind (paddrik and pov too) and every policy parameter."""
    markdown = agents_markdown()
    for group in get_args(get_args(AgentGroup)[0]):
        kind = get_args(group.model_fields["kind"].annotation)[0]
        assert f"| `{kind}` |" in markdown, kind
    for kind, cls in POLICIES.items():
        assert f"| `{kind}` |" in markdown, kind
        for parameter in set(cls.spec_type.model_fields) - {"kind"}:
            assert f"| `{parameter}` (" in markdown, (kind, parameter)


def test_schema_docs_readme_section_is_generated() -> None:
    """The README's agents and policies section is exactly `abm schema --markdown`'s output."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_section(readme) == agents_markdown(), (
        "README.md is out of date; regenerate the section between the schema:agents markers "
        "with `abm schema --markdown`"
    )


def test_schema_docs_replace_keeps_text_outside_markers() -> None:
    """Replacing the section changes only what lies between the markers."""
    text = f"before\n{BEGIN}\nold\n{END}\nafter\n"
    assert replace_readme_section(text, "new\n") == f"before\n{BEGIN}\nnew\n{END}\nafter\n"


@pytest.mark.parametrize(
    "text", ["no markers", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n"], ids=str
)
def test_schema_docs_readme_section_needs_one_ordered_marker_pair(text: str) -> None:
    """Missing, reversed or repeated markers are an error, not a silently empty section."""
    with pytest.raises(ValueError, match=r"marker|comes before"):
        readme_section(text)


def test_cli_schema_markdown_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    """`abm schema --markdown` prints the generated tables."""
    assert main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out == agents_markdown()
