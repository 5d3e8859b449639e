"""Argument checks of the pricing functions: arrays in, one typed error naming the argument."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from abm.derivatives.errors import DerivativesError

FloatArray = NDArray[np.float64]
"""The array type every pricing function takes (after conversion) and returns."""


def finite(name: str, value: ArrayLike) -> FloatArray:
    """``value`` as a float array, refusing NaN and infinities.

    Raises:
        DerivativesError: ``name: must be finite, got ...`` (or not a number at all).
    """
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DerivativesError(f"{name}: must be a number or an array of numbers") from exc
    if not np.all(np.isfinite(array)):
        raise DerivativesError(
            f"{name}: must be finite, got {_first_bad(array, ~np.isfinite(array))}"
        )
    return array


def positive(name: str, value: ArrayLike) -> FloatArray:
    """``value`` as a float array of finite numbers above zero.

    Raises:
        DerivativesError: ``name: must be positive, got ...``.
    """
    array = finite(name, value)
    if np.any(array <= 0.0):
        raise DerivativesError(f"{name}: must be positive, got {_first_bad(array, array <= 0.0)}")
    return array


def flags(name: str, value: ArrayLike) -> NDArray[np.bool_]:
    """``value`` (True for a call, False for a put) as a boolean array.

    Raises:
        DerivativesError: If it holds anything but booleans (or 0 and 1).
    """
    array = np.asarray(value)
    if array.dtype == np.bool_:
        return array
    if np.issubdtype(array.dtype, np.integer) and np.all((array == 0) | (array == 1)):
        return array.astype(np.bool_)
    raise DerivativesError(f"{name}: must be True (call) or False (put), got {value!r}")


def _first_bad(array: FloatArray, bad: NDArray[np.bool_]) -> str:
    """The first offending entry of ``array``, with its index when ``array`` is not a scalar."""
    if array.ndim == 0:
        return repr(float(array))
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{float(array[index])!r} at index {index[0] if len(index) == 1 else index}"
