"""pyproject.toml lists every package, and ships every file the bundled scenarios need.

The packages are listed rather than found (``abm.scenarios`` is the top-level scenarios/
folder, which no search under abm/ finds), so a new package must be added to the list;
tests/integration/test_wheel.py checks the built wheel itself.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]


def test_pyproject_lists_every_package_of_the_source_tree() -> None:
    """Abm's and analysis' packages (folders with __init__.py), plus abm.scenarios."""
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("abm", "analysis")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert set(SETUPTOOLS["packages"]) == found | {"abm.scenarios"}


def test_scenarios_folder_is_the_abm_scenarios_package() -> None:
    """``abm.scenarios`` maps to scenarios/, a regular package (so importlib.resources finds it)."""
    assert SETUPTOOLS["package-dir"] == {"abm.scenarios": "scenarios"}
    assert (ROOT / "scenarios" / "__init__.py").is_file()


def test_package_data_covers_every_scenario_file() -> None:
    """Every file under scenarios/ other than Python is matched by a package-data pattern."""
    patterns = SETUPTOOLS["package-data"]["abm.scenarios"]
    files = [
        path.relative_to(ROOT / "scenarios").as_posix()
        for path in (ROOT / "scenarios").rglob("*")
        if path.is_file() and path.suffix not in {".py", ".pyc"}
    ]
    assert files
    missed = [f for f in files if not any(_matches(f, pattern) for pattern in patterns)]
    assert missed == []


def _matches(path: str, pattern: str) -> bool:
    """Setuptools' package-data glob: ``*`` within a folder, ``**/`` any folders deep."""
    if pattern.startswith("**/"):
        return fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern[3:]) and "/" in path
    return "/" not in path and fnmatch.fnmatch(path, pattern)
