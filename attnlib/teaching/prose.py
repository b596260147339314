"""Numbers for the prose: a computed value, stored where the book's text can quote it.

A chapter's sentence that quotes a number reads it from the cell that computed
it, with myst-nb's ``{glue:text}`` role, never from a typed copy. :func:`glue`
stores the value; where myst-nb is not installed (a Colab session, which gets
the chapters' text with the numbers already filled in), it does nothing.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["glue"]


def glue(name: str, value) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`name:.2f``` in the chapter's text (not displayed).

    Parameters
    ----------
    name : str
        Unique within the chapter.
    value : real number
        Stored as an int if it is one (``{glue:text}`count:d```), else as a
        float. Round a float first to the precision the computation keeps (the stored
        text is compared across machines), e.g. ``round(ratio, 2)``.

    Examples
    --------
    >>> glue("ratio", 0.5)  # outside a notebook: nothing to show
    >>> glue("ratio", "half")
    Traceback (most recent call last):
    ...
    TypeError: value must be a real number (format it in the role, e.g. {glue:text}`ratio:.2f`), got 'half'
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be an identifier, got {name!r}")
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(
            f"value must be a real number (format it in the role, e.g. {{glue:text}}`{name}:.2f`), got {value!r}"
        )
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value!r} for {name!r}")
    try:
        from myst_nb import glue as store
    except ImportError:  # no myst-nb (Colab): the text already carries the numbers
        return
    store(name, int(value) if isinstance(value, numbers.Integral) else float(value), display=False)
