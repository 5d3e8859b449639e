"""Tests for abm.policies: each expected number comes from the cited closed form or paper."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from abm.errors import AbmError
from abm.policies import (
    POLICIES,
    HoStollSpec,
    PolicyError,
    Quote,
    QuoteContext,
    Symmetric,
    avellaneda_stoikov_quotes,
    avellaneda_stoikov_reservation,
    avellaneda_stoikov_spread,
    build_policy,
    glft_quotes,
    glosten_milgrom_posterior,
    glosten_milgrom_quotes,
    ho_stoll_quotes,
    make_policy,
    symmetric_quotes,
)

REL = 1e-12


def ctx(
    reference: float = 100.0, inventory: int = 0, time: float = 0.0, sigma: float = 2.0
) -> QuoteContext:
    return QuoteContext(reference=reference, inventory=inventory, time=time, sigma=sigma)


def sides(quote: Quote) -> tuple[float, float]:
    assert quote.bid is not None
    assert quote.ask is not None
    return quote.bid, quote.ask


# --- value types


def test_quote_allows_one_sided() -> None:
    """None withdraws one side; the other side stays."""
    assert Quote(bid=None, ask=100.0).ask == 100.0


# --- symmetric


def test_symmetric_quotes_are_reference_minus_plus_half_spread() -> None:
    """Definition: bid = reference - spread/2, ask = reference + spread/2."""
    assert symmetric_quotes(100.0, 0.5) == (99.75, 100.25)


@pytest.mark.parametrize("inventory", [-50, -1, 0, 1, 50])
def test_symmetric_policy_spread_invariant_to_inventory(inventory: int) -> None:
    """The symmetric policy ignores inventory: same quote at every position."""
    quote = make_policy("symmetric", spread=0.5).quote(ctx(inventory=inventory))
    assert (quote.bid, quote.ask) == (99.75, 100.25)


def test_symmetric_observe_trade_is_a_no_op() -> None:
    """Stateless policies inherit the no-op observe_trade: quotes do not change."""
    policy = make_policy("symmetric", spread=1.0)
    before = policy.quote(ctx())
    policy.observe_trade("buy", 100.5, 3)
    assert policy.quote(ctx()) == before


# --- Avellaneda & Stoikov (2008)


def test_avellaneda_stoikov_reservation_matches_eq29() -> None:
    """Eq. 29 by hand: r = 100 - 3 * 0.1 * 2^2 * 0.5 = 100 - 0.6 = 99.4."""
    assert avellaneda_stoikov_reservation(100.0, 3, 0.1, 2.0, 0.5) == pytest.approx(99.4, rel=REL)


def test_avellaneda_stoikov_spread_matches_eq30() -> None:
    """Eq. 30 by hand: 0.1*4*0.5 + (2/0.1) ln(1 + 0.1/1.5) = 0.2 + 20 ln(16/15) = 1.490770..."""
    # ln(16/15) = 0.0645385211..., times 20 = 1.2907704227..., plus 0.2
    expected = 0.2 + 20 * math.log(16 / 15)
    assert expected == pytest.approx(1.4907704, abs=1e-7)
    assert avellaneda_stoikov_spread(0.1, 2.0, 0.5, 1.5) == pytest.approx(expected, rel=REL)


def test_avellaneda_stoikov_spread_paper_parameters() -> None:
    """A&S (2008) Sec. 4 parameters (gamma 0.1, k 1.5, sigma 2, T 1, t 0): spread 1.69077..."""
    # 0.1 * 2^2 * 1 = 0.4; (2/0.1) ln(1 + 0.1/1.5) = 20 * 0.0645385211 = 1.2907704228
    # total = 0.4 + 1.2907704228 = 1.6907704228
    bid, ask = sides(
        make_policy("avellaneda_stoikov", gamma=0.1, k=1.5, T=1.0).quote(ctx(time=0.0, sigma=2.0))
    )
    assert ask - bid == pytest.approx(1.6907704228, abs=1e-9)


def test_avellaneda_stoikov_quotes_centred_on_reservation() -> None:
    """Quotes are r -/+ spread/2 with r from eq. 29 and spread from eq. 30."""
    bid, ask = avellaneda_stoikov_quotes(100.0, 3, 0.1, 2.0, 0.5, 1.5)
    half = (0.2 + 20 * math.log(16 / 15)) / 2
    assert bid == pytest.approx(99.4 - half, rel=REL)
    assert ask == pytest.approx(99.4 + half, rel=REL)


def test_avellaneda_stoikov_positive_inventory_skews_quotes_down() -> None:
    """Eq. 29: a long maker lowers both quotes to attract buyers and deter sellers."""
    policy = make_policy("avellaneda_stoikov", gamma=0.1, k=1.5, T=1.0)
    flat, long = policy.quote(ctx(inventory=0)), policy.quote(ctx(inventory=5))
    assert long.bid < flat.bid
    assert long.ask < flat.ask


def test_avellaneda_stoikov_spread_shrinks_toward_horizon() -> None:
    """Eq. 30: the inventory-risk term gamma sigma^2 (T - t) vanishes as t -> T, then stays."""
    policy = make_policy("avellaneda_stoikov", gamma=0.1, k=1.5, T=1.0)
    quotes = [sides(policy.quote(ctx(time=t))) for t in (0.0, 0.5, 0.9, 1.0, 1.5)]
    spreads = [ask - bid for bid, ask in quotes]
    assert spreads[0] > spreads[1] > spreads[2] > spreads[3]
    assert spreads[3] == pytest.approx(20 * math.log(16 / 15), rel=REL)
    assert spreads[4] == spreads[3]


def test_avellaneda_stoikov_flat_inventory_symmetric_around_mid() -> None:
    """Eq. 29 at q = 0: r = s, so the quotes are symmetric around s."""
    bid, ask = sides(
        make_policy("avellaneda_stoikov", gamma=0.1, k=1.5, T=1.0).quote(ctx(reference=100.0))
    )
    assert 100.0 - bid == pytest.approx(ask - 100.0, rel=REL)


# --- Guéant, Lehalle & Fernandez-Tapia (2013)

# Hand computation at gamma = xi = 0.1, k = 1.5, A = 140, sigma = 2:
#   c1 = (1/0.1) ln(1 + 0.1/1.5) = 10 ln(16/15) = 0.6453852
#   c2 = 2 sqrt(0.1/(2*140*1.5) * (16/15)^(1.5/0.1 + 1)) = 2 sqrt(0.1/420 * (16/15)^16)
#      = 2 sqrt(2.3809524e-4 * 2.8084040) = 2 * 0.0258586 = 0.0517172
GLFT_PARAMS = {"gamma": 0.1, "k": 1.5, "A": 140.0}
GLFT_C1 = 10 * math.log(16 / 15)
GLFT_C2 = 2 * math.sqrt(0.1 / 420 * (16 / 15) ** 16)


def test_glft_hand_constants_match_rounded_values() -> None:
    """Guard on the hand arithmetic above: c1 = 0.6453852, c2 = 0.0517172."""
    assert pytest.approx(0.6453852, abs=1e-7) == GLFT_C1
    assert pytest.approx(0.0517172, abs=1e-7) == GLFT_C2


def test_glft_quotes_match_paper_formula_at_hand_point() -> None:
    """GLFT (2013) closed form at q = 2: delta_b = c1 + 2.5 c2, delta_a = c1 - 1.5 c2."""
    bid, ask = glft_quotes(100.0, 2, sigma=2.0, **GLFT_PARAMS)
    assert bid == pytest.approx(100.0 - (GLFT_C1 + 2.5 * GLFT_C2), rel=REL)
    assert ask == pytest.approx(100.0 + (GLFT_C1 - 1.5 * GLFT_C2), rel=REL)


def test_glft_flat_inventory_symmetric_with_half_spread_c1_plus_half_c2() -> None:
    """GLFT (2013) at q = 0: delta_b = delta_a = c1 + c2/2."""
    bid, ask = glft_quotes(100.0, 0, sigma=2.0, **GLFT_PARAMS)
    assert 100.0 - bid == pytest.approx(GLFT_C1 + GLFT_C2 / 2, rel=REL)
    assert ask - 100.0 == pytest.approx(GLFT_C1 + GLFT_C2 / 2, rel=REL)


@pytest.mark.parametrize("q", [-7, -1, 1, 3, 20])
def test_glft_midpoint_skew_linear_with_slope_c2(q: int) -> None:
    """GLFT (2013): quote midpoint is s - c2 q and the spread 2 c1 + c2 does not depend on q."""
    bid, ask = glft_quotes(100.0, q, sigma=2.0, **GLFT_PARAMS)
    assert (bid + ask) / 2 == pytest.approx(100.0 - GLFT_C2 * q, rel=REL)
    assert ask - bid == pytest.approx(2 * GLFT_C1 + GLFT_C2, rel=1e-10)


def test_glft_bid_and_ask_move_together_with_inventory() -> None:
    """Inventory skew: one more lot lowers both bid and ask by c2."""
    bid0, ask0 = glft_quotes(100.0, 4, sigma=2.0, **GLFT_PARAMS)
    bid1, ask1 = glft_quotes(100.0, 5, sigma=2.0, **GLFT_PARAMS)
    assert bid0 - bid1 == pytest.approx(GLFT_C2, rel=1e-9)
    assert ask0 - ask1 == pytest.approx(GLFT_C2, rel=1e-9)


def test_glft_xi_none_defaults_to_gamma() -> None:
    """GLFT (2013) is Guéant (2017) with xi = gamma."""
    assert glft_quotes(100.0, 3, sigma=2.0, **GLFT_PARAMS) == glft_quotes(
        100.0, 3, sigma=2.0, xi=0.1, **GLFT_PARAMS
    )


def test_glft_general_xi_matches_gueant_2017_at_hand_point() -> None:
    """Guéant (2017) with xi = 0.5, gamma = 0.1, k = 1.5, A = 140, sigma = 2, q = -1."""
    # c1 = (1/0.5) ln(1 + 0.5/1.5) = 2 ln(4/3) = 0.5753641
    # c2 = 2 sqrt(0.1/420 * (4/3)^(1.5/0.5 + 1)) = 2 sqrt(0.1/420 * 256/81) = 0.0548634
    # delta_b = c1 + (2(-1) + 1)/2 c2 = c1 - c2/2; delta_a = c1 - (2(-1) - 1)/2 c2 = c1 + 1.5 c2
    c1 = 2 * math.log(4 / 3)
    c2 = 2 * math.sqrt(0.1 / 420 * 256 / 81)
    assert (c1, c2) == pytest.approx((0.5753641, 0.0548634), abs=1e-7)
    bid, ask = glft_quotes(100.0, -1, sigma=2.0, xi=0.5, **GLFT_PARAMS)
    assert bid == pytest.approx(100.0 - (c1 - c2 / 2), rel=REL)
    assert ask == pytest.approx(100.0 + (c1 + 1.5 * c2), rel=REL)


def test_glft_policy_uses_context_reference_inventory_and_sigma() -> None:
    """The GLFT policy evaluates glft_quotes at (reference, inventory, sigma) of the context."""
    quote = make_policy("glft", **GLFT_PARAMS).quote(ctx(reference=50.0, inventory=-3, sigma=1.5))
    assert (quote.bid, quote.ask) == glft_quotes(50.0, -3, sigma=1.5, **GLFT_PARAMS)


# --- Ho & Stoll (1981)


@pytest.mark.parametrize("q", [-10, 0, 4])
def test_ho_stoll_midpoint_shifts_by_minus_skew_times_q(q: int) -> None:
    """Linear inventory skew: midpoint = reference - skew * q."""
    bid, ask = ho_stoll_quotes(100.0, q, spread=0.5, skew=0.05)
    assert (bid + ask) / 2 == pytest.approx(100.0 - 0.05 * q, rel=REL)


@pytest.mark.parametrize("q", [-10, 0, 4])
def test_ho_stoll_spread_constant(q: int) -> None:
    """The quoted spread is the spread parameter at every inventory."""
    bid, ask = sides(make_policy("ho_stoll", spread=0.5, skew=0.05).quote(ctx(inventory=q)))
    assert ask - bid == pytest.approx(0.5, rel=REL)


def test_ho_stoll_spec_rejects_negative_skew() -> None:
    """The schema is the contract: a skew that leans with inventory (< 0) is invalid."""
    with pytest.raises(ValidationError, match="skew"):
        HoStollSpec(kind="ho_stoll", spread=0.5, skew=-0.01)


def test_ho_stoll_quotes_rejects_negative_skew() -> None:
    """The public formula holds the same domain as the spec (skew >= 0)."""
    with pytest.raises(PolicyError, match="skew"):
        ho_stoll_quotes(100.0, 1, spread=0.5, skew=-0.01)


# --- Glosten & Milgrom (1985)


def test_glosten_milgrom_first_quotes_acceptance_numbers() -> None:
    """Prior 0.5, mu 0.1, V in {1, 11}: P(high | buy) = 0.55, so ask 6.5 and bid 5.5."""
    # P(buy | H) = 0.1 + 0.45 = 0.55, P(buy | L) = 0.45 -> P(H | buy) = 0.275 / 0.5 = 0.55
    policy = make_policy("glosten_milgrom", v_low=1.0, v_high=11.0, informed_fraction=0.1)
    quote = policy.quote(ctx())
    assert quote.bid == pytest.approx(5.5, rel=REL)
    assert quote.ask == pytest.approx(6.5, rel=REL)


@pytest.mark.parametrize("prior", [0.01, 0.3, 0.5, 0.9, 0.999])
@pytest.mark.parametrize("mu", [0.0, 0.1, 0.5, 0.95])
def test_glosten_milgrom_quotes_bracket_expected_value(prior: float, mu: float) -> None:
    """Zero-profit quotes satisfy bid = E[V|sell] <= E[V] <= E[V|buy] = ask."""
    bid, ask = glosten_milgrom_quotes(prior, 1.0, 11.0, mu)
    expected = 1.0 + 10.0 * prior
    assert bid <= expected + 1e-12
    assert expected <= ask + 1e-12


@pytest.mark.parametrize("prior", [0.01, 0.3, 0.5, 0.9])
def test_glosten_milgrom_zero_spread_without_informed_traders(prior: float) -> None:
    """With mu = 0 trades carry no information, so bid = ask = E[V]."""
    bid, ask = glosten_milgrom_quotes(prior, 1.0, 11.0, 0.0)
    assert ask - bid == pytest.approx(0.0, abs=1e-12)
    assert bid == pytest.approx(1.0 + 10.0 * prior, rel=REL)


@pytest.mark.parametrize("prior", [0.01, 0.5, 0.99])
def test_glosten_milgrom_posterior_moves_with_trade_side(prior: float) -> None:
    """Bayes' rule with mu > 0: a buy raises P(V high), a sell lowers it."""
    assert glosten_milgrom_posterior(prior, "buy", 0.1) > prior
    assert glosten_milgrom_posterior(prior, "sell", 0.1) < prior


