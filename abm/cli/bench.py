"""``abm bench``: the book, the model, a crisis, peer runs, a sweep, the cost of a step at scale."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from abm.bench.sweep import DEFAULT_BENCH_RUNS, DEFAULT_BENCH_SEED, DEFAULT_BENCH_STEPS
from abm.cli.common import CliError, fail, load, positive


def register(subparsers: Any) -> None:
    """Add ``abm bench`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: the order book, the model, a crisis, an ABIDES-like day, "
        "PyMarketSim's run, a sweep, the cost of a step at scale",
    )
    parser.add_argument(
        "target", choices=["book", "model", "crisis", "day", "zi", "sweep", "scale"]
    )
    parser.add_argument("--ops", type=int, default=1_000_000, help="book: operations to replay")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="book: timed repeats, best kept; day, zi: whole-process runs, medians (default 3); "
        "scale: fresh processes per row, medians (default 1)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="model/crisis/day/zi: steps (default 5000; day: 23,400; zi: 50,000); "
        "scale: timed steps per row after 50 warm-up steps (default 200)",
    )
    parser.add_argument(
        "--scenario",
        default=None,
        help="model, day, zi: scenario (default baseline, bench/rmsc04_like, "
        "bench/zero_intelligence_500)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="scale: rows up to 100k traders and 100 market makers only (no 1M row)",
    )
    add_bench_sweep_arguments(parser)
    parser.set_defaults(func=cmd_bench)


def add_bench_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``abm bench sweep`` to the ``bench`` parser.

    Adds ``--runs`` and ``--workers``; ``--steps``, ``--scenario``, ``--seed`` and ``--repeats``
    are added only if the parser lacks them (``abm bench`` shares them between its targets).
    """
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_BENCH_RUNS, help="sweep: runs per configuration"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="sweep: worker processes to compare with one"
    )
    shared: tuple[tuple[str, type, str], ...] = (
        ("--steps", int, f"steps per run (sweep default {DEFAULT_BENCH_STEPS})"),
        ("--scenario", str, "scenario file (default baseline)"),
        ("--seed", int, "root seed"),
        ("--repeats", int, "timed repeats, best kept (sweep default 1)"),
    )
    for flag, kind, help_text in shared:
        with contextlib.suppress(argparse.ArgumentError):  # already there: shared, fine
            parser.add_argument(flag, type=kind, default=None, help=help_text)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark ``args.target`` and print its report; return 0.

    Raises:
        AbmError: On a non-positive count, a bad scenario, or (``book``) a missing
            sortedcontainers, the baseline book it compares against.
    """
    if args.target == "book":
        return _bench_book(args)
    positive("--steps", args.steps)
    if args.target == "sweep":
        return bench_sweep(args)
    if args.target in ("day", "zi"):
        return _bench_day(args)
    if args.target == "scale":
        return _bench_scale(args)
    if args.target == "crisis":
        from abm.bench.crisis import format_crisis_bench, run_crisis_bench

        crisis = run_crisis_bench(steps=args.steps or 5000, seed=args.seed)
        print(format_crisis_bench(crisis))
        return 0
    from abm.bench.model import format_model_bench, run_model_bench

    if args.scenario is not None:
        load(args.scenario, [])  # validate first: a bad file is a clean error
    model_result = run_model_bench(
        scenario_path=args.scenario, steps=args.steps, seed=args.seed, memory=not args.no_memory
    )
    print(format_model_bench(model_result))
    return 0


def _bench_day(args: argparse.Namespace) -> int:
    """``abm bench day`` (ABIDES's RMSC04 day) or ``abm bench zi`` (PyMarketSim's run)."""
    from abm.bench.day import (
        ABIDES_RMSC04,
        DEFAULT_SCENARIO,
        PYMARKETSIM_ZI,
        ZI_SCENARIO,
        format_day_bench,
        run_day_bench,
    )

    positive("--repeats", args.repeats)
    default, peer = (
        (ZI_SCENARIO, PYMARKETSIM_ZI) if args.target == "zi" else (DEFAULT_SCENARIO, ABIDES_RMSC04)
    )
    scenario = args.scenario or default
    load(scenario, [])  # validate first: a bad file is a clean error, not a child's traceback
    result = run_day_bench(
        scenario=scenario,
        steps=args.steps,
        seed=args.seed,
        repeats=3 if args.repeats is None else args.repeats,
        peer=peer,
    )
    print(format_day_bench(result))
    return 0


def _bench_scale(args: argparse.Namespace) -> int:
    """``abm bench scale``: the cost of a step from 1k to 1M traders and 10 to 1,000 makers."""
    from abm.bench.scale import (
        DEFAULT_ROWS,
        DEFAULT_STEPS,
        QUICK_ROWS,
        format_scale_bench,
        run_scale_bench,
    )

    positive("--repeats", args.repeats)
    if args.scenario is not None:
        fail("--scenario: abm bench scale builds its rows from the baseline; it takes no scenario")
    results = run_scale_bench(
        QUICK_ROWS if args.quick else DEFAULT_ROWS,
        steps=args.steps or DEFAULT_STEPS,
        seed=args.seed,
        repeats=args.repeats or 1,
    )
    print(format_scale_bench(results))
    return 0


def _bench_book(args: argparse.Namespace) -> int:
    try:
        from abm.bench.book import format_book_bench, run_book_bench
    except ModuleNotFoundError as exc:
        if exc.name != "sortedcontainers":
            raise
        raise CliError(
            "abm bench book compares against a sortedcontainers book, which is not "
            "installed: pip install 'abm-microstructure[dev]' (or pip install sortedcontainers)"
        ) from exc

    positive("--ops", args.ops)
    positive("--repeats", args.repeats)
    result = run_book_bench(
        n_ops=args.ops,
        seed=7 if args.seed is None else args.seed,
        repeats=3 if args.repeats is None else args.repeats,
        memory=not args.no_memory,
    )
    print(format_book_bench(result))
    return 0


def bench_sweep(args: argparse.Namespace) -> int:
    """Run ``abm bench sweep`` from parsed arguments, print the report, return 0.

    Raises:
        AbmError: On a bad scenario, a non-positive count (`CliError`), or a benchmark sweep
            that did not complete (`SweepError`).
    """
    from abm.bench.sweep import format_sweep_bench, run_sweep_bench

    steps = getattr(args, "steps", None) or DEFAULT_BENCH_STEPS
    runs = getattr(args, "runs", DEFAULT_BENCH_RUNS)
    workers = getattr(args, "workers", 2)
    for flag, value in (("--steps", steps), ("--runs", runs), ("--workers", workers)):
        if value < 1:
            fail(f"{flag}: must be a positive integer, got {value}")
    if workers < 2:
        fail(f"--workers: the benchmark compares one worker with several; got {workers}")
    scenario = load(getattr(args, "scenario", None) or "baseline", [])
    seed = getattr(args, "seed", None)
    result = run_sweep_bench(
        scenario.override({"steps": steps}),
        runs=runs,
        workers=workers,
        seed=DEFAULT_BENCH_SEED if seed is None else seed,
        repeats=getattr(args, "repeats", None) or 1,
    )
    print(format_sweep_bench(result))
    return 0
