"""Scenario building blocks: the validated specs a :class:`abm.scenario.schema.Scenario` is made of.

Each spec is a frozen pydantic model that forbids unknown keys and non-finite floats, and
numbers never accept booleans. A spec chosen by its ``kind`` (fundamental process, quoting
policy, volatility estimate, order distance, order size, agent group) subclasses
:class:`KindSpec`, whose ``kind_noun`` names the family in error messages. Validators raise
plain ``ValueError`` (or ``PydanticCustomError``); :mod:`abm.scenario.schema` turns them into one
``ScenarioError`` line per problem with the dotted document path.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from abm.policies import PolicySpec
from abm.risk.hedging import HedgeSpec, NoHedge
from abm.risk.rebalancing import NoRebalance, RebalanceSpec
from abm.risk.regimes import GapControlSpec, RegimeSpec
from abm.scenario.types import (
    _NO_BOOL,
    BelowOne,
    Float,
    Int,
    KindSpec,
    NonNegFloat,
    NonNegInt,
    PosFloat,
    PosInt,
    PriceReference,
    Probability,
    Spec,
    UnitFraction,
)

_ROW_SUM_TOLERANCE = 1e-9
_MIX_SUM_TOLERANCE = 1e-9


def _must_exceed(value: float, info: ValidationInfo, other: str) -> float:
    """Check ``value > info.data[other]`` when ``other`` itself validated."""
    bound = info.data.get(other)
    if bound is not None and not value > bound:
        raise ValueError(f"must be greater than {other} ({bound!r}), got {value!r}")
    return value


def _must_reach(value: float, info: ValidationInfo, other: str) -> float:
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
    sigma: NonNegFloat = Field(description=f"The volatility, {_SIGMA_UNITS}.")


class EWMAVolatility(KindSpec):
    """Exponentially weighted estimate of the reference price's volatility."""

    kind_noun: ClassVar[str] = "volatility"
    kind: Literal["ewma"] = Field(description="An EWMA of squared reference-price changes.")
    halflife_steps: PosFloat = Field(
        default=50.0, description="Half-life of the weights, in steps."
    )
    initial_sigma: NonNegFloat = Field(
        default=0.0, description=f"The estimate before the first change, {_SIGMA_UNITS}."
    )


VolatilitySpec = Annotated[GivenVolatility | EWMAVolatility, Field(discriminator="kind")]


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
        return int(_must_reach(high, info, "low_ticks"))


class PowerLawDistance(KindSpec):
    """Distance with P(d) proportional to d**-alpha on ``min_ticks..max_ticks``."""

    kind_noun: ClassVar[str] = "distance"
    kind: Literal["power_law"] = Field(description="Power-law distributed distance.")
    alpha: Annotated[float, Field(gt=1.0), _NO_BOOL] = Field(description="Tail exponent, > 1.")
    min_ticks: PosInt = Field(description="Smallest distance, ticks.")
    max_ticks: PosInt = Field(description="Largest distance, ticks; at least min_ticks.")

    @field_validator("max_ticks")
    @classmethod
    def _check_max(cls, high: int, info: ValidationInfo) -> int:
        return int(_must_reach(high, info, "min_ticks"))


DistanceSpec = Annotated[
    ExponentialDistance | UniformDistance | PowerLawDistance, Field(discriminator="kind")
]


class FixedSize(KindSpec):
    """Every order is ``qty`` lots."""

    kind_noun: ClassVar[str] = "size"
    kind: Literal["fixed"] = Field(description="One order size.")
    qty: PosInt = Field(description="Order size, lots.")


class UniformSize(KindSpec):
    """Order size uniform on the integers ``low..high`` lots."""

    kind_noun: ClassVar[str] = "size"
    kind: Literal["uniform"] = Field(description="Order size uniform on a range of lots.")
    low: PosInt = Field(description="Smallest order, lots.")
    high: PosInt = Field(description="Largest order, lots; at least low.")

    @field_validator("high")
    @classmethod
    def _check_high(cls, high: int, info: ValidationInfo) -> int:
        return int(_must_reach(high, info, "low"))


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


# --- agent groups ---


class _GroupBase(KindSpec):
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
    inventory: Int = Field(default=0, description="Position of each trader at step 0, lots.")


_REFERENCE = "The price quotes centre on: `mid` (the book's mid) or `fundamental` (the value)."


