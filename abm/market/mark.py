"""The mark: the price at which positions are valued for equity, P&L, margin and defaults.

A scenario's ``mark`` names the methodology. It is a spec (``{kind: ..., ...}``); the
parameterless kinds may be written as a plain string (``mark: mid``). Every kind is defined
for every state of the book, and says what it does while one side of the book is empty
(the state in which a single print could otherwise set the value of every position):

- ``mid``: the mid of the best bid and ask; while one side is empty, the last book trade;
  before the first trade, the fundamental. (The historical default.)
- ``last``: the last book trade; before the first trade, the mid, else the fundamental.
  One side empty changes nothing: it is always the last print.
- ``fundamental``: the exogenous value; the book is ignored.
- ``{kind: vwap, window_steps: w}``: the volume-weighted price of the book trades of the
  last ``w`` steps (this step included); with no trade in the window, the mid; with neither,
  the previous mark (the fundamental before any).
- ``{kind: ema, halflife_steps: h}``: an exponential moving average of the mid, updated on
  steps with a two-sided book; while one side is empty it holds its value; before the first
  two-sided step it is the fundamental.
- ``{kind: index, basis_halflife_steps: h}``: the fundamental (the index) plus an exponential
  moving average of the basis ``mid - fundamental``, updated on steps with a two-sided book;
  while one side is empty the basis holds and the mark follows the index alone. The basis
  starts at 0. This is how venues mark for liquidation: an external index and a smoothed
  basis, so that one print in an empty book cannot trigger margin calls.

Timing. Within a step the mark is read several times (margin calls and default waves re-read
it after forced sales). A reading combines the state committed at the end of the previous
step with the book as it is now (`MarkMethod.value`); the end-of-step reading is committed
(`MarkMethod.commit`) and recorded as the ``mark`` column of the ``market`` table. An
average's weight per step is ``1 - 0.5 ** (1 / halflife_steps)``.

The computation is pure: `mark_path` runs the same methods over the columns of a recorded
run, and gives the recorded ``mark`` column back exactly.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from abm.scenario.types import Float, Int, KindSpec


@dataclass(frozen=True, slots=True)
class MarkInputs:
    """What a mark may look at, now (prices in price units; None where absent).

    Attributes:
        fundamental: The fundamental value.
        mid: The mid, or None unless both sides of the book are quoted.
        last: The last book trade price, or None before the first trade.
        step_qty: Lots traded on the book so far in this step.
        step_notional: Price units times lots traded on the book so far in this step.
    """

    fundamental: float
    mid: float | None
    last: float | None
    step_qty: int = 0
    step_notional: float = 0.0


class MarkMethod(Protocol):
    """A mark's run-time state: read it as often as needed, commit it once per step.

    Attributes:
        uses_trades: Whether it reads the step's book trades (``MarkInputs.step_qty`` and
            ``step_notional``); a caller may leave them at 0 for a method that does not.
    """

    uses_trades: bool

    def value(self, now: MarkInputs) -> float:
        """The mark given the committed state and the book ``now`` (no state change)."""
        ...

    def commit(self, now: MarkInputs) -> float:
        """Fold the end-of-step ``now`` into the state and return the step's mark."""
        ...


def _weight(halflife_steps: float) -> float:
    """Per-step weight of a new observation in an average of half-life ``halflife_steps``."""
    return 1.0 - 0.5 ** (1.0 / halflife_steps)


def _mid_rule(now: MarkInputs) -> float:
    if now.mid is not None:
        return now.mid
    return now.last if now.last is not None else now.fundamental


# --- stateless kinds ------------------------------------------------------------------------


class _Stateless:
    """A mark that is a function of the current book alone."""

    __slots__ = ("_rule",)
    uses_trades = False

    def __init__(self, rule: Callable[[MarkInputs], float]) -> None:
        self._rule = rule

    def value(self, now: MarkInputs) -> float:
        return self._rule(now)

    def commit(self, now: MarkInputs) -> float:
        return self._rule(now)


class MarkBase(KindSpec):
    """A mark methodology: builds its run-time method and names itself."""

    kind_noun: ClassVar[str] = "mark"
    kind: str

    def build(self) -> MarkMethod:
        """The run-time method (a fresh state)."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short human-readable name of the methodology."""
        raise NotImplementedError


class MidMark(MarkBase):
    """The mid; while one side is empty the last book trade; before any trade the fundamental."""

    kind: Literal["mid"] = Field(description="Mark to the mid (falls back to the last trade).")

    def build(self) -> MarkMethod:
        """The run-time method."""
        return _Stateless(_mid_rule)

    def describe(self) -> str:
        """A short human-readable name of the methodology."""
        return "mid (last trade while one side is empty)"


def _last_rule(now: MarkInputs) -> float:
    return now.last if now.last is not None else _mid_rule(now)


class LastMark(MarkBase):
    """The last book trade; before the first trade the mid, else the fundamental."""

    kind: Literal["last"] = Field(description="Mark to the last book trade.")

    def build(self) -> MarkMethod:
        """The run-time method."""
        return _Stateless(_last_rule)

    def describe(self) -> str:
        """A short human-readable name of the methodology."""
        return "last trade (mid before the first trade)"


