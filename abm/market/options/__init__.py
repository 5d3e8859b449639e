"""The options venue (``"options"``): European option series on the book's underlying.

- `abm.market.options.spec`: `OptionsSpec`, the scenario's top-level ``options:`` section;
- `abm.market.options.series`: one option series (`OptionSeries`) and its order book venue
  (`SeriesBook`, a `abm.market.book_venue.BookVenue` on a held instrument);
- `abm.market.options.venue`: `OptionsVenue`, the venue the exchange knows as ``"options"``:
  it lists the series, settles them in cash at expiry, values positions and records the
  ``options`` table.
"""

from __future__ import annotations

from abm.market.options.errors import OptionsError
from abm.market.options.series import OptionSeries, SeriesBook, series_name
from abm.market.options.spec import OptionsSpec
from abm.market.options.venue import OptionsVenue, build_options_venue

__all__ = [
    "OptionSeries",
    "OptionsError",
    "OptionsSpec",
    "OptionsVenue",
    "SeriesBook",
    "build_options_venue",
    "series_name",
]