@pytest.mark.parametrize("prior", [Fraction(1, 2), Fraction(1, 7), Fraction(99, 100)])
@pytest.mark.parametrize("mu", [Fraction(0), Fraction(1, 10), Fraction(3, 4)])
def test_glosten_milgrom_posterior_is_martingale(prior: Fraction, mu: Fraction) -> None:
    """Exact (rational arithmetic): P(buy) p'_buy + P(sell) p'_sell equals the prior."""
    uninformed = (1 - mu) / 2
    p_buy = prior * (mu + uninformed) + (1 - prior) * uninformed
    p_sell = 1 - p_buy
    after_buy = glosten_milgrom_posterior(prior, "buy", mu)  # type: ignore[arg-type]
    after_sell = glosten_milgrom_posterior(prior, "sell", mu)  # type: ignore[arg-type]
    assert p_buy * after_buy + p_sell * after_sell == prior


def test_glosten_milgrom_belief_converges_under_true_model() -> None:
    """Trades drawn with V = high, mu = 0.1, uninformed 50/50: belief -> 1, quotes -> v_high."""
    # Each trade adds +-ln(11/9) to the log-odds with drift 0.1 ln(11/9) = 0.020 per trade;
    # 3000 trades put the log-odds near 60 (sd 11), far past the ln(1e4) = 9.2 that 1e-3 needs.
    rng = np.random.default_rng(20240601)
    n_trades = 3000
    informed = rng.random(n_trades) < 0.1
    coin_buy = rng.random(n_trades) < 0.5
    policy = make_policy("glosten_milgrom", v_low=1.0, v_high=11.0, informed_fraction=0.1)
    for is_informed, buys in zip(informed, coin_buy, strict=True):
        policy.observe_trade("buy" if is_informed or buys else "sell", 0.0, 1)
    quote = policy.quote(ctx())
    assert policy.belief == pytest.approx(1.0, abs=1e-4)
    assert quote.bid == pytest.approx(11.0, abs=1e-3)
    assert quote.ask == pytest.approx(11.0, abs=1e-3)


