"""A Markdown report of one run directory: headline tables and the figures of `analysis.plots`.

`write_report` reads a run directory written by `abm.record.RunResult.save` (DESIGN.md section 7)
and writes ``report.md`` plus one PNG per figure. Every file is written to a temporary sibling and
renamed into place with `os.replace`, so a crash never leaves a truncated report or figure under
its final name. `summary_lines` gives the few lines a command line prints after a run.

Numbers come from ``summary.json`` (the model's own headline metrics) except the per-group
market-maker table, which is computed from the ``agents`` table. Floats are shown with six
significant digits (``format(x, ".6g")``), integers in full, missing values (JSON ``null``, NaN)
as ``n/a``.

This module reads run files and tables only; it never imports the model or the agents.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure

from abm.record import RUN_FILES, RunResult, RunResultError
from analysis.plots import (
    MARKET_MAKER_KIND,
    inventory_figure,
    pnl_figure,
    price_figure,
    spread_depth_figure,
)

REPORT_NAME = "report.md"
FIGURES_DIR = "figures"
FIGURE_DPI = 110
MISSING = "n/a"

MM_GROUP_COLUMNS = (
    "group",
    "policy",
    "n_agents",
    "pnl_final_mean",
    "abs_inventory_final_mean",
    "abs_inventory_max",
)
"""Columns of `market_maker_groups`."""


class ReportError(ValueError):
    """A run directory cannot be reported on: it is missing, incomplete or unreadable."""


@dataclass(frozen=True, slots=True)
class _FigureSpec:
    file_name: str
    title: str
    draw: Callable[[RunResult, Mapping[int, str]], Figure]


_FIGURES = (
    _FigureSpec("price.png", "Price", lambda r, _: price_figure(r.market)),
    _FigureSpec("spread_depth.png", "Spread and depth", lambda r, _: spread_depth_figure(r.market)),
    _FigureSpec(
        "inventory.png", "Market-maker inventory", lambda r, g: inventory_figure(r.agents, labels=g)
    ),
    _FigureSpec("pnl.png", "Market-maker pnl", lambda r, g: pnl_figure(r.agents, labels=g)),
)
FIGURE_FILES = tuple(spec.file_name for spec in _FIGURES)
"""The PNG files `write_report` writes, in report order."""


def write_report(
    run_dir: str | os.PathLike[str], *, out_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``report.md`` and the run's figures; return the path of ``report.md``.

    By default the figures go to ``run_dir/figures/`` and the report to ``run_dir/report.md``.
    With ``out_dir``, the figures and ``report.md`` both go to ``out_dir`` (created if needed)
    and the run directory is only read. The report links the figures by relative path, so the
    output directory can be moved as a whole. Existing files of the same names are replaced.

    Args:
        run_dir: A run directory written by `abm.record.RunResult.save`.
        out_dir: Where to write instead of the run directory.

    Returns:
        The absolute path of the written ``report.md``.

    Raises:
        ReportError: If ``run_dir`` is not a directory, lacks one of the run files (the message
            names them), or a file cannot be read.
        OSError: If the output directory or a file in it cannot be written.
    """
    result = load_run(run_dir)
    run_path = Path(run_dir).absolute()
    if out_dir is None:
        report_dir, figure_dir = run_path, run_path / FIGURES_DIR
    else:
        report_dir = figure_dir = Path(out_dir).absolute()
    figure_dir.mkdir(parents=True, exist_ok=True)
    membership = _membership(result)
    groups = _groups_table(result, membership)
    labels = {agent_id: group for (group, _), ids in membership.items() for agent_id in ids}
    links = []
    for spec in _FIGURES:
        figure = spec.draw(result, labels)
        target = figure_dir / spec.file_name
        _write_atomic(target, "wb", _png_writer(figure))
        links.append((spec.title, Path(os.path.relpath(target, report_dir)).as_posix()))
    text = render_markdown(result, groups, links)
    report = report_dir / REPORT_NAME
    _write_atomic(report, "w", lambda handle: handle.write(text))
    return report


def load_run(run_dir: str | os.PathLike[str]) -> RunResult:
    """Load a run directory, turning every way it can be unusable into a `ReportError`.

    Raises:
        ReportError: If ``run_dir`` does not exist or is not a directory, lacks any of
            `abm.record.RUN_FILES` (all missing names are listed), or a file is unreadable.
    """
    root = Path(run_dir)
    if not root.exists():
        raise ReportError(f"run directory {root} does not exist; pass the directory of a saved run")
    if not root.is_dir():
        raise ReportError(f"{root} is not a directory; pass the directory of a saved run")
    missing = [name for name in RUN_FILES if not (root / name).is_file()]
    if missing:
        raise ReportError(
            f"run directory {root} is missing {', '.join(missing)}; "
            "re-run the scenario to write a complete run directory"
        )
    try:
        return RunResult.load(root)
    except RunResultError as error:
        raise ReportError(f"cannot read run directory {root}: {error}") from error


