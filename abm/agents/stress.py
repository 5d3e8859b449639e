"""A short-term stress signal: the range (or the drawdown) of recent trade prices.

Traders of the flash-crash model react to short-term volatility (Kirilenko et al. 2017,
section 5: fundamental buyers step back and intermediaries widen or pull their quotes as
prices move fast; Easley, López de Prado and O'Hara 2011, "The microstructure of the 'flash
crash'", J. Portfolio Management 37(2): liquidity providers withdraw as order flow turns
toxic). The signal is the high-low range of the last trade price over a trailing window,
in percent of the high: a robust, scale-free volatility measure (Parkinson 1980, "The
extreme value method for estimating the variance of the rate of return", J. Business 53(1)).
"""

from __future__ import annotations

from collections import deque


class RangeGauge:
    """Trailing high-low range of a price sampled at its users' arrivals.

    Each call to `range_pct` feeds the price the caller sees now; the range covers the
    samples of the last ``window_steps`` steps (the current one included). One gauge serves a
    group of traders, so it is sampled whenever any of them arrives.

    Args:
        window_steps: Length of the trailing window, steps (>= 1).
    """

    __slots__ = ("_highs", "_lows", "_window")

    def __init__(self, window_steps: int) -> None:
        self._window = window_steps
        self._highs: deque[tuple[int, float]] = deque()  # prices decreasing
        self._lows: deque[tuple[int, float]] = deque()  # prices increasing

    def restart(self) -> None:
        """Forget every sample: the range starts again from the next price fed."""
        self._highs.clear()
        self._lows.clear()

    def range_pct(self, step: int, price: float) -> float:
        """Feed ``price`` seen at ``step``; the window's ``100 * (high - low) / high``."""
        highs, lows = self._highs, self._lows
        while highs and highs[-1][1] <= price:
            highs.pop()
        highs.append((step, price))
        while lows and lows[-1][1] >= price:
            lows.pop()
        lows.append((step, price))
        oldest = step - self._window
        while highs[0][0] <= oldest:
            highs.popleft()
        while lows[0][0] <= oldest:
            lows.popleft()
        high = highs[0][1]
        return 100.0 * (high - lows[0][1]) / high if high > 0 else 0.0

    def drawdown_pct(self, step: int, price: float) -> float:
        """Feed ``price`` seen at ``step``; its fall below the window's high, in percent.

        One-sided, unlike the range: a rebound lowers it, so traders who react to it return
        as soon as the price recovers (the fall from a recent high is also what the circuit
        breaker watches).
        """
        self.range_pct(step, price)
        high = self._highs[0][1]
        return 100.0 * (high - price) / high if high > 0 else 0.0


def hill(x: float, half: float, steepness: float) -> float:
    """``x^n / (x^n + half^n)``, ``n = steepness``: 0 at 0, one half at ``half``, 1 beyond.

    The Hill function (a smooth threshold; the larger ``n``, the sharper the step at
    ``half``). ``x >= 0``, ``half > 0``, ``steepness > 0``.
    """
    ratio = (x / half) ** steepness
    return ratio / (1.0 + ratio)
