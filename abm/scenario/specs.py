"""Scenario building blocks of agent groups: the order-flow parts groups are made of.

Volatility estimates, arrival laws, order distances and sizes, the noise traders' action
mix, the recording options, and the fields every agent group has (`GroupBase`). Each spec
is a frozen pydantic model that forbids unknown keys and non-finite floats, and numbers
never accept booleans. A spec chosen by its ``kind`` subclasses :class:`KindSpec`, whose
``kind_noun`` names the family in error messages. Validators raise plain ``ValueError`` (or
``PydanticCustomError``); :mod:`abm.scenario.errors` turns them into one ``ScenarioError``
line per problem with the dotted document path. The groups are in :mod:`abm.scenario.groups`
(the Paddrik et al. classes in :mod:`abm.scenario.paddrik`); the specs of what groups use
(policies, risk tools) live beside what they build.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from abm.scenario.types import (
    _NO_BOOL,
    BelowOne,
    Float,
    KindSpec,
    Lots,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    SignedLots,
    Spec,
    Volatility,
)

_MIX_SUM_TOLERANCE = 1e-9


def must_exceed(value: float, info: ValidationInfo, other: str) -> float:
    """Check ``value > info.data[other]`` when ``other`` itself validated."""
    bound = info.data.get(other)
    if bound is not None and not value > bound:
        raise ValueError(f"must be greater than {other} ({bound!r}), got {value!r}")
    return value


def must_reach(value: float, info: ValidationInfo, other: str) -> float:
    """Check ``value >= info.data[other]`` when ``other`` itself validated."""
    bound = info.data.get(other)
    if bound is not None and value < bound:
        raise ValueError(f"must be at least {other} ({bound!r}), got {value!r}")
    return value


# --- building blocks of agent groups ---

_SIGMA_UNITS = "price units per sqrt(unit of model time)"


class GivenVolatility(KindSpec):
    """A fixed volatility estimate ``sigma`` (price units per sqrt(unit time))."""

    kind_noun: ClassVar[str] = "volatility"
    kind: Literal["given"] = Field(description="A constant volatility estimate.")
    sigma: Volatility = Field(description=f"The volatility, {_SIGMA_UNITS} (<= 1e6).")


class EWMAVolatility(KindSpec):
    """Exponentially weighted estimate of the reference price's volatility."""

    kind_noun: ClassVar[str] = "volatility"
    kind: Literal["ewma"] = Field(description="An EWMA of squared reference-price changes.")
    halflife_steps: PosFloat = Field(
        default=50.0, description="Half-life of the weights, in steps."
    )
    initial_sigma: Volatility = Field(
        default=0.0,
        description=f"The estimate before the first change, {_SIGMA_UNITS} (<= 1e6).",
    )


VolatilitySpec = Annotated[GivenVolatility | EWMAVolatility, Field(discriminator="kind")]


SPARSE_DRAW_SLOTS = 10_000
"""Draw slots from which a group draws its arrivals sparsely: how many arrive, then which
(`abm.agents.arrivals.sparse_slots`), so that its idle traders cost nothing a step."""
SPARSE_RARE_SLOTS = 1_000
"""Draw slots from which a group whose slots rarely arrive (`SPARSE_RARE_RATE`) draws sparsely."""
SPARSE_RARE_RATE = 0.001
"""A rate at or below which a slot arrives so seldom that reading one variate for each of
`SPARSE_RARE_SLOTS` slots or more a step is wasted work (a thousand slots at this rate: one
arrival a step, against a thousand variates read)."""


