"""``abm validate``: check a scenario (with ``--set`` overrides) and describe it in one line."""

from __future__ import annotations

import argparse
from typing import Any

from abm.cli.common import add_no_limits, load


def register(subparsers: Any) -> None:
    """Add ``abm validate`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser("validate", help="check a scenario file")
    parser.add_argument("scenario")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    add_no_limits(parser)
    parser.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Print ``ok: ...`` (name, steps, dt, fundamental, groups, estimated cost); return 0.

    Raises:
        ScenarioError: If the scenario or an override is invalid, or its estimated cost passes
            its limits (unless ``--no-limits``).
    """
    from abm.scenario.budget import STREAM_FLUSH_STEPS, estimate

    scenario = load(args.scenario, args.set, no_limits=args.no_limits)
    groups = ", ".join(
        f"{name} ({group.kind} x{group.count})" for name, group in scenario.agents.items()
    )
    print(
        f"ok: {args.scenario}: scenario {scenario.name!r}, {scenario.steps} steps of dt "
        f"{scenario.dt}, fundamental {scenario.fundamental.kind}; groups: {groups}; "
        f"estimated cost: {estimate(scenario, flush_steps=STREAM_FLUSH_STEPS).describe()}"
    )
    return 0