def market_maker_groups(result: RunResult) -> pd.DataFrame:
    """Per market-maker group statistics, one row per scenario group (columns `MM_GROUP_COLUMNS`).

    ``pnl_final_mean`` is the mean over the group's agents of pnl at each agent's last recorded
    step (price units); ``abs_inventory_final_mean`` the mean of |inventory| there (lots);
    ``abs_inventory_max`` the largest |inventory| any agent of the group held at a recorded step.

    Agents are matched to groups by the ``agents`` table's ``group`` column; the policy kind comes
    from the scenario (``n/a`` if it cannot be read).
    """
    return _groups_table(result, _membership(result))


def render_markdown(
    result: RunResult, groups: pd.DataFrame, figure_links: Sequence[tuple[str, str]]
) -> str:
    """Return the report's Markdown text.

    Sections, in order: title and description, run facts (seed, steps, wall time), "Market
    quality", "Activity", "Market makers", "Accounting" and "Figures".

    Args:
        result: The run.
        groups: Its `market_maker_groups` table.
        figure_links: ``(title, path relative to report.md)`` of each figure, in display order.
    """
    scenario = _scenario_mapping(result.scenario_yaml)
    lines = [f"# Run report: {scenario.get('name') or 'unnamed run'}", ""]
    if scenario.get("description"):
        lines += [str(scenario["description"]).strip(), ""]
    lines += _run_section(result)
    lines += _market_quality_section(result.summary, _tick_size(scenario))
    lines += _activity_section(result.summary)
    lines += _market_maker_section(groups)
    lines += _accounting_section(result.summary)
    lines += ["## Figures", ""]
    for title, path in figure_links:
        lines += [f"### {title}", "", f"![{title}]({path})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _run_section(result: RunResult) -> list[str]:
    summary, meta = result.summary, result.meta
    rows = [
        ("Seed", _fmt(summary.get("seed", meta.get("seed")))),
        ("Steps", _fmt(summary.get("steps"))),
        ("Wall time (s)", _fmt(summary.get("wall_time_s", meta.get("wall_time_s")))),
        ("Steps per second", _fmt(summary.get("steps_per_s"))),
        ("Scenario digest", f"`{meta.get('scenario_digest', MISSING)}`"),
    ]
    return _table(("Run", "Value"), rows)


def _market_quality_section(summary: Mapping[str, Any], tick: float | None) -> list[str]:
    metrics = (
        ("Spread mean", "spread_mean"),
        ("Spread median", "spread_median"),
        ("Mispricing mean, abs(mid - fundamental)", "mispricing_mean"),
    )
    rows = [
        (label, _fmt(summary.get(key)), _fmt(_ticks(summary.get(key), tick)))
        for label, key in metrics
    ]
    two_sided = f"Two-sided fraction of steps: {_fmt(summary.get('two_sided_fraction'))}"
    return [
        "## Market quality",
        "",
        *_table(("Metric", "Price units", "Ticks"), rows),
        two_sided,
        "",
    ]


def _activity_section(summary: Mapping[str, Any]) -> list[str]:
    counts = (
        ("Orders", "orders"),
        ("Cancels", "cancels"),
        ("Fills", "fills"),
        ("Volume (lots)", "volume"),
        ("Defaults", "defaults"),
    )
    rows = [(label, _fmt(summary.get(key))) for label, key in counts]
    return ["## Activity", "", *_table(("Count", "Value"), rows)]


def _market_maker_section(groups: pd.DataFrame) -> list[str]:
    if groups.empty:
        return ["## Market makers", "", "No market makers in this run.", ""]
    header = (
        "Group",
        "Policy",
        "Count",
        "Mean final pnl",
        "Mean abs final inventory",
        "Max abs inventory",
    )
    rows = [
        (
            str(row.group),
            str(row.policy),
            _fmt(row.n_agents),
            _fmt(row.pnl_final_mean),
            _fmt(row.abs_inventory_final_mean),
            _fmt(row.abs_inventory_max),
        )
        for row in groups.itertuples(index=False)
    ]
    return ["## Market makers", "", *_table(header, rows)]


def _accounting_section(summary: Mapping[str, Any]) -> list[str]:
    rows = [
        ("Cash", _yes_no(summary.get("cash_conserved"))),
        ("Inventory", _yes_no(summary.get("inventory_conserved"))),
    ]
    return ["## Accounting", "", *_table(("Check", "Conserved"), rows)]


def summary_lines(result: RunResult) -> list[str]:
    """A few lines for a command line to print after a run.

    Covers steps, wall time and steps per second; fills and volume; mean spread (price units
    and ticks); mean market-maker pnl; and the cash/inventory conservation check.
    """
    summary = result.summary
    tick = _tick_size(_scenario_mapping(result.scenario_yaml))
    spread = summary.get("spread_mean")
    cash = _yes_no(summary.get("cash_conserved"))
    inventory = _yes_no(summary.get("inventory_conserved"))
    return [
        f"steps: {_fmt(summary.get('steps'))} in {_fmt(summary.get('wall_time_s'))} s "
        f"({_fmt(summary.get('steps_per_s'))} steps/s)",
        f"fills: {_fmt(summary.get('fills'))} (volume {_fmt(summary.get('volume'))} lots)",
        f"spread mean: {_fmt(spread)} ({_fmt(_ticks(spread, tick))} ticks)",
        f"market-maker pnl mean: {_fmt(summary.get('mm_pnl_mean'))}",
        f"conserved: cash {cash}, inventory {inventory}",
    ]


def _membership(result: RunResult) -> dict[tuple[str, str], list[int]]:
    """Map ``(group, policy kind)`` to the market makers' agent ids, in scenario order."""
    makers = result.agents.loc[result.agents["kind"] == MARKET_MAKER_KIND, ["agent_id", "group"]]
    agents = _scenario_mapping(result.scenario_yaml).get("agents")
    agents = agents if isinstance(agents, Mapping) else {}
    membership: dict[tuple[str, str], list[int]] = {}
    for group, rows in makers.groupby("group", sort=False):
        spec = agents.get(group)
        policy = spec.get("policy") if isinstance(spec, Mapping) else None
        kind = policy.get("kind") if isinstance(policy, Mapping) else None
        membership[(str(group), str(kind or MISSING))] = sorted(
            int(i) for i in rows["agent_id"].unique()
        )
    return membership


def _groups_table(
    result: RunResult, membership: Mapping[tuple[str, str], list[int]]
) -> pd.DataFrame:
    makers = result.agents.loc[result.agents["kind"] == MARKET_MAKER_KIND]
    rows = [
        _group_row(group, policy, makers.loc[makers["agent_id"].isin(members)])
        for (group, policy), members in membership.items()
    ]
    return pd.DataFrame(rows, columns=list(MM_GROUP_COLUMNS))


def _group_row(group: str, policy: str, rows: pd.DataFrame) -> dict[str, Any]:
    """Statistics of one group; ``rows`` are its agents' rows, at least one."""
    final = rows.sort_values(["agent_id", "step"], kind="stable").groupby("agent_id").tail(1)
    inventory = rows["inventory"].to_numpy(dtype=float)
    return {
        "group": group,
        "policy": policy,
        "n_agents": int(rows["agent_id"].nunique()),
        "pnl_final_mean": float(final["pnl"].to_numpy(dtype=float).mean()),
        "abs_inventory_final_mean": float(np.abs(final["inventory"].to_numpy(dtype=float)).mean()),
        "abs_inventory_max": float(np.abs(inventory).max()),
    }


def _scenario_mapping(scenario_yaml: str) -> dict[str, Any]:
    # A report is still useful without the scenario's labels, so unreadable YAML is not fatal.
    try:
        value = yaml.safe_load(scenario_yaml)
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}


