"""An option surface read from CSV: the input of ``abm calibrate heston``.

One row per quote; the header names the columns, in any order (names are case-sensitive):

=============  ========  ===============================================================
column         required  meaning
=============  ========  ===============================================================
expiry         yes       time to expiry in years (> 0)
strike         yes       strike price (> 0)
price          one of    the option's market price (> 0)
implied_vol    the two   or its Black-Scholes implied volatility (> 0, annual)
type           no        ``call`` or ``put`` (also ``c`` / ``p``, any case); default call
weight         no        multiplies the quote's residual (> 0), e.g. 1 / its standard error
spot           no [*]    the underlying's price (> 0)
rate           no [*]    continuously compounded rate (e.g. 0.02)
dividend       no [*]    continuous dividend yield
=============  ========  ===============================================================

[*] spot, rate and dividend are one value for the whole surface: a column (the same on every
row) or an argument (the CLI's ``--spot``, ``--rate``, ``--dividend``), not both; rate and
dividend default to 0 when neither is given, spot is required. Blank lines are skipped; a
line starting with ``#`` is a comment.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from abm.derivatives._inputs import FloatArray
from abm.derivatives.errors import DerivativesError

MAX_SURFACE_BYTES = 10_000_000
"""The largest surface file read (about 200,000 quotes): a bigger one is refused, not read."""
COLUMNS = ("expiry", "strike", "price", "implied_vol", "type", "weight", "spot", "rate", "dividend")
"""Every column a surface file may have."""
_POSITIVE = {"expiry", "strike", "price", "implied_vol", "weight", "spot"}
_MARKET = ("spot", "rate", "dividend")


class SurfaceError(DerivativesError):
    """A surface file that cannot be read or holds a bad value (the message names where)."""


@dataclass(frozen=True, slots=True, eq=False)
class OptionSurface:
    """Quotes of European options on one underlying (arrays of one entry per quote)."""

    spot: float
    rate: float
    dividend: float
    expiry: FloatArray
    strike: FloatArray
    is_call: NDArray[np.bool_]
    price: FloatArray | None
    implied_vol: FloatArray | None
    weight: FloatArray | None

    @property
    def n_points(self) -> int:
        """Quotes on the surface."""
        return int(self.strike.size)

    @property
    def n_expiries(self) -> int:
        """Distinct expiries."""
        return int(np.unique(self.expiry).size)


def read_surface(
    path: str | Path,
    *,
    spot: float | None = None,
    rate: float | None = None,
    dividend: float | None = None,
) -> OptionSurface:
    """Read an option surface from the CSV file ``path`` (columns in the module docstring).

    Raises:
        SurfaceError: The file cannot be read or is too large, a column is missing, unknown or
            repeated, a value is not a number, not finite or out of range (naming the line and
            the column), or a market value is missing, differs between rows or is given twice.
    """
    text = _read_text(Path(path))
    rows = [
        (number, next(csv.reader([line])))
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not rows:
        raise SurfaceError(f"{path}: empty: expected a header line and one row per quote")
    header = [name.strip() for name in rows[0][1]]
    _check_header(path, header)
    if len(rows) == 1:
        raise SurfaceError(f"{path}: no quotes after the header")
    lines = [number for number, _ in rows[1:]]
    columns: dict[str, list[str]] = {name: [] for name in header}
    for number, row in rows[1:]:
        if len(row) != len(header):
            raise SurfaceError(
                f"{path}: line {number}: {len(row)} fields, the header has {len(header)}"
            )
        for name, value in zip(header, row, strict=True):
            columns[name].append(value.strip())
    numbers = {
        name: _numbers(path, name, values, lines)
        for name, values in columns.items()
        if name != "type"
    }
    market = {
        name: _market_value(path, name, numbers.get(name), given, lines)
        for name, given in (("spot", spot), ("rate", rate), ("dividend", dividend))
    }
    if market["spot"] is None:
        raise SurfaceError(f"{path}: spot: missing: add a spot column or pass --spot")
    is_call = (
        _types(path, columns["type"], lines)
        if "type" in columns
        else np.ones(len(lines), dtype=bool)
    )
    return OptionSurface(
        spot=market["spot"],
        rate=market["rate"] or 0.0,
        dividend=market["dividend"] or 0.0,
        expiry=numbers["expiry"],
        strike=numbers["strike"],
        is_call=is_call,
        price=numbers.get("price"),
        implied_vol=numbers.get("implied_vol"),
        weight=numbers.get("weight"),
    )


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SURFACE_BYTES + 1)
    except OSError as exc:
        raise SurfaceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_SURFACE_BYTES:
        raise SurfaceError(f"{path}: larger than {MAX_SURFACE_BYTES:,} bytes; not read")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SurfaceError(f"{path}: not a UTF-8 text file ({exc.reason})") from exc


def _check_header(path: str | Path, header: list[str]) -> None:
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise SurfaceError(
            f"{path}: unknown column {unknown[0]!r}; the columns are {', '.join(COLUMNS)}"
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise SurfaceError(f"{path}: column {repeated[0]!r} appears twice")
    for name in ("expiry", "strike"):
        if name not in header:
            raise SurfaceError(f"{path}: missing column {name!r}")
    if ("price" in header) == ("implied_vol" in header):
        raise SurfaceError(f"{path}: needs exactly one of the columns 'price' and 'implied_vol'")


def _numbers(path: str | Path, name: str, values: list[str], lines: list[int]) -> FloatArray:
    out = np.empty(len(values))
    for index, text in enumerate(values):
        where = f"{path}: line {lines[index]}: {name}"
        try:
            value = float(text)
        except ValueError:
            raise SurfaceError(f"{where}: not a number: {text!r}") from None
        if not math.isfinite(value):
            raise SurfaceError(f"{where}: must be finite, got {text!r}")
        if name in _POSITIVE and value <= 0.0:
            raise SurfaceError(f"{where}: must be positive, got {text!r}")
        out[index] = value
    return out


def _market_value(
    path: str | Path, name: str, column: FloatArray | None, given: float | None, lines: list[int]
) -> float | None:
    if given is not None:
        if column is not None:
            raise SurfaceError(f"{path}: {name}: given both as a column and as --{name}; keep one")
        if not math.isfinite(given) or (name in _POSITIVE and given <= 0.0):
            raise SurfaceError(
                f"--{name}: must be {'positive' if name in _POSITIVE else 'finite'}, got {given!r}"
            )
        return float(given)
    if column is None:
        return None
    if np.any(column != column[0]):
        index = int(np.flatnonzero(column != column[0])[0])
        raise SurfaceError(
            f"{path}: line {lines[index]}: {name}: {float(column[index])!r} differs from the "
            f"first row's {float(column[0])!r}; a surface has one {name}"
        )
    return float(column[0])


def _types(path: str | Path, values: list[str], lines: list[int]) -> NDArray[np.bool_]:
    out = np.empty(len(values), dtype=bool)
    for index, text in enumerate(values):
        kind = text.lower()
        if kind not in ("call", "put", "c", "p"):
            raise SurfaceError(
                f"{path}: line {lines[index]}: type: must be call or put, got {text!r}"
            )
        out[index] = kind in ("call", "c")
    return out
