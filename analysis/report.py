"""The report of one run directory: ``report.md`` with PNG figures, and standalone ``report.html``.

`write_report` reads a run directory written by `abm.results.run_result.RunResult.save` (DESIGN.md
section 7)
and writes three things: one PNG per figure, ``report.md`` (which links the PNGs by relative
path) and ``report.html`` (one self-contained page: the same content with the figures embedded
as base64 data URIs, an inline style sheet and no external resources). `write_html_report`
writes the HTML page alone. Every file is written to a temporary sibling and renamed into place
with `os.replace`, so a crash never leaves a truncated report or figure under its final name.
`summary_lines` gives the few lines a command line prints after a run.

What the report contains, in which order, and where each number comes from, is documented in
`analysis.report_sections` (the figures in `analysis.report_figures`, the market-maker and
contagion sections in `analysis.report_market_makers`, the flash crash in
`analysis.report_flash_crash`); how it is rendered and escaped in `analysis.report_document`,
which also reads the scenario's question and expected outcome from its header comments. Floats
are shown with six significant digits (``format(x, ".6g")``), integers in full, missing values
(JSON ``null``, NaN) as ``n/a``.

This module reads run files and tables only; it never imports the model or the agents.
"""

from __future__ import annotations

import os
from pathlib import Path

from abm.errors import AbmError
from abm.results.atomic import write_atomic
from abm.results.run_result import RunResult, RunResultError
from analysis.formatting import MISSING
from analysis.report_document import FIGURE_DPI, render_html, render_markdown
from analysis.report_figures import FIGURE_FILES
from analysis.report_market_makers import MM_GROUP_COLUMNS, NETWORK_FIGURE, market_maker_groups
from analysis.report_sections import build_document
from analysis.summary import summary_lines

REPORT_NAME = "report.md"
HTML_REPORT_NAME = "report.html"
FIGURES_DIR = "figures"

__all__ = [
    "FIGURES_DIR",
    "FIGURE_DPI",
    "FIGURE_FILES",
    "HTML_REPORT_NAME",
    "MISSING",
    "MM_GROUP_COLUMNS",
    "NETWORK_FIGURE",
    "REPORT_NAME",
    "ReportError",
    "load_run",
    "market_maker_groups",
    "summary_lines",
    "write_atomic",
    "write_html_report",
    "write_report",
]


class ReportError(AbmError, ValueError):
    """A run directory cannot be reported on: it is missing, incomplete or unreadable."""


def write_report(
    run_dir: str | os.PathLike[str], *, out_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Write the figures, ``report.md`` and ``report.html``; return the path of ``report.md``.

    By default the figures go to ``run_dir/figures/`` and both reports to ``run_dir``. With
    ``out_dir``, the figures and both reports go to ``out_dir`` (created if needed) and the run
    directory is only read. ``report.md`` links the figures by relative path, so the output
    directory can be moved as a whole; ``report.html`` (`HTML_REPORT_NAME`, next to
    ``report.md``) needs no other file. Existing files of the same names are replaced.

    The figures are those of `FIGURE_FILES` the run has data for (a figure left out is named,
    with the reason, in the report), plus `analysis.flash_crash.FLASH_CRASH_FIGURE` for a
    flash-crash run and `NETWORK_FIGURE` for a run with a contagion network when
    `analysis.contagion` is present.

    Args:
        run_dir: A run directory written by `abm.results.run_result.RunResult.save`.
        out_dir: Where to write instead of the run directory.

    Returns:
        The absolute path of the written ``report.md`` (``report.html`` is its sibling).

    Raises:
        ReportError: If ``run_dir`` is not a readable run directory (`load_run`), or the
            output cannot be written: an output path taken by a directory or a file of the
            wrong kind (refused before anything is written), a read-only or full disk (the
            file being written keeps its old content; figures already replaced stay new).
    """
    document = build_document(load_run(run_dir))
    run_path = Path(run_dir).absolute()
    if out_dir is None:
        report_dir, figure_dir = run_path, run_path / FIGURES_DIR
    else:
        report_dir = figure_dir = Path(out_dir).absolute()
    figures = document.figures()
    report, html = report_dir / REPORT_NAME, report_dir / HTML_REPORT_NAME
    try:
        _check_writable(figure_dir, [report, html, *(figure_dir / f.file_name for f in figures)])
        figure_dir.mkdir(parents=True, exist_ok=True)
        links = {}
        for figure in figures:
            target = figure_dir / figure.file_name
            write_atomic(target, figure.png)
            links[figure.file_name] = Path(os.path.relpath(target, report_dir)).as_posix()
        write_atomic(report, render_markdown(document, links))
        write_atomic(html, render_html(document))
    except OSError as error:
        raise ReportError(_cannot_write(report_dir, error)) from error
    return report


def write_html_report(
    run_dir: str | os.PathLike[str], *, out_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Write only the self-contained ``report.html``; return its absolute path.

    The page is the one `write_report` writes, figures embedded; no PNG files or Markdown are
    written. It goes to ``out_dir`` (created if needed) or else to ``run_dir``.

    Raises:
        ReportError: As `write_report`.
    """
    document = build_document(load_run(run_dir))
    report_dir = Path(run_dir if out_dir is None else out_dir).absolute()
    target = report_dir / HTML_REPORT_NAME
    try:
        _check_writable(report_dir, [target])
        report_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(target, render_html(document))
    except OSError as error:
        raise ReportError(_cannot_write(report_dir, error)) from error
    return target


def load_run(run_dir: str | os.PathLike[str]) -> RunResult:
    """Load a run directory, turning every way it can be unusable into a `ReportError`.

    `RunResult.load` reads it, first recovering an interrupted replacement.

    Raises:
        ReportError: If ``run_dir`` does not exist or is not a directory, lacks any of
            `abm.results.run_result.RUN_FILES` (all missing names are listed), or a file is
            unreadable or damaged (the message is one line naming it).
    """
    root = Path(run_dir)
    try:
        return RunResult.load(root)
    except RunResultError as error:
        raise ReportError(f"cannot read run directory {root}: {error}") from error


def _check_writable(directory: Path, files: list[Path]) -> None:
    """Refuse, before anything is written, output paths that are taken by the wrong kind.

    Raises:
        ReportError: If ``directory`` (or an ancestor) exists and is not a directory, or one
            of ``files`` exists and is a directory.
    """
    for ancestor in (directory, *directory.parents):
        if ancestor.is_dir():
            break
        if ancestor.exists() or ancestor.is_symlink():
            raise ReportError(
                f"cannot write the report: {ancestor} is not a directory; move it away"
            )
    for path in files:
        if path.is_dir():
            raise ReportError(f"cannot write the report: {path} is a directory; move it away")


def _cannot_write(report_dir: Path, error: OSError) -> str:
    reason = error.strerror or str(error) or type(error).__name__
    where = error.filename2 if error.filename2 is not None else error.filename
    place = f": {os.fsdecode(where)}" if where is not None else ""
    return f"cannot write the report into {report_dir}: {reason}{place}"
