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
Int = Annotated[int, _NO_BOOL]
Float = Annotated[float, _NO_BOOL]
NonNegInt = Annotated[int, _NO_BOOL, Field(ge=0)]
PosInt = Annotated[int, _NO_BOOL, Field(ge=1)]
NonNegFloat = Annotated[float, _NO_BOOL, Field(ge=0.0)]
PosFloat = Annotated[float, _NO_BOOL, Field(gt=0.0)]
Probability = Annotated[float, _NO_BOOL, Field(ge=0.0, le=1.0)]
PriceReference = Literal["mid", "fundamental"]
UnitFraction = Annotated[float, _NO_BOOL, Field(gt=0.0, le=1.0)]


class Spec(BaseModel):
    """Shared configuration: immutable, no unknown keys, finite floats only."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class KindSpec(Spec):
    """A spec selected by its ``kind``; ``kind_noun`` names the family in error messages."""

    kind_noun: ClassVar[str] = ""


class FactorySpec(KindSpec):
    """A kind spec whose fields are the keyword arguments of a factory function."""

    def params(self) -> dict[str, Any]:
        """Return the fields except ``kind``, as keyword arguments for the matching factory."""
        return self.model_dump(exclude={"kind"})
