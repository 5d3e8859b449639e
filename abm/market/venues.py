"""The venue-kind registry: each kind of venue and the function that builds it.

`VENUE_KINDS` maps a venue kind to its builder, ``builder(name, context) -> Venue`` (a
`abm.market.venue.VenueContext` gives the scenario, the exchange and the venue's own random
generator). `SCENARIO_VENUES` lists the venues every run has, as ``(name, kind)`` in the order
they are built, attached to the exchange and opened each step: today the book (``"book"``)
and the hedge venue (``"hedge"``).

Adding a venue kind is a new module (a class satisfying `abm.market.venue.Venue` and its
builder) plus an entry here; the model builds, attaches and steps whatever is listed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from abm.market.book_venue import build_book_venue
from abm.market.hedge import build_hedge_venue
from abm.market.venue import Venue, VenueContext

VenueBuilder = Callable[[str, VenueContext], Venue]

VENUE_KINDS: Mapping[str, VenueBuilder] = MappingProxyType(
    {
        "book": build_book_venue,
        "hedge": build_hedge_venue,
    }
)
"""Venue kind -> builder."""

SCENARIO_VENUES: tuple[tuple[str, str], ...] = (("book", "book"), ("hedge", "hedge"))
"""The venues of a run, ``(name, kind)``, in build (and per-step opening) order."""
