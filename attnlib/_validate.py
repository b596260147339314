"""Input checks shared by the public entry points.

Every check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right
kind, wrong value) with a one-line message that names the argument and quotes
the offending shape or value. Internal invariants use ``assert`` instead.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_matrix",
    "as_float_array",
    "as_labels",
    "as_positive_int",
    "as_bool",
    "as_distribution_rows",
    "as_number",
    "as_probability",
    "as_seed",
    "as_generator",
]


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_float_array(value, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 array, or raise naming ``name``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__} {_describe(value)}")
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array, got {_describe(value)} ({error})") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{name} must be real, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{name} must be finite, got {array[tuple(bad)]} at index {tuple(int(i) for i in bad)}"
        )
    return array


def as_float_matrix(value, name: str) -> np.ndarray:
    """Return ``value`` as a finite 2-D float64 array, or raise naming ``name``."""
    return as_float_array(value, name, ndim=2)


def as_labels(value, name: str, *, length: int, n_classes: int) -> np.ndarray:
    """Return ``value`` as a 1-D int64 array of class indices in ``[0, n_classes)``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of integer class indices, got {_describe(value)}")
    array = np.asarray(value)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D with one label per position, got shape {array.shape}")
    if array.shape[0] != length:
        raise ValueError(f"{name} must have {length} labels (one per position), got {array.shape[0]}")
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        bad = array[(array < 0) | (array >= n_classes)][0]
        raise ValueError(f"{name} must lie in [0, {n_classes}), got {int(bad)}")
    return array.astype(np.int64, copy=False)


def as_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` no smaller than ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def as_bool(value, name: str) -> bool:
    """Return ``value`` if it is a ``bool``; raise ``TypeError`` otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def as_number(value, name: str, *, minimum: float | None = None, exclusive: bool = False, maximum: float | None = None) -> float:
    """Return ``value`` as a finite ``float`` within the bounds given, or raise naming ``name``.

    ``TypeError`` for something that is not a real number (``bool`` included),
    ``ValueError`` for ``nan``, an infinity or a number out of bounds.

    >>> as_number(3, "eta", minimum=0)
    3.0
    >>> as_number(0.0, "scale", minimum=0, exclusive=True)
    Traceback (most recent call last):
    ...
    ValueError: scale must be a finite number > 0, got 0.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {_describe(value)}")
    value = float(value)
    bound = "" if minimum is None else f" {'>' if exclusive else '>='} {minimum:g}"
    if maximum is not None:
        bound = f" in {'(' if exclusive else '['}{minimum:g}, {maximum:g}]" if minimum is not None else f" <= {maximum:g}"
    low_ok = minimum is None or (value > minimum if exclusive else value >= minimum)
    if not (np.isfinite(value) and low_ok and (maximum is None or value <= maximum)):
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return value


def as_probability(value, name: str) -> float:
    """Return ``value`` as a ``float`` in [0, 1], or raise naming ``name``."""
    return as_number(value, name, minimum=0.0, maximum=1.0)


def as_seed(value, name: str = "seed") -> int:
    """Return ``value`` as an ``int`` seed in [0, 2**32) (numpy's legacy range; torch accepts all of it)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {_describe(value)}")
    if not (0 <= value < 2**32):
        raise ValueError(f"{name} must be in [0, 2**32), got {value}")
    return int(value)


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """The one way the package turns "a seed or a generator" into a ``numpy.random.Generator``.

    ``None`` gives a fresh, unseeded generator; an ``int`` seeds a new one; a
    ``Generator`` is returned as it is (so the caller's stream moves on).

    >>> as_generator(0).standard_normal() == as_generator(0).standard_normal()
    True
    >>> as_generator("abc")
    Traceback (most recent call last):
    ...
    TypeError: rng must be None, an int seed or a numpy Generator, got str 'abc'
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, numbers.Integral)):
        raise TypeError(f"{name} must be None, an int seed or a numpy Generator, got {type(rng).__name__} {_describe(rng)}")
    if rng is not None and rng < 0:
        raise ValueError(f"{name} must be a seed >= 0, got {rng}")
    return np.random.default_rng(rng)


#: How far a row of probabilities may sum from 1.
ROW_SUM_TOL = 1e-6


def as_distribution_rows(value, name: str, *, matrix: bool = False) -> np.ndarray:
    """``value`` as float rows that are probability vectors (last axis), or a one-line error.

    ``matrix=True`` also requires a 2-D ``(N, C)`` array.

    Examples
    --------
    >>> as_distribution_rows([[0.25, 0.75]], "p").shape
    (1, 2)
    >>> as_distribution_rows([[0.5, 0.6]], "p")
    Traceback (most recent call last):
    ValueError: every row of p must be a probability vector summing to 1 (within 1e-06), row (0,) sums to 1.1
    """
    p = as_float_array(value, name)
    if matrix and p.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, C), one distribution per row, got shape {p.shape}")
    if p.ndim < 1 or p.shape[-1] == 0:
        raise ValueError(f"{name} must hold probability vectors along its last axis, got shape {p.shape}")
    if p.min() < 0:
        raise ValueError(f"{name} must be non-negative, got {p.min()}")
    sums = p.sum(axis=-1)  # (...)
    worst = np.abs(sums - 1.0)  # (...)
    if worst.max(initial=0.0) > ROW_SUM_TOL:
        bad = np.unravel_index(np.argmax(worst), worst.shape)
        raise ValueError(
            f"every row of {name} must be a probability vector summing to 1 (within {ROW_SUM_TOL:g}), "
            f"row {tuple(int(i) for i in bad)} sums to {sums[bad]:.8g}"
        )
    return p
