"""Scenario schema of the contagion layer: the market makers' network and its channels.

What each part does is documented where it lives: abm/contagion/graph.py (graph construction),
abm/contagion/engine.py (balance sheets and channels at run time).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from abm.scenario.types import (
    KindSpec,
    Lots,
    NonNegFloat,
    NonNegInt,
    NonNegLots,
    PosFloat,
    PosInt,
    Probability,
    Spec,
    UnitFraction,
)

# --- topology -------------------------------------------------------------------------


class _TopologyBase(KindSpec):
    kind_noun: ClassVar[str] = "topology"


class CompleteTopology(_TopologyBase):
    """Every market maker lends to every other (both directions)."""

    kind: Literal["complete"] = Field(description="Every market maker lends to every other.")


class ErdosRenyiTopology(_TopologyBase):
    """Each directed pair is linked independently: probability ``p``, or ``mean_degree``.

    Exactly one of ``p`` and ``mean_degree`` (expected out-degree) must be given.
    """

    kind: Literal["erdos_renyi"] = Field(description="Independent random directed links.")
    p: Probability | None = Field(
        default=None, description="Probability of each directed link (or give mean_degree)."
    )
    mean_degree: NonNegFloat | None = Field(
        default=None, description="Expected out-degree (or give p)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> ErdosRenyiTopology:
        if (self.p is None) == (self.mean_degree is None):
            raise ValueError("give exactly one of p and mean_degree")
        return self


class BarabasiAlbertTopology(_TopologyBase):
    """Preferential attachment with ``m`` links per new node; each link lends both ways."""

    kind: Literal["barabasi_albert"] = Field(description="Preferential attachment.")
    m: PosInt = Field(description="Links each new node makes (each lends both ways).")


class CorePeripheryTopology(_TopologyBase):
    """``core`` densely linked nodes; periphery nodes link to the core, rarely to each other.

    Directed link probabilities: core-core ``p_core``, periphery-core and core-periphery
    ``p_core_periphery``, periphery-periphery ``p_periphery``.
    """

    kind: Literal["core_periphery"] = Field(description="A dense core and a sparse periphery.")
    core: PosInt = Field(description="Number of core nodes (the first ones).")
    p_core: Probability = Field(default=1.0, description="Core-core link probability.")
    p_core_periphery: Probability = Field(
        default=0.5, description="Core-periphery link probability (each direction)."
    )
    p_periphery: Probability = Field(
        default=0.0, description="Periphery-periphery link probability."
    )


class RingTopology(_TopologyBase):
    """Node i lends to node i+1 (mod n); ``bidirectional`` adds the reverse links."""

    kind: Literal["ring"] = Field(description="Node i lends to node i+1 (mod n).")
    bidirectional: bool = Field(default=False, description="Add the reverse links.")


class StarTopology(_TopologyBase):
    """A hub (node ``center``) linked both ways to every other node."""

    kind: Literal["star"] = Field(description="A hub linked both ways to every other node.")
    center: NonNegInt = Field(default=0, description="Node index of the hub.")


class EdgeListTopology(_TopologyBase):
    """Edges read from a CSV file (path relative to the scenario file; `abm.load_scenario`).

    Columns ``source,target`` and optionally ``exposure`` and ``capacity``; nodes are
    numbered 0..n-1 in the order market makers are created.
    """

    kind: Literal["edge_list"] = Field(description="Edges read from a CSV file.")
    path: str = Field(
        min_length=1,
        description="CSV with columns source,target[,exposure,capacity], relative to the "
        "scenario file.",
    )


TopologySpec = Annotated[
    CompleteTopology
    | ErdosRenyiTopology
    | BarabasiAlbertTopology
    | CorePeripheryTopology
    | RingTopology
    | StarTopology
    | EdgeListTopology,
    Field(discriminator="kind"),
]

# --- exposure sizing --------------------------------------------------------------------


class _ExposureBase(KindSpec):
    kind_noun: ClassVar[str] = "exposure"


class UniformExposure(_ExposureBase):
    """Every edge carries ``value`` (price units)."""

    kind: Literal["uniform"] = Field(description="The same exposure on every edge.")
    value: NonNegFloat = Field(description="Exposure per edge, price units.")


class ProportionalExposure(_ExposureBase):
    """A lender lends ``fraction`` of its capital, split equally over its out-edges."""

    kind: Literal["proportional"] = Field(
        description="A share of the lender's capital, split over its out-edges."
    )
    fraction: UnitFraction = Field(description="Share of capital lent, in (0, 1].")


class LognormalExposure(_ExposureBase):
    """Exposures i.i.d. lognormal with median ``median`` and log-sd ``sigma``."""

    kind: Literal["lognormal"] = Field(description="I.i.d. lognormal exposures.")
    median: PosFloat = Field(description="Median exposure, price units.")
    sigma: NonNegFloat = Field(description="Standard deviation of the log exposure.")


class GivenExposure(_ExposureBase):
    """Exposures from the edge list's ``exposure`` column (edge_list topology only)."""

    kind: Literal["given"] = Field(
        description="The exposure column of the edge list (edge_list topology only)."
    )


