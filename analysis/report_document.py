"""The run report as a document of blocks, and its two renderings: Markdown and standalone HTML.

`analysis.report_sections` builds a `Document` from a run; `render_markdown` and `render_html`
turn it into text. Blocks hold display strings only (numbers are formatted by `format_value`
before they get here), so the two renderings show the same numbers.

Escaping. HTML: every piece of text goes through `html.escape` (quotes too), so a scenario
description or group name containing markup shows as text. Markdown: table cells escape ``|``
and newlines; preformatted text is fenced with more backticks than it contains.

The HTML page is self-contained: an inline style sheet, figures as ``data:image/png;base64``
URIs, no scripts and no external resources, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from matplotlib.figure import Figure

from abm.results.run_result import RunResult

FIGURE_DPI = 110
"""Resolution of the report's PNG figures."""

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True, slots=True)
class Note:
    """A labelled statement shown prominently (the scenario's question, its expected outcome).

    ``lines`` are shown one per line (a header's indented sub-lines stay separate); an
    `Aligned` line is a column-aligned block (a header's table), shown in a fixed-width font
    with its spacing kept.
    """

    label: str
    lines: tuple[str | Aligned, ...]


@dataclass(frozen=True, slots=True)
class Aligned:
    """Lines whose columns are aligned with spaces: shown verbatim, in a fixed-width font."""

    text: str


@dataclass(frozen=True, slots=True)
class Table:
    """A table of display strings; ``caption`` (optional) is a heading above it."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class Collapsible:
    """Preformatted text (for example YAML) hidden under a one-line ``summary`` until opened."""

    summary: str
    text: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class FigureBlock:
    """A rendered figure: its title, the PNG file name it is saved under, and the PNG bytes."""

    title: str
    file_name: str
    png: bytes


Block = Paragraph | Note | Table | Collapsible | FigureBlock


@dataclass(frozen=True, slots=True)
class Section:
    """A titled section of the report."""

    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Document:
    """The whole report: a title, blocks before the first section, then the sections."""

    title: str
    intro: tuple[Block, ...]
    sections: tuple[Section, ...]

    def figures(self) -> list[FigureBlock]:
        """Every figure of the document, in reading order."""
        blocks = [*self.intro, *(b for section in self.sections for b in section.blocks)]
        return [block for block in blocks if isinstance(block, FigureBlock)]


def png_bytes(figure: Figure) -> bytes:
    """Render ``figure`` as PNG at `FIGURE_DPI`."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()


def scenario_fields(result: RunResult) -> dict[str, Any]:
    """The run's validated scenario as plain values (`RunResult.scenario` dumped to JSON types).

    For rendering specs in tables: the same mapping ``scenario.yaml`` holds, every default
    filled in by the schema. Read single fields from ``result.scenario`` instead.

    Raises:
        RunResultError: If the result carries no valid scenario (`RunResult.scenario`).
    """
    return result.scenario.model_dump(mode="json")


_QUESTION = re.compile(r"^(?:Question|What it studies)\s*:\s*(.*)$")
_EXPECTED = re.compile(r"^(?:Expected outcome|What to expect)\s*(\([^)]*\))?\s*:\s*(.*)$")


