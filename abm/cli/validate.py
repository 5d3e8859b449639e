"""``abm validate``: check a scenario (with ``--set`` overrides) and describe it in one line."""

from __future__ import annotations

import argparse
from typing import Any

from abm.cli.common import load


def register(subparsers: Any) -> None:
    """Add ``abm validate`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser("validate", help="check a scenario file")
    parser.add_argument("scenario")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    parser.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Print ``ok: ...`` (name, steps, dt, fundamental, groups) and return 0.

    Raises:
        ScenarioError: If the scenario or an override is invalid.
    """
    scenario = load(args.scenario, args.set)
    groups = ", ".join(
        f"{name} ({group.kind} x{group.count})" for name, group in scenario.agents.items()
    )
    print(
        f"ok: {args.scenario}: scenario {scenario.name!r}, {scenario.steps} steps of dt "
        f"{scenario.dt}, fundamental {scenario.fundamental.kind}; groups: {groups}"
    )
    return 0
