"""Dotted-path overrides of a scenario document: ``--set agents.mm.count=5``, `override`.

A path is dot-separated keys into the YAML document (list items by index); an unknown key
or index is a `ScenarioError` naming the keys that exist there.
"""

from __future__ import annotations

from typing import Any

from abm.scenario.errors import MAX_PROBLEMS, ScenarioError, clip, show
from abm.scenario.yaml_text import parse_yaml_strict

SOURCE = "<scenario>"
"""How messages name a scenario that did not come from a file."""


def parse_set_option(text: str) -> tuple[str, Any]:
    """Split a ``PATH=VALUE`` option; VALUE is read as YAML (``true``, ``0.01``, ``[1, 2]``).

    Raises:
        ScenarioError: If there is no ``=``, the path is malformed, or VALUE is not YAML.
    """
    if not isinstance(text, str):
        raise ScenarioError(f"{SOURCE}: --set: expected a PATH=VALUE string, got {show(text)}")
    path, sep, raw = text.partition("=")
    path = path.strip()
    if not sep:
        raise ScenarioError(f"{SOURCE}: {show(text)}: expected PATH=VALUE, e.g. steps=100")
    split_path(path)
    return path, parse_yaml_strict(raw, f"{SOURCE}: {clip(path)}")


def split_path(path: str) -> list[str]:
    """The keys of a dotted ``path``.

    Raises:
        ScenarioError: If the path is empty or has an empty key (``a..b``).
    """
    keys = path.split(".")
    if not path or any(not key for key in keys):
        raise ScenarioError(
            f"{SOURCE}: {show(path)}: malformed path; expected dotted keys like agents.mm.count"
        )
    return keys


def assign(document: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at the dotted ``path`` of ``document`` (a plain mapping, changed in place).

    Raises:
        ScenarioError: If the path is not a string, or names a key or index that does not exist
            (the message lists the keys there).
    """
    if not isinstance(path, str):
        raise ScenarioError(f"{SOURCE}: {show(path)}: override paths must be strings")
    keys = split_path(path)
    node: Any = document
    for depth, key in enumerate(keys):
        here = clip(".".join(keys[: depth + 1]))
        last = depth == len(keys) - 1
        if isinstance(node, dict):
            if last:
                node[key] = value
            elif key in node:
                node = node[key]
            else:
                allowed = _some_keys(node)
                raise ScenarioError(f"{SOURCE}: {here}: unknown path (keys here: {allowed})")
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            if last:
                node[int(key)] = value
            else:
                node = node[int(key)]
        else:
            parent = clip(".".join(keys[:depth]))
            what = f"a list of {len(node)}" if isinstance(node, list) else show(node)
            raise ScenarioError(f"{SOURCE}: {here}: unknown path ({parent} is {what})")


def _some_keys(node: dict[Any, Any]) -> str:
    """The keys of ``node``, at most `MAX_PROBLEMS` of them, each clipped ("none" if empty)."""
    keys = [clip(str(key), 40) for key in list(node)[:MAX_PROBLEMS]]
    more = len(node) - len(keys)
    return ", ".join(keys) + (f" and {more:,} more" if more > 0 else "") if keys else "none"
