"""Shared building blocks of the scenario schema: base specs and constrained number types."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError


def _reject_bool(value: Any) -> Any:
    # pydantic's lax mode reads true/false as 1/0; in a scenario that is always a typo.
    if isinstance(value, bool):
        raise PydanticCustomError("bool_not_number", "must be a number, not a boolean")
    return value


_NO_BOOL = BeforeValidator(_reject_bool)
# Limits come before _NO_BOOL inside each Annotated: pydantic then attaches them to the number
# schema itself, so the JSON schema carries the standard keywords (minimum, exclusiveMinimum,
# maximum, exclusiveMaximum) that editors enforce. After a validator they would come out as
# pydantic's own gt/ge/le keys, which no JSON-schema tool reads.
Int = Annotated[int, _NO_BOOL]
Float = Annotated[float, _NO_BOOL]
NonNegInt = Annotated[int, Field(ge=0), _NO_BOOL]
PosInt = Annotated[int, Field(ge=1), _NO_BOOL]
NonNegFloat = Annotated[float, Field(ge=0.0), _NO_BOOL]
PosFloat = Annotated[float, Field(gt=0.0), _NO_BOOL]
Probability = Annotated[float, Field(ge=0.0, le=1.0), _NO_BOOL]
UnitFraction = Annotated[float, Field(gt=0.0, le=1.0), _NO_BOOL]
BelowOne = Annotated[float, Field(ge=0.0, lt=1.0), _NO_BOOL]
OpenUnitInterval = Annotated[float, Field(gt=0.0, lt=1.0), _NO_BOOL]
Correlation = Annotated[float, Field(ge=-1.0, le=1.0), _NO_BOOL]
PriceReference = Annotated[
    Literal["mid", "fundamental"],
    Field(description="A price: `mid` (the book's mid price) or `fundamental` (the true value)."),
]


class Spec(BaseModel):
    """Shared configuration: immutable, no unknown keys, finite floats only."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class KindSpec(Spec):
    """A spec selected by its ``kind``; ``kind_noun`` names the family in error messages."""

    kind_noun: ClassVar[str] = ""


class FactorySpec(KindSpec):
    """A kind spec that builds an object.

    Its fields are also the keyword arguments of the family's bare-number factory
    (`abm.policies.make_policy`, `abm.fundamental.make_fundamental`).
    """

    def params(self) -> dict[str, Any]:
        """Return the fields except ``kind``, as keyword arguments for the family's factory."""
        return self.model_dump(exclude={"kind"})
