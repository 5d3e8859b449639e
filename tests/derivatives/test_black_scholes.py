"""Black-Scholes-Merton prices, Greeks and implied volatility (abm.derivatives.black_scholes)."""

from __future__ import annotations

import numpy as np
import pytest

from abm.derivatives import (
    DerivativesError,
    ImpliedVolatilityError,
    bsm_delta,
    bsm_gamma,
    bsm_price,
    bsm_theta,
    bsm_vega,
    implied_volatility,
)

STRIKES = np.array([60.0, 80.0, 95.0, 100.0, 105.0, 120.0, 150.0])
MARKET = {"spot": 100.0, "expiry": 0.75, "rate": 0.04, "dividend": 0.015, "vol": 0.28}


def _price(spot: float = 100.0, expiry: float = 0.75, vol: float = 0.28, call: bool = True):
    return bsm_price(spot, STRIKES, expiry, MARKET["rate"], MARKET["dividend"], vol, call)


def test_bsm_price_matches_hull_textbook_example() -> None:
    """Hull (Options, Futures and Other Derivatives, 8th ed.), example 15.6: call 4.76, put 0.81.

    S 42, K 40, r 10%, sigma 20%, six months, to the cent printed there.
    """
    assert bsm_price(42.0, 40.0, 0.5, 0.1, 0.0, 0.2, True) == pytest.approx(4.76, abs=0.005)
    assert bsm_price(42.0, 40.0, 0.5, 0.1, 0.0, 0.2, False) == pytest.approx(0.81, abs=0.005)


def test_bsm_price_satisfies_put_call_parity() -> None:
    """C - P = S e^{-qT} - K e^{-rT} (a no-arbitrage identity, independent of the model)."""
    s, t, r, q = MARKET["spot"], MARKET["expiry"], MARKET["rate"], MARKET["dividend"]
    parity = s * np.exp(-q * t) - STRIKES * np.exp(-r * t)
    np.testing.assert_allclose(_price(call=True) - _price(call=False), parity, atol=1e-12)


def test_bsm_price_vectorises_over_strikes_like_scalar_calls() -> None:
    """One array call equals one scalar call per strike, bit for bit."""
    one_by_one = [float(bsm_price(100.0, k, 0.75, 0.04, 0.015, 0.28)) for k in STRIKES]
    assert _price().tolist() == one_by_one


def _central(f, x: float, h: float) -> float:
    return (f(x + h) - f(x - h)) / (2.0 * h)


@pytest.mark.parametrize("call", [True, False], ids=["call", "put"])
def test_bsm_delta_matches_finite_difference(call: bool) -> None:
    """Delta equals a central difference of the price in the spot (h = 1e-4)."""
    delta = bsm_delta(100.0, STRIKES, 0.75, 0.04, 0.015, 0.28, call)
    fd = _central(lambda s: _price(spot=s, call=call), 100.0, 1e-4)
    np.testing.assert_allclose(delta, fd, atol=1e-8)


def test_bsm_gamma_matches_finite_difference_of_delta() -> None:
    """Gamma equals a central difference of delta in the spot, for calls and puts alike."""
    gamma = bsm_gamma(100.0, STRIKES, 0.75, 0.04, 0.015, 0.28)
    for call in (True, False):
        fd = _central(
            lambda s, c=call: bsm_delta(s, STRIKES, 0.75, 0.04, 0.015, 0.28, c), 100.0, 1e-4
        )
        np.testing.assert_allclose(gamma, fd, atol=1e-9)


def test_bsm_vega_matches_finite_difference() -> None:
    """Vega equals a central difference of the price in the volatility."""
    vega = bsm_vega(100.0, STRIKES, 0.75, 0.04, 0.015, 0.28)
    for call in (True, False):
        fd = _central(lambda v, c=call: _price(vol=v, call=c), 0.28, 1e-6)
        np.testing.assert_allclose(vega, fd, atol=1e-6)


@pytest.mark.parametrize("call", [True, False], ids=["call", "put"])
def test_bsm_theta_matches_finite_difference_in_expiry(call: bool) -> None:
    """Theta equals minus a central difference of the price in the time to expiry."""
    theta = bsm_theta(100.0, STRIKES, 0.75, 0.04, 0.015, 0.28, call)
    fd = -_central(lambda t: _price(expiry=t, call=call), 0.75, 1e-6)
    np.testing.assert_allclose(theta, fd, atol=1e-6)