def test_glosten_milgrom_one_update_per_observed_trade() -> None:
    """observe_trade applies exactly one Bayes update, whatever the quantity and price."""
    policy = make_policy(
        "glosten_milgrom", v_low=1.0, v_high=11.0, informed_fraction=0.1, prior_high=0.3
    )
    policy.observe_trade("sell", 4.2, 25)
    assert policy.belief == glosten_milgrom_posterior(0.3, "sell", 0.1)


def test_glosten_milgrom_ignores_reference() -> None:
    """Quotes depend only on the belief, not on the context's reference price."""
    policy = make_policy("glosten_milgrom", v_low=1.0, v_high=11.0, informed_fraction=0.1)
    assert policy.quote(ctx(reference=3.0)) == policy.quote(ctx(reference=500.0))


def test_glosten_milgrom_rejects_unknown_side() -> None:
    """A side other than buy/sell is an error, not a silent no-op."""
    policy = make_policy("glosten_milgrom", v_low=1.0, v_high=11.0, informed_fraction=0.1)
    with pytest.raises(PolicyError, match="side"):
        policy.observe_trade("hold", 5.0, 1)


# --- registry and factory

VALID_PARAMS: dict[str, dict[str, Any]] = {
    "symmetric": {"spread": 0.5},
    "avellaneda_stoikov": {"gamma": 0.1, "k": 1.5, "T": 1.0},
    "glft": {"gamma": 0.1, "k": 1.5, "A": 140.0, "xi": 0.2},
    "ho_stoll": {"spread": 0.5, "skew": 0.01},
    "glosten_milgrom": {"v_low": 1.0, "v_high": 11.0, "informed_fraction": 0.1, "prior_high": 0.4},
    "learned": {"path": "rl/avellaneda_stoikov_linear.json"},
}


