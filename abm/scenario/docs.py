"""The README's tables of agent kinds, quoting policies and arrival laws, made from the schema.

The tables are rendered from the scenario's JSON schema (`Scenario.model_json_schema`, what
``abm schema`` prints), never written by hand, so they cannot drift from what the loader
accepts: a kind, parameter, default, limit or description changes in the spec classes and
the tables follow. ``abm schema --markdown`` prints them; the README holds a copy between
:data:`BEGIN` and :data:`END`, and a test checks that the copy equals :func:`agents_markdown`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

BEGIN = "<!-- schema:agents:begin -->"
END = "<!-- schema:agents:end -->"

_GROUP_FIELDS = ("kind", "count", "cash", "inventory")  # every agent group has these
Schema = Mapping[str, Any]


def scenario_schema() -> dict[str, Any]:
    """Return the scenario JSON schema, as ``abm schema`` prints it."""
    from abm.scenario.schema import Scenario

    return Scenario.model_json_schema()


def agents_markdown(schema: Schema | None = None) -> str:
    """Render the agent-kind, policy and arrival tables of ``schema`` as Markdown.

    Args:
        schema: A scenario JSON schema; None means :func:`scenario_schema`.

    Returns:
        The Markdown text (no markers), ending with a newline.
    """
    schema = scenario_schema() if schema is None else schema
    defs = schema["$defs"]
    agents = _union(schema, schema["properties"]["agents"]["additionalProperties"])
    policies = _union(schema, defs[_name(agents["market_maker"])]["properties"]["policy"])
    arrivals: dict[str, str] = {}
    for ref in agents.values():
        arrival = _resolve(schema, ref)["properties"].get("arrival")
        if arrival is not None:
            arrivals.update(_union(schema, arrival))
    parts = [
        "<!-- generated from the scenario schema by `abm schema --markdown`: edit the specs in "
        "abm/, not these tables -->",
        "",
        "Agent kinds (`agents.<group>.kind`). Every group also takes `count` (required: the "
        "number of traders, 0 switches the group off), `cash` and `inventory` (each trader's "
        "at step 0). Parameters are listed with their defaults; `abm schema` gives each one's "
        "meaning, units and limits.",
        "",
        "| kind | what it does | parameters |",
        "|---|---|---|",
    ]
    for kind, ref in agents.items():
        spec = _resolve(schema, ref)
        names = [
            _parameter_summary(spec, name)
            for name in spec["properties"]
            if name not in _GROUP_FIELDS
        ]
        parts.append(f"| `{kind}` | {_summary(spec)} | {', '.join(names)} |")
    parts += _detail_table(
        schema,
        "Quoting policies of a market maker (`agents.<group>.policy.kind`):",
        "policy",
        policies,
    )
    parts += _detail_table(
        schema,
        "Arrival laws (`agents.<group>.arrival.kind`) of informed, noise and "
        "chartist-fundamentalist groups:",
        "arrival",
        arrivals,
    )
    return "\n".join(parts) + "\n"


def readme_section(text: str) -> str:
    """Return what lies between the markers in ``text`` (a README), without them.

    Raises:
        ValueError: If the markers are missing, repeated or out of order.
    """
    start, end = _marker_span(text)
    return text[start:end].strip("\n") + "\n"


def replace_readme_section(text: str, markdown: str) -> str:
    """Return ``text`` with the part between the markers replaced by ``markdown``.

    Raises:
        ValueError: If the markers are missing, repeated or out of order.
    """
    start, end = _marker_span(text)
    return f"{text[:start]}\n{markdown.strip(chr(10))}\n{text[end:]}"


# --- helpers ---


def _marker_span(text: str) -> tuple[int, int]:
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"expected one {BEGIN} and one {END} marker")
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END)
    if end < start:
        raise ValueError(f"{END} comes before {BEGIN}")
    return start, end


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(schema: Schema, ref: str) -> Schema:
    definition: Schema = schema["$defs"][_name(ref)]
    return definition


def _union(schema: Schema, node: Schema) -> dict[str, str]:
    """Map kind -> ``$ref`` of a discriminated union, in the order the union lists them."""
    kinds: dict[str, str] = {}
    for option in node["oneOf"]:
        kind = _resolve(schema, option["$ref"])["properties"]["kind"]
        for value in kind.get("enum", [kind.get("const")]):
            kinds[value] = option["$ref"]
    return kinds


def _detail_table(schema: Schema, caption: str, noun: str, kinds: Mapping[str, str]) -> list[str]:
    lines = [
        "",
        caption,
        "",
        f"| {noun} | what it does | parameter | meaning |",
        "|---|---|---|---|",
    ]
    for kind, ref in kinds.items():
        spec = _resolve(schema, ref)
        params = [name for name in spec["properties"] if name != "kind"]
        first = f"| `{kind}` | {_summary(spec)} |"
        if not params:
            lines.append(f"{first} | |")
        for i, name in enumerate(params):
            prop = spec["properties"][name]
            cell = f"`{name}` ({_constraint(spec, name)})"
            lead = first if i == 0 else "| | |"
            lines.append(f"{lead} {cell} | {_cell(prop.get('description', ''))} |")
    return lines


def _summary(spec: Schema) -> str:
    """The first paragraph of a spec's docstring, on one line."""
    paragraph = spec.get("description", "").split("\n\n", 1)[0]
    return _cell(paragraph)


