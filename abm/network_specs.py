"""Scenario schema of the contagion layer: the market makers' network and its channels.

What each part does is documented where it lives: abm/network.py (graph construction),
abm/contagion.py (balance sheets and channels at run time).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from abm.scenario_types import (
    KindSpec,
    NonNegFloat,
    NonNegInt,
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

    kind: Literal["complete"]


class ErdosRenyiTopology(_TopologyBase):
    """Each directed pair is linked independently: probability ``p``, or ``mean_degree``.

    Exactly one of ``p`` and ``mean_degree`` (expected out-degree) must be given.
    """

    kind: Literal["erdos_renyi"]
    p: Probability | None = None
    mean_degree: NonNegFloat | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ErdosRenyiTopology:
        if (self.p is None) == (self.mean_degree is None):
            raise ValueError("give exactly one of p and mean_degree")
        return self


class BarabasiAlbertTopology(_TopologyBase):
    """Preferential attachment with ``m`` links per new node; each link lends both ways."""

    kind: Literal["barabasi_albert"]
    m: PosInt


class CorePeripheryTopology(_TopologyBase):
    """``core`` densely linked nodes; periphery nodes link to the core, rarely to each other.

    Directed link probabilities: core-core ``p_core``, periphery-core and core-periphery
    ``p_core_periphery``, periphery-periphery ``p_periphery``.
    """

    kind: Literal["core_periphery"]
    core: PosInt
    p_core: Probability = 1.0
    p_core_periphery: Probability = 0.5
    p_periphery: Probability = 0.0


class RingTopology(_TopologyBase):
    """Node i lends to node i+1 (mod n); ``bidirectional`` adds the reverse links."""

    kind: Literal["ring"]
    bidirectional: bool = False


class StarTopology(_TopologyBase):
    """A hub (node ``center``) linked both ways to every other node."""

    kind: Literal["star"]
    center: NonNegInt = 0


class EdgeListTopology(_TopologyBase):
    """Edges read from a CSV file (path relative to the working directory).

    Columns ``source,target`` and optionally ``exposure`` and ``capacity``; nodes are
    numbered 0..n-1 in the order market makers are created.
    """

    kind: Literal["edge_list"]
    path: str = Field(min_length=1)


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

    kind: Literal["uniform"]
    value: NonNegFloat


class ProportionalExposure(_ExposureBase):
    """A lender lends ``fraction`` of its capital, split equally over its out-edges."""

    kind: Literal["proportional"]
    fraction: UnitFraction


class LognormalExposure(_ExposureBase):
    """Exposures i.i.d. lognormal with median ``median`` and log-sd ``sigma``."""

    kind: Literal["lognormal"]
    median: PosFloat
    sigma: NonNegFloat


class GivenExposure(_ExposureBase):
    """Exposures from the edge list's ``exposure`` column (edge_list topology only)."""

    kind: Literal["given"]


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

    enabled: bool = True
    trigger: UnitFraction = 0.5
    trigger_lots: PosInt = 50
    concession_ticks: NonNegInt = 1


class DefaultChannel(Spec):
    """Defaults: cancel the defaulter's orders, liquidate, write down its creditors.

    The defaulted market maker's inventory is sold into the book over
    ``liquidation_steps`` steps, and its creditors write down exposure x (1 -
    ``recovery_rate``), in waves within the step.
    """

    enabled: bool = True
    recovery_rate: Probability = 0.0
    liquidation_steps: PosInt = 10


class FireSaleChannel(Spec):
    """Fire sales: forced selling moves the book and everyone is marked to it at once.

    Forced sales (liquidations, margin cuts) hit the book as market orders; losses from
    the new marks can trigger further margin calls and defaults within the same step.
    """

    enabled: bool = True


class MarginChannel(Spec):
    """Margin (Brunnermeier & Pedersen 2009): requirement = rate x |inventory| x price.

    ``rate = base_rate + vol_coefficient * sigma_hat`` when ``vol_linked`` (sigma_hat: the
    market maker's volatility estimate). Below its requirement (equity < requirement), a
    market maker cuts ``pace`` of its inventory per step with market orders.
    """

    enabled: bool = True
    base_rate: NonNegFloat = 0.1
    vol_linked: bool = False
    vol_coefficient: NonNegFloat = 0.0
    pace: UnitFraction = 0.25


class CreditLineChannel(Spec):
    """Credit lines: lenders call lines of distressed borrowers.

    When a borrower's DebtRank-style distress (relative equity loss) exceeds
    ``distress_threshold``, each lender calls ``call_fraction`` of the line; the borrower
    repays in cash or sells inventory.
    """

    enabled: bool = True
    distress_threshold: UnitFraction = 0.5
    call_fraction: UnitFraction = 0.5


class ConfidenceChannel(Spec):
    """Market makers whose neighbours are distressed become STRESSED, or withdraw.

    When the share of a market maker's neighbours (in or out) that are defaulted or in
    distress (relative equity loss above ``distress_threshold``) reaches ``stress_share``
    it quotes with the STRESSED multipliers below; at ``withdraw_share`` it withdraws.
    """

    enabled: bool = True
    distress_threshold: UnitFraction = 0.3
    stress_share: UnitFraction = 0.25
    withdraw_share: UnitFraction = 0.5
    spread_mult: PosFloat = 2.0
    size_mult: PosFloat = 0.5


class ChannelsSpec(Spec):
    """Which contagion channels run (each off unless listed)."""

    hot_potato: HotPotatoChannel | None = None
    default: DefaultChannel | None = Field(default_factory=DefaultChannel)
    fire_sale: FireSaleChannel | None = None
    margin: MarginChannel | None = None
    credit_lines: CreditLineChannel | None = None
    confidence: ConfidenceChannel | None = None


class NetworkSpec(Spec):
    """The market makers' contagion network (``model.network``).

    Nodes are all market makers in creation order (node i = the i-th market maker);
    an edge i -> j means i has lent ``exposure`` to j, with a per-step inventory
    ``capacity`` (lots) for hot-potato trades.
    """

    topology: TopologySpec
    exposure: ExposureSpec = Field(
        default_factory=lambda: UniformExposure(kind="uniform", value=100.0)
    )
    capacity: NonNegInt = 10
    channels: ChannelsSpec = Field(default_factory=ChannelsSpec)


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
