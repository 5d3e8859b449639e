"""Reading YAML text strictly: scenario and sweep files alike.

`read_yaml_file` reads a regular file of bounded size, with one clear `ScenarioError` per way
it can fail; `parse_yaml_strict` parses with a safe loader that refuses duplicate keys (plain
YAML keeps the last one silently) and bounds the document (nesting, alias expansion, integer
length), so that no input raises anything but `ScenarioError`; `leading_comment_block` keeps a
file's opening comments (a scenario's documented header).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Hashable
from typing import Any

import yaml

from abm.scenario.errors import ScenarioError, ScenarioTypeError


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


MAX_YAML_BYTES = 10_000_000
"""The largest YAML document abm reads (a scenario or sweep file, a ``--set`` value): 10 MB.

Shipped scenarios are a few kilobytes; the bound is checked before reading, so that a device
(``/dev/zero``) or a runaway file never fills memory.
"""
MAX_YAML_DEPTH = 64
"""The deepest nesting of mappings and lists a YAML document may have.

A scenario is at most about eight levels deep; the bound keeps the recursive composer far
from Python's recursion limit (about 1,000 frames).
"""
MAX_YAML_NODES = 1_000_000
"""The most values a YAML document may expand to, counting each use of an alias in full.

An alias bomb (anchors referring to anchors) is a few hundred bytes that expand to billions
of values; anything that walks the parsed document would never finish.
"""
MAX_INT_DIGITS = 100
"""The longest integer literal read, in digits (Python refuses to convert more than 4,300)."""


def read_yaml_file(path: str | os.PathLike[str], *, what: str) -> str:
    """Return the text of a YAML file (a ``what`` file: scenario, sweep, ...).

    Only a regular file of at most `MAX_YAML_BYTES` is read: its type and size are checked with
    ``os.stat`` before it is opened, and it is opened without blocking, so that a FIFO or a
    device is refused instead of waiting or reading forever. Line ends are normalised to
    line feeds, as text mode does.

    Raises:
        ScenarioError: Naming ``path`` if the file is missing, a directory, not a regular
            file, larger than `MAX_YAML_BYTES`, unreadable or not UTF-8.
    """
    source = os.fspath(path)
    try:
        data = _read_regular_file(source, what)
    except FileNotFoundError as exc:
        raise ScenarioError(f"{source}: file not found") from exc
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{source}: cannot read file: not UTF-8 text ({exc.reason})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_regular_file(source: str, what: str) -> bytes:
    """The bytes of ``source`` if it is a regular file within the size bound."""
    _check_regular(source, os.stat(source), what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(source, flags)
    with os.fdopen(descriptor, "rb") as file:
        # the path may have been replaced between stat and open: judge what was opened
        _check_regular(source, os.fstat(file.fileno()), what)
        data = file.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise ScenarioError(_too_large(source, what))
    return data


def _check_regular(source: str, info: os.stat_result, what: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ScenarioError(f"{source}: is a directory, expected a YAML {what} file")
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError(
            f"{source}: is not a regular file (a device, FIFO or socket); expected a YAML "
            f"{what} file"
        )
    if info.st_size > MAX_YAML_BYTES:
        raise ScenarioError(_too_large(source, what))


def _too_large(source: str, what: str) -> str:
    return (
        f"{source}: the file is larger than {MAX_YAML_BYTES:,} bytes, the most a YAML {what} "
        "file may be"
    )


# YAML 1.1 reads 1:30 as 90 (base 60) and 010 as 8 (octal), and needs a signed exponent
# (1e9 is a string there). These resolvers read numbers the way YAML 1.2 and a reader do:
# decimal integers (with _ separators), 0x/0b integers, and floats with an optional exponent
# sign; 1:30 and 010 stay strings, which the schema then refuses as not numbers.
_INT = re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|[-+]?0b[01_]+|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+
    |[-+]?(?:[0-9][0-9_]*)\.[0-9_]*
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class _StrictLoader(yaml.SafeLoader):
    """A safe loader with bounds, plain numbers and no duplicate keys.

    It rejects duplicate keys (plain YAML keeps the last one), nesting deeper than
    `MAX_YAML_DEPTH`, documents expanding to more than `MAX_YAML_NODES` values and integers
    longer than `MAX_INT_DIGITS`; it reads numbers as described above.
    """

    yaml_implicit_resolvers = {  # noqa: RUF012 (PyYAML's own class attribute)
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBER_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        mark = self.peek_event().start_mark
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark
                )
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None and self._size(node) > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"expands to more than {MAX_YAML_NODES:,} values (aliases)", mark
            )
        return node

    def _size(self, node: yaml.Node) -> int:
        """How many values ``node`` stands for, each alias counted in full (memoised)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes.get(id(item), 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(
                self._sizes.get(id(key), 1) + self._sizes.get(id(value), 1)
                for key, value in node.value
            )
        self._sizes[id(node)] = size
        return size

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

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        digits = text.lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"an integer of {len(digits):,} digits is out of range "
                f"(at most {MAX_INT_DIGITS} digits)",
                node.start_mark,
            )
        sign = -1 if text.startswith("-") else 1
        if digits.startswith("0b"):
            return sign * int(digits[2:], 2)
        if digits.startswith("0x"):
            return sign * int(digits[2:], 16)
        return sign * int(digits)


_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)


def parse_yaml_strict(text: str, source: str) -> Any:
    """Parse YAML text strictly and within bounds (`_StrictLoader`).

    Raises:
        ScenarioError: ``source: [line L, column C: ]invalid YAML: problem`` on a syntax error,
            a duplicate key, nesting deeper than `MAX_YAML_DEPTH`, a document expanding to
            more than `MAX_YAML_NODES` values, an integer longer than `MAX_INT_DIGITS`
            digits, or a text longer than `MAX_YAML_BYTES`.
    """
    if not isinstance(text, str):
        raise ScenarioTypeError(f"{source}: expected YAML text (a str), got {type(text).__name__}")
    if len(text) > MAX_YAML_BYTES:
        raise ScenarioError(
            f"{source}: invalid YAML: the text is longer than {MAX_YAML_BYTES:,} characters"
        )
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "unreadable"
        raise ScenarioError(f"{source}: {where}invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: invalid YAML: {exc}") from exc
    except RecursionError as exc:  # a safety net: the depth bound should come first
        raise ScenarioError(f"{source}: invalid YAML: nested too deeply") from exc
