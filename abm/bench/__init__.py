"""Benchmarks behind ``abm bench``: the order book, the model step loop, crisis scale."""
