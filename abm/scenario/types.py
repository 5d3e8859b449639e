"""Shared building blocks of the scenario schema: base specs and constrained number types."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError


def _plain_number(value: Any) -> Any:
    # pydantic's lax mode reads true/false as 1/0; in a scenario that is always a typo.
    if isinstance(value, bool | np.bool_):
        raise PydanticCustomError("bool_not_number", "must be a number, not a boolean")
    # numpy integers (np.arange in a notebook) are integers; strict mode alone refuses them
    if isinstance(value, np.integer):
        return int(value)
    return value


_NUMBER = BeforeValidator(_plain_number)
_NO_BOOL = _NUMBER  # the name the specs of other packages import
# Numbers are strict (a string is not a number, a float is not an integer: "30", "1.0" and
# 30.0 for a count are refused), except that an int is a valid float. Limits come before
# _NUMBER inside each Annotated: pydantic then attaches them to the number schema itself, so
# the JSON schema carries the standard keywords (minimum, exclusiveMinimum, maximum,
# exclusiveMaximum) that editors enforce. After a validator they would come out as
# pydantic's own gt/ge/le keys, which no JSON-schema tool reads.
Int = Annotated[int, Field(strict=True), _NUMBER]
Float = Annotated[float, Field(strict=True), _NUMBER]
NonNegInt = Annotated[int, Field(ge=0, strict=True), _NUMBER]
PosInt = Annotated[int, Field(ge=1, strict=True), _NUMBER]
NonNegFloat = Annotated[float, Field(ge=0.0, strict=True), _NUMBER]
PosFloat = Annotated[float, Field(gt=0.0, strict=True), _NUMBER]
Probability = Annotated[float, Field(ge=0.0, le=1.0, strict=True), _NUMBER]
UnitFraction = Annotated[float, Field(gt=0.0, le=1.0, strict=True), _NUMBER]
BelowOne = Annotated[float, Field(ge=0.0, lt=1.0, strict=True), _NUMBER]
OpenUnitInterval = Annotated[float, Field(gt=0.0, lt=1.0, strict=True), _NUMBER]
Correlation = Annotated[float, Field(ge=-1.0, le=1.0, strict=True), _NUMBER]

MAX_LOTS = 10**9
"""The largest quantity, in lots, anywhere in a scenario: an order size, a block, a position,
an inventory limit or a shock's quantity.

Quantities, depths, volumes and inventories are ``int64`` columns of a run's tables
(largest 9.2e18). With every order at most 10^9 lots, a step's volume or a side's depth
reaches the limit only after about 9 billion full-size orders, far beyond any run.
"""
MAX_PRICE_TICKS = 10**12
"""The largest price, in ticks (a price divided by ``tick_size``), a scenario may set.

The book holds prices as integer ticks and the tables as float64, which is exact for integers
up to 2^53 (about 9e15): a price set at 10^12 ticks can move a thousandfold and still print
exactly. (Notional and cash are exact Python integers of ticks, never int64 columns.)
"""
Lots = Annotated[int, Field(ge=1, le=MAX_LOTS, strict=True), _NUMBER]
"""A positive quantity, lots, at most `MAX_LOTS`."""
NonNegLots = Annotated[int, Field(ge=0, le=MAX_LOTS, strict=True), _NUMBER]
"""A quantity >= 0, lots, at most `MAX_LOTS`."""
SignedLots = Annotated[int, Field(ge=-MAX_LOTS, le=MAX_LOTS, strict=True), _NUMBER]
"""A signed quantity (a position), lots, at most `MAX_LOTS` either way."""
MAX_VOLATILITY = 1e6
"""The largest volatility (a sigma, in price units or log price per sqrt(unit of time)).

Quoting formulas square a volatility and multiply it by risk aversion, inventory and time
(Avellaneda and Stoikov 2008, eq. 29): a sigma near 1e154 overflows a float64 at once, and one
far below that can still make a quote infinite. 10^6 is beyond any market and keeps them finite.
"""
Volatility = Annotated[float, Field(ge=0.0, le=MAX_VOLATILITY, strict=True), _NUMBER]
"""A volatility >= 0, at most `MAX_VOLATILITY`."""
MAX_DT = 1e6
"""The longest step (``dt``), in the scenario's unit of time.

Volatilities and the quoting formulas' time terms scale with ``dt`` (a sigma per
sqrt(unit of time) becomes ``sigma * sqrt(dt)`` a step): a step of 1e300 made quotes of
10^150. 10^6 (11.6 days of one-second units, or a million of any unit) is beyond any study.
"""
StepLength = Annotated[float, Field(gt=0.0, le=MAX_DT, strict=True), _NUMBER]
"""A step length > 0, at most `MAX_DT`."""
PosFloatLots = Annotated[float, Field(gt=0.0, le=MAX_LOTS, strict=True), _NUMBER]
"""A positive real quantity (a band), lots, at most `MAX_LOTS`."""
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
