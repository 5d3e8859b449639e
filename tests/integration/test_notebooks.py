"""Notebooks: they run top to bottom, show their figures, and are committed without outputs.

Each notebook is executed once, in a fresh kernel from the notebooks/ directory with its
default parameters (chosen to finish in under a minute); the executed copy is shared by the
tests of that notebook.

A code cell is *meant to draw* when its source calls a figure function: a name ending in
``_figure`` followed by ``(`` (every figure function of `analysis` is named so:
``price_figure``, ``network_figure``, ``metric_figure``, ...), or when it carries the cell tag
``figure``. Such a cell must have an ``image/png`` output once executed: a figure that Jupyter
printed as ``<Figure size ...>`` text fails the test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
DRAWS = re.compile(r"\b\w+_figure\s*\(")
FIGURE_TAG = "figure"
PARAMETERS_TAG = "parameters"
"""papermill's tag for the cell whose assignments ``papermill -p NAME VALUE`` overrides."""

_executed: dict[Path, Any] = {}


def _execute(path: Path) -> Any:
    """The notebook at ``path`` executed top to bottom (once per test session)."""
    if path not in _executed:
        nbformat = pytest.importorskip("nbformat")
        nbclient = pytest.importorskip("nbclient")
        notebook = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(
            notebook,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": str(path.parent)}},
        )
        client.execute()
        _executed[path] = notebook
    return _executed[path]


def meant_to_draw(cell: Any) -> bool:
    """Whether a code cell calls a ``*_figure(`` function or is tagged ``figure``."""
    if cell["cell_type"] != "code":
        return False
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    tags = cell.get("metadata", {}).get("tags", [])
    return bool(DRAWS.search(code)) or FIGURE_TAG in tags


def _has_image(cell: Any) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path: Path) -> None:
    """House rule: no outputs or execution counts in committed notebooks."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} has committed outputs"
            assert cell.get("execution_count") is None, f"{path.name} has execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_parameters_tag_is_on_the_first_code_cell_only(path: Path) -> None:
    """Papermill overrides the one cell tagged ``parameters``: it must be the first code cell."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [i for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]
    tagged = [
        i
        for i, cell in enumerate(notebook["cells"])
        if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]
    assert code, f"{path.name} has no code cell"
    assert tagged == [code[0]], (
        f"{path.name}: cells {tagged} are tagged {PARAMETERS_TAG!r}; "
        f"tag exactly the first code cell ({code[0]})"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path) -> None:
    """Every cell executes without error with the default parameters."""
    _execute(path)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_figure_cells_show_an_image(path: Path) -> None:
    """Every cell meant to draw (see the module docstring) has an image/png output."""
    notebook = _execute(path)
    drawing = [i for i, cell in enumerate(notebook.cells) if meant_to_draw(cell)]
    missing = [i for i in drawing if not _has_image(notebook.cells[i])]
    assert not missing, f"{path.name}: cells {missing} draw a figure but show no image"


def test_meant_to_draw_recognises_figure_calls_and_tags() -> None:
    """A *_figure( call or the figure tag marks a drawing cell; a comment or a name does not."""
    assert meant_to_draw({"cell_type": "code", "source": "plots.price_figure(result.market)"})
    assert meant_to_draw(
        {"cell_type": "code", "source": "ax.plot(x)", "metadata": {"tags": ["figure"]}}
    )
    assert not meant_to_draw({"cell_type": "code", "source": "from x import price_figure"})
    assert not meant_to_draw({"cell_type": "code", "source": "# price_figure(m) draws"})
    assert not meant_to_draw({"cell_type": "markdown", "source": "price_figure(m)"})