def test_policies_registry_covers_valid_params_table() -> None:
    """Every registered kind has a construction case below (and nothing else)."""
    assert set(POLICIES) == set(VALID_PARAMS)


@pytest.mark.parametrize("kind", sorted(VALID_PARAMS))
def test_make_policy_constructs_every_registered_kind(kind: str) -> None:
    """make_policy(name, **params) returns an instance of POLICIES[name] that can quote."""
    policy = make_policy(kind, **VALID_PARAMS[kind])
    assert type(policy) is POLICIES[kind]
    assert policy.name == kind
    bid, ask = sides(policy.quote(ctx()))
    assert bid <= ask


def test_policies_registry_is_read_only() -> None:
    """POLICIES is a mapping proxy: callers cannot register into the shared table."""
    with pytest.raises(TypeError):
        POLICIES["x"] = Symmetric  # type: ignore[index]


def test_make_policy_unknown_kind_lists_known_kinds() -> None:
    """An unknown kind raises PolicyError naming the valid choices."""
    with pytest.raises(PolicyError, match="avellaneda_stoikov") as info:
        make_policy("market_wizard", spread=1.0)
    assert all(name in str(info.value) for name in POLICIES)


def test_make_policy_unknown_parameter_is_named() -> None:
    """A misspelt parameter is reported by name rather than as a bare TypeError."""
    with pytest.raises(PolicyError, match="gama"):
        make_policy("avellaneda_stoikov", gama=0.1, k=1.5, T=1.0)


