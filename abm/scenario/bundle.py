"""The scenarios shipped with abm, looked up by name: ``baseline``, ``crisis/fire_sale_spiral``.

The repository's top-level ``scenarios/`` folder is installed as the package data of
``abm.scenarios`` (``pyproject.toml``'s ``package-dir``) and found here with
`importlib.resources`, so a name works from any directory and from an installed wheel. A
bundled name is the file's path under ``scenarios/``, with or without ``.yaml``.

`resolve_scenario` is what `abm.scenario.schema.load_scenario` uses: an existing path is that
path; anything else is a bundled name, and an unknown one raises `ScenarioError` with the
closest names.
"""

from __future__ import annotations

import difflib
import importlib.resources
import os
from pathlib import Path

from abm.scenario.errors import ScenarioError, show

BUNDLE_PACKAGE = "abm.scenarios"
"""The package whose data are the bundled scenarios (the ``scenarios/`` folder)."""
SUFFIX = ".yaml"


def bundle_dir() -> Path:
    """The directory holding the bundled scenarios (on the file system, as installed)."""
    return Path(str(importlib.resources.files(BUNDLE_PACKAGE)))


def bundled_names() -> list[str]:
    """Every bundled scenario's name (``crisis/hot_potato``), sorted."""
    root = bundle_dir()
    return sorted(
        path.relative_to(root).with_suffix("").as_posix() for path in root.rglob("*.yaml")
    )


def bundled_path(name: str) -> Path:
    """The file of the bundled scenario ``name`` (``baseline`` or ``baseline.yaml``).

    Raises:
        ScenarioError: ``name: no bundled scenario of that name`` with the closest names.
    """
    path = _bundled_file(name)
    if path is None:
        raise ScenarioError(f"{name}: no bundled scenario of that name; {_suggestions(name)}")
    return path


def resolve_scenario(source: str | os.PathLike[str]) -> Path:
    """Where the scenario ``source`` is: the file itself if it exists, else the bundled file.

    An existing file wins over a bundled scenario of the same name; a bundled name wins over a
    directory of that name (``abm run baseline`` beside a ``baseline/`` directory); any other
    existing path is returned as is, for the loader to refuse with the right reason.

    Raises:
        ScenarioError: ``source: file not found`` when it is neither an existing path nor a
            bundled name (the message lists the closest bundled names), or ``source: cannot
            look up the file`` when the system refuses the path (a name too long).
    """
    path = Path(source)
    try:
        if path.is_file():
            return path
        bundled = _bundled_file(os.fspath(source))
        if bundled is not None:
            return bundled
        if path.exists():
            return path
    except OSError as exc:  # a name too long for the file system, a path through a loop
        raise ScenarioError(
            f"{show(os.fspath(source))}: cannot look up the file: {exc.strerror or exc}"
        ) from exc
    raise ScenarioError(
        f"{os.fspath(source)}: file not found, and no bundled scenario has that name; "
        f"{_suggestions(os.fspath(source))}"
    )


def _bundled_file(name: str) -> Path | None:
    """The bundled file named ``name``, or None (absolute paths and ``..`` never match)."""
    relative = Path(name if name.endswith(SUFFIX) else name + SUFFIX)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return None
    try:
        path = bundle_dir() / relative
    except ModuleNotFoundError:  # a source tree that was never installed has no bundle
        return None
    return path if path.is_file() else None


def _suggestions(name: str) -> str:
    """``close matches: a, b`` (or every bundled name when none is close)."""
    try:
        names = bundled_names()
    except ModuleNotFoundError:
        return "no scenarios are bundled (abm is not installed: pip install -e .)"
    key = name.removesuffix(SUFFIX)
    tails = {n.rsplit("/", 1)[-1]: n for n in names}  # "fire_sale_spiral" finds crisis/...
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    close += [tails[t] for t in difflib.get_close_matches(key, list(tails), n=3, cutoff=0.6)]
    close = list(dict.fromkeys(close))[:3]
    if close:
        return f"close matches: {', '.join(close)}"
    return f"bundled scenarios: {', '.join(names)}"


__all__ = ["BUNDLE_PACKAGE", "bundle_dir", "bundled_names", "bundled_path", "resolve_scenario"]
