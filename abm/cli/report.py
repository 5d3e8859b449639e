"""``abm report``: write the report of a run directory, or the ensemble report of a sweep."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from abm.cli.common import CliError


def register(subparsers: Any) -> None:
    """Add ``abm report`` to ``subparsers`` (the object ``add_subparsers`` returns)."""
    parser = subparsers.add_parser(
        "report", help="write report.md, report.html and figures for a run"
    )
    parser.add_argument("run_dir")
    parser.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report (a sweep directory gets the ensemble report), print its paths, return 0.

    Raises:
        AbmError: If the directory holds no readable run or sweep.
    """
    # matplotlib and seaborn load only when a report is asked for
    from analysis.report import HTML_REPORT_NAME, write_report

    if (Path(args.run_dir) / "sweep.json").is_file():  # a sweep directory: ensemble report
        from analysis.ensemble import write_sweep_report

        try:
            print(f"report: {write_sweep_report(args.run_dir)}")
        except (ValueError, OSError) as exc:
            raise CliError(str(exc)) from exc
        return 0
    path = write_report(args.run_dir)
    print(f"report: {path}")
    print(f"html: {path.with_name(HTML_REPORT_NAME)}")
    return 0
