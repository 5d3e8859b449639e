"""Trader agents: one module per kind; base.py holds the trader account."""
