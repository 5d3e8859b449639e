"""A two-point value drawn once: the asset of Glosten and Milgrom (1985)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from abm.fundamental.base import FundamentalProcess, FundamentalSpecBase
from abm.scenario.types import Float, NonNegFloat, Probability


class BinarySpec(FundamentalSpecBase):
    """Two-point value (Glosten and Milgrom 1985): ``high`` with probability ``p_high``."""

    kind: Literal["binary"] = Field(description="A value drawn once from two points.")
    low: NonNegFloat = Field(description="The low value, price units (>= 0: it is a price).")
    high: Float = Field(description="The high value, price units; greater than low.")
    p_high: Probability = Field(default=0.5, description="Probability that the value is high.")

    @field_validator("high")
    @classmethod
    def _check_high(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and not high > low:
            raise ValueError(f"must be greater than low ({low!r}), got {high!r}")
        return high


class BinaryValue(FundamentalProcess):
    """Constant value drawn once: ``high`` with probability ``p_high``, else ``low``.

    Nature draws it at time 0 and it never changes, so ``step`` returns the same value and
    ``volatility`` is 0.
    """

    kind = "binary"
    spec_type = BinarySpec

    def __init__(self, spec: BinarySpec, rng: np.random.Generator, *, dt: float = 1.0) -> None:
        self.low = spec.low
        self.high = spec.high
        self.p_high = spec.p_high
        self._start(rng, s0=self.low, dt=dt)
        self.value = self.high if self._rng.random() < self.p_high else self.low

    def step(self) -> float:
        """Return the (unchanging) value."""
        return self.value

    @property
    def volatility(self) -> float:
        """0: the value never moves."""
        return 0.0
