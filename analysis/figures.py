"""What every figure of `analysis` shares: the figure class, axes finishing, event marks.

`DisplayFigure` is the class every figure function of `analysis` returns. It is a plain
`matplotlib.figure.Figure` (built without ``pyplot``: no global figure list, no backend
selection, no rcParams change, so the report path stays headless) that also renders itself as
PNG through IPython's ``_repr_png_`` protocol. A figure returned by a notebook cell, or passed
to ``display``, is therefore shown as an image whether or not the inline backend is active.
It also keeps the titles of panels that had nothing to draw (`DisplayFigure.empty_panels`), so
that the report can leave such a figure out and say why instead of showing an empty panel.

`shade_one_sided` shades the steps where a side of the book was empty; `seconds_per_step`
reads the step length from the ``market`` table. `event_marks` collects the steps where
something happened to the market (scheduled shocks, defaults, trading halts, market-maker
regime changes, an execution program's start and end) from the ``events`` table and the
scenario's ``shocks`` list; `draw_event_marks` draws them on a time axis, one style and one
legend entry per category.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from abm.results.events import EventKind

NOTEBOOK_DPI = 100
"""Resolution of the PNG a notebook shows."""

WIDE = (10.0, 4.0)
TALL = (10.0, 6.0)


class DisplayFigure(Figure):
    """A matplotlib ``Figure`` that Jupyter shows as a PNG, and that records its empty panels."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.empty_panels: list[tuple[str, str]] = []
        """``(panel title, why it is empty)`` for each panel drawn without data."""
        self._empty_axes: list[Axes] = []

    def drop_empty_panels(self) -> bool:
        """Remove the panels drawn without data; return whether any panel is left.

        The remaining panels of a one-column layout are re-stacked to fill the figure, and
        the new bottom panel gets the x label and tick labels of the old one.
        """
        if not self._empty_axes:
            return True
        panels = [ax for ax in self.axes if ax.get_label() != "<colorbar>"]
        kept = [ax for ax in panels if ax not in self._empty_axes]
        if not kept:
            return False
        xlabel = next((ax.get_xlabel() for ax in reversed(panels) if ax.get_xlabel()), "")
        for ax in self._empty_axes:
            self.delaxes(ax)
        specs = [ax.get_subplotspec() for ax in kept]
        if all(spec is not None and spec.get_gridspec().ncols == 1 for spec in specs):
            grid = self.add_gridspec(len(kept), 1)
            for i, ax in enumerate(kept):
                ax.set_subplotspec(grid[i, 0])
            kept[-1].set_xlabel(xlabel)
            kept[-1].tick_params(labelbottom=True)
        self._empty_axes = []
        return True

    def _repr_png_(self) -> bytes:
        """PNG bytes for IPython's display machinery (rendered with Agg at `NOTEBOOK_DPI`)."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=NOTEBOOK_DPI)
        return buffer.getvalue()


def new_figure(figsize: tuple[float, float] = WIDE) -> DisplayFigure:
    """A new `DisplayFigure` of ``figsize`` inches with constrained layout."""
    return DisplayFigure(figsize=figsize, layout="constrained")


def finish_axes(
    ax: Axes,
    title: str,
    xlabel: str | None,
    ylabel: str,
    *,
    has_data: bool,
    legend: bool = True,
    message: str = "no data",
) -> None:
    """Title, axis labels and a light grid; then a legend, or ``message`` when nothing was drawn.

    ``xlabel=None`` leaves the x label unset (the upper panel of a shared x axis). The legend
    is drawn at matplotlib's ``"best"`` place only if ``legend`` and ``has_data``. An empty
    panel of a `DisplayFigure` is listed in its ``empty_panels``.
    """
    ax.set_title(title)
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if not has_data:
        ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
        figure = ax.get_figure()
        if isinstance(figure, DisplayFigure):
            figure.empty_panels.append((title, message.replace("\n", " ")))
            figure._empty_axes.append(ax)
        return
    if legend:
        ax.legend(loc="best", fontsize="small")


def require_columns(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    """Raise `ValueError` naming every one of ``columns`` that ``frame`` (the ``table``) lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"the {table} table lacks column(s) {', '.join(missing)}; "
            f"pass the {table} table of a RunResult"
        )


def time_axis(dt: float | None) -> tuple[float, str]:
    """``(seconds per step, x label)``: model time when ``dt`` is given, else steps."""
    if dt is None:
        return 1.0, "step (steps)"
    if not dt > 0:
        raise ValueError(f"dt must be positive seconds per step, got {dt}")
    return float(dt), "time (s)"


@dataclass(frozen=True, slots=True)
class EventMarks:
    """Steps of the events a time axis marks, by category (distinct steps, ascending)."""

    shocks: tuple[tuple[int, str], ...] = ()
    defaults: tuple[int, ...] = ()
    halts: tuple[int, ...] = ()
    regime_changes: tuple[int, ...] = ()
    program: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.shocks or self.defaults or self.halts or self.regime_changes or self.program
        )


