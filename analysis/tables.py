"""The labels and event-detail fields of `RunResult` tables that several analyses read.

The ``agents`` table labels market makers ``kind == MARKET_MAKER_KIND`` and a defaulted trader
``status == DEFAULTED``; forced sales are ``events`` of the `FORCED_SALE_KINDS`. An event's
``detail`` is ``key=value`` fields separated by ``;`` (``"notional=1.0; mid=2.0"``), read with
`detail_field`, `required_detail_field` and `detail_int`. `quantity_label` gives the one name
the report and its figures use for a quantity that the tables call differently. Pure functions;
nothing here imports the model.
"""

from __future__ import annotations

import pandas as pd

MARKET_MAKER_KIND = "market_maker"
"""The ``agents.kind`` label of market makers."""
DEFAULTED = "DEFAULTED"
"""The ``agents.status`` label of a defaulted trader."""
FORCED_SALE_KINDS = ("liquidation", "margin_call")
"""Event kinds of forced sales; each logs its signed lots, ``notional``, ``mid`` and ``venue``."""


def detail_field(detail: object, key: str) -> str | None:
    """The text after ``key=`` in a detail such as ``"notional=1.0; mid=2.0"``, or None."""
    for part in str(detail).split(";"):
        name, _, value = part.strip().partition("=")
        if name == key:
            return value
    return None


def required_detail_field(detail: object, key: str) -> str:
    """The text after ``key=`` in an event detail.

    Raises:
        ValueError: If the detail has no such field.
    """
    value = detail_field(detail, key)
    if value is None:
        raise ValueError(f"event detail {detail!r} has no {key!r} field")
    return value


def detail_int(detail: object, key: str) -> int:
    """The integer after ``key=`` in an event detail (``wave=``, ``hop=``).

    Raises:
        ValueError: If the detail has no such field.
    """
    return int(required_detail_field(detail, key))


def events_of_kind(events: pd.DataFrame, *kinds: str) -> pd.DataFrame:
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
