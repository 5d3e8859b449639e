"""Reading YAML text strictly: scenario and sweep files alike.

`read_yaml_file` reads a file with one clear `ScenarioError` per way it can fail;
`parse_yaml_strict` parses with a safe loader that refuses duplicate keys (plain YAML keeps
the last one silently); `leading_comment_block` keeps a file's opening comments (a
scenario's documented header).
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from abm.scenario.errors import ScenarioError


def leading_comment_block(text: str) -> str:
    """The comment lines that open a YAML document, up to its first other line.

    Lines starting with ``#`` and blank lines count; blank lines before and after the block are
    dropped. Returns the block with a final newline, or "" when the text opens with no comment.
    """
    block: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            block.append(line.rstrip())
        elif line.strip():
            break
        elif block:
            block.append("")
    while block and not block[-1]:
        block.pop()
    return "\n".join(block) + "\n" if block else ""


def read_yaml_file(path: str | os.PathLike[str], *, what: str) -> str:
    """Return the text of a YAML file (a ``what`` file: scenario, sweep, ...).

    Raises:
        ScenarioError: Naming ``path`` if the file is missing, a directory, unreadable or
            not UTF-8.
    """
    source = os.fspath(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ScenarioError(f"{source}: file not found") from exc
    except IsADirectoryError as exc:
        raise ScenarioError(f"{source}: is a directory, expected a YAML {what} file") from exc
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{source}: cannot read file: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read file: {exc.strerror or exc}") from exc


class _StrictKeysLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys instead of keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml_strict(text: str, source: str) -> Any:
    """Parse YAML text, rejecting duplicate keys (plain YAML would silently drop one).

    Raises:
        ScenarioError: ``source: [line L, column C: ]invalid YAML: problem`` on a syntax error
            or a duplicate key.
    """
    try:
        return yaml.load(text, Loader=_StrictKeysLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "unreadable"
        raise ScenarioError(f"{source}: {where}invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: invalid YAML: {exc}") from exc
