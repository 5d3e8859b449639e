"""The trader classes of the E-mini model of Paddrik et al. (2012), with their defaults.

Speeds and position limits are those of Paddrik et al. (2012, Table 1); the volume shares
the defaults aim at are those Kirilenko et al. (2017, Table II) measured (see
`paddrik_role_defaults`).
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field, model_validator

from abm.scenario.specs import DiscreteSize, DistanceSpec, GroupBase, PopulationSizeSpec
from abm.scenario.types import (
    Lots,
    NonNegFloat,
    PosFloat,
    Probability,
)

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


class PaddrikGroup(GroupBase):
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
      ``inventory_take * |q| / position_limit`` on the side that reduces ``|q|``; a
      two-sided trader's ``take_prob`` orders reduce ``|q|`` too (``take_direction:
      reduce``) or go to a fair coin's side (``random``: taking that is not inventory
      control, so that its inventory mean-reverts only as fast as ``skew_ticks`` and
      ``inventory_take`` make it, the half-life of about two minutes Kirilenko et al. 2017,
      section 3.C, measured for HFTs, instead of within seconds);
    * a resting order goes ``distance`` ticks behind ``p`` (never through the opposite
      touch), except that a one-sided trader with ``value_limit_pct`` set rests nothing
      while ``p`` is more than that many percent on the wrong side of ``F`` (a seller below
      ``F``, a buyer above it): a fundamental seller does not offer the contract far below
      what it thinks it is worth, so after a plunge the ask side thins and returning buyers
      lift the price (the fundamental traders of Paddrik et al. 2012 trade on value; on
      May 6 prices stabilised after the pause and recovered as buyers returned, CFTC/SEC
      2010, p. 4); a two-sided trader shifts both quotes by ``-skew_ticks * q /
      position_limit`` and keeps a resting quote whose price it wants again (and so its
      queue position);
    * sizes come from ``size``; resting orders expire after ``order_lifetime_s`` if set;
    * past ``position_limit`` (``|q| > limit``) the trader only trades to reduce ``|q|``
      (a market order with probability ``reduce_take_prob``, else a limit at the touch) until
      ``|q|`` is back under half its limit: an intermediary at its limit turns from providing
      to demanding immediacy (Kirilenko et al. 2017, section 5);
    * under stress, with ``r`` the high-low range (percent) of the last trade over the last
      ``stress_window_s`` seconds (`abm.agents.stress`; ``stress_measure: drawdown``: the
      last trade's fall below that window's high, which a rebound lowers): with
      ``withdraw_range_pct`` set, the trader steps back at an arrival (cancels its resting
      orders and rests nothing; a one-sided trader still takes, but only for value, with
      probability ``value_sensitivity`` times its discount) with probability
      ``r^n / (r^n + withdraw_range_pct^n)``, ``n = stress_steepness``, one half when ``r``
      equals it (the fundamental buyers who stepped back as volatility rose,
      CFTC/SEC 2010, p. 3); with ``widen_range_pct`` set, a two-sided trader's quote
      distances are multiplied by ``1 + (r / widen_range_pct)^n`` (quotes pulled away from
      the market towards stub quotes, CFTC/SEC 2010, pp. 6-7); with ``pass_range_pct`` set,
      a trader whose inventory moved since its last arrival (its resting quotes were
      filled) passes those lots on at once with a market order on the other side, with
      probability ``r^n / (r^n + pass_range_pct^n)``, before it acts as above: the "hot
      potato" of CFTC/SEC (2010, p. 3), where HFTs "began to quickly buy and then resell
      contracts to each other", and of Kirilenko et al. (2017, section 5), so that under
      stress intermediaries trade much while their net position barely moves, and the
      volume they pass back and forth feeds a volume-following seller.
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
    value_limit_pct: PosFloat | None = Field(
        default=None,
        description="A one-sided trader rests no order when the price is this many percent "
        "on the wrong side of the value F (a seller below F, a buyer above it); null: always.",
    )
    take_direction: Literal["reduce", "random"] = Field(
        default="reduce",
        description="A two-sided trader's take_prob orders: `reduce` |q| (flatten), or a "
        "`random` side (the inventory_take part always reduces).",
    )
    inventory_take: NonNegFloat = Field(
        default=0.0,
        description="Rise of the take probability, on the side reducing |q|, at |q| = "
        "position_limit.",
    )
    distance: DistanceSpec = Field(description="Distance of a resting order behind p, ticks.")
    size: PopulationSizeSpec = Field(default=_tail_sizes(), description="Order sizes, lots.")
    position_limit: Lots | None = Field(
        default=None,
        description="Largest |q|, lots (<= 1e9); beyond it the trader only reduces |q| "
        "(null: none).",
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

    stress_window_s: PosFloat = Field(
        default=30.0,
        description="Trailing window of the stress range r (high-low of the last trade, %), s.",
    )
    stress_measure: Literal["range", "drawdown"] = Field(
        default="range",
        description="The stress r: the high-low `range` of the window (%), or the `drawdown`, "
        "the last trade's fall below the window's high (%).",
    )
    stress_steepness: PosFloat = Field(
        default=2.0,
        description="Exponent n of the stress responses (the larger, the sharper the "
        "threshold at withdraw_range_pct / widen_range_pct).",
    )
    withdraw_range_pct: PosFloat | None = Field(
        default=None,
        description="Range r (%) at which half the arrivals step back (cancel, send nothing); "
        "null: never.",
    )
    stress_flatten: bool = Field(
        default=False,
        description="A two-sided trader that steps back (withdraw_range_pct) also reduces |q| "
        "as past its limit (market order with reduce_take_prob).",
    )
    pass_range_pct: PosFloat | None = Field(
        default=None,
        description="Stress r (%) at which half the arrivals pass on at market the lots their "
        "quotes took in since the last arrival (hot potato); null: never.",
    )
    widen_range_pct: PosFloat | None = Field(
        default=None,
        description="Quote distances times 1 + (r / widen_range_pct)^2 for a two-sided "
        "trader; null: never.",
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
        if self.value_limit_pct is not None and self.side == "both":
            raise ValueError("value_limit_pct is for one-sided traders (side: buy, sell, either)")
        if self.pass_range_pct is not None and self.side != "both":
            raise ValueError("pass_range_pct is for two-sided traders (side: both)")
        if self.position_limit is None and (self.inventory_take > 0 or self.skew_ticks > 0):
            raise ValueError(
                "inventory_take and skew_ticks scale with position_limit; set a position_limit "
                "or set them to 0"
            )
        return self