SHOCK_EVENT_KINDS = (
    EventKind.PRICE_GAP,
    EventKind.LOSS,
    EventKind.INVENTORY_SHOCK,
    EventKind.CREDIT_FREEZE,
)
"""Event kinds that record a scheduled shock hitting the market (used without a scenario)."""
PROGRAM_EVENT_KINDS = (EventKind.POV_START, EventKind.POV_DONE)
"""Event kinds of an execution program's start and end."""


def event_marks(
    events: pd.DataFrame | None, shocks: Sequence[Mapping[str, Any]] | None = None
) -> EventMarks:
    """The events a time axis should mark.

    Args:
        events: The ``events`` table (``step``, ``kind``); None or empty for none. Defaults
            are ``default`` events, halts ``halt``, regime changes ``regime``, the program's
            start and end `PROGRAM_EVENT_KINDS`.
        shocks: The scenario's ``shocks`` list (mappings with ``step`` and ``kind``). When
            None, shocks are read from the events of `SHOCK_EVENT_KINDS` instead.
    """
    frame = pd.DataFrame({"step": [], "kind": []}) if events is None else events
    kinds = frame["kind"].astype(str).to_numpy() if len(frame) else np.array([], dtype=str)
    steps = frame["step"].to_numpy(dtype=np.int64) if len(frame) else np.array([], dtype=np.int64)

    def steps_of(*names: EventKind) -> tuple[int, ...]:
        return tuple(int(s) for s in np.unique(steps[np.isin(kinds, names)]))

    if shocks is None:
        found = {(int(s), str(k)) for s, k in zip(steps, kinds, strict=True)}
        shock_marks = tuple(sorted(m for m in found if m[1] in SHOCK_EVENT_KINDS))
    else:
        shock_marks = tuple(
            sorted(
                {
                    (int(spec["step"]), str(spec.get("kind", "shock")))
                    for spec in shocks
                    if isinstance(spec, Mapping) and isinstance(spec.get("step"), int)
                }
            )
        )
    return EventMarks(
        shocks=shock_marks,
        defaults=steps_of(EventKind.DEFAULT),
        halts=steps_of(EventKind.HALT),
        regime_changes=steps_of(EventKind.REGIME),
        program=steps_of(*PROGRAM_EVENT_KINDS),
    )


def draw_event_marks(ax: Axes, marks: EventMarks, seconds_per_step: float) -> None:
    """Draw ``marks`` on ``ax``'s x axis (model time at ``seconds_per_step``), labelled once.

    Shocks are dashed red lines, defaults solid dark red, halts orange, the program's start and
    end grey dotted; regime changes, which can be many, are short ticks along the bottom.
    """
    styles: tuple[tuple[str, list[int], str, str, float], ...] = (
        ("shock", sorted({s for s, _ in marks.shocks}), "tab:red", "--", 1.0),
        ("default", list(marks.defaults), "darkred", "-", 0.8),
        ("halt", list(marks.halts), "tab:orange", "-", 0.8),
        ("program start/end", list(marks.program), "0.3", ":", 1.2),
    )
    for name, steps, color, ls, lw in styles:
        count = f"{name} ({len(steps)} step{'s' if len(steps) != 1 else ''})"
        for i, step in enumerate(steps):
            label = count if i == 0 else None
            x = step * seconds_per_step
            ax.axvline(x, color=color, ls=ls, lw=lw, alpha=0.8, zorder=1, label=label)
    if marks.regime_changes:
        xs = np.asarray(marks.regime_changes, dtype=float) * seconds_per_step
        transform = blended_transform_factory(ax.transData, ax.transAxes)
        n = len(xs)
        ax.plot(
            xs,
            np.full(n, 0.02),
            "|",
            ms=8,
            color="tab:purple",
            transform=transform,
            label=f"regime change ({n} step{'s' if n != 1 else ''})",
        )


def shade_one_sided(ax: Axes, market: pd.DataFrame) -> bool:
    """Shade the steps where a side of the book (or both) is empty; return whether any was.

    The legend entry gives their share of all steps.
    """
    bid = market["best_bid"].to_numpy(dtype=float)
    ask = market["best_ask"].to_numpy(dtype=float)
    one_sided = ~(np.isfinite(bid) & np.isfinite(ask))
    if not one_sided.any():
        return False
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    ax.fill_between(
        market["time"].to_numpy(dtype=float),
        0,
        1,
        where=one_sided,
        step="mid",
        transform=transform,
        color="tab:red",
        alpha=0.12,
        lw=0,
        label=f"one-sided or empty book ({one_sided.mean():.1%} of steps)",
    )
    return True


def seconds_per_step(market: pd.DataFrame) -> float:
    """Model seconds per step, read from the ``market`` table (1.0 when it cannot tell)."""
    step = market["step"].to_numpy(dtype=float)
    time = market["time"].to_numpy(dtype=float)
    moving = step > 0
    if not moving.any():
        return 1.0
    return float(np.median(time[moving] / step[moving]))
