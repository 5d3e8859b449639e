"""``abm run``: run a scenario, save its run directory, print its summary."""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from abm.cli.common import CliError, add_no_limits, check_out, load, positive
from abm.startup import engine_imports


def register(subparsers: Any) -> None:
    """Add ``abm run`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser("run", help="run a scenario and save its results")
    parser.add_argument("scenario", help="scenario YAML file")
    parser.add_argument("--out", help="run directory (default: runs/<scenario name>)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--steps", type=int, help="override the scenario's number of steps")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value by dotted path, e.g. agents.mm.policy.gamma=0.01",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into an existing directory that is not a run (its other files are kept)",
    )
    add_no_limits(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run ``abm run`` from parsed arguments; return the exit code (0).

    Checks the flags and ``--out`` before the first step, runs with a progress bar on stderr
    (runs of 5,000 steps or more) streaming the tables into the run directory
    (`abm.streamed.run_to`: memory does not grow with the number of steps), prints
    `analysis.summary.headline_lines`, and notes on stderr a report left over from the run it
    replaced.

    Raises:
        AbmError: On a bad scenario or flag value, a scenario past its cost limits (unless
            ``--no-limits``), an ``--out`` a save would refuse, or model
            parameters that only the run can judge (prefixed with the scenario).
    """
    with engine_imports():  # the first run of a process: no collections while importing
        from abm.fundamental import FundamentalError
        from abm.policies import PolicyError
        from abm.streamed import run_to

    positive("--steps", args.steps)
    if args.seed is not None and args.seed < 0:
        raise CliError(f"--seed: must be a non-negative integer, got {args.seed}")
    flags = {"steps": args.steps, "seed": args.seed}
    scenario = load(
        args.scenario,
        args.set,
        changes={name: value for name, value in flags.items() if value is not None},
        no_limits=args.no_limits,
    )
    out = Path(args.out) if args.out else Path("runs") / scenario.name
    check_out(out, force=args.force)
    replacing = (out / "meta.json").is_file()
    total = scenario.steps
    # no tqdm object at all without a bar: even a disabled one starts multiprocessing's
    # resource tracker, a process left running at exit
    shown = not args.quiet and total >= 5000
    bars: Any = nullcontext()
    if shown:
        import threading

        from tqdm import tqdm

        # a thread lock for the bar's writes: tqdm's default also makes a multiprocessing
        # lock, which starts multiprocessing's resource-tracker process (35 ms here, and a
        # process left running to the end) for a bar that only this process draws
        tqdm.set_lock(threading.RLock())
        bars = tqdm(total=total, unit="step", file=sys.stderr)
    with bars as bar:

        def progress(done: int, _total: int) -> None:
            bar.update(done - bar.n)

        try:
            saved = run_to(scenario, out, progress=progress if shown else None, force=args.force)
        except (FundamentalError, PolicyError) as exc:  # parameters the schema cannot judge
            raise CliError(f"{args.scenario}: {exc}") from exc
        except FileExistsError as exc:  # the directory changed since check_out
            raise CliError(f"--out: {exc}") from exc
    path = saved.path
    if not args.quiet:
        from analysis.summary import headline_lines

        for line in headline_lines(saved.summary, saved.scenario.tick_size):
            print(line)
        if saved.scenario.options is not None:  # the smile and the dealers' attribution
            from abm.results.run_result import RunResult
            from analysis.options import options_summary_lines

            for line in options_summary_lines(RunResult.load(path)):
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