class ArrivalSpec(KindSpec):
    """When a trader acts: per step, Bernoulli(rate) or Poisson(rate) arrivals.

    ``per_side=True`` draws buy and sell arrivals independently, each at ``rate``.
    """

    kind_noun: ClassVar[str] = "arrival"
    kind: Literal["bernoulli", "poisson"] = Field(
        description="`bernoulli`: at most one arrival per trader per step; `poisson`: a "
        "Poisson number of them."
    )
    rate: NonNegFloat = Field(
        description="Arrivals per trader per step (a probability, <= 1, for bernoulli)."
    )
    per_side: bool = Field(
        default=False,
        description="Draw buy and sell arrivals independently, each at rate; each arrival "
        "then carries its side.",
    )

    def draw_slots(self, count: int) -> int:
        """A group's draw slots: one per trader, or per trader and side (``per_side``)."""
        return 2 * count if self.per_side else count

    def draws_sparsely(self, count: int) -> bool:
        """Whether a group of ``count`` traders draws how many arrive, then which.

        It does with `SPARSE_DRAW_SLOTS` draw slots or more, or with `SPARSE_RARE_SLOTS` or
        more at a rate of at most `SPARSE_RARE_RATE`; smaller or busier groups read one
        variate per slot (`abm.agents.arrivals.GroupArrivals`).
        """
        slots = self.draw_slots(count)
        if slots >= SPARSE_DRAW_SLOTS:
            return True
        return slots >= SPARSE_RARE_SLOTS and self.rate <= SPARSE_RARE_RATE

    @field_validator("rate")
    @classmethod
    def _check_rate(cls, rate: float, info: ValidationInfo) -> float:
        if info.data.get("kind") == "bernoulli" and rate > 1.0:
            raise ValueError(f"a bernoulli rate is a probability and must be <= 1, got {rate!r}")
        return rate


class HawkesArrivalSpec(KindSpec):
    """Self-exciting group arrivals (Hawkes 1971), simulated exactly by thinning (Ogata 1981).

    The group's intensity, per unit of model time, is
    ``lambda(t) = mu + branching * beta * sum_{t_i < t} exp(-beta * (t - t_i))`` over its past
    arrivals ``t_i``; each arrival goes to a trader of the group drawn uniformly. ``branching``
    (the mean number of arrivals each arrival triggers) must be below 1 for stationarity; the
    long-run rate is ``mu / (1 - branching)``.
    """

    kind_noun: ClassVar[str] = "arrival"
    kind: Literal["hawkes"] = Field(description="Self-exciting group arrivals.")
    mu: PosFloat = Field(description="Baseline intensity, arrivals per unit of model time.")
    branching: BelowOne = Field(
        description="Mean number of arrivals each arrival triggers, in [0, 1)."
    )
    beta: PosFloat = Field(description="Decay rate of the excitation, per unit of model time.")


ArrivalLaw = Annotated[ArrivalSpec | HawkesArrivalSpec, Field(discriminator="kind")]


class ExponentialDistance(KindSpec):
    """Distance from the reference, in ticks, exponential with mean ``mean_ticks``."""

    kind_noun: ClassVar[str] = "distance"
    kind: Literal["exponential"] = Field(description="Exponentially distributed distance.")
    mean_ticks: PosFloat = Field(description="Mean distance, ticks.")


class UniformDistance(KindSpec):
    """Distance uniform on the integers ``low_ticks..high_ticks``."""

    kind_noun: ClassVar[str] = "distance"
    kind: Literal["uniform"] = Field(description="Distance uniform on a range of ticks.")
    low_ticks: NonNegInt = Field(description="Smallest distance, ticks.")
    high_ticks: NonNegInt = Field(description="Largest distance, ticks; at least low_ticks.")

    @field_validator("high_ticks")
    @classmethod
    def _check_high(cls, high: int, info: ValidationInfo) -> int:
        return int(must_reach(high, info, "low_ticks"))


class PowerLawDistance(KindSpec):
    """Distance with P(d) proportional to d**-alpha on ``min_ticks..max_ticks``."""

    kind_noun: ClassVar[str] = "distance"
    kind: Literal["power_law"] = Field(description="Power-law distributed distance.")
    alpha: Annotated[float, Field(gt=1.0, strict=True), _NO_BOOL] = Field(
        description="Tail exponent, > 1."
    )
    min_ticks: PosInt = Field(description="Smallest distance, ticks.")
    max_ticks: PosInt = Field(description="Largest distance, ticks; at least min_ticks.")

    @field_validator("max_ticks")
    @classmethod
    def _check_max(cls, high: int, info: ValidationInfo) -> int:
        return int(must_reach(high, info, "min_ticks"))


