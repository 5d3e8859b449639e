"""Agent groups: a scenario's ``agents`` entries, one spec per trader kind.

Each group names its ``kind`` and ``count`` (`abm.scenario.specs.GroupBase`); the agent that
acts on it is in `abm.agents` (one module per kind). `AgentGroup` is the union the scenario
validates, dispatched on ``kind``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from abm.policies import PolicySpec
from abm.risk.hedging import HedgeSpec, NoHedge
from abm.risk.rebalancing import NoRebalance, RebalanceSpec
from abm.risk.regimes import GapControlSpec, RegimeSpec
from abm.scenario.amm_groups import ArbitrageurGroup, LiquidityProviderGroup
from abm.scenario.lending_groups import BorrowerGroup, LiquidatorGroup
from abm.scenario.option_groups import OptionEndUserGroup, OptionMarketMakerGroup
from abm.scenario.paddrik import PaddrikGroup
from abm.scenario.specs import (
    ArrivalLaw,
    DistanceSpec,
    EWMAVolatility,
    ExponentialDistance,
    FixedSize,
    GroupBase,
    MixSpec,
    SizeSpec,
    VolatilitySpec,
    must_reach,
)
from abm.scenario.types import (
    BelowOne,
    Float,
    Lots,
    NonNegFloat,
    NonNegInt,
    NonNegLots,
    PosInt,
    PriceReference,
    Probability,
    UnitFraction,
)

_REFERENCE = "The price quotes centre on: `mid` (the book's mid) or `fundamental` (the value)."


class MarketMakerGroup(GroupBase):
    """Market makers quoting both sides every step with ``policy`` around ``reference``.

    Optional tools: rebalancing, hedging, risk regimes, gap controls and a default threshold.
    """

    kind: Literal["market_maker"] = Field(
        description="Two-sided quotes every step through a quoting policy."
    )
    policy: PolicySpec = Field(description="The quoting policy (a formula and its parameters).")
    quote_size: Lots = Field(default=1, description="Size of each quote, lots (<= 1e9).")
    max_inventory: NonNegLots | None = Field(
        default=None,
        description="Inventory limit, lots (<= 1e9): a side that could breach it is not quoted "
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


class InformedGroup(GroupBase):
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
    base_size: Lots = Field(default=1, description="Order size at zero edge, lots (<= 1e9).")
    size_per_edge: NonNegFloat = Field(
        default=0.0, description="Extra lots per price unit of edge."
    )
    max_size: Lots = Field(
        default=10,
        validate_default=True,  # checked against base_size
        description="Largest order, lots (<= 1e9); at least base_size.",
    )
    position_limit: NonNegLots = Field(
        default=100, description="Largest |inventory| it will hold, lots (<= 1e9)."
    )
    venue: Literal["book", "amm", "best"] = Field(
        default="book",
        description="Where it trades (its edge is against that venue's price): `book`, `amm` "
        "(the pool: needs an amm section) or `best` (the venue with the larger edge).",
    )

    @field_validator("max_size")
    @classmethod
    def _check_max_size(cls, max_size: int, info: ValidationInfo) -> int:
        return int(must_reach(max_size, info, "base_size"))


class NoiseGroup(GroupBase):
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
    venue: Literal["book", "amm", "best"] = Field(
        default="book",
        description="Where its market orders go (limits rest at the book): `book`, `amm` (the "
        "pool: needs an amm section) or `best` (the lower all-in cost for the size, "
        "abm.agents.routing).",
    )


class ChartistFundamentalistGroup(GroupBase):
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


class PovGroup(GroupBase):
    """A percentage-of-volume execution program: trades a block at a share of market volume.

    From ``start_step`` on, every ``interval_steps`` steps, the program's schedule grows by
    ``participation * V * interval_steps / window_steps`` lots, where ``V`` is the book volume
    of the previous ``window_steps`` steps (all traders, the program included), regardless of
    price; it trades the part of the schedule not yet done until ``target_qty`` lots are done.
    ``mode: aggressive`` sends market orders; ``mode: passive`` keeps one limit order at the
    touch of its own side (the best ask for a seller), re-pegged every interval. The SEC/CFTC
    (2010) report describes a 75,000-contract sale at 9% of the previous minute's volume; the
    record disputes whether its orders took or made liquidity, hence both modes.

    ``volume_feedback: false`` switches off the feedback the record blames for the speed of
    the sale (CFTC/SEC 2010, p. 3; Kirilenko et al. 2017, section 4): ``V`` is then the
    volume of the window before ``start_step``, fixed once, so the program keeps its ex-ante
    rate however much volume the market's own reaction adds.
    """

    kind: Literal["pov"] = Field(
        description="A percentage-of-volume execution program trading one block."
    )
    side: Literal["buy", "sell"] = Field(default="sell", description="Direction of the block.")
    target_qty: Lots = Field(description="Size of the block, lots (<= 1e9).")
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
    volume_feedback: bool = Field(
        default=True,
        description="True: V is the previous window's volume (the market's reaction feeds "
        "back); false: the window before start_step, fixed (the ex-ante rate).",
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
    | PovGroup
    | LiquidityProviderGroup
    | ArbitrageurGroup
    | OptionMarketMakerGroup
    | OptionEndUserGroup
    | BorrowerGroup
    | LiquidatorGroup,
    Field(discriminator="kind"),
]