def _tick_size(scenario: Mapping[str, Any]) -> float | None:
    tick = scenario.get("tick_size")
    if isinstance(tick, int | float) and not isinstance(tick, bool) and tick > 0:
        return float(tick)
    return None


def _ticks(value: Any, tick: float | None) -> float | None:
    if tick is None or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return value / tick


def _fmt(value: Any) -> str:
    if value is None or value is pd.NA:
        return MISSING
    if isinstance(value, bool | np.bool_):
        return _yes_no(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return format(number, ".6g") if math.isfinite(number) else MISSING
    return str(value)


def _yes_no(value: Any) -> str:
    if value is None:
        return "unknown"
    return "yes" if value else "no"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _png_writer(figure: Figure) -> Callable[[IO[Any]], object]:
    def write(handle: IO[Any]) -> None:
        figure.savefig(handle, format="png", dpi=FIGURE_DPI)

    return write


def _write_atomic(target: Path, mode: str, write: Callable[[IO[Any]], object]) -> None:
    """Write ``target`` through a temporary sibling renamed into place (same filesystem)."""
    # Exclusive creation under a random name (rather than mkstemp, which makes files 0600) gives
    # the final file the permissions of the user's umask.
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    binary = "b" in mode
    try:
        with open(
            temporary,
            f"x{mode.replace('w', '')}",
            encoding=None if binary else "utf-8",
            newline=None if binary else "",
        ) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
