"""The limit order book under its old public name; the code lives in `abm.market.orderbook`."""

from abm.market.orderbook import (
    COMPILED,
    MAX_PRICE_TICKS,
    MAX_QTY,
    Fill,
    InvalidOrderError,
    InvalidOrderTypeError,
    OrderBook,
    OrderResult,
    OrderView,
    Side,
)

__all__ = [
    "COMPILED",
    "MAX_PRICE_TICKS",
    "MAX_QTY",
    "Fill",
    "InvalidOrderError",
    "InvalidOrderTypeError",
    "OrderBook",
    "OrderResult",
    "OrderView",
    "Side",
]