ExposureSpec = Annotated[
    UniformExposure | ProportionalExposure | LognormalExposure | GivenExposure,
    Field(discriminator="kind"),
]

# --- channels ---------------------------------------------------------------------------


class HotPotatoChannel(Spec):
    """Inter-dealer inventory passing (Lyons 1997).

    A market maker whose ``|inventory|`` exceeds ``trigger`` x its inventory limit (or
    ``trigger_lots`` without one) passes inventory to linked neighbours whose position
    can absorb it, at most the link's capacity per step, at a concession of
    ``concession_ticks`` ticks from the mid in the receiver's favour.
    """

    enabled: bool = Field(default=True, description="Run this channel.")
    trigger: UnitFraction = Field(
        default=0.5, description="Share of the inventory limit above which inventory is passed on."
    )
    trigger_lots: Lots = Field(
        default=50,
        description="The trigger, lots, for a market maker without an inventory limit (<= 1e9).",
    )
    concession_ticks: NonNegInt = Field(
        default=1, description="Price concession to the receiver, ticks from the mid."
    )


class DefaultChannel(Spec):
    """Defaults: cancel the defaulter's orders, liquidate, write down its creditors.

    The defaulted market maker's inventory is sold into the book over
    ``liquidation_steps`` steps, and its creditors write down exposure x (1 -
    ``recovery_rate``), in waves within the step.
    """

    enabled: bool = Field(default=True, description="Run this channel.")
    recovery_rate: Probability = Field(
        default=0.0, description="Share of an exposure creditors recover, in [0, 1]."
    )
    liquidation_steps: PosInt = Field(
        default=10, description="Steps over which the defaulter's inventory is sold."
    )


class FireSaleChannel(Spec):
    """Fire sales: forced selling moves the book and everyone is marked to it at once.

    Forced sales (liquidations, margin cuts) hit the book as market orders; losses from
    the new marks can trigger further margin calls and defaults within the same step.
    """

    enabled: bool = Field(default=True, description="Run this channel.")


class MarginChannel(Spec):
    """Margin (Brunnermeier & Pedersen 2009): requirement = rate x |inventory| x price.

    ``rate = base_rate + vol_coefficient * sigma_hat`` when ``vol_linked`` (sigma_hat: the
    market maker's volatility estimate). Below its requirement (equity < requirement), a
    market maker cuts ``pace`` of its inventory per step with market orders.
    """

    enabled: bool = Field(default=True, description="Run this channel.")
    base_rate: NonNegFloat = Field(
        default=0.1, description="Margin rate, a share of the position's value."
    )
    vol_linked: bool = Field(
        default=False, description="Add vol_coefficient * sigma_hat to the rate."
    )
    vol_coefficient: NonNegFloat = Field(
        default=0.0,
        description="Rate per unit of the volatility estimate (price units per sqrt(time)).",
    )
    pace: UnitFraction = Field(
        default=0.25, description="Share of inventory cut per step while under margin."
    )