class MarketMakerGroup(_GroupBase):
    """Market makers quoting both sides every step with ``policy`` around ``reference``.

    Optional tools: rebalancing, hedging, risk regimes, gap controls and a default threshold.
    """

    kind: Literal["market_maker"] = Field(
        description="Two-sided quotes every step through a quoting policy."
    )
    policy: PolicySpec = Field(description="The quoting policy (a formula and its parameters).")
    quote_size: PosInt = Field(default=1, description="Size of each quote, lots.")
    max_inventory: NonNegInt | None = Field(
        default=None,
        description="Inventory limit, lots: a side that could breach it is not quoted "
        "(null: none).",
    )
    reference: PriceReference = Field(default="mid", description=_REFERENCE)
    volatility: VolatilitySpec = Field(
        default=EWMAVolatility(kind="ewma"),
        description="The volatility estimate the policy reads (sigma).",
    )
    rebalance: RebalanceSpec = Field(
        default=NoRebalance(kind="none"),
        description="Trading inventory back towards a target with market orders.",
    )
    hedge: HedgeSpec = Field(
        default=NoHedge(kind="none"),
        description="Hedging inventory in the hedge instrument outside the book.",
    )
    regimes: RegimeSpec | None = Field(
        default=None, description="Risk regimes NORMAL, STRESSED, CRISIS (null: always NORMAL)."
    )
    gap_controls: GapControlSpec | None = Field(
        default=None, description="Controls around announced price gaps (null: none)."
    )
    default_threshold: Float | None = Field(
        default=None,
        description="Equity, price units, at or below which the market maker defaults "
        "(null: never).",
    )


class InformedGroup(_GroupBase):
    """Traders who see the fundamental (with noise and lag) and take liquidity on an edge."""

    kind: Literal["informed"] = Field(
        description="Takes liquidity when its view of the value beats the quote."
    )
    arrival: ArrivalLaw = Field(description="When the traders act.")
    noise_sd: NonNegFloat = Field(
        default=0.0, description="Standard deviation of the noise on its view, price units."
    )
    lag_steps: NonNegInt = Field(
        default=0, description="Age of the fundamental value it sees, steps."
    )
    threshold: NonNegFloat = Field(
        default=0.05, description="Smallest edge (view minus quote) it trades on, price units."
    )
    order_type: Literal["market", "marketable_limit"] = Field(
        default="market",
        description="`market` orders, or immediate-or-cancel limits at the touch plus "
        "limit_offset_ticks (`marketable_limit`).",
    )
    limit_offset_ticks: NonNegInt = Field(
        default=0, description="How far beyond the touch a marketable limit may trade, ticks."
    )
    base_size: PosInt = Field(default=1, description="Order size at zero edge, lots.")
    size_per_edge: NonNegFloat = Field(
        default=0.0, description="Extra lots per price unit of edge."
    )
    max_size: PosInt = Field(
        default=10,
        validate_default=True,  # checked against base_size
        description="Largest order, lots; at least base_size.",
    )
    position_limit: NonNegInt = Field(
        default=100, description="Largest |inventory| it will hold, lots."
    )

    @field_validator("max_size")
    @classmethod
    def _check_max_size(cls, max_size: int, info: ValidationInfo) -> int:
        return int(_must_reach(max_size, info, "base_size"))


class NoiseGroup(_GroupBase):
    """Zero-intelligence random orders and cancels (Gode and Sunder 1993; Farmer et al. 2005)."""

    kind: Literal["noise"] = Field(description="Zero-intelligence market, limit and cancel flow.")
    arrival: ArrivalLaw = Field(description="When the traders act.")
    mix: MixSpec = Field(
        default=MixSpec(), description="Probabilities of a market order, limit, cancel."
    )
    reference: PriceReference = Field(
        default="mid",
        description="The price limit orders are placed around: `mid` or `fundamental`.",
    )
    placement: Literal["passive", "aggressive"] = Field(
        default="passive",
        description="`passive`: a buy rests below the reference (a sell above); "
        "`aggressive`: the other way round.",
    )
    distance: DistanceSpec = Field(
        default=ExponentialDistance(kind="exponential", mean_ticks=5.0),
        description="Distance of a limit order from the reference, ticks.",
    )
    size: SizeSpec = Field(default=FixedSize(kind="fixed", qty=1), description="Order sizes, lots.")
    ioc_prob: Probability = Field(
        default=0.0, description="Probability that a limit order is immediate-or-cancel."
    )
    buy_prob: Probability = Field(
        default=0.5, description="Probability that an action is a buy (without per-side arrivals)."
    )