def test_make_policy_missing_parameter_is_named() -> None:
    """A missing required parameter is reported by name."""
    with pytest.raises(PolicyError, match=r"missing parameter\(s\) A$"):
        make_policy("glft", gamma=0.1, k=1.5)


BAD_PARAMS = [
    ("avellaneda_stoikov", "gamma", 0.0),
    ("avellaneda_stoikov", "gamma", -1.0),
    ("avellaneda_stoikov", "k", 0.0),
    ("avellaneda_stoikov", "T", 0.0),
    ("avellaneda_stoikov", "T", math.inf),
    ("glft", "gamma", -0.1),
    ("glft", "k", -2.0),
    ("glft", "A", 0.0),
    ("glft", "xi", 0.0),
    ("glft", "A", math.nan),
    ("symmetric", "spread", -0.01),
    ("symmetric", "spread", math.nan),
    ("ho_stoll", "spread", -0.5),
    ("ho_stoll", "skew", math.inf),
    ("ho_stoll", "skew", -0.01),
    ("glosten_milgrom", "informed_fraction", 1.0),
    ("glosten_milgrom", "informed_fraction", -0.1),
    ("glosten_milgrom", "v_low", 11.0),
    ("glosten_milgrom", "v_high", 0.5),
    ("glosten_milgrom", "prior_high", 0.0),
    ("glosten_milgrom", "prior_high", 1.0),
    ("glosten_milgrom", "v_high", -math.inf),
    ("symmetric", "spread", "wide"),
]


