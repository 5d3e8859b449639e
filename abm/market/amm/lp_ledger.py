"""Each liquidity provider's P&L in a pool, block by block: rebalancing P&L + fees - LVR.

The pool-level split (`abm.results.amm_summary.lp_pnl_decomposition`) applied to every owner's
own holdings: a constant-product owner holds ``shares / total`` of both reserves (fees accrue
to them) and that part of the block's fees; a concentrated position holds its principal at
the pool price, and earns the fees credited to it (uncollected fees count from when they are
credited; the pool credits whole token units, rounded down, so a fee smaller than a lot per
position never reaches the providers and stays in the pool).

Over the block ``i`` that ends at external price ``S_i`` (the fundamental, in ticks per lot),
with the owner's holdings ``(x_b, y_b)`` just before the block's swaps and ``(x_a, y_a)``
after them, fees ``F_i`` (valued at ``S_i``), and ``S_0`` the external price at the previous
block's end (``S_i`` itself when the holdings before differ from the previous block's after:
a deposit, a withdrawal, a re-range or an exploit starts a new segment, as in the pool-level
split):

* ``pnl = V_a - (x_b S_0 + y_b)``, with ``V_a = x_a S_i + y_a`` (plus ``F_i`` when the fees
  are held apart from the principal: a concentrated position);
* ``rebalancing_pnl = x_b (S_i - S_0)``;
* ``fees = F_i``;
* ``lvr = fees - (V_a - x_b S_i - y_b)``, what the block's swaps cost the owner at the external
  price before fees (Milionis, Moallemi, Roughgarden & Zhang 2022).

``pnl`` sums the owner's value changes within segments: what a deposit, a withdrawal or an
exploit moves between segments is left out, as in the pool-level split. So ``pnl ==
rebalancing_pnl + fees - lvr`` for every owner and block, exactly: every term is a
`fractions.Fraction` (amounts are integers or integer fractions of reserves, prices dyadic
floats). `LpLedger.terms` holds the sums per owner (tick units); `lp_summary_keys` turns them
into the ``summary.json`` keys ``amm_lp_by_group`` and ``amm_lp_by_agent`` (price units).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from abm.market.amm.concentrated import ConcentratedLiquidityPool
from abm.market.amm.constant_product import ConstantProductPool

__all__ = ["FEE_UNITS", "LpLedger", "LpTerms", "lp_summary_keys"]

FEE_UNITS = 1_000_000
"""A constant-product block's fees are counted in millionths of a token unit (``pools``)."""
_ZERO = Fraction(0)


class _Holding(NamedTuple):
    """Holdings as integer numerators over ``den`` (token units)."""

    owner: Hashable
    base: int
    quote: int
    fees_base: int  # cumulative uncollected fees (concentrated); 0 (constant product)
    fees_quote: int
    den: int


@dataclass(slots=True)
class LpTerms:
    """One owner's sums over the blocks (tick units; ``lvr`` a cost, the others gains)."""

    fees: Fraction = _ZERO
    lvr: Fraction = _ZERO
    rebalancing_pnl: Fraction = _ZERO
    pnl: Fraction = _ZERO

    def add(self, fees: Fraction, lvr: Fraction, rebalancing: Fraction, pnl: Fraction) -> None:
        """Add one block's terms."""
        self.fees += fees
        self.lvr += lvr
        self.rebalancing_pnl += rebalancing
        self.pnl += pnl


class LpLedger:
    """Every liquidity owner's rebalancing P&L, fees and LVR in one pool (module docstring).

    The venue calls `before_swaps` when a block's swaps start and `close_block` when the
    block's ``pools`` row is written. The sums are kept as integers over ``den * 2**shift``
    (``den`` the owner's holdings denominator, ``2**shift`` the prices' common one, raised
    when a price needs it), so no block costs a `fractions.Fraction` operation; `terms`
    turns them into fractions.
    """

    def __init__(self) -> None:
        self._sums: dict[Hashable, dict[int, list[int]]] = {}  # owner -> den -> 4 sums
        self._shift = 0
        self._before: dict[Hashable, _Holding] = {}
        self._after: dict[Hashable, tuple[int, int, int]] = {}
        self._price: int | None = None  # the previous block's price, scaled by 2**shift

    @property
    def terms(self) -> dict[Hashable, LpTerms]:
        """Each owner's sums (fractions of ticks), in the order owners first held liquidity."""
        result = {}
        for owner, by_den in self._sums.items():
            terms = LpTerms()
            for den, sums in by_den.items():
                scale = den << self._shift
                fees, lvr, rebalancing, pnl = (Fraction(v, scale) for v in sums)
                terms.add(fees, lvr, rebalancing, pnl)
            result[owner] = terms
        return result

    def _scaled(self, price_ticks: float) -> int:
        """``price_ticks * 2**shift`` exactly, raising the shift (and every sum) if needed."""
        numerator, denominator = float(price_ticks).as_integer_ratio()
        bits = denominator.bit_length() - 1
        if bits > self._shift:
            grow = bits - self._shift
            for by_den in self._sums.values():
                for sums in by_den.values():
                    sums[:] = [v << grow for v in sums]
            if self._price is not None:
                self._price <<= grow
            self._shift = bits
        return numerator << (self._shift - bits)

    def before_swaps(self, pool: ConstantProductPool | ConcentratedLiquidityPool) -> None:
        """Note every owner's holdings just before the block's swaps."""
        self._before = _holdings(pool)

    def close_block(
        self,
        pool: ConstantProductPool | ConcentratedLiquidityPool,
        price_ticks: float,
        fees_base: int,
        fees_quote: int,
    ) -> None:
        """Add the block's terms of every owner; ``price_ticks`` is the external price.

        ``fees_base`` and ``fees_quote`` are the block's fees in `FEE_UNITS` (a constant-product
        pool shares them by shares; a concentrated pool's positions carry their own).
        """
        price = self._scaled(price_ticks)
        unit = 1 << self._shift
        after = _holdings(pool)
        shares = pool.share_holders() if isinstance(pool, ConstantProductPool) else None
        previous, last_price = self._after, self._price
        for key, held in after.items():
            before = self._before.get(key, held)
            den = held.den
            start = previous.get(key)
            continuing = (
                last_price is not None
                and start is not None
                and start[0] * before.den == before.base * start[2]
                and start[1] * before.den == before.quote * start[2]
            )
            start_price = last_price if continuing and last_price is not None else price
            # numerators over den * 2**shift; before's den is the same (no swap changes it)
            if shares is not None:
                fees = (fees_base * price + fees_quote * unit) * shares[held.owner]
                value_after = held.base * price + held.quote * unit
            else:
                fees = (held.fees_base - before.fees_base) * price
                fees += (held.fees_quote - before.fees_quote) * unit
                value_after = held.base * price + held.quote * unit + fees
            rebalancing = before.base * (price - start_price)
            lvr = fees - (value_after - before.base * price - before.quote * unit)
            pnl = value_after - (before.base * start_price + before.quote * unit)
            sums = self._sums.setdefault(held.owner, {}).setdefault(den, [0, 0, 0, 0])
            sums[0] += fees
            sums[1] += lvr
            sums[2] += rebalancing
            sums[3] += pnl
        self._after = {key: (held.base, held.quote, held.den) for key, held in after.items()}
        self._price = price