class FundamentalMark(MarkBase):
    """The exogenous fundamental value; the book is ignored."""

    kind: Literal["fundamental"] = Field(description="Mark to the fundamental value.")

    def build(self) -> MarkMethod:
        """The run-time method."""
        return _Stateless(lambda now: now.fundamental)

    def describe(self) -> str:
        """A short human-readable name of the methodology."""
        return "fundamental"


# --- volume-weighted average price ------------------------------------------------------------


class _Vwap:
    """VWAP of book trades over the last ``window_steps`` steps (see the module docstring)."""

    __slots__ = ("_notional", "_previous", "_qty", "_window")
    uses_trades = True

    def __init__(self, window_steps: int) -> None:
        # the committed steps of the window (the step in progress is the window's last)
        self._window: deque[tuple[int, float]] = deque(maxlen=window_steps - 1)
        self._qty = 0
        self._notional = 0.0
        self._previous: float | None = None

    def value(self, now: MarkInputs) -> float:
        qty = self._qty + now.step_qty
        if qty > 0:
            return (self._notional + now.step_notional) / qty
        if now.mid is not None:
            return now.mid
        return self._previous if self._previous is not None else now.fundamental

    def commit(self, now: MarkInputs) -> float:
        mark = self.value(now)
        window = self._window
        window.append((now.step_qty, now.step_notional))
        # summed afresh (not added and subtracted) so that no rounding drift accumulates
        self._qty = sum(qty for qty, _ in window)
        self._notional = math.fsum(notional for _, notional in window)
        self._previous = mark
        return mark


class VwapMark(MarkBase):
    """Volume-weighted price of the book trades of the last ``window_steps`` steps."""

    kind: Literal["vwap"] = Field(description="Mark to a trailing VWAP of book trades.")
    window_steps: Int = Field(ge=1, description="Steps in the VWAP window, this step included.")

    def build(self) -> MarkMethod:
        """The run-time method."""
        return _Vwap(self.window_steps)

    def describe(self) -> str:
        """A short human-readable name of the methodology."""
        return f"VWAP of book trades over {self.window_steps} steps (mid without trades)"


# --- smoothed marks --------------------------------------------------------------------------


class _Ema:
    """EMA of the mid over two-sided steps; holds while one side is empty."""

    __slots__ = ("_alpha", "_ema")
    uses_trades = False

    def __init__(self, halflife_steps: float) -> None:
        self._alpha = _weight(halflife_steps)
        self._ema: float | None = None

    def value(self, now: MarkInputs) -> float:
        ema = self._ema
        if now.mid is None:
            return now.fundamental if ema is None else ema
        return now.mid if ema is None else ema + self._alpha * (now.mid - ema)

    def commit(self, now: MarkInputs) -> float:
        mark = self.value(now)
        if now.mid is not None:
            self._ema = mark
        return mark


class EmaMark(MarkBase):
    """Exponential moving average of the mid (held while one side of the book is empty)."""

    kind: Literal["ema"] = Field(description="Mark to an EMA of the mid.")
    halflife_steps: Float = Field(gt=0.0, description="Half-life of the average, in steps.")

    def build(self) -> MarkMethod:
        """The run-time method."""
        return _Ema(self.halflife_steps)

    def describe(self) -> str:
        """A short human-readable name of the methodology."""
        return f"EMA of the mid, half-life {self.halflife_steps:g} steps (held while one-sided)"


class _Index:
    """The fundamental plus an EMA of the basis ``mid - fundamental`` (starts at 0)."""

    __slots__ = ("_alpha", "_basis")
    uses_trades = False

    def __init__(self, basis_halflife_steps: float) -> None:
        self._alpha = _weight(basis_halflife_steps)
        self._basis = 0.0

    def _next_basis(self, now: MarkInputs) -> float:
        if now.mid is None:
            return self._basis
        return self._basis + self._alpha * (now.mid - now.fundamental - self._basis)

    def value(self, now: MarkInputs) -> float:
        return now.fundamental + self._next_basis(now)

    def commit(self, now: MarkInputs) -> float:
        self._basis = self._next_basis(now)
        return now.fundamental + self._basis


class IndexMark(MarkBase):
    """The fundamental (an index) plus an EMA of the mid-minus-fundamental basis."""

    kind: Literal["index"] = Field(
        description="Mark to the fundamental plus a smoothed basis (a liquidation index)."
    )
    basis_halflife_steps: Float = Field(
        gt=0.0, description="Half-life of the basis average, in steps."
    )

    def build(self) -> MarkMethod:
        """The run-time method."""
        return _Index(self.basis_halflife_steps)

    def describe(self) -> str:
        """A short human-readable name of the methodology."""
        return f"index: fundamental + EMA basis, half-life {self.basis_halflife_steps:g} steps"


# --- the scenario field ----------------------------------------------------------------------

_PLAIN_KINDS = ("mid", "last", "fundamental")