class ChartistFundamentalistGroup(_GroupBase):
    """Traders mixing fundamentalist, chartist and noise forecasts (Chiarella and Iori 2002).

    In the spirit of the paper, each trader draws, once, a fundamentalist weight
    ``|N(0, fundamentalist_sd)|``, a chartist weight ``N(0, chartist_sd)`` (negative:
    contrarian), a noise weight ``|N(0, noise_sd)|``, a horizon uniform on
    ``[horizon_min_steps, horizon_max_steps]`` and a look-back uniform on
    ``[1, lookback_max_steps]``; see `abm.agents.chartist.ChartistFundamentalist`.
    """

    kind: Literal["chartist_fundamentalist"] = Field(
        description="Forecasts mixing fundamentalist, chartist and noise views."
    )
    arrival: ArrivalLaw = Field(description="When the traders act.")
    fundamentalist_sd: NonNegFloat = Field(
        default=1.0, description="Scale of the fundamentalist weights |N(0, sd)|."
    )
    chartist_sd: NonNegFloat = Field(
        default=1.0, description="Scale of the chartist weights N(0, sd) (negative: contrarian)."
    )
    noise_sd: NonNegFloat = Field(default=1.0, description="Scale of the noise weights |N(0, sd)|.")
    noise_return_sd: NonNegFloat = Field(
        default=0.0005, description="Standard deviation of the noise view, log return per step."
    )
    horizon_min_steps: PosInt = Field(default=10, description="Shortest forecast horizon, steps.")
    horizon_max_steps: PosInt = Field(
        default=100, description="Longest forecast horizon, steps; at least horizon_min_steps."
    )
    lookback_max_steps: PosInt = Field(
        default=50, description="Longest look-back of the chartist trend, steps."
    )
    max_markup: BelowOne = Field(
        default=0.005,
        description="Largest relative markup of an order over the forecast price, in [0, 1).",
    )
    size: SizeSpec = Field(default=FixedSize(kind="fixed", qty=1), description="Order sizes, lots.")

    @model_validator(mode="after")
    def _check_horizons(self) -> ChartistFundamentalistGroup:
        if self.horizon_max_steps < self.horizon_min_steps:
            raise ValueError(
                f"horizon_max_steps ({self.horizon_max_steps}) must be >= horizon_min_steps "
                f"({self.horizon_min_steps})"
            )
        return self


class DiscreteSize(KindSpec):
    """Order size drawn from ``sizes`` (lots) with probabilities proportional to ``weights``.

    A few large sizes with small weights give the heavy tail of futures order sizes (most
    E-mini orders are one or two lots; Paddrik et al. 2012, section 3).
    """

    kind_noun: ClassVar[str] = "size"
    kind: Literal["discrete"] = Field(description="Order size drawn from a list.")
    sizes: list[PosInt] = Field(min_length=1, description="The possible sizes, lots.")
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

PaddrikRole = Literal[
    "small", "fundamental_buyer", "fundamental_seller", "market_maker", "opportunistic", "hft"
]


def paddrik_role_defaults(role: str) -> dict[str, object] | None:
    """The parameters a `PaddrikGroup` of ``role`` takes when its document leaves them out.

    Speeds (mean seconds between orders) and position limits are the published ones of
    Paddrik et al. (2012, Table 1); placement, taking and skew are ours, set so that the calm
    market keeps a one-tick spread and each class's share of volume is near the shares
    Kirilenko et al. (2017, Table II) measured on May 3-5, 2010 (high-frequency traders about
    a third, intermediaries a tenth to a sixth, fundamental buyers and sellers about an eighth
    each, opportunistic traders under a third, small traders a few percent). None for an
    unknown role. A fresh dict each call.
    """

    def exponential(mean_ticks: float) -> dict[str, object]:
        return {"kind": "exponential", "mean_ticks": mean_ticks}

    def fundamental(side: str) -> dict[str, object]:
        return {
            "mean_interarrival_s": 40.0,
            "side": side,
            "take_prob": 0.3,
            "value_sensitivity": 20.0,
            "distance": exponential(2.0),
        }

    roles: dict[str, dict[str, object]] = {
        "small": {
            "mean_interarrival_s": 1500.0,
            "side": "either",
            "take_prob": 0.5,
            "distance": exponential(3.0),
            "order_lifetime_s": 300.0,
        },
        "fundamental_buyer": fundamental("buy"),
        "fundamental_seller": fundamental("sell"),
        "market_maker": {
            "mean_interarrival_s": 3.0,
            "side": "both",
            "inventory_take": 0.1,
            "position_limit": 30,
            "skew_ticks": 2.0,
            "distance": exponential(2.0),
        },
        "opportunistic": {
            "mean_interarrival_s": 30.0,
            "side": "either",
            "take_prob": 0.4,
            "position_limit": 30,
            "distance": exponential(3.0),
        },
        "hft": {
            "mean_interarrival_s": 0.35,
            "side": "both",
            "reference": "mid",
            "take_prob": 0.1,
            "inventory_take": 0.2,
            "position_limit": 150,
            "skew_ticks": 2.0,
            "distance": exponential(0.5),
        },
    }
    return roles.get(role)


