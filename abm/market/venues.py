"""The venue-kind registry: each kind of venue and the function that builds it.

`VENUE_KINDS` maps a venue kind to its builder, ``builder(name, context) -> Venue`` (a
`abm.market.venue.VenueContext` gives the scenario, the exchange and the venue's own random
generator). `SCENARIO_VENUES` lists the venues every run has, as ``(name, kind)`` in the order
they are built, attached to the exchange and opened each step: the book (``"book"``) and the
hedge venue (``"hedge"``). `OPTIONAL_VENUES` lists the venues a scenario asks for by a top-level
section of its own (an ``amm:`` section, say): built after those, in the mapping's order, when
the section is present (not None). `scenario_venues` gives a scenario's whole list.

Adding a venue kind is a new module (a class satisfying `abm.market.venue.Venue` and its
builder) plus an entry in `VENUE_KINDS` (and in `OPTIONAL_VENUES` for a venue a section turns
on); the model builds, attaches and steps whatever is listed. The venues' random streams are
spawned by index in that order (`abm.model.MarketModel`), so a venue added after the others
leaves the earlier venues' streams, and so every earlier scenario's output, unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from abm.market.amm.venue import build_amm_venue
from abm.market.book_venue import build_book_venue
from abm.market.hedge import build_hedge_venue
from abm.market.lending.venue import build_lending_venue
from abm.market.options.venue import build_options_venue
from abm.market.venue import Venue, VenueContext

VenueBuilder = Callable[[str, VenueContext], Venue]

VENUE_KINDS: Mapping[str, VenueBuilder] = MappingProxyType(
    {
        "book": build_book_venue,
        "hedge": build_hedge_venue,
        "amm": build_amm_venue,
        "options": build_options_venue,
        "lending": build_lending_venue,
    }
)
"""Venue kind -> builder."""

SCENARIO_VENUES: tuple[tuple[str, str], ...] = (("book", "book"), ("hedge", "hedge"))
"""The venues of every run, ``(name, kind)``, in build (and per-step opening) order."""

OPTIONAL_VENUES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "amm": ("amm", "amm"),
        "options": ("options", "options"),
        "lending": ("lending", "lending"),
    }
)
"""Scenario section -> the ``(name, kind)`` of the venue it turns on (when not None)."""


def scenario_venues(
    scenario: Any,
    *,
    always: tuple[tuple[str, str], ...] = SCENARIO_VENUES,
    optional: Mapping[str, tuple[str, str]] = OPTIONAL_VENUES,
) -> tuple[tuple[str, str], ...]:
    """The ``(name, kind)`` of ``scenario``'s venues, in build order.

    ``always`` first, then each of ``optional`` whose scenario section is present (an
    attribute of the scenario that is not None), in ``optional``'s order.
    """
    extra = tuple(
        venue for section, venue in optional.items() if getattr(scenario, section, None) is not None
    )
    return (*always, *extra)