def _holdings(pool: ConstantProductPool | ConcentratedLiquidityPool) -> dict[Hashable, _Holding]:
    """Every owner's (or position's) holdings in ``pool`` now, keyed by owner or position.

    A constant-product owner's are over ``total_shares * FEE_UNITS`` (its part of the
    reserves, and room for its part of the fees, counted in `FEE_UNITS`); a position's are
    whole units (``den`` 1).
    """
    if isinstance(pool, ConstantProductPool):
        den = pool.total_shares * FEE_UNITS
        base, quote = pool.reserve_base * FEE_UNITS, pool.reserve_quote * FEE_UNITS
        return {
            owner: _Holding(owner, base * shares, quote * shares, 0, 0, den)
            for owner, shares in pool.share_holders().items()
            if shares
        }
    return {
        (view.owner, view.lower, view.upper): _Holding(
            view.owner, view.base, view.quote, view.fees_base, view.fees_quote, 1
        )
        for view in pool.positions()
    }


def _price_units(terms: LpTerms, tick_size: float) -> dict[str, float]:
    fees, lvr = float(terms.fees) * tick_size, float(terms.lvr) * tick_size
    return {
        "fees": fees,
        "lvr": lvr,
        "fees_minus_lvr": float(terms.fees - terms.lvr) * tick_size,
        "rebalancing_pnl": float(terms.rebalancing_pnl) * tick_size,
        "pool_pnl": float(terms.pnl) * tick_size,
    }


def lp_summary_keys(
    venues: Iterable[object], groups: Mapping[Hashable, str], tick_size: float
) -> dict[str, Any]:
    """The ledgers of the pool venues among ``venues`` as ``summary.json`` keys; {} for none.

    ``groups`` maps a trader's id to its scenario group; an owner not in it (the protocol's
    liquidity) is its own group, named after it. Keys (price units, each term a sum):

    - ``amm_lp_by_group``: per group, ``agents`` (owners that held liquidity), ``fees``,
      ``lvr``, ``fees_minus_lvr``, ``rebalancing_pnl`` and ``pool_pnl`` (``pool_pnl ==
      rebalancing_pnl + fees - lvr``, exact before each sum is rounded to a float);
    - ``amm_lp_by_agent``: the same per owner (by id as a string), with its ``group``.
    """
    by_owner: dict[Hashable, LpTerms] = {}
    for venue in venues:
        ledger = getattr(venue, "lp_ledger", None)
        if isinstance(ledger, LpLedger):
            for owner, terms in ledger.terms.items():
                total = by_owner.setdefault(owner, LpTerms())
                total.add(terms.fees, terms.lvr, terms.rebalancing_pnl, terms.pnl)
    if not by_owner:
        return {}
    by_group: dict[str, tuple[int, LpTerms]] = {}
    by_agent: dict[str, dict[str, Any]] = {}
    for owner, terms in by_owner.items():
        group = groups.get(owner, str(owner))
        count, total = by_group.get(group, (0, LpTerms()))
        total.add(terms.fees, terms.lvr, terms.rebalancing_pnl, terms.pnl)
        by_group[group] = (count + 1, total)
        by_agent[str(owner)] = {"group": group, **_price_units(terms, tick_size)}
    return {
        "amm_lp_by_group": {
            group: {"agents": count, **_price_units(total, tick_size)}
            for group, (count, total) in by_group.items()
        },
        "amm_lp_by_agent": by_agent,
    }
