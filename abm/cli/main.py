"""The ``abm`` command: run, validate, report and benchmark (also ``python -m abm``).

Every user error (a bad scenario, a bad flag value, a missing file) is printed as one
line on stderr and exits with code 2, without a traceback. Output piped into a reader that
stops early (``abm schema | head``) ends the command quietly with exit code 141, as for
any Unix tool killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from abm import __version__
from abm.fundamental import FundamentalError
from abm.policies import PolicyError
from abm.run import run as run_scenario
from abm.scenario.schema import Scenario, ScenarioError, load_scenario, parse_set_option

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a tool killed by SIGPIPE


class CliError(Exception):
    """A user error to print as one line (exit code 2)."""


def _load(path: str, sets: Sequence[str]) -> Scenario:
    """Load a scenario and apply ``--set`` overrides; ScenarioError becomes CliError."""
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        raise CliError(str(exc)) from exc
    try:
        if sets:
            scenario = scenario.override(dict(parse_set_option(text) for text in sets))
    except ScenarioError as exc:
        raise CliError(str(exc).replace("<scenario>", f"{path} (--set)")) from exc
    return scenario


def _positive(name: str, value: int | None) -> None:
    if value is not None and value <= 0:
        raise CliError(f"{name}: must be a positive integer, got {value}")


def _cmd_run(args: argparse.Namespace) -> int:
    scenario = _load(args.scenario, args.set)
    _positive("--steps", args.steps)
    if args.seed is not None and args.seed < 0:
        raise CliError(f"--seed: must be a non-negative integer, got {args.seed}")
    out = Path(args.out) if args.out else Path("runs") / scenario.name
    _check_out(out, force=args.force)
    replacing = (out / "meta.json").is_file()
    total = args.steps or scenario.steps
    with tqdm(total=total, unit="step", disable=args.quiet or total < 5000, file=sys.stderr) as bar:

        def progress(done: int, _total: int) -> None:
            bar.update(done - bar.n)

        try:
            result = run_scenario(scenario, seed=args.seed, steps=args.steps, progress=progress)
        except (FundamentalError, PolicyError) as exc:  # parameters the schema cannot judge
            raise CliError(f"{args.scenario}: {exc}") from exc
    try:
        path = result.save(out, force=args.force)
    except FileExistsError as exc:  # the directory changed while the run was made
        raise CliError(f"--out: {exc}") from exc
    if not args.quiet:
        from analysis.report import summary_lines

        for line in summary_lines(result):
            print(line)
        print(f"results: {path}")
    stale = [name for name in ("report.md", "report.html") if (path / name).is_file()]
    if replacing and stale:
        verb, pronoun = ("describes", "it") if len(stale) == 1 else ("describe", "them")
        print(
            f"abm: note: {' and '.join(stale)} in {path} {verb} the previous run; "
            f"`abm report {out}` rewrites {pronoun}",
            file=sys.stderr,
        )
    return 0


def _check_out(out: Path, *, force: bool) -> None:
    """Refuse an ``--out`` that a save would not accept, before any step is run.

    A missing or empty directory and a run directory (one holding ``meta.json``) are fine; a
    run replaces only the run's own files (`abm.results.recorder.RUN_FILES`) and keeps the rest. Any
    other non-empty directory needs ``--force``; a file or a symbolic link is always refused.
    """
    if out.is_symlink():
        raise CliError(f"--out: {out} is a symbolic link; pass the directory it points to")
    if not out.exists():
        return
    if not out.is_dir():
        raise CliError(f"--out: {out} exists and is not a directory; choose another path")
    if force or (out / "meta.json").is_file() or not any(out.iterdir()):
        return
    raise CliError(
        f"--out: {out} exists, is not empty and is not a run directory (no meta.json); "
        "choose another path, or pass --force to write the run into it (files already "
        "there are kept; only files named like the run's own, e.g. summary.json, are replaced)"
    )


def _cmd_validate(args: argparse.Namespace) -> int:
    scenario = _load(args.scenario, args.set)
    groups = ", ".join(
        f"{name} ({group.kind} x{group.count})" for name, group in scenario.agents.items()
    )
    print(
        f"ok: {args.scenario}: scenario {scenario.name!r}, {scenario.steps} steps of dt "
        f"{scenario.dt}, fundamental {scenario.fundamental.kind}; groups: {groups}"
    )
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    import json

    if args.markdown:
        from abm.scenario.docs import agents_markdown

        print(agents_markdown(), end="")
        return 0
    print(json.dumps(Scenario.model_json_schema(), indent=2, sort_keys=True))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    # matplotlib and seaborn load only when a report is asked for
    from analysis.report import HTML_REPORT_NAME, ReportError, write_report

    if (Path(args.run_dir) / "sweep.json").is_file():  # a sweep directory: ensemble report
        from analysis.ensemble import write_sweep_report

        try:
            print(f"report: {write_sweep_report(args.run_dir)}")
        except (ValueError, OSError) as exc:
            raise CliError(str(exc)) from exc
        return 0
    try:
        path = write_report(args.run_dir)
    except ReportError as exc:
        raise CliError(str(exc)) from exc
    print(f"report: {path}")
    print(f"html: {path.with_name(HTML_REPORT_NAME)}")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from abm.experiments.studies import (
        avellaneda_stoikov_table,
        format_avellaneda_stoikov_table,
        unpublished_gamma_note,
    )

    _positive("--seeds", args.seeds)
    if not args.gamma > 0:
        raise CliError(f"--gamma: must be a positive number, got {args.gamma}")
    note = unpublished_gamma_note(args.gamma)
    if note is not None:  # said before the runs start, not only below the finished table
        print(f"abm: note: {note}", file=sys.stderr)
    table = avellaneda_stoikov_table(args.seeds, gamma=args.gamma)
    print(format_avellaneda_stoikov_table(table))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.target == "book":
        try:
            from abm.bench.book import format_book_bench, run_book_bench
        except ModuleNotFoundError as exc:
            if exc.name != "sortedcontainers":
                raise
            raise CliError(
                "abm bench book compares against a sortedcontainers book, which is not "
                "installed: pip install 'abm-microstructure[dev]' (or pip install sortedcontainers)"
            ) from exc

        _positive("--ops", args.ops)
        _positive("--repeats", args.repeats)
        result = run_book_bench(
            n_ops=args.ops,
            seed=7 if args.seed is None else args.seed,
            repeats=3 if args.repeats is None else args.repeats,
            memory=not args.no_memory,
        )
        print(format_book_bench(result))
        return 0
    _positive("--steps", args.steps)
    if args.target == "sweep":
        from abm.cli.sweep import bench_sweep

        return bench_sweep(args)
    if args.target == "crisis":
        from abm.bench.crisis import format_crisis_bench, run_crisis_bench

        crisis = run_crisis_bench(steps=args.steps or 5000, seed=args.seed)
        print(format_crisis_bench(crisis))
        return 0
    from abm.bench.model import format_model_bench, run_model_bench

    if args.scenario is not None:
        _load(args.scenario, [])  # validate first: a bad file is a clean error
    model_result = run_model_bench(
        scenario_path=args.scenario, steps=args.steps, seed=args.seed, memory=not args.no_memory
    )
    print(format_model_bench(model_result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="abm", description="Agent-based market microstructure simulator."
    )
    parser.add_argument("--version", action="version", version=f"abm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run_p = sub.add_parser("run", help="run a scenario and save its results")
    run_p.add_argument("scenario", help="scenario YAML file")
    run_p.add_argument("--out", help="run directory (default: runs/<scenario name>)")
    run_p.add_argument("--seed", type=int, help="override the scenario's seed")
    run_p.add_argument("--steps", type=int, help="override the scenario's number of steps")
    run_p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value by dotted path, e.g. agents.mm.policy.gamma=0.01",
    )
    run_p.add_argument(
        "--force",
        action="store_true",
        help="write into an existing directory that is not a run (its other files are kept)",
    )
    run_p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    run_p.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="check a scenario file")
    val.add_argument("scenario")
    val.add_argument("--set", action="append", default=[], metavar="PATH=VALUE")
    val.set_defaults(func=_cmd_validate)

    schema = sub.add_parser(
        "schema", help="print the scenario JSON schema (from the pydantic models)"
    )
    schema.add_argument(
        "--markdown",
        action="store_true",
        help="print the README's tables of agent kinds, policies and arrivals instead",
    )
    schema.set_defaults(func=_cmd_schema)

    rep = sub.add_parser("report", help="write report.md, report.html and figures for a run")
    rep.add_argument("run_dir")
    rep.set_defaults(func=_cmd_report)

    study = sub.add_parser("study", help="validation studies against published results")
    study.add_argument("name", choices=["avellaneda-stoikov"])
    study.add_argument("--seeds", type=int, default=1000, help="replicate runs per strategy")
    study.add_argument("--gamma", type=float, default=0.1, help="risk aversion (0.01, 0.1 or 1)")
    study.set_defaults(func=_cmd_study)

    from abm.cli import dashboard as dashboard_cli
    from abm.cli import sweep as sweep_cli
    from abm.experiments import compare

    compare.register(sub)
    dashboard_cli.register(sub)
    sweep_cli.register(sub)

    bench = sub.add_parser("bench", help="benchmarks: the order book, the model, a crisis")
    bench.add_argument("target", choices=["book", "model", "crisis", "sweep"])
    bench.add_argument("--ops", type=int, default=1_000_000, help="book: operations to replay")
    bench.add_argument(
        "--repeats", type=int, default=None, help="book: timed repeats, best kept (default 3)"
    )
    bench.add_argument("--steps", type=int, default=None, help="model/crisis: steps (default 5000)")
    bench.add_argument("--scenario", default=None, help="model: scenario (default baseline)")
    bench.add_argument("--seed", type=int, default=None)
    bench.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    sweep_cli.add_bench_sweep_arguments(bench)
    bench.set_defaults(func=_cmd_bench)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abm`` console script and of ``python -m abm``; returns the exit code.

    Output into a pipe whose reader has gone (``abm schema | head``) ends quietly with
    `EXIT_BROKEN_PIPE`, including output still buffered when the command (or ``--help``)
    finishes: stdout is flushed here, where the error can be caught, rather than at exit.
    (argparse's own ``--help`` and ``--version`` ignore a closed stdout and exit 0.)
    """
    try:
        try:
            return _run_command(argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        if not _stdout_reader_gone():
            raise  # some other pipe or socket broke: a real error
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _run_command(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse itself exits 2 on a malformed command line
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as exc:
        print(f"abm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("abm: interrupted", file=sys.stderr)
        return 130


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe or socket whose reading end has been closed."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (e.g. captured in tests)
        return False
    poller = select.poll()
    poller.register(descriptor, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the output still buffered is dropped at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
