"""The labels of `RunResult` tables that several analyses read.

The ``agents`` table labels market makers ``kind == MARKET_MAKER_KIND`` and a defaulted trader
``status == DEFAULTED``; forced sales are ``events`` of the `FORCED_SALE_KINDS` (event kinds are
`abm.results.events.EventKind` members; an event's fields are typed columns, see
`abm.results.events.EventFields`). `quantity_label` gives the one name the report and its
figures use for a quantity that the tables call differently. Pure functions; nothing here
imports the model.
"""

from __future__ import annotations

import pandas as pd

from abm.results.events import EventKind

MARKET_MAKER_KIND = "market_maker"
"""The ``agents.kind`` label of market makers."""
DEFAULTED = "DEFAULTED"
"""The ``agents.status`` label of a defaulted trader."""
FORCED_SALE_KINDS = (EventKind.LIQUIDATION, EventKind.MARGIN_CALL)
"""Event kinds of forced sales; each logs its signed lots, ``notional``, ``mid`` and ``venue``."""


def events_of_kind(events: pd.DataFrame, *kinds: EventKind) -> pd.DataFrame:
    """The rows of ``events`` whose ``kind`` is one of ``kinds``."""
    return events[events["kind"].isin(kinds).to_numpy(dtype=bool)]


QUANTITY_LABELS = {
    "default": "credit write-downs",
    "writedown": "credit write-downs",
    "credit_losses": "credit write-downs",
    "forced_sale": "forced-sale losses",
    "forced_sales": "forced-sale losses",
    "loss_shock": "loss shocks",
}
"""One name per quantity: the summary calls the default channel's losses ``default``, the
crisis summary ``writedown`` and the P&L decomposition ``credit_losses``; all are the
write-downs creditors take on claims against defaulted dealers."""


def quantity_label(name: str) -> str:
    """The one display name of a quantity (`QUANTITY_LABELS`), else ``name`` spelled out."""
    return QUANTITY_LABELS.get(name, name.replace("_", " "))
