"""Drawing helpers for the chapters. They only draw: arrays (or a History) in, axes out."""

from .basic import curves, grouped_bars, heatmap
from .style import BOOK_STYLE, use_book_style

__all__ = ["BOOK_STYLE", "use_book_style", "curves", "grouped_bars", "heatmap"]