def header_paragraphs(scenario_yaml: str) -> list[list[str]]:
    """The comment paragraphs that open a scenario document, ``#`` and one space removed.

    The header is the run of ``#`` (and blank) lines before the first YAML line; a line that is
    just ``#`` (or blank) separates paragraphs. Indentation after ``# `` is kept.
    """
    paragraphs: list[list[str]] = [[]]
    for line in scenario_yaml.splitlines():
        if line.strip() and not line.startswith("#"):
            break
        text = line[1:] if line.startswith("#") else ""
        text = text[1:] if text.startswith(" ") else text
        if text.strip():
            paragraphs[-1].append(text.rstrip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [p for p in paragraphs if p]


def scenario_question_and_outcome(scenario_yaml: str) -> tuple[Note | None, Note | None]:
    """The header's question and expected outcome as `Note` blocks (None when absent).

    The question is the paragraph starting ``Question:`` (older headers: ``What it studies:``);
    the expected outcome the one starting ``Expected outcome`` (or ``What to expect``), with an
    optional parenthetical before its colon (``Expected outcome (seeds 1-8, 200 steps):``),
    which stays in the label. Continuation lines are joined; indented lines start a new line.
    """
    question = outcome = None
    for paragraph in header_paragraphs(scenario_yaml):
        first, rest = paragraph[0].strip(), paragraph[1:]
        while first.count("(") > first.count(")") and rest:  # a label's parenthetical wraps
            first, rest = f"{first} {rest[0].strip()}", rest[1:]
        if question is None and (match := _QUESTION.match(first)):
            question = Note("Question", _joined([match.group(1), *rest]))
        elif outcome is None and (match := _EXPECTED.match(first)):
            label = "Expected outcome" + (f" {match.group(1)}" if match.group(1) else "")
            outcome = Note(label, _joined([match.group(2), *rest]))
    return question, outcome


# Three spaces inside a line's text: its words are aligned in columns (a table in a header).
# Runs of two or more spaces between words: the column gaps of a table in a header.
_GAP = re.compile(r"(?<=\S) {2,}(?=\S)")


def _table_rows(lines: Sequence[str]) -> list[bool]:
    """Which indented lines are rows of a column-aligned table.

    A row has two or more column gaps; a line with one gap of three or more spaces is a row
    when a row follows it (a table's header over a single column pair), and is otherwise a
    labelled item (``calm twin:   HFTs ...``).
    """
    gaps = [
        len(_GAP.findall(line.strip())) if line[: len(line) - len(line.lstrip())] else 0
        for line in lines
    ]
    rows = [count >= 2 for count in gaps]
    for i in range(len(lines) - 2, -1, -1):
        if not rows[i] and gaps[i] and rows[i + 1] and re.search(r"\S {3,}\S", lines[i]):
            rows[i] = True
    return rows


def _joined(lines: Sequence[str]) -> tuple[str | Aligned, ...]:
    """Join wrapped comment lines into display lines.

    An indented line whose text has columns aligned with runs of spaces belongs to an
    `Aligned` block (consecutive such lines together, indentation kept relative to the
    block's least indented line). Otherwise a line indented deeper than the first line of an
    indented item, or plain prose after plain prose, continues the item; any other line starts
    a new one.
    """
    out: list[str | Aligned] = []
    table: list[str] = []
    item_indent = 0

    def close_table() -> None:
        if table:
            margin = min(len(row) - len(row.lstrip()) for row in table)
            out.append(Aligned("\n".join(row[margin:].rstrip() for row in table)))
            table.clear()

    for line, is_row in zip(lines, _table_rows(lines), strict=True):
        text = line.strip()
        if not text:
            continue
        indent = len(line) - len(line.lstrip())
        if is_row:
            table.append(line)
            continue
        close_table()
        previous = out[-1] if out else None
        if isinstance(previous, str) and (
            (item_indent and indent > item_indent) or indent == item_indent == 0
        ):
            out[-1] = f"{previous} {text}"
        else:
            out.append(text)
            item_indent = indent
    close_table()
    return tuple(out)


def attempt(compute: Callable[[], _T]) -> tuple[_T | None, str]:
    """``(compute(), "")``, or ``(None, message)`` when the run cannot support the analysis.

    The run cannot support it when the computation raises ValueError (too little or unusable
    data) or an ArithmeticError (values so extreme that a float overflows, as a damaged or
    runaway run can hold).
    """
    try:
        return compute(), ""
    except (ValueError, ArithmeticError) as error:
        return None, str(error) or type(error).__name__


def figure_block(label: str, caption: str, file_name: str, draw: Callable[[], Figure]) -> Block:
    """``draw()``'s figure as a `FigureBlock`, or a paragraph saying why the run has none.

    The paragraph reads "<label> figure unavailable: <reason>" (`attempt` decides which
    errors mean that the run cannot support the figure).
    """
    figure, error = attempt(draw)
    if figure is None:
        return Paragraph(f"{label} figure unavailable: {error}")
    return FigureBlock(caption, file_name, png_bytes(figure))


def render_markdown(document: Document, figure_links: Mapping[str, str]) -> str:
    """Return the document as Markdown; figures link to files by relative path.

    Args:
        document: The report.
        figure_links: Relative path (from the Markdown file) of each figure's ``file_name``.

    Raises:
        KeyError: If a figure of the document has no entry in ``figure_links``.
    """
    lines = [f"# {document.title}", ""]
    for block in document.intro:
        lines += _markdown_block(block, figure_links)
    for section in document.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _markdown_block(block, figure_links)
    return "\n".join(lines).rstrip("\n") + "\n"


def _markdown_block(block: Block, figure_links: Mapping[str, str]) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, Note):
        parts: list[str] = []
        prose = [f"**{block.label}.**"]
        for n, line in enumerate(block.lines):
            if isinstance(line, Aligned):
                parts += ["  \n".join(prose), "", "```text", line.text, "```", ""]
                prose = []
            elif n == 0:
                prose[0] += f" {line}"
            else:
                prose.append(line)
        return parts + (["  \n".join(prose), ""] if prose else [])
    if isinstance(block, Table):
        lines = [f"### {block.caption}", ""] if block.caption else []
        lines += ["| " + " | ".join(_cell(c) for c in block.header) + " |"]
        lines += ["|" + "---|" * len(block.header)]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
        return [*lines, ""]
    if isinstance(block, Collapsible):
        runs = [len(run) for run in re.findall(r"`+", block.text)]
        fence = "`" * max(3, max(runs, default=0) + 1)
        return [
            f"<details><summary>{html.escape(block.summary)}</summary>",
            "",
            f"{fence}{block.language}",
            block.text.rstrip("\n"),
            fence,
            "",
            "</details>",
            "",
        ]
    link = figure_links[block.file_name]
    return [f"### {block.title}", "", f"![{block.title}]({link})", ""]


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ccc; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin: .5rem 0 1rem; }
pre { background: #f7f7f7; padding: .8rem; overflow-x: auto; font-size: .85rem; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-weight: 600; margin-bottom: .3rem; }
div.note { background: #f4f7fb; border-left: 4px solid #4a78b5; padding: .6rem .9rem;
           margin: .8rem 0; }
pre.aligned { margin: .4rem 0; font-size: .82rem; overflow-x: auto; background: none; }
""".strip()

_NUMBER = re.compile(r"^[-+]?(\d[\d,]*\.?\d*|\.\d+)(e[-+]?\d+)?$|^n/a$", re.IGNORECASE)


def render_html(document: Document) -> str:
    """Return the document as one self-contained HTML5 page (see the module docstring)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(document.title)}</title>",
        f"<style>\n{_STYLE}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(document.title)}</h1>",
    ]
    parts += [_html_block(block) for block in document.intro]
    for section in document.sections:
        parts.append(f"<section>\n<h2>{esc(section.title)}</h2>")
        parts += [_html_block(block) for block in section.blocks]
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _html_block(block: Block) -> str:
    esc = html.escape
    if isinstance(block, Paragraph):
        return f"<p>{esc(block.text)}</p>"
    if isinstance(block, Note):
        rows = [
            f'<pre class="aligned">{esc(line.text)}</pre>'
            if isinstance(line, Aligned)
            else esc(line) + "<br>"
            for line in block.lines
        ]
        text = "\n".join(rows).removesuffix("<br>")
        return f'<div class="note"><strong>{esc(block.label)}.</strong> {text}</div>'

    if isinstance(block, Table):
        caption = f"<h3>{esc(block.caption)}</h3>\n" if block.caption else ""
        head = "".join(f"<th>{esc(c)}</th>" for c in block.header)
        body = "\n".join(f"<tr>{_html_cells(row)}</tr>" for row in block.rows)
        return (
            f"{caption}<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
        )
    if isinstance(block, Collapsible):
        return (
            f"<details><summary>{esc(block.summary)}</summary>\n"
            f"<pre>{esc(block.text)}</pre>\n</details>"
        )
    data = base64.b64encode(block.png).decode("ascii")
    return (
        f"<figure>\n<figcaption>{esc(block.title)}</figcaption>\n"
        f'<img src="data:image/png;base64,{data}" alt="{esc(block.title)}">\n</figure>'
    )


def _html_cells(row: Sequence[str]) -> str:
    cells = []
    for text in row:
        number = ' class="num"' if _NUMBER.match(text.strip()) else ""
        cells.append(f"<td{number}>{html.escape(text)}</td>")
    return "".join(cells)
