"""`OptionsSpec`: the scenario's ``options:`` section (turns the options venue on).

Units: strikes and option prices in price units; expiries in steps (a series expires at the
close of its expiry step); ``rate`` and every volatility of the options layer per unit of
model time (the unit of the scenario's ``dt``), so that a series has ``(expiry - step) * dt``
of model time left at step ``step``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from abm.scenario.errors import DocumentProblem
from abm.scenario.types import Float, PosFloat, PosInt, Spec

OptionType = Literal["call", "put"]
"""The two kinds of European option."""


class OptionsSpec(Spec):
    """Option series (every type x strike x expiry), each with its own order book.

    Settlement is in cash at the close of the expiry step: a holder of ``q`` contracts (one
    contract is on one lot of the underlying) receives ``q`` times the payoff at the
    settlement price, the payoff rounded once per series to whole ticks of the scenario's
    ``tick_size``, so that what the longs receive is exactly what the shorts pay.
    """

    strikes: list[PosFloat] = Field(
        min_length=1,
        description="Strike prices, price units (each a multiple of the scenario's tick_size).",
    )
    expiries: list[PosInt] = Field(
        min_length=1,
        description="Expiry steps: a series trades before its expiry step and is settled at "
        "the close of it (an expiry after the run's last step is never settled).",
    )
    types: list[OptionType] = Field(
        default=["call", "put"], min_length=1, description="Which of `call` and `put` to list."
    )
    tick_size: PosFloat | None = Field(
        default=None,
        description="Option price tick, price units: a whole multiple of the scenario's "
        "tick_size (null: the scenario's tick_size).",
    )
    settlement: Literal["fundamental", "mid"] = Field(
        default="fundamental",
        description="The settlement price: `fundamental` (the fundamental value at the expiry "
        "step) or `mid` (the book's mid at the expiry step's close; the last trade, then the "
        "fundamental, when one side is empty).",
    )
    rate: Float = Field(
        default=0.0,
        description="Continuously compounded interest rate, per unit of model time (dt's unit).",
    )
    mark_volatility: PosFloat | None = Field(
        default=None,
        description="Positions in a series whose book has no two-sided quote are valued at the "
        "Black-Scholes price at this (lognormal) volatility per sqrt(unit of model time); "
        "null: at the option's discounted intrinsic value.",
    )
    record_stride: PosInt = Field(
        default=1,
        description="Steps between the options table's rows (one row per live series each "
        "time); a series' expiry step is always recorded.",
    )

    @field_validator("strikes", "expiries")
    @classmethod
    def _distinct(cls, values: list[float] | list[int]) -> list[float] | list[int]:
        if len(set(values)) != len(values):
            raise ValueError(f"must not repeat a value, got {values}")
        return values

    @field_validator("types")
    @classmethod
    def _distinct_types(cls, values: list[OptionType]) -> list[OptionType]:
        if len(set(values)) != len(values):
            raise ValueError(f"must not repeat a type, got {values}")
        return values


def _whole_ticks(value: float, tick_size: float) -> bool:
    ticks = value / tick_size
    return abs(ticks - round(ticks)) <= 1e-9 * max(1.0, abs(ticks))


def check_options_fit_the_tick(
    options: OptionsSpec | None, tick_size: float, groups: Mapping[str, Any]
) -> None:
    """Refuse strikes or an option tick off the tick grid, and option agents without options.

    Strikes and the option tick must be whole multiples of the scenario's ``tick_size``; the
    option agent kinds need an ``options`` section.

    Raises:
        DocumentProblem: Naming the field (``options.strikes.1``, ``options.tick_size``, or the
            first option agent group).
    """
    if options is None:
        for name, group in groups.items():
            if group.kind in ("option_market_maker", "option_end_user"):
                raise DocumentProblem(
                    f"agents.{name}.kind",
                    f"{group.kind} agents trade option series: add an options section",
                )
        return
    for i, strike in enumerate(options.strikes):
        if not _whole_ticks(strike, tick_size):
            raise DocumentProblem(
                f"options.strikes.{i}",
                f"{strike!r} is not a multiple of tick_size ({tick_size!r})",
            )
    if options.tick_size is not None and (
        options.tick_size < tick_size or not _whole_ticks(options.tick_size, tick_size)
    ):
        raise DocumentProblem(
            "options.tick_size",
            f"{options.tick_size!r} must be a whole multiple of tick_size ({tick_size!r})",
        )