def _from_plain_string(value: Any) -> Any:
    # ``mark: mid`` is the short spelling of ``mark: {kind: mid}``
    if isinstance(value, str):
        return {"kind": value}
    if isinstance(value, Mapping | MarkBase):
        return value
    raise PydanticCustomError(
        "mark_type",
        "must be a mark kind ({plain}) or a mapping with a kind",
        {"plain": ", ".join(_PLAIN_KINDS)},
    )


def _to_plain_string(spec: MarkBase) -> Any:
    # parameterless kinds dump as the plain string, so resolved scenarios read as before
    if spec.kind in _PLAIN_KINDS:
        return spec.kind
    return spec.model_dump(mode="json", exclude={"kind_noun"})


class _PlainStringsInSchema:
    """Lets the JSON schema accept the plain-string spelling of the parameterless kinds."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        specs = handler(core_schema)
        plain = {"type": "string", "enum": list(_PLAIN_KINDS), "description": _PLAIN_HELP}
        return {"anyOf": [plain, specs]}


_PLAIN_HELP = "Short spelling of a parameterless kind: 'mid' is {kind: mid}."

MarkSpec = Annotated[
    MidMark | LastMark | FundamentalMark | VwapMark | EmaMark | IndexMark,
    Field(discriminator="kind"),
    BeforeValidator(_from_plain_string),
    PlainSerializer(_to_plain_string, return_type=Any),
    _PlainStringsInSchema,
]
"""A scenario's ``mark``: one of the kinds above, or a plain string for a parameterless one."""

MARK_KINDS: Mapping[str, type[MarkBase]] = {
    "mid": MidMark,
    "last": LastMark,
    "fundamental": FundamentalMark,
    "vwap": VwapMark,
    "ema": EmaMark,
    "index": IndexMark,
}
"""Kind -> spec class; each spec builds its own method (`build`) and names it (`describe`)."""


def build_mark(spec: MarkBase) -> MarkMethod:
    """The run-time method of a mark spec (a fresh state)."""
    return spec.build()


def describe_mark(spec: MarkBase | str | Mapping[str, Any]) -> str:
    """A short human-readable description of a mark methodology.

    Accepts a spec, a plain kind string or a mapping as written in a scenario (for example
    read back from a run's ``scenario.yaml``).

    Raises:
        ValueError: If the kind is unknown or its parameters are invalid.
    """
    return parse_mark(spec).describe()


def parse_mark(spec: MarkBase | str | Mapping[str, Any]) -> MarkBase:
    """Validate a mark given as a spec, a plain kind string or a mapping.

    Raises:
        ValueError: If the kind is unknown or its parameters are invalid.
    """
    if isinstance(spec, MarkBase):
        return spec
    data = _from_plain_string(spec)
    kind = data.get("kind") if isinstance(data, Mapping) else None
    cls = MARK_KINDS.get(str(kind))
    if cls is None:
        raise ValueError(f"mark kind must be one of {tuple(MARK_KINDS)}, got {kind!r}")
    try:
        return cls.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or kind}: {e['msg']}"
            for e in error.errors()
        )
        raise ValueError(f"invalid mark {kind!r}: {problems}") from error


def mark_path(
    spec: MarkBase | str | Mapping[str, Any],
    fundamental: Any,
    mid: Any,
    last: Any,
    step_qty: Any = None,
    step_notional: Any = None,
) -> np.ndarray:
    """The end-of-step mark of every step of a recorded run (one value per row).

    Args:
        spec: The mark methodology.
        fundamental: The ``market`` table's ``fundamental`` column.
        mid: Its ``mid`` column (NaN while one side is empty).
        last: Its ``last_price`` column (NaN before the first trade).
        step_qty: Book lots traded in each step (from the ``trades`` table, ``venue ==
            "book"``); zeros when None (only ``vwap`` reads it).
        step_notional: Price units times lots of those trades, per step; zeros when None.

    Returns:
        A float array: what the model recorded as the ``mark`` column.
    """
    method = parse_mark(spec).build()
    fund = np.asarray(fundamental, dtype=float)
    mids = np.asarray(mid, dtype=float)
    lasts = np.asarray(last, dtype=float)
    n = len(fund)
    qty = np.zeros(n, dtype=np.int64) if step_qty is None else np.asarray(step_qty)
    notional = np.zeros(n) if step_notional is None else np.asarray(step_notional, dtype=float)
    out = np.empty(n)
    for i in range(n):
        now = MarkInputs(
            float(fund[i]),
            None if np.isnan(mids[i]) else float(mids[i]),
            None if np.isnan(lasts[i]) else float(lasts[i]),
            int(qty[i]),
            float(notional[i]),
        )
        out[i] = method.commit(now)
    return out


__all__ = [
    "MARK_KINDS",
    "EmaMark",
    "FundamentalMark",
    "IndexMark",
    "LastMark",
    "MarkBase",
    "MarkInputs",
    "MarkMethod",
    "MarkSpec",
    "MidMark",
    "VwapMark",
    "build_mark",
    "describe_mark",
    "mark_path",
    "parse_mark",
]
