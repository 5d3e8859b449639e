"""The one translator from pydantic validation errors to messages a YAML author can act on.

Scenario files and sweep files both report each problem as ``<field path>: <problem>``,
where the field path is the dotted path into the YAML document (the path ``override`` and a
sweep's ``grid`` take): pydantic's discriminator tags, which are not document keys, are
dropped, and a ``kind`` that is missing or unknown is reported with the family's noun and
the kinds it could be (`abm.scenario.types.KindSpec.kind_noun`).
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from abm.errors import AbmError
from abm.scenario.types import KindSpec

MAX_PROBLEMS = 20
"""The most problems one error message lists; the rest are counted ("... and N more problems")."""
MAX_SHOWN_CHARS = 80
"""The longest rendering of an input value in a message; longer ones are cut with "..."."""


class ScenarioError(AbmError, ValueError):
    """A scenario could not be read or is invalid; the message says where and what to change."""


class ScenarioTypeError(ScenarioError, TypeError):
    """An argument of the scenario API has the wrong type (``load_scenario(None)``)."""


class DocumentProblem(ValueError):
    """A cross-field problem a validator reports at a document ``path`` of its own choosing.

    A validator of the whole scenario sees every field; raising this names the field to change
    (``agents.seller.start_step``) instead of the scenario's top level.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def explain(
    exc: ValidationError, root: type[BaseModel], *, problems: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """Return ``(document path, problem)`` for every error of validating ``root``.

    Args:
        exc: The error pydantic raised while validating a ``root`` document.
        root: The model validated (`abm.scenario.schema.Scenario`, a sweep spec, ...).
        problems: Error type -> message for a document format whose authors need a
            specific hint (``{got}`` is replaced by the input as the author wrote it).

    At most `MAX_PROBLEMS` are explained; when there are more, a last pair
    ``("...", "and N more problems")`` counts the rest.
    """
    errors = exc.errors()
    explained = [_explain_one(error, root, problems or {}) for error in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        explained.append(("...", f"and {len(errors) - MAX_PROBLEMS:,} more problems"))
    return explained


def show(value: Any) -> str:
    """Render an input value the way a YAML author wrote it, in at most `MAX_SHOWN_CHARS`.

    Containers are described, never listed; a long string or number is cut with "...".
    """
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items" if value else "an empty list"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int) and value.bit_length() > 256:
        return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
    return clip(repr(value))


def clip(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text`` if at most ``limit`` characters, else its start and "..." (``limit`` in all)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_type(value: Any) -> str:
    """What kind of value ``value`` is, without its content: "a string of 1,204 characters"."""
    if isinstance(value, str):
        return f"a string of {len(value):,} characters"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"a number ({show(value)})"
    return show(value)


def kind_variants(annotation: Any) -> dict[str, type[KindSpec]] | None:
    """Map kind -> class if ``annotation`` is a union of kind specs, else None."""
    annotation = _strip(annotation)
    if get_origin(annotation) not in (Union, types.UnionType):
        return None
    members = get_args(annotation)
    if not all(isinstance(m, type) and issubclass(m, KindSpec) for m in members):
        return None
    return {kind: m for m in members for kind in get_args(m.model_fields["kind"].annotation)}


def _strip(annotation: Any) -> Any:
    """Remove ``Annotated`` wrappers and ``| None`` from a type."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _child(annotation: Any, key: str | int) -> Any:
    """Return the type found under ``key`` inside a value of type ``annotation``."""
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(key))
        return field.annotation if field is not None else None
    args = get_args(annotation)
    if get_origin(annotation) is dict and len(args) == 2:
        return args[1]
    if get_origin(annotation) is list and args:
        return args[0]
    return None


def _explain_one(
    error: ErrorDetails, root: type[BaseModel], problems: Mapping[str, str]
) -> tuple[str, str]:
    parts: list[str] = []
    annotation: Any = root
    parent: Any = None
    for item in error["loc"]:
        variants = kind_variants(annotation)
        if variants is not None and str(item) in variants:
            # pydantic puts the chosen tag in the location; it is not a document key.
            annotation = variants[str(item)]
            continue
        parts.append(str(item))
        parent = _strip(annotation)
        annotation = _child(annotation, item)
    kind, message = error["type"], error["msg"]
    if parts[-1:] == ["[key]"]:
        # pydantic flags a bad dict key with a pseudo-segment after the key itself.
        parts.pop()
        message = f"key: {message}"
    variants = kind_variants(annotation)
    if kind in problems:
        problem = problems[kind].format(got=show(error["input"]))
    elif kind in ("union_tag_invalid", "union_tag_not_found") and variants:
        noun = next(iter(variants.values())).kind_noun
        expected = ", ".join(sorted(variants))
        parts.append("kind")
        if kind == "union_tag_not_found":
            problem = f"missing {noun} kind; expected one of: {expected}"
        else:
            tag = (error.get("ctx") or {}).get("tag")
            problem = f"unknown {noun} kind {show(tag)}; expected one of: {expected}"
    elif kind in ("literal_error", "missing") and parts[-1:] == ["kind"]:
        # a kind that is a plain Literal field (arrival) rather than a union discriminator
        noun = getattr(parent, "kind_noun", "")
        label = f"{noun} kind" if noun else "kind"
        expected = ", ".join(sorted(get_args(_strip(annotation))))
        if kind == "missing":
            problem = f"missing {label}; expected one of: {expected}"
        else:
            problem = f"unknown {label} {show(error['input'])}; expected one of: {expected}"
    elif kind == "missing":
        problem = "required field is missing"
    elif kind == "extra_forbidden":
        is_model = isinstance(parent, type) and issubclass(parent, BaseModel)
        allowed = sorted(parent.model_fields) if is_model else []
        problem = f"unknown key (allowed: {', '.join(allowed)})"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        problem = f"must be a mapping, got {show(error['input'])}"
    elif kind == "value_error" and isinstance(cause := _cause(error), DocumentProblem):
        parts = [cause.path]
        problem = cause.problem
    elif kind == "value_error":
        problem = message.removeprefix("Value error, ")
    else:
        problem = message.replace("Input should be", "must be", 1)
        problem = f"{problem[:1].lower()}{problem[1:]} (got {show(error['input'])})"
    return ".".join(parts) or "<top level>", problem


def _cause(error: ErrorDetails) -> Any:
    """The exception a validator raised, for a ``value_error`` (None for others)."""
    return (error.get("ctx") or {}).get("error")
