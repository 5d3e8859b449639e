"""One step of a concentrated-liquidity swap: as far as one range of constant liquidity allows.

A swap walks from range to range; within each, liquidity ``L`` is constant and the amounts
follow `abm.market.amm.sqrt_price`. `swap_step` goes from the current sqrt price towards a
target (the next initialized tick, or the trader's price limit) and stops early when the
trader's amount runs out. The fee is taken from the input: on an exact input, the amount
left after the fee prices the step; when the step stops short of its target, whatever is left
of the input, rounding dust included, is fee (it stays with the liquidity providers).
"""

from __future__ import annotations

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
    """Where one step ended and what it moved (input includes no fee; the fee is apart)."""

    sqrt_price: int
    amount_in: int
    amount_out: int
    fee: int


def swap_step(
    sqrt_price: int,
    sqrt_target: int,
    liquidity: int,
    remaining: int,
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
        net = remaining * keep // FEE_DENOMINATOR
        if net >= input_between(sqrt_price, sqrt_target):
            end = sqrt_target
        else:
            end = next_sqrt_from_input(sqrt_price, liquidity, net, base_in=not buying)
    elif remaining >= output_between(sqrt_price, sqrt_target):
        end = sqrt_target
    else:
        end = next_sqrt_from_output(sqrt_price, liquidity, remaining, base_out=buying)
    amount_in = input_between(sqrt_price, end)
    amount_out = output_between(sqrt_price, end)
    if not exact_input:
        amount_out = min(amount_out, remaining)
    if exact_input and end != sqrt_target:
        fee = remaining - amount_in
    else:
        fee = ceil_div(amount_in * fee_pips, keep)
    return StepResult(end, amount_in, amount_out, fee)
