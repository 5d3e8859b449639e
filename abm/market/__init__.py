"""The market: the order book, the exchange that settles every venue, venues and the mark."""
