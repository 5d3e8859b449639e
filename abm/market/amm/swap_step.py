"""One step of a concentrated-liquidity swap: as far as one range of constant liquidity allows.

A swap walks from range to range; within each, liquidity ``L`` is constant and the amounts
follow `abm.market.amm.sqrt_price`. `swap_step` goes from the current sqrt price towards a
target (the next initialized tick, or the trader's price limit) and stops early when the
trader's amount runs out. The fee is taken from the input. On an exact input the amounts
within a walk are exact fractions of a unit (`fractions.Fraction`): the input net of the exact
fee ``remaining * (1 - f)`` prices the step, and the fee is ``f`` of what the step consumed,
so a swap of a few base units is not charged a whole unit of fee, as a rounding of each step's
input to whole units would (one base unit is one lot in the model: `abm.market.amm.venue`).
The walk rounds the trader's total input up to whole units at its end.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from abm.market.amm.common import FEE_DENOMINATOR, ceil_div
from abm.market.amm.sqrt_price import (
    amount_base_delta,
    amount_quote_delta,
    next_sqrt_from_input,
    next_sqrt_from_output,
)

__all__ = ["StepResult", "swap_step"]


class StepResult(NamedTuple):
    """Where one step ended and what it moved (input includes no fee; the fee is apart).

    On an exact input, ``amount_in`` and ``fee`` may be fractions of a unit (the walk rounds
    the total); on an exact output they are whole units.
    """

    sqrt_price: int
    amount_in: int | Fraction
    amount_out: int
    fee: int | Fraction


def swap_step(
    sqrt_price: int,
    sqrt_target: int,
    liquidity: int,
    remaining: int | Fraction,
    fee_pips: int,
    *,
    exact_input: bool,
) -> StepResult:
    """Swap within one range, from ``sqrt_price`` towards ``sqrt_target``.

    Args:
        sqrt_price: Current sqrt price (Q64.96).
        sqrt_target: Where the step must stop at the latest; above the price for a buy (quote
            in, base out), below it for a sell (base in, quote out).
        liquidity: Active liquidity ``L`` in the range (0 makes a step that moves nothing but
            the price).
        remaining: What is left of the trader's amount: input (fee included) on an exact
            input, output otherwise.
        fee_pips: Fee in millionths of the input.
        exact_input: Whether ``remaining`` is an input or an output.

    Returns:
        The step's end price, input (net of fee, rounded up), output (rounded down) and fee.
    """
    buying = sqrt_target >= sqrt_price
    keep = FEE_DENOMINATOR - fee_pips

    def input_between(a: int, b: int) -> int:
        if buying:
            return amount_quote_delta(a, b, liquidity, round_up=True)
        return amount_base_delta(a, b, liquidity, round_up=True)

    def output_between(a: int, b: int) -> int:
        if buying:
            return amount_base_delta(a, b, liquidity, round_up=False)
        return amount_quote_delta(a, b, liquidity, round_up=False)

    if exact_input:
        net = Fraction(remaining) * keep / FEE_DENOMINATOR
        needed = input_between(sqrt_price, sqrt_target)
        if net >= needed:  # reaches the target: the principal there, and its exact fee
            fee_in = Fraction(needed * fee_pips, keep)
            return StepResult(sqrt_target, needed, output_between(sqrt_price, sqrt_target), fee_in)
        # stops short: all that is left goes in, the exact fee of it included
        end = next_sqrt_from_input(sqrt_price, liquidity, net, base_in=not buying)
        fee_all = Fraction(remaining) * fee_pips / FEE_DENOMINATOR
        return StepResult(end, remaining - fee_all, output_between(sqrt_price, end), fee_all)
    wanted = int(remaining)  # an exact output stays in whole units
    if wanted >= output_between(sqrt_price, sqrt_target):
        end = sqrt_target
    else:
        end = next_sqrt_from_output(sqrt_price, liquidity, wanted, base_out=buying)
    amount_in = input_between(sqrt_price, end)
    amount_out = min(output_between(sqrt_price, end), wanted)
    return StepResult(end, amount_in, amount_out, ceil_div(amount_in * fee_pips, keep))