class CreditLineChannel(Spec):
    """Credit lines: lenders call lines of distressed borrowers.

    When a borrower's DebtRank-style distress (relative equity loss) exceeds
    ``distress_threshold``, each lender calls ``call_fraction`` of the line; the borrower
    repays in cash or sells inventory.
    """

    enabled: bool = Field(default=True, description="Run this channel.")
    distress_threshold: UnitFraction = Field(
        default=0.5, description="Relative equity loss above which lenders call lines."
    )
    call_fraction: UnitFraction = Field(
        default=0.5, description="Share of a line each lender calls."
    )


class ConfidenceChannel(Spec):
    """Market makers whose neighbours are distressed become STRESSED, or withdraw.

    When the share of a market maker's neighbours (in or out) that are defaulted or in
    distress (relative equity loss above ``distress_threshold``) reaches ``stress_share``
    it quotes with the STRESSED multipliers below; at ``withdraw_share`` it withdraws.
    """

    enabled: bool = Field(default=True, description="Run this channel.")
    distress_threshold: UnitFraction = Field(
        default=0.3,
        description="Relative equity loss above which a neighbour counts as distressed.",
    )
    stress_share: UnitFraction = Field(
        default=0.25, description="Share of distressed neighbours at which it becomes STRESSED."
    )
    withdraw_share: UnitFraction = Field(
        default=0.5, description="Share of distressed neighbours at which it withdraws."
    )
    spread_mult: PosFloat = Field(default=2.0, description="Spread multiplier when STRESSED.")
    size_mult: PosFloat = Field(default=0.5, description="Size multiplier when STRESSED.")


class ChannelsSpec(Spec):
    """Which contagion channels run (each off unless listed)."""

    hot_potato: HotPotatoChannel | None = Field(
        default=None, description="Inter-dealer inventory passing (null: off)."
    )
    default: DefaultChannel | None = Field(
        default=DefaultChannel(),
        description="Default handling: liquidation and creditor write-downs (null: off).",
    )
    fire_sale: FireSaleChannel | None = Field(
        default=None, description="Marking everyone to forced sales at once (null: off)."
    )
    margin: MarginChannel | None = Field(
        default=None, description="Margin calls and forced deleveraging (null: off)."
    )
    credit_lines: CreditLineChannel | None = Field(
        default=None, description="Lenders calling the lines of distressed borrowers (null: off)."
    )
    confidence: ConfidenceChannel | None = Field(
        default=None, description="Stress spreading through distressed neighbours (null: off)."
    )


class NetworkSpec(Spec):
    """The market makers' contagion network (``model.network``).

    Nodes are all market makers in creation order (node i = the i-th market maker);
    an edge i -> j means i has lent ``exposure`` to j, with a per-step inventory
    ``capacity`` (lots) for hot-potato trades.
    """

    topology: TopologySpec = Field(description="Who lends to whom.")
    exposure: ExposureSpec = Field(
        description="How much each edge lends, price units.",
        default=UniformExposure(kind="uniform", value=100.0),
    )
    capacity: NonNegLots = Field(
        default=10,
        description="Per-step inventory an edge can carry in hot-potato trades, lots (<= 1e9).",
    )
    channels: ChannelsSpec = Field(
        default=ChannelsSpec(), description="Which contagion channels run."
    )


__all__ = [
    "BarabasiAlbertTopology",
    "ChannelsSpec",
    "CompleteTopology",
    "ConfidenceChannel",
    "CorePeripheryTopology",
    "CreditLineChannel",
    "DefaultChannel",
    "EdgeListTopology",
    "ErdosRenyiTopology",
    "ExposureSpec",
    "FireSaleChannel",
    "GivenExposure",
    "HotPotatoChannel",
    "LognormalExposure",
    "MarginChannel",
    "NetworkSpec",
    "ProportionalExposure",
    "RingTopology",
    "StarTopology",
    "TopologySpec",
    "UniformExposure",
]
