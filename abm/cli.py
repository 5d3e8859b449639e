"""The ``abm`` command: run, validate, report and benchmark.

Every user error (a bad scenario, a bad flag value, a missing file) is printed as one
line on stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

EXIT_USAGE = 2


class CliError(Exception):
    """A user error to print as one line (exit code 2)."""


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.target == "book":
        from abm.bench_book import format_book_bench, run_book_bench

        if args.ops <= 0:
            raise CliError(f"--ops: must be a positive integer, got {args.ops}")
        result = run_book_bench(
            n_ops=args.ops, seed=args.seed, repeats=args.repeats, memory=not args.no_memory
        )
        print(format_book_bench(result))
        return 0
    raise CliError(f"unknown benchmark {args.target!r}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="abm", description="Agent-based market microstructure simulator."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="benchmarks")
    bench.add_argument("target", choices=["book"])
    bench.add_argument("--ops", type=int, default=1_000_000, help="book: operations to replay")
    bench.add_argument("--repeats", type=int, default=3, help="book: timed repeats (best kept)")
    bench.add_argument("--seed", type=int, default=7)
    bench.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    bench.set_defaults(func=_cmd_bench)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abm`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as exc:
        print(f"abm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("abm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
