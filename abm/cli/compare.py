"""``abm compare``: compare scenarios' market makers over common replicate seeds.

The comparison itself is `abm.experiments.compare.compare`; this module parses the command
line, shows progress, saves the table as CSV and prints it (`format_compare`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from abm.cli.common import CliError
from abm.experiments.compare_defaults import DEFAULT_OUT, DEFAULT_ROOT_SEED, DEFAULT_SEEDS, MM_GROUP


def register(subparsers: Any) -> None:
    """Add ``abm compare`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser(
        "compare",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="compare scenarios' market-maker measures over common replicate seeds",
        description="Run each scenario on the same replicate seeds, then print and save (CSV) "
        f"the measures of its market-maker group {MM_GROUP!r}: mean and standard error "
        "across seeds.",
    )
    parser.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario YAML files")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="runs per scenario")
    parser.add_argument("--seed", type=int, default=DEFAULT_ROOT_SEED, help="root seed")
    parser.add_argument("--steps", type=int, default=None, help="override every scenario's steps")
    parser.add_argument("--out", metavar="FILE.csv", default=str(DEFAULT_OUT), help="table file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run ``abm compare`` from parsed arguments; return the exit code (0).

    Raises:
        AbmError: On a bad flag value (`CliError`), a scenario that cannot be loaded, run or
            compared, or a table file that cannot be written.
    """
    from tqdm import tqdm

    from abm.experiments.compare import compare, format_compare

    if args.seeds < 2:
        raise CliError(f"--seeds: must be an integer >= 2, got {args.seeds}")
    if args.seed < 0:
        raise CliError(f"--seed: must be a non-negative integer, got {args.seed}")
    if args.steps is not None and args.steps < 1:
        raise CliError(f"--steps: must be a positive integer, got {args.steps}")
    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"--out: {out} is a directory; give a file such as {out / 'compare.csv'}")
    total = len(args.scenarios) * args.seeds
    with tqdm(total=total, unit="run", disable=args.quiet, file=sys.stderr) as bar:

        def progress(done: int, _total: int) -> None:
            bar.update(done - bar.n)

        runs = {"seeds": args.seeds, "root_seed": args.seed, "steps": args.steps}
        table = compare(args.scenarios, **runs, progress=progress)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
    except OSError as exc:
        raise CliError(f"--out: cannot write {out}: {exc.strerror or exc}") from exc
    print(format_compare(table))
    print(f"table: {out}")
    return 0
