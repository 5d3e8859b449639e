"""Bounded error messages for sweeps: values shown shortened, problem lists capped.

A sweep file can hold anything YAML can say, an alias bomb (a list that shares itself a million
times over) or a 100,000-character string included; `show_value` renders any of them in about
100 characters at a cost that does not grow with the value, and `bounded_message` keeps a
message to `MAX_PROBLEMS` lines of at most `MAX_LINE_CHARS` characters.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Any

from abm.scenario.errors import MAX_PROBLEMS

MAX_LINE_CHARS = 500
"""Characters of one line of an error message; longer lines are cut and marked."""


def _value_repr() -> reprlib.Repr:
    shortened = reprlib.Repr()
    shortened.maxlevel, shortened.maxlist, shortened.maxtuple = 2, 4, 4
    shortened.maxdict, shortened.maxset, shortened.maxfrozenset = 4, 4, 4
    shortened.maxstring, shortened.maxlong, shortened.maxother = 60, 40, 60
    return shortened


def show_value(value: Any) -> str:
    """Render a value of a sweep file for a message, in at most about 100 characters.

    Containers are shown two levels deep and four items wide and long text is cut in the
    middle (`reprlib`), so the cost does not grow with the value: a YAML alias bomb, a list
    that shares itself a million times over, renders as fast as a number.
    """
    text = _value_repr().repr(value)
    return text if len(text) <= 100 else f"{text[:97]}..."


def bounded_message(lines: Sequence[str]) -> str:
    """Join message lines, keeping `MAX_PROBLEMS` of them, each cut to `MAX_LINE_CHARS`."""
    kept = [_cut(line) for line in lines[:MAX_PROBLEMS]]
    if len(lines) > MAX_PROBLEMS:
        kept.append(f"... and {len(lines) - MAX_PROBLEMS:,} more problems")
    return "\n".join(kept)


def explained_message(source: str, problems: Sequence[tuple[str, str]]) -> str:
    """One line per ``(path, problem)`` of `abm.scenario.errors.explain`, each cut short.

    ``explain`` already lists at most `MAX_PROBLEMS` and counts the rest in a last
    ``("...", "and N more problems")`` pair, which becomes the line ``... and N more problems``.
    """
    return "\n".join(
        f"... {problem}" if path == "..." else _cut(f"{source}: {path}: {problem}")
        for path, problem in problems
    )


def _cut(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else f"{line[: MAX_LINE_CHARS - 14]}... (cut)"