@pytest.mark.parametrize(("kind", "name", "value"), BAD_PARAMS)
def test_make_policy_bad_parameter_raises_naming_it(kind: str, name: str, value: Any) -> None:
    """Each invalid parameter value raises PolicyError whose message names the parameter."""
    params = {**VALID_PARAMS[kind], name: value}
    with pytest.raises(PolicyError, match=rf"\b{name}\b"):
        make_policy(kind, **params)


@pytest.mark.parametrize("kind", sorted(VALID_PARAMS))
def test_build_policy_takes_its_parameters_from_the_spec(kind: str) -> None:
    """build_policy(spec) gives POLICIES[spec.kind], quoting as make_policy with those numbers."""
    spec = POLICIES[kind].spec_type(kind=kind, **VALID_PARAMS[kind])
    built = build_policy(spec)
    assert type(built) is POLICIES[kind]
    context = ctx(inventory=3, time=0.5, sigma=1.5)
    assert built.quote(context) == make_policy(kind, **VALID_PARAMS[kind]).quote(context)


@pytest.mark.parametrize("kind", sorted(VALID_PARAMS))
@pytest.mark.parametrize("inventory", [-1000, -7, 0, 7, 1000])
@pytest.mark.parametrize("sigma", [0.0, 0.3, 40.0])
def test_policy_quote_is_never_crossed(kind: str, inventory: int, sigma: float) -> None:
    """With valid parameters every policy quotes bid <= ask (its spread never depends on q)."""
    bid, ask = sides(make_policy(kind, **VALID_PARAMS[kind]).quote(ctx(inventory, sigma=sigma)))
    assert bid <= ask


def test_policy_error_is_value_error() -> None:
    """PolicyError subclasses ValueError so generic validation handlers catch it."""
    assert issubclass(PolicyError, ValueError)


def _closed_form(kind: str, s: float, q: int, t: float, sigma: float) -> tuple[float, float]:
    """The public, argument-checking formula of each policy at VALID_PARAMS."""
    p = VALID_PARAMS[kind]
    if kind == "symmetric":
        return symmetric_quotes(s, p["spread"])
    if kind == "ho_stoll":
        return ho_stoll_quotes(s, q, p["spread"], p["skew"])
    if kind == "avellaneda_stoikov":
        tau = max(p["T"] - t, 0.0)
        return avellaneda_stoikov_quotes(s, q, p["gamma"], sigma, tau, p["k"])
    if kind == "glft":
        return glft_quotes(s, q, p["gamma"], sigma, p["k"], p["A"], p["xi"])
    if kind == "learned":  # the bundled rule is Avellaneda-Stoikov at gamma 0.1, k 1.5, T 1
        return avellaneda_stoikov_quotes(s, q, 0.1, sigma, max(1.0 - t, 0.0), 1.5)
    return glosten_milgrom_quotes(p["prior_high"], p["v_low"], p["v_high"], p["informed_fraction"])


