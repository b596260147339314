"""Numbers quoted in a chapter's prose: computed by a cell, shown by the book.

A chapter quotes a measured number as ``{glue:text}`name:.2f``` in its Markdown; the
cell that measured it calls :func:`glue`, which hands the value to myst-nb. The number
in the text is then the one the cell computed, never one typed by hand.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["glue"]


def glue(name: str, value: float) -> None:
    """Store ``value`` under ``name`` for the chapter's ``{glue:text}`` roles (nothing is displayed).

    Does nothing where myst-nb is not installed (for example in a bare Colab runtime).

    Parameters
    ----------
    name : str
    value : float
        A real, finite number (round it in the text's format spec, not here).

    Examples
    --------
    >>> glue("gap", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: value must be a finite real number, got nan
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"value must be a real number, got {type(value).__name__}")
    if not math.isfinite(float(value)):
        raise ValueError(f"value must be a finite real number, got {value}")
    try:
        import myst_nb
    except ImportError:
        return
    myst_nb.glue(name, float(value), display=False)  # a plain float: its text is what {glue:text} formats