def test_bsm_theta_satisfies_the_black_scholes_equation() -> None:
    """The Greeks satisfy the pricing PDE theta + (r-q) S delta + sigma^2 S^2 gamma / 2 = r V."""
    s, t, r, q, v = 100.0, 0.75, 0.04, 0.015, 0.28
    for call in (True, False):
        lhs = (
            bsm_theta(s, STRIKES, t, r, q, v, call)
            + (r - q) * s * bsm_delta(s, STRIKES, t, r, q, v, call)
            + 0.5 * v * v * s * s * bsm_gamma(s, STRIKES, t, r, q, v)
        )
        np.testing.assert_allclose(lhs, r * bsm_price(s, STRIKES, t, r, q, v, call), atol=1e-11)


@pytest.mark.parametrize("call", [True, False], ids=["call", "put"])
def test_implied_volatility_inverts_the_price(call: bool) -> None:
    """The implied vol of a Black-Scholes price is the vol that made it, across strikes and vols."""
    for vol in (0.05, 0.28, 1.5):
        prices = bsm_price(100.0, STRIKES, 0.75, 0.04, 0.015, vol, call)
        found = implied_volatility(
            prices, 100.0, STRIKES, 0.75, 0.04, 0.015, call, raise_outside_bounds=False
        )
        # an option's time value is its out-of-the-money side's price; at a 5% vol the far
        # strikes have ~1e-30 of it, which pins no vol (or, in the money, rounds to nothing)
        time_value = np.minimum(
            bsm_price(100.0, STRIKES, 0.75, 0.04, 0.015, vol, True),
            bsm_price(100.0, STRIKES, 0.75, 0.04, 0.015, vol, False),
        )
        worth = time_value > 1e-6
        assert worth.sum() >= 3
        np.testing.assert_allclose(found[worth], vol, rtol=1e-9)


def test_implied_volatility_refuses_a_price_below_intrinsic() -> None:
    """A call below S e^{-qT} - K e^{-rT} has no implied vol: a typed error naming the index."""
    prices = _price()
    prices[1] = 100.0 * np.exp(-0.015 * 0.75) - 80.0 * np.exp(-0.04 * 0.75) - 0.01
    with pytest.raises(ImpliedVolatilityError, match=r"price: .* at index 1 .*no-arbitrage"):
        implied_volatility(prices, 100.0, STRIKES, 0.75, 0.04, 0.015, True)


def test_implied_volatility_gives_nan_outside_bounds_when_asked() -> None:
    """With raise_outside_bounds=False a price above S e^{-qT} is NaN; the others are solved."""
    prices = _price()
    prices[3] = 200.0
    found = implied_volatility(
        prices, 100.0, STRIKES, 0.75, 0.04, 0.015, True, raise_outside_bounds=False
    )
    assert np.isnan(found[3])
    np.testing.assert_allclose(np.delete(found, 3), 0.28, rtol=1e-9)


def test_implied_volatility_of_a_vanishing_price_reproduces_it_to_rounding_or_is_nan() -> None:
    """Time values of 1e-300 to 1e-10: each vol found reprices to within 1e-13 of the spot.

    The reference is the price itself (Black-Scholes rounds at about 1e-14 S, so a smaller
    time value pins no vol); a vol that cannot be settled is NaN, never a wrong number.
    """
    targets = np.array([1e-300, 1e-200, 1e-20, 1e-10, 4.0])
    found = implied_volatility(targets, 100.0, 100.0, 1.0, 0.0, 0.0, True)
    solved = np.isfinite(found)
    assert solved[-1]
    repriced = bsm_price(100.0, 100.0, 1.0, 0.0, 0.0, found[solved])
    np.testing.assert_allclose(repriced, targets[solved], rtol=0, atol=1e-13 * 100.0)


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("strike", -1.0, "strike: must be positive"),
        ("expiry", 0.0, "expiry: must be positive"),
        ("vol", float("nan"), "vol: must be finite"),
        ("rate", float("inf"), "rate: must be finite"),
    ],
)
def test_bsm_price_refuses_bad_input(argument: str, value: float, message: str) -> None:
    """A bad argument is one DerivativesError naming it."""
    kwargs = {"spot": 100.0, "strike": 100.0, "expiry": 1.0, "rate": 0.0, "dividend": 0.0}
    kwargs["vol"] = 0.2
    kwargs[argument] = value
    with pytest.raises(DerivativesError, match=message):
        bsm_price(**kwargs)