@pytest.mark.parametrize("kind", sorted(VALID_PARAMS))
@pytest.mark.parametrize(("s", "q", "t", "sigma"), [(100.0, 0, 0.0, 2.0), (37.5, -12, 0.75, 0.3)])
def test_policy_quote_prices_equal_the_checked_closed_form(
    kind: str, s: float, q: int, t: float, sigma: float
) -> None:
    """The unchecked per-step path gives the public closed form's numbers, bit for bit."""
    policy = make_policy(kind, **VALID_PARAMS[kind])
    expected = _closed_form(kind, s, q, t, sigma)
    assert policy.quote_prices(s, q, t, sigma) == expected
    assert sides(policy.quote(ctx(s, q, t, sigma))) == expected


# --- learned (a linear quote rule read from JSON)


def _rule_file(tmp_path: Any, text: str) -> str:
    path = tmp_path / "rule.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("q", "t"), [(0, 0.0), (3, 0.25), (-5, 0.9), (2, 1.5)])
def test_learned_avellaneda_stoikov_rule_quotes_eqs_29_30(q: int, t: float) -> None:
    """The bundled AS rule quotes exactly what the closed form (eqs. 29-30) quotes."""
    policy = make_policy("learned", path="rl/avellaneda_stoikov_linear.json")
    expected = avellaneda_stoikov_quotes(100.0, q, 0.1, 2.0, max(1.0 - t, 0.0), 1.5)
    assert policy.quote_prices(100.0, q, t, 2.0) == pytest.approx(expected, rel=REL)


def test_learned_rule_round_trips_through_json(tmp_path: Any) -> None:
    """Saving then loading gives the same coefficients and horizon (a lossless JSON format)."""
    from abm.policies.learned import LinearQuoteRule, load_rule

    rule = LinearQuoteRule(0.01, 0.2, 0.3, 0.04, horizon=2.5)
    assert load_rule(rule.save(tmp_path / "r.json", meta={"seed": 1})) == rule


def test_learned_T_replaces_the_file_horizon() -> None:
    """With T given, time left is T - t: at t = T the spread is the liquidity term alone."""
    policy = make_policy("learned", path="rl/avellaneda_stoikov_linear.json", T=3.0)
    bid, ask = policy.quote_prices(100.0, 4, 3.0, 2.0)
    assert ask - bid == pytest.approx(avellaneda_stoikov_spread(0.1, 2.0, 0.0, 1.5), rel=REL)
    assert (bid + ask) / 2 == pytest.approx(100.0, rel=REL)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json", "not a JSON document"),
        ("[1, 2]", "must be a JSON object"),
        ('{"format": "pickle", "version": 1}', "format: must be"),
        ('{"format": "abm.linear_quote_rule", "version": 2}', "version: must be 1"),
        (
            '{"format": "abm.linear_quote_rule", "version": 1, "horizon": 1.0, '
            '"coefficients": {"skew_inventory": 0, "skew_risk": 0, "half_spread": 1}}',
            r"coefficients\.half_spread_risk: must be a number",
        ),
        (
            '{"format": "abm.linear_quote_rule", "version": 1, "horizon": 0, "coefficients": {}}',
            "horizon: must be > 0",
        ),
        (
            '{"format": "abm.linear_quote_rule", "version": 1, "horizon": 1, '
            '"coefficients": {"skew_inventory": 0, "skew_risk": 0, "half_spread": 1e999, '
            '"half_spread_risk": 0}}',
            "half_spread: must be finite",
        ),
    ],
)
def test_learned_bad_file_raises_policy_error_naming_the_field(
    tmp_path: Any, text: str, match: str
) -> None:
    """A malformed rule file gives one PolicyError naming the key at fault."""
    with pytest.raises(PolicyError, match=match):
        make_policy("learned", path=_rule_file(tmp_path, text))


def test_learned_missing_file_is_named_in_the_scenario_field(tmp_path: Any) -> None:
    """A scenario naming a missing rule file fails validation at agents.mm.policy.path."""
    from abm.scenario.schema import Scenario

    scenario = Scenario.from_yaml_text(
        (Path(__file__).parents[1] / "scenarios" / "avellaneda_stoikov_2008.yaml").read_text()
    )
    with pytest.raises(Exception, match=r"agents\.mm\.policy\.path") as info:
        scenario.override({"agents.mm.policy": {"kind": "learned", "path": "nowhere.json"}})
    assert isinstance(info.value, AbmError)
    assert "is not a file" in str(info.value)
