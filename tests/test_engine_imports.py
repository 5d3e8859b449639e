"""The engine never imports ``analysis``: only abm's orchestration packages may.

DESIGN.md section 1: data flows from the engine to analysis, never back. Every module of
``abm/`` outside ``cli``, ``experiments``, ``bench`` and ``dashboard`` is parsed, and every
``import`` statement in it, at module level or inside a function, is checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ABM = Path(__file__).resolve().parents[1] / "abm"
ORCHESTRATION = {"cli", "experiments", "bench", "dashboard"}
ENGINE_MODULES = sorted(
    path for path in ABM.rglob("*.py") if path.relative_to(ABM).parts[0] not in ORCHESTRATION
)


def imported_modules(source: str) -> list[str]:
    """Every module an ``import`` or ``from ... import`` statement anywhere in ``source`` names."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            names.append(node.module)
    return names


def test_imported_modules_sees_function_level_imports() -> None:
    """An import inside a function body counts, as one at the top of the module does."""
    source = "import os\n\ndef f():\n    from analysis.report import x\n    import analysis\n"
    assert imported_modules(source) == ["os", "analysis.report", "analysis"]


def test_engine_modules_are_found() -> None:
    """The walk covers the engine (abm.run, abm.model, the market), not only orchestration."""
    names = {path.relative_to(ABM).as_posix() for path in ENGINE_MODULES}
    assert {"run.py", "model.py", "market/exchange.py"} <= names
    assert not any(name.startswith("cli/") for name in names)


@pytest.mark.parametrize("path", ENGINE_MODULES, ids=lambda p: p.relative_to(ABM).as_posix())
def test_engine_module_does_not_import_analysis(path: Path) -> None:
    """No engine module imports ``analysis`` or one of its modules."""
    offending = [
        name
        for name in imported_modules(path.read_text(encoding="utf-8"))
        if name == "analysis" or name.startswith("analysis.")
    ]
    assert offending == []
