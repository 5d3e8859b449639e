"""Enumerated states every layer may import (a leaf module: it imports nothing of abm)."""

from __future__ import annotations

from enum import StrEnum


class Regime(StrEnum):
    """A market maker's risk regime (transitions arrive with the inventory-risk layer)."""

    NORMAL = "NORMAL"
    STRESSED = "STRESSED"
    CRISIS = "CRISIS"


class Status(StrEnum):
    """Whether a trader is still in the market."""

    ACTIVE = "ACTIVE"
    DEFAULTED = "DEFAULTED"
