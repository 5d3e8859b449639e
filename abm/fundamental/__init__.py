"""Exogenous fundamental value processes, each module holding its spec and its process.

Kinds: ``arithmetic``, ``gbm`` and ``merton`` (:mod:`abm.fundamental.brownian`),
``regime_switching`` (:mod:`abm.fundamental.regime_switching`), ``heston``
(:mod:`abm.fundamental.heston`) and ``binary`` (:mod:`abm.fundamental.binary`).
:data:`FUNDAMENTALS` maps a spec's ``kind`` to its process class; :func:`build_fundamental`
builds one from a validated spec (what the model does) and :func:`make_fundamental` from a
kind and bare numbers (validated by the same spec, the one place the parameters are declared).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any

import numpy as np
from pydantic import Field, TypeAdapter, ValidationError

from abm.fundamental.base import (
    FundamentalError,
    FundamentalProcess,
    FundamentalSpecBase,
    markov_transition_matrix,
)
from abm.fundamental.binary import BinarySpec, BinaryValue
from abm.fundamental.brownian import (
    ArithmeticBrownian,
    ArithmeticSpec,
    GBMSpec,
    GeometricBrownian,
    MertonJumpDiffusion,
    MertonSpec,
)
from abm.fundamental.heston import Heston, HestonSpec
from abm.fundamental.regime_switching import RegimeSwitching, RegimeSwitchingSpec

FundamentalSpec = Annotated[
    ArithmeticSpec | GBMSpec | MertonSpec | RegimeSwitchingSpec | HestonSpec | BinarySpec,
    Field(discriminator="kind"),
]

FUNDAMENTALS: Mapping[str, type[FundamentalProcess]] = MappingProxyType(
    {
        cls.kind: cls
        for cls in (
            ArithmeticBrownian,
            GeometricBrownian,
            MertonJumpDiffusion,
            RegimeSwitching,
            Heston,
            BinaryValue,
        )
    }
)

_FUNDAMENTAL_SPEC: TypeAdapter[FundamentalSpecBase] = TypeAdapter(FundamentalSpec)


def build_fundamental(
    spec: FundamentalSpecBase, rng: np.random.Generator, *, dt: float
) -> FundamentalProcess:
    """Build the process a validated spec describes, stepping ``dt`` model time per step.

    Raises:
        FundamentalError: If ``dt`` is not > 0, ``rng`` is not a generator, or (Merton) the
            jump parameters overflow.
    """
    return FUNDAMENTALS[spec.kind](spec, rng, dt=dt)


def make_fundamental(kind: str, rng: np.random.Generator, **params: Any) -> FundamentalProcess:
    """Build the fundamental process registered under ``kind`` from bare parameters.

    The parameters (all but ``dt``) are validated by the kind's spec, exactly as a
    scenario's are.

    Args:
        kind: Registry name, e.g. "gbm".
        rng: The generator the process draws from.
        **params: ``dt`` (model time per step, > 0; default 1.0 for ``binary`` only) and the
            fields of the kind's spec.

    Returns:
        The constructed process, with ``value`` at its initial level.

    Raises:
        FundamentalError: If ``kind`` is unknown (the message lists the known kinds), a parameter
            is missing or unexpected (the message lists the accepted ones), or a value is invalid
            (the message names the parameter and the problem).
    """
    cls = FUNDAMENTALS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(FUNDAMENTALS))
        raise FundamentalError(f"unknown fundamental kind {kind!r}; known kinds: {known}")
    fields = {name: value for name, value in params.items() if name != "dt"}
    try:
        spec = _FUNDAMENTAL_SPEC.validate_python({"kind": kind, **fields})
    except ValidationError as exc:
        accepted = ", ".join(
            ["dt", *(name for name in cls.spec_type.model_fields if name != "kind")]
        )
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise FundamentalError(
            f"bad parameters for fundamental {kind!r}: {problems}; accepted parameters: {accepted}"
        ) from exc
    if "dt" not in params and kind != "binary":
        raise FundamentalError(f"bad parameters for fundamental {kind!r}: dt is required")
    return build_fundamental(spec, rng, dt=params.get("dt", 1.0))


def _problem(error: Any) -> str:
    """One pydantic error as ``field[index]: problem (got value)``."""
    loc = error["loc"][1:]
    where = "".join(f"[{item}]" if isinstance(item, int) else f".{item}" for item in loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{where.lstrip('.')}: required"
    if error["type"] == "extra_forbidden":
        return f"{where.lstrip('.')}: unexpected parameter"
    return f"{where.lstrip('.')}: {message} (got {error['input']!r})"


__all__ = [
    "FUNDAMENTALS",
    "ArithmeticBrownian",
    "ArithmeticSpec",
    "BinarySpec",
    "BinaryValue",
    "FundamentalError",
    "FundamentalProcess",
    "FundamentalSpec",
    "FundamentalSpecBase",
    "GBMSpec",
    "GeometricBrownian",
    "Heston",
    "HestonSpec",
    "MertonJumpDiffusion",
    "MertonSpec",
    "RegimeSwitching",
    "RegimeSwitchingSpec",
    "build_fundamental",
    "make_fundamental",
    "markov_transition_matrix",
]
