"""``abm schema``: the scenario JSON schema, or the README's tables of agent kinds."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``abm schema`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser(
        "schema", help="print the scenario JSON schema (from the pydantic models)"
    )
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print the README's tables of agent kinds, policies and arrivals instead",
    )
    parser.set_defaults(func=cmd_schema)


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the schema of `abm.scenario.schema.Scenario` (or the Markdown tables); return 0."""
    import json

    if args.markdown:
        from abm.scenario.docs import agents_markdown

        print(agents_markdown(), end="")
        return 0
    from abm.scenario.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2, sort_keys=True))
    return 0
