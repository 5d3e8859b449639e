"""The limit order book under its old public name; the code lives in `abm.market.orderbook`."""

from abm.market.orderbook import (
    COMPILED,
    Fill,
    InvalidOrderError,
    OrderBook,
    OrderResult,
    OrderView,
    Side,
)

__all__ = [
    "COMPILED",
    "Fill",
    "InvalidOrderError",
    "OrderBook",
    "OrderResult",
    "OrderView",
    "Side",
]
