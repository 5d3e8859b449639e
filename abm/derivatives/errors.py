"""Errors of `abm.derivatives`: bad option inputs, prices no volatility explains, failed fits."""

from __future__ import annotations

from abm.errors import AbmError


class DerivativesError(AbmError, ValueError):
    """An option input abm cannot price: the message names the argument and what is wrong."""


class ImpliedVolatilityError(DerivativesError):
    """A price outside the no-arbitrage bounds, so that no volatility reproduces it."""


class CalibrationError(DerivativesError):
    """A surface Heston cannot be fitted to, or whose fit leaves parameters unidentified."""


__all__ = ["CalibrationError", "DerivativesError", "ImpliedVolatilityError"]
