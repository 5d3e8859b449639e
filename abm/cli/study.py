"""``abm study``: validation studies against published results (`abm.experiments.studies`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from abm.cli.common import CliError, positive


def register(subparsers: Any) -> None:
    """Add ``abm study`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser("study", help="validation studies against published results")
    parser.add_argument("name", choices=["avellaneda-stoikov"])
    parser.add_argument("--seeds", type=int, default=1000, help="replicate runs per strategy")
    parser.add_argument("--gamma", type=float, default=0.1, help="risk aversion (0.01, 0.1 or 1)")
    parser.set_defaults(func=cmd_study)


def cmd_study(args: argparse.Namespace) -> int:
    """Run the study and print its table; return 0.

    A ``--gamma`` the paper did not publish is noted on stderr before the runs start.

    Raises:
        CliError: If ``--seeds`` is not positive or ``--gamma`` is not a positive number.
    """
    from abm.experiments.studies import (
        avellaneda_stoikov_table,
        format_avellaneda_stoikov_table,
        unpublished_gamma_note,
    )

    positive("--seeds", args.seeds)
    if not args.gamma > 0:
        raise CliError(f"--gamma: must be a positive number, got {args.gamma}")
    note = unpublished_gamma_note(args.gamma)
    if note is not None:  # said before the runs start, not only below the finished table
        print(f"abm: note: {note}", file=sys.stderr)
    table = avellaneda_stoikov_table(args.seeds, gamma=args.gamma)
    print(format_avellaneda_stoikov_table(table))
    return 0
