"""Render a matplotlib figure to PNG bytes, in the book's style, without pyplot."""

from __future__ import annotations

import io
from typing import Callable


def figure_png(draw: Callable, *, figsize: tuple[float, float], dpi: int, tight: bool = True) -> bytes:
    """Make a :class:`~matplotlib.figure.Figure`, let ``draw(figure)`` fill it, return its PNG bytes.

    The figure never goes through ``pyplot``, so nothing is shown or kept.

    Examples
    --------
    >>> figure_png(lambda fig: fig.subplots().plot([0, 1]), figsize=(2, 2), dpi=30)[:4]
    b'\\x89PNG'
    """
    import matplotlib as mpl
    from matplotlib.figure import Figure

    from ..plots.style import BOOK_STYLE

    with mpl.rc_context(BOOK_STYLE):
        figure = Figure(figsize=figsize, dpi=dpi)
        draw(figure)
        if tight:
            figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()