def _tail_sizes() -> DiscreteSize:
    return DiscreteSize(kind="discrete", sizes=[1, 2, 3, 5, 10, 20], weights=[55, 25, 8, 6, 4, 2])


def _role_defaults_in_schema(schema: dict[str, Any]) -> None:
    """Say in the JSON schema what `PaddrikGroup`'s role validator fills in.

    A field every role fills is not required; a field some role fills has no single
    default, so its ``default`` gives way to the list of role defaults in its description.
    """
    by_field: dict[str, dict[str, object]] = {}
    for role in get_args(PaddrikRole):
        for name, value in (paddrik_role_defaults(role) or {}).items():
            by_field.setdefault(name, {})[role] = value
    every_role = len(get_args(PaddrikRole))
    schema["required"] = [
        name for name in schema.get("required", []) if len(by_field.get(name, ())) < every_role
    ]
    properties = schema.get("properties", {})
    for name, values in by_field.items():
        prop = properties[name]
        fallback = f"; other roles: {_flow(prop.pop('default'))}" if "default" in prop else ""
        shown = ", ".join(f"{role} {_flow(value)}" for role, value in values.items())
        prop["description"] = f"{prop['description']} Role defaults: {shown}{fallback}."


def _flow(value: object) -> str:
    """A value as a scenario author writes it in YAML flow style (``{kind: exponential}``)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_flow(item)}" for key, item in value.items()) + "}"
    return value if isinstance(value, str) else json.dumps(value)


class PaddrikGroup(_GroupBase):
    """A trader class of the E-mini model of Paddrik et al. (2012), acting on random arrivals.

    ``role`` names the class and fills every parameter the document leaves out with that
    class's defaults (`paddrik_role_defaults`; the resolved scenario shows them all). Each
    trader arrives with probability ``dt / mean_interarrival_s`` per step (so ``dt`` must not
    exceed the fastest class's ``mean_interarrival_s``). On arrival it cancels its resting
    orders and then, with ``p`` the ``reference`` price (the last trade, or the mid) and ``q``
    its position:

    * ``side``: ``buy`` or ``sell`` (one-sided: fundamental buyers and sellers), ``either``
      (a fair coin), or ``both`` (a bid and an ask: market makers, high-frequency traders);
    * with probability ``take_prob`` it takes liquidity with a market order instead of
      resting; a buy's probability rises by ``value_sensitivity * (F - p) / F`` below the
      fundamental value ``F`` (a sell's falls by as much), and a two-sided trader's by
      ``inventory_take * |q| / position_limit`` on the side that reduces ``|q|``;
    * a resting order goes ``distance`` ticks behind ``p`` (never through the opposite
      touch); a two-sided trader shifts both quotes by ``-skew_ticks * q / position_limit``
      and keeps a resting quote whose price it wants again (and so its queue position);
    * sizes come from ``size``; resting orders expire after ``order_lifetime_s`` if set;
    * past ``position_limit`` (``|q| > limit``) the trader only trades to reduce ``|q|``
      (a market order with probability ``reduce_take_prob``, else a limit at the touch) until
      ``|q|`` is back under half its limit.
    """

    # the role validator below fills fields in; the JSON schema must not call them required
    model_config = ConfigDict(json_schema_extra=_role_defaults_in_schema)

    kind: Literal["paddrik"] = Field(
        description="A trader class of the Paddrik et al. (2012) E-mini model."
    )
    role: PaddrikRole = Field(
        description="The trader class; it supplies every parameter left out (see each one)."
    )
    mean_interarrival_s: PosFloat = Field(
        description="Mean time between arrivals, seconds of model time (at least dt)."
    )
    side: Literal["buy", "sell", "either", "both"] = Field(
        description="`buy` or `sell` (one-sided), `either` (a fair coin each arrival) or "
        "`both` (a bid and an ask)."
    )
    reference: Literal["last", "mid"] = Field(
        default="last", description="The price orders are placed around: `last` trade or `mid`."
    )
    take_prob: Probability = Field(
        default=0.0, description="Probability of taking liquidity with a market order."
    )
    value_sensitivity: NonNegFloat = Field(
        default=0.0,
        description="Rise of a buy's take probability per unit of relative mispricing (F - p)/F.",
    )
    inventory_take: NonNegFloat = Field(
        default=0.0,
        description="Rise of the take probability, on the side reducing |q|, at |q| = "
        "position_limit.",
    )
    distance: DistanceSpec = Field(description="Distance of a resting order behind p, ticks.")
    size: PopulationSizeSpec = Field(default=_tail_sizes(), description="Order sizes, lots.")
    position_limit: PosInt | None = Field(
        default=None,
        description="Largest |q|, lots; beyond it the trader only reduces |q| (null: none).",
    )
    reduce_take_prob: Probability = Field(
        default=1.0,
        description="Past the limit: probability of reducing with a market order (else a "
        "limit at the touch).",
    )
    skew_ticks: NonNegFloat = Field(
        default=0.0,
        description="Shift of a two-sided trader's quotes against q, ticks at |q| = "
        "position_limit.",
    )
    order_lifetime_s: PosFloat | None = Field(
        default=None,
        description="Resting orders expire after this many seconds of model time (null: never).",
    )

    @model_validator(mode="before")
    @classmethod
    def _role_defaults(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        defaults = paddrik_role_defaults(str(data.get("role")))
        if defaults is None:
            return data  # the role field reports the unknown role
        return {**defaults, **data}

    @model_validator(mode="after")
    def _check_limit_use(self) -> PaddrikGroup:
        if self.position_limit is None and (self.inventory_take > 0 or self.skew_ticks > 0):
            raise ValueError(
                "inventory_take and skew_ticks scale with position_limit; set a position_limit "
                "or set them to 0"
            )
        return self


class PovGroup(_GroupBase):
    """A percentage-of-volume execution program: trades a block at a share of market volume.

    From ``start_step`` on, every ``interval_steps`` steps, the program's schedule grows by
    ``participation * V * interval_steps / window_steps`` lots, where ``V`` is the book volume
    of the previous ``window_steps`` steps (all traders, the program included), regardless of
    price; it trades the part of the schedule not yet done until ``target_qty`` lots are done.
    ``mode: aggressive`` sends market orders; ``mode: passive`` keeps one limit order at the
    touch of its own side (the best ask for a seller), re-pegged every interval. The SEC/CFTC
    (2010) report describes a 75,000-contract sale at 9% of the previous minute's volume; the
    record disputes whether its orders took or made liquidity, hence both modes.
    """

    kind: Literal["pov"] = Field(
        description="A percentage-of-volume execution program trading one block."
    )
    side: Literal["buy", "sell"] = Field(default="sell", description="Direction of the block.")
    target_qty: PosInt = Field(description="Size of the block, lots.")
    participation: UnitFraction = Field(
        description="Target share of the market's volume, in (0, 1]."
    )
    window_steps: PosInt = Field(description="Look-back of the volume measure, steps.")
    interval_steps: PosInt = Field(
        default=1, description="Steps between trading decisions; at most window_steps."
    )
    start_step: NonNegInt = Field(default=0, description="Step at which the program starts.")
    mode: Literal["aggressive", "passive"] = Field(
        default="aggressive",
        description="`aggressive`: market orders; `passive`: one limit order at its own touch.",
    )

    @field_validator("interval_steps")
    @classmethod
    def _check_interval(cls, interval: int, info: ValidationInfo) -> int:
        window = info.data.get("window_steps")
        if window is not None and interval > window:
            raise ValueError(f"must be at most window_steps ({window}), got {interval}")
        return interval


AgentGroup = Annotated[
    MarketMakerGroup
    | InformedGroup
    | NoiseGroup
    | ChartistFundamentalistGroup
    | PaddrikGroup
    | PovGroup,
    Field(discriminator="kind"),
]
