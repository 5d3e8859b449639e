"""Scenario building blocks: the validated specs a :class:`abm.scenario.Scenario` is made of.

Each spec is a frozen pydantic model that forbids unknown keys and non-finite floats, and
numbers never accept booleans. A spec chosen by its ``kind`` (fundamental process, quoting
policy, volatility estimate, order distance, order size, agent group) subclasses
:class:`KindSpec`, whose ``kind_noun`` names the family in error messages. Validators raise
plain ``ValueError`` (or ``PydanticCustomError``); :mod:`abm.scenario` turns them into one
``ScenarioError`` line per problem with the dotted document path.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from abm.risk_specs import (
    GapControlSpec,
    HedgeSpec,
    NoHedge,
    NoRebalance,
    RebalanceSpec,
    RegimeSpec,
)
from abm.scenario_types import (
    _NO_BOOL,
    FactorySpec,
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


# --- fundamental value processes (keyword arguments of abm.fundamental.make_fundamental) ---


class _FundamentalBase(FactorySpec):
    kind_noun: ClassVar[str] = "fundamental"


class ArithmeticSpec(_FundamentalBase):
    """Arithmetic Brownian motion (Bachelier): dS = mu dt + sigma dW, in price units."""

    kind: Literal["arithmetic"]
    s0: PosFloat
    sigma: NonNegFloat
    mu: Float = 0.0
    step_kind: Literal["gaussian", "binomial"] = "gaussian"


class GBMSpec(_FundamentalBase):
    """Geometric Brownian motion: dS/S = mu dt + sigma dW (sigma per unit time)."""

    kind: Literal["gbm"]
    s0: PosFloat
    sigma: NonNegFloat
    mu: Float = 0.0


class MertonSpec(_FundamentalBase):
    """Merton (1976) jump-diffusion: GBM plus Poisson jumps with normal log-sizes."""

    kind: Literal["merton"]
    s0: PosFloat
    sigma: NonNegFloat
    mu: Float = 0.0
    jump_intensity: NonNegFloat
    jump_mean: Float
    jump_sd: NonNegFloat


class RegimeSwitchingSpec(_FundamentalBase):
    """Markov regime-switching volatility; ``transition_rates`` is the generator matrix Q."""

    kind: Literal["regime_switching"]
    s0: PosFloat
    sigmas: list[NonNegFloat] = Field(min_length=1)
    transition_rates: list[list[Float]]
    mu: Float = 0.0
    initial_regime: NonNegInt = 0

    @field_validator("transition_rates")
    @classmethod
    def _check_generator(cls, rates: list[list[float]], info: ValidationInfo) -> list[list[float]]:
        sigmas = info.data.get("sigmas")
        size = len(sigmas) if sigmas is not None else len(rates)
        if len(rates) != size or any(len(row) != size for row in rates):
            raise ValueError(f"must be a {size}x{size} matrix (one row and column per sigma)")
        for i, row in enumerate(rates):
            if any(rate < 0.0 for j, rate in enumerate(row) if j != i):
                raise ValueError(f"row {i}: off-diagonal rates must be >= 0")
            if abs(sum(row)) > _ROW_SUM_TOLERANCE:
                raise ValueError(f"row {i} must sum to 0 (got {sum(row)!r})")
        return rates

    @field_validator("initial_regime")
    @classmethod
    def _check_regime(cls, regime: int, info: ValidationInfo) -> int:
        sigmas = info.data.get("sigmas")
        if sigmas is not None and regime >= len(sigmas):
            raise ValueError(f"must index sigmas (0..{len(sigmas) - 1}), got {regime}")
        return regime


class HestonSpec(_FundamentalBase):
    """Heston (1993) stochastic variance: dv = kappa (theta - v) dt + xi sqrt(v) dW_v."""

    kind: Literal["heston"]
    s0: PosFloat
    v0: NonNegFloat
    kappa: PosFloat
    theta: NonNegFloat
    xi: NonNegFloat
    rho: Annotated[float, _NO_BOOL, Field(ge=-1.0, le=1.0)]
    mu: Float = 0.0


class BinarySpec(_FundamentalBase):
    """Two-point value (Glosten and Milgrom 1985): ``high`` with probability ``p_high``."""

    kind: Literal["binary"]
    low: Float
    high: Float
    p_high: Probability = 0.5

    @field_validator("high")
    @classmethod
    def _check_high(cls, high: float, info: ValidationInfo) -> float:
        return _must_exceed(high, info, "low")


FundamentalSpec = Annotated[
    ArithmeticSpec | GBMSpec | MertonSpec | RegimeSwitchingSpec | HestonSpec | BinarySpec,
    Field(discriminator="kind"),
]

# --- market-maker quoting policies (keyword arguments of abm.policies.make_policy) ---


class _PolicyBase(FactorySpec):
    kind_noun: ClassVar[str] = "policy"


class SymmetricSpec(_PolicyBase):
    """Fixed spread (price units) centred on the reference price."""

    kind: Literal["symmetric"]
    spread: NonNegFloat


class AvellanedaStoikovSpec(_PolicyBase):
    """Avellaneda and Stoikov (2008): risk aversion gamma, order-flow decay k, horizon T."""

    kind: Literal["avellaneda_stoikov"]
    gamma: PosFloat
    k: PosFloat
    T: PosFloat


class GLFTSpec(_PolicyBase):
    """Gueant, Lehalle and Fernandez-Tapia (2013) asymptotic quotes; xi=None means xi=gamma."""

    kind: Literal["glft"]
    gamma: PosFloat
    k: PosFloat
    A: PosFloat
    xi: PosFloat | None = None


class HoStollSpec(_PolicyBase):
    """Ho and Stoll (1981): half spread plus an inventory skew per lot."""

    kind: Literal["ho_stoll"]
    half_spread: NonNegFloat
    skew: NonNegFloat


class GlostenMilgromSpec(_PolicyBase):
    """Glosten and Milgrom (1985) zero-profit quotes on a two-point value."""

    kind: Literal["glosten_milgrom"]
    v_low: Float
    v_high: Float
    informed_fraction: Annotated[float, _NO_BOOL, Field(ge=0.0, lt=1.0)]
    prior_high: Annotated[float, _NO_BOOL, Field(gt=0.0, lt=1.0)] = 0.5

    @field_validator("v_high")
    @classmethod
    def _check_high(cls, v_high: float, info: ValidationInfo) -> float:
        return _must_exceed(v_high, info, "v_low")


PolicySpec = Annotated[
    SymmetricSpec | AvellanedaStoikovSpec | GLFTSpec | HoStollSpec | GlostenMilgromSpec,
    Field(discriminator="kind"),
]

# --- building blocks of agent groups ---


class GivenVolatility(KindSpec):
    """A fixed volatility estimate ``sigma`` (price units per sqrt(unit time))."""

    kind_noun: ClassVar[str] = "volatility"
    kind: Literal["given"]
    sigma: NonNegFloat


class EWMAVolatility(KindSpec):
    """Exponentially weighted estimate of mid-price volatility, started at ``initial_sigma``."""

    kind_noun: ClassVar[str] = "volatility"
    kind: Literal["ewma"]
    halflife_steps: PosFloat = 50.0
    initial_sigma: NonNegFloat = 0.0


VolatilitySpec = Annotated[GivenVolatility | EWMAVolatility, Field(discriminator="kind")]


class ArrivalSpec(KindSpec):
    """When a trader acts: per step, Bernoulli(rate) or Poisson(rate) arrivals.

    ``per_side=True`` draws buy and sell arrivals independently, each at ``rate``.
    """

    kind_noun: ClassVar[str] = "arrival"
    kind: Literal["bernoulli", "poisson"]
    rate: NonNegFloat
    per_side: bool = False

    @field_validator("rate")
    @classmethod
    def _check_rate(cls, rate: float, info: ValidationInfo) -> float:
        if info.data.get("kind") == "bernoulli" and rate > 1.0:
            raise ValueError(f"a bernoulli rate is a probability and must be <= 1, got {rate!r}")
        return rate


class HawkesArrivalSpec(KindSpec):
    """Self-exciting arrivals of the whole group (Hawkes 1971) with an exponential kernel.

    The group's intensity, per unit of model time, is
    ``lambda(t) = mu + branching * beta * sum_{t_i < t} exp(-beta * (t - t_i))`` over its past
    arrivals ``t_i``; each arrival goes to a trader of the group drawn uniformly. ``branching``
    (the mean number of arrivals each arrival triggers) must be below 1 for stationarity; the
    long-run rate is ``mu / (1 - branching)``.
    """

    kind_noun: ClassVar[str] = "arrival"
    kind: Literal["hawkes"]
    mu: PosFloat
    branching: Annotated[float, _NO_BOOL, Field(ge=0.0, lt=1.0)]
    beta: PosFloat


ArrivalLaw = Annotated[ArrivalSpec | HawkesArrivalSpec, Field(discriminator="kind")]


class ExponentialDistance(KindSpec):
    """Distance from the reference, in ticks, exponential with mean ``mean_ticks``."""

    kind_noun: ClassVar[str] = "distance"
    kind: Literal["exponential"]
    mean_ticks: PosFloat


class UniformDistance(KindSpec):
    """Distance uniform on the integers ``low_ticks..high_ticks``."""

    kind_noun: ClassVar[str] = "distance"
    kind: Literal["uniform"]
    low_ticks: NonNegInt
    high_ticks: NonNegInt

    @field_validator("high_ticks")
    @classmethod
    def _check_high(cls, high: int, info: ValidationInfo) -> int:
        return int(_must_reach(high, info, "low_ticks"))


class PowerLawDistance(KindSpec):
    """Distance with P(d) proportional to d**-alpha on ``min_ticks..max_ticks``."""

    kind_noun: ClassVar[str] = "distance"
    kind: Literal["power_law"]
    alpha: Annotated[float, _NO_BOOL, Field(gt=1.0)]
    min_ticks: PosInt
    max_ticks: PosInt

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
    kind: Literal["fixed"]
    qty: PosInt


class UniformSize(KindSpec):
    """Order size uniform on the integers ``low..high`` lots."""

    kind_noun: ClassVar[str] = "size"
    kind: Literal["uniform"]
    low: PosInt
    high: PosInt

    @field_validator("high")
    @classmethod
    def _check_high(cls, high: int, info: ValidationInfo) -> int:
        return int(_must_reach(high, info, "low"))


SizeSpec = Annotated[FixedSize | UniformSize, Field(discriminator="kind")]


class MixSpec(Spec):
    """Probabilities that a noise-trader action is a market order, a limit order or a cancel."""

    market: NonNegFloat = 0.1
    limit: NonNegFloat = 0.6
    cancel: NonNegFloat = 0.3

    @model_validator(mode="after")
    def _check_sum(self) -> MixSpec:
        total = self.market + self.limit + self.cancel
        if abs(total - 1.0) > _MIX_SUM_TOLERANCE:
            raise ValueError(f"market + limit + cancel must sum to 1, got {total!r}")
        return self


class RecordSpec(Spec):
    """What the recorder keeps beyond the per-step market table and market makers' rows.

    ``other_agents_stride``: non-market-maker traders every that many steps (``None``: only at
    step 0 and at the end of the run). ``depth_levels``: how many price levels of each side go
    into the ``depth`` table (0: none), every ``depth_stride`` steps.
    """

    other_agents_stride: PosInt | None = None
    depth_levels: NonNegInt = 0
    depth_stride: PosInt = 1


# --- agent groups ---


class _GroupBase(KindSpec):
    """Fields every group has: ``count`` agents, each starting with ``cash`` and ``inventory``.

    ``count`` (>= 0; 0 switches the group off) is required for every kind: population sizes
    shape every result, so the scenario author states them rather than inheriting a default.
    """

    kind_noun: ClassVar[str] = "agent"
    kind: str
    count: NonNegInt
    cash: Float = 0.0
    inventory: Int = 0


class MarketMakerGroup(_GroupBase):
    """Market makers that requote every step with ``policy`` around ``reference``."""

    kind: Literal["market_maker"]
    policy: PolicySpec
    quote_size: PosInt = 1
    max_inventory: NonNegInt | None = None
    reference: PriceReference = "mid"
    volatility: VolatilitySpec = Field(default_factory=lambda: EWMAVolatility(kind="ewma"))
    rebalance: RebalanceSpec = Field(default_factory=lambda: NoRebalance(kind="none"))
    hedge: HedgeSpec = Field(default_factory=lambda: NoHedge(kind="none"))
    regimes: RegimeSpec | None = None
    gap_controls: GapControlSpec | None = None
    default_threshold: Float | None = None


class InformedGroup(_GroupBase):
    """Traders who see the fundamental (with noise and lag) and take liquidity on an edge."""

    kind: Literal["informed"]
    arrival: ArrivalLaw
    noise_sd: NonNegFloat = 0.0
    lag_steps: NonNegInt = 0
    threshold: NonNegFloat = 0.05
    order_type: Literal["market", "marketable_limit"] = "market"
    limit_offset_ticks: NonNegInt = 0
    base_size: PosInt = 1
    size_per_edge: NonNegFloat = 0.0
    max_size: PosInt = Field(default=10, validate_default=True)  # checked against base_size
    position_limit: NonNegInt = 100

    @field_validator("max_size")
    @classmethod
    def _check_max_size(cls, max_size: int, info: ValidationInfo) -> int:
        return int(_must_reach(max_size, info, "base_size"))


class NoiseGroup(_GroupBase):
    """Zero-intelligence traders: random market orders, limit orders and cancels."""

    kind: Literal["noise"]
    arrival: ArrivalLaw
    mix: MixSpec = Field(default_factory=MixSpec)
    reference: PriceReference = "mid"
    placement: Literal["passive", "aggressive"] = "passive"
    distance: DistanceSpec = Field(
        default_factory=lambda: ExponentialDistance(kind="exponential", mean_ticks=5.0)
    )
    size: SizeSpec = Field(default_factory=lambda: FixedSize(kind="fixed", qty=1))
    ioc_prob: Probability = 0.0
    buy_prob: Probability = 0.5


class ChartistFundamentalistGroup(_GroupBase):
    """Heterogeneous traders mixing fundamentalist, chartist and noise forecasts.

    In the spirit of Chiarella & Iori (2002): each trader draws, once, a fundamentalist weight
    ``|N(0, fundamentalist_sd)|``, a chartist weight ``N(0, chartist_sd)`` (negative:
    contrarian), a noise weight ``|N(0, noise_sd)|``, a horizon uniform on
    ``[horizon_min_steps, horizon_max_steps]`` and a look-back uniform on
    ``[1, lookback_max_steps]``; see `abm.agents.chartist.ChartistFundamentalist`.
    """

    kind: Literal["chartist_fundamentalist"]
    arrival: ArrivalLaw
    fundamentalist_sd: NonNegFloat = 1.0
    chartist_sd: NonNegFloat = 1.0
    noise_sd: NonNegFloat = 1.0
    noise_return_sd: NonNegFloat = 0.0005
    horizon_min_steps: PosInt = 10
    horizon_max_steps: PosInt = 100
    lookback_max_steps: PosInt = 50
    max_markup: Annotated[float, _NO_BOOL, Field(ge=0.0, lt=1.0)] = 0.005
    size: SizeSpec = Field(default_factory=lambda: FixedSize(kind="fixed", qty=1))

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
    kind: Literal["discrete"]
    sizes: list[PosInt] = Field(min_length=1)
    weights: list[PosFloat] = Field(min_length=1)

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

    kind: Literal["paddrik"]
    role: PaddrikRole
    mean_interarrival_s: PosFloat
    side: Literal["buy", "sell", "either", "both"]
    reference: Literal["last", "mid"] = "last"
    take_prob: Probability = 0.0
    value_sensitivity: NonNegFloat = 0.0
    inventory_take: NonNegFloat = 0.0
    distance: DistanceSpec
    size: PopulationSizeSpec = Field(default_factory=_tail_sizes)
    position_limit: PosInt | None = None
    reduce_take_prob: Probability = 1.0
    skew_ticks: NonNegFloat = 0.0
    order_lifetime_s: PosFloat | None = None

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

    kind: Literal["pov"]
    side: Literal["buy", "sell"] = "sell"
    target_qty: PosInt
    participation: UnitFraction
    window_steps: PosInt
    interval_steps: PosInt = 1
    start_step: NonNegInt = 0
    mode: Literal["aggressive", "passive"] = "aggressive"

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