def _cell(text: str) -> str:
    text = " ".join(text.split()).replace("``", "`")
    return text.replace("|", "\\|")


def _parameter_summary(spec: Schema, name: str) -> str:
    prop = spec["properties"][name]
    if name in spec.get("required", ()):
        return f"`{name}` (required)"
    return f"`{name}` ({_default(prop)})"


def _default(prop: Schema) -> str:
    if "default" in prop:
        return _value(prop["default"])
    if "Role defaults:" in prop.get("description", ""):
        return "by role"
    raise ValueError(f"an optional parameter without a default: {prop}")


def _constraint(spec: Schema, name: str) -> str:
    """``required`` or ``default x``, then the type and its limits."""
    prop = spec["properties"][name]
    head = "required" if name in spec.get("required", ()) else f"default {_default(prop)}"
    kinds = []
    for option in prop.get("anyOf", [prop]):
        if option.get("type") == "null":
            kinds.append("null")
        else:
            kinds.append(" ".join(part for part in (_type(option), _limits(option)) if part))
    return f"{head}; {' or '.join(kinds)}"


def _limits(option: Schema) -> str:
    """``>= 0``, ``> 0``, ``<= 1``, or an interval such as ``in [0, 1)``."""
    low = next(
        ((key, option[key]) for key in ("minimum", "exclusiveMinimum") if key in option), None
    )
    high = next(
        ((key, option[key]) for key in ("maximum", "exclusiveMaximum") if key in option), None
    )
    if low is not None and high is not None:
        left = "[" if low[0] == "minimum" else "("
        right = "]" if high[0] == "maximum" else ")"
        return f"in {left}{_value(low[1])}, {_value(high[1])}{right}"
    symbols = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    bound = low or high
    return "" if bound is None else f"{symbols[bound[0]]} {_value(bound[1])}"


def _type(option: Schema) -> str:
    if "enum" in option:
        return " \\| ".join(f"`{value}`" for value in option["enum"])
    if "const" in option:
        return f"`{option['const']}`"
    kind = option.get("type", "")
    if kind == "array":
        return f"list of {_type(option.get('items', {}))}"
    return str(kind)


def _value(value: Any) -> str:
    if isinstance(value, Mapping) and "kind" in value:
        return f"{value['kind']} spec"  # a default sub-spec: its kind says which
    return json.dumps(value, ensure_ascii=False).replace("|", "\\|")
