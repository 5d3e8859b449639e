"""The schema of a sweep file: frozen pydantic models, unknown keys are an error.

`SweepSpec` is the document (`abm.experiments.sweep_spec` describes it and turns it into a
plan); `SamplesSpec` and `RangeSpec` describe a Latin hypercube design. `SweepSpec.planned_points`
counts the plan's points from the document alone, before any is built.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from abm.scenario.types import Float, NonNegInt, PosInt, Spec

SWEEP_PROBLEMS = {"list_type": "must be a list of values, e.g. [1, 2, 3] (got {got})"}
"""The one hint a sweep file needs beyond a scenario's messages (`abm.scenario.errors`)."""


def _range_from_pair(value: Any) -> Any:
    # The shorthand [low, high] reads as a linear range.
    if isinstance(value, list | tuple) and len(value) == 2:
        return {"low": value[0], "high": value[1]}
    return value


class RangeSpec(Spec):
    """A sampled parameter's range: ``low..high``, linear or log scale, optionally integers.

    Integer ranges draw uniformly over the integers ``low..high`` inclusive.
    """

    low: Float
    high: Float
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False

    @model_validator(mode="after")
    def _check(self) -> RangeSpec:
        if not self.high > self.low:
            raise ValueError(f"high ({self.high!r}) must be greater than low ({self.low!r})")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0, got {self.low!r}")
        if self.integer and not (self.low.is_integer() and self.high.is_integer()):
            raise ValueError("an integer range needs integer low and high")
        return self

    def scale_unit(self, u: float) -> int | float:
        """Map ``u`` in ``[0, 1)`` to a value of the range."""
        if self.integer:
            return min(int(self.high), int(self.low) + math.floor(u * (self.high - self.low + 1)))
        if self.scale == "log":
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)


class SamplesSpec(Spec):
    """``n`` parameter points drawn by Latin hypercube sampling over ``ranges``."""

    kind: Literal["latin_hypercube"]
    n: PosInt
    ranges: dict[str, Annotated[RangeSpec, BeforeValidator(_range_from_pair)]]

    @field_validator("ranges")
    @classmethod
    def _check_ranges(cls, ranges: dict[str, RangeSpec]) -> dict[str, RangeSpec]:
        if not ranges:
            raise ValueError("must name at least one dotted scenario path with its range")
        return ranges


class SweepSpec(Spec):
    """The document of a sweep file (see the module docstring)."""

    scenario: str = Field(min_length=1)
    replicates: PosInt = 1
    seed: NonNegInt = 0
    overrides: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] | None = None
    samples: SamplesSpec | None = None
    metrics: list[str] | None = None
    max_runs: PosInt | None = None

    def planned_points(self) -> int:
        """The number of parameter points, counted without building them."""
        if self.grid is not None:
            return math.prod(len(values) for values in self.grid.values())
        assert self.samples is not None
        return self.samples.n

    @field_validator("grid")
    @classmethod
    def _check_grid(cls, grid: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        if grid is None:
            return None
        if not grid:
            raise ValueError("must name at least one dotted scenario path with a list of values")
        for path, values in grid.items():
            if not values:
                raise ValueError(f"{path}: must list at least one value")
        return grid

    @field_validator("metrics")
    @classmethod
    def _check_metrics(cls, metrics: list[str] | None) -> list[str] | None:
        if metrics is None:
            return None
        if not metrics:
            raise ValueError("must name at least one summary key, or be left out for all")
        repeated = sorted(m for m, n in Counter(metrics).items() if n > 1)
        if repeated:
            raise ValueError(f"lists {', '.join(repeated)} more than once")
        return metrics

    @model_validator(mode="after")
    def _one_design(self) -> SweepSpec:
        if (self.grid is None) == (self.samples is None):
            which = "both" if self.grid is not None else "neither"
            raise ValueError(f"give exactly one of grid and samples (got {which})")
        return self