DistanceSpec = Annotated[
    ExponentialDistance | UniformDistance | PowerLawDistance, Field(discriminator="kind")
]


class FixedSize(KindSpec):
    """Every order is ``qty`` lots."""

    kind_noun: ClassVar[str] = "size"
    kind: Literal["fixed"] = Field(description="One order size.")
    qty: Lots = Field(description="Order size, lots (<= 1e9).")


class UniformSize(KindSpec):
    """Order size uniform on the integers ``low..high`` lots."""

    kind_noun: ClassVar[str] = "size"
    kind: Literal["uniform"] = Field(description="Order size uniform on a range of lots.")
    low: Lots = Field(description="Smallest order, lots (<= 1e9).")
    high: Lots = Field(description="Largest order, lots (<= 1e9); at least low.")

    @field_validator("high")
    @classmethod
    def _check_high(cls, high: int, info: ValidationInfo) -> int:
        return int(must_reach(high, info, "low"))


SizeSpec = Annotated[FixedSize | UniformSize, Field(discriminator="kind")]


class MixSpec(Spec):
    """Probabilities that a noise-trader action is a market order, a limit order or a cancel."""

    market: NonNegFloat = Field(default=0.1, description="Probability of a market order.")
    limit: NonNegFloat = Field(default=0.6, description="Probability of a limit order.")
    cancel: NonNegFloat = Field(
        default=0.3, description="Probability of a cancel; the three sum to 1."
    )

    @model_validator(mode="after")
    def _check_sum(self) -> MixSpec:
        total = self.market + self.limit + self.cancel
        if abs(total - 1.0) > _MIX_SUM_TOLERANCE:
            raise ValueError(f"market + limit + cancel must sum to 1, got {total!r}")
        return self


class RecordSpec(Spec):
    """What the recorder keeps beyond the per-step market table and market makers' rows."""

    other_agents_stride: PosInt | None = Field(
        default=None,
        description="Record non-market-maker traders every this many steps (null: only at "
        "step 0 and at the end of the run).",
    )
    depth_levels: NonNegInt = Field(
        default=0, description="Price levels per side kept in the depth table (0: none)."
    )
    depth_stride: PosInt = Field(default=1, description="Steps between depth snapshots.")


# --- what every agent group has ---


class GroupBase(KindSpec):
    """Fields every group has: ``count`` agents, each starting with ``cash`` and ``inventory``.

    ``count`` (>= 0; 0 switches the group off) is required for every kind: population sizes
    shape every result, so the scenario author states them rather than inheriting a default.
    """

    kind_noun: ClassVar[str] = "agent"
    kind: str
    count: NonNegInt = Field(description="Number of traders in the group (0 switches it off).")
    cash: Float = Field(
        default=0.0,
        description="Cash of each trader at step 0, price units (a market maker's capital).",
    )
    inventory: SignedLots = Field(
        default=0,
        description="Position of each trader at step 0, lots (|x| <= 1e9).",
    )


class DiscreteSize(KindSpec):
    """Order size drawn from ``sizes`` (lots) with probabilities proportional to ``weights``.

    A few large sizes with small weights give the heavy tail of futures order sizes (most
    E-mini orders are one or two lots; Paddrik et al. 2012, section 3).
    """

    kind_noun: ClassVar[str] = "size"
    kind: Literal["discrete"] = Field(description="Order size drawn from a list.")
    sizes: list[Lots] = Field(min_length=1, description="The possible sizes, lots (<= 1e9).")
    weights: list[PosFloat] = Field(
        min_length=1, description="Relative probability of each size (one per size)."
    )

    @field_validator("weights")
    @classmethod
    def _check_weights(cls, weights: list[float], info: ValidationInfo) -> list[float]:
        sizes = info.data.get("sizes")
        if sizes is not None and len(weights) != len(sizes):
            raise ValueError(f"must have one weight per size ({len(sizes)}), got {len(weights)}")
        return weights


PopulationSizeSpec = Annotated[FixedSize | UniformSize | DiscreteSize, Field(discriminator="kind")]
