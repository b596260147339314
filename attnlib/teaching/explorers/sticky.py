"""The chapter 8 explorer: choose the value/routing learning-rate ratio, see both loss curves."""

from __future__ import annotations

import functools
from typing import Mapping

import numpy as np

from ._png import figure_png

__all__ = ["ratio_explorer", "render_ratio"]


def render_ratio(baseline: np.ndarray, curves: np.ndarray, ratio: float, *, threshold: float | None = None,
                 dpi: int = 72) -> bytes:
    """PNG bytes: the baseline arm's loss curves and those of one ratio, per seed.

    Parameters
    ----------
    baseline : array_like, shape (S, steps)
        Loss curves of the SGD arm (ratio 1).
    curves : array_like, shape (S, steps)
        Loss curves of the arm with ``ratio``.
    ratio : float
    threshold : float, optional
        The SGD mean final loss (the paper's target), drawn as a dashed line.

    Examples
    --------
    >>> png = render_ratio(np.ones((2, 5)), np.linspace(1, 0.5, 5)[None].repeat(2, 0), 10.0)
    >>> png[:4]
    b'\\x89PNG'
    """
    from ...dynamics.experiments import first_steps_below
    from ..plots.sticky import arm_loss_curves

    name = f"value/routing ratio {ratio:g}"
    crossings = None if threshold is None else {name: first_steps_below(curves, threshold)}

    def draw(figure):
        arm_loss_curves({"SGD (ratio 1)": np.asarray(baseline), name: np.asarray(curves)}, threshold=threshold,
                        crossings=crossings, ax=figure.subplots(), title=f"SGD against ratio {ratio:g}")

    return figure_png(draw, figsize=(8, 3.6), dpi=dpi)


@functools.lru_cache(maxsize=1)
def _explorer_class():
    import ipywidgets as widgets

    class RatioExplorer(widgets.VBox):
        """A slider over the ratios that were run; the two arms' loss curves."""

        def __init__(self, baseline, by_ratio, threshold, **kwargs):
            self.baseline, self.by_ratio, self.threshold = baseline, by_ratio, threshold
            ratios = sorted(by_ratio)
            self.ratio = widgets.SelectionSlider(options=[(f"{r:g}", r) for r in ratios], value=ratios[0],
                                                 description="ratio", continuous_update=False)
            self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%"))
            self.ratio.observe(self._redraw, names="value")
            super().__init__(children=[self.ratio, self.image], **kwargs)
            self._redraw()

        def _redraw(self, change=None) -> None:
            r = self.ratio.value
            self.image.value = render_ratio(self.baseline, self.by_ratio[r], r, threshold=self.threshold)

        def __repr__(self) -> str:  # stable text/plain (no model ids) for nbval
            ratios = ", ".join(f"{r:g}" for r in sorted(self.by_ratio))
            return f"RatioExplorer(ratios {ratios}; needs a live kernel)"

    return RatioExplorer


def ratio_explorer(baseline, by_ratio: Mapping[float, np.ndarray], *, threshold: float | None = None):
    """Choose a value/routing learning-rate ratio among those that were run; see both loss curves.

    The runs are computed beforehand (a full-size run takes about a minute),
    so the slider moves over the ratios of a sweep such as chapter 8's.

    Parameters
    ----------
    baseline : array_like, shape (S, steps)
        SGD loss curves, one row per seed.
    by_ratio : mapping float -> array_like, shape (S, steps)
        The loss curves of each ratio's arm.
    threshold : float, optional
        The SGD mean final loss.

    Examples
    --------
    >>> curves = {3.0: np.full((2, 4), 0.9), 10.0: np.full((2, 4), 0.8)}
    >>> explorer = ratio_explorer(np.ones((2, 4)), curves, threshold=0.95)
    >>> explorer
    RatioExplorer(ratios 3, 10; needs a live kernel)
    >>> before = explorer.image.value
    >>> explorer.ratio.value = 10.0
    >>> explorer.image.value != before
    True
    """
    baseline = np.asarray(baseline, dtype=float)
    if baseline.ndim != 2:
        raise ValueError(f"baseline must have shape (seeds, steps), got {baseline.shape}")
    if not by_ratio:
        raise ValueError("by_ratio must hold at least one ratio's curves, got none")
    curves = {}
    for ratio, values in by_ratio.items():
        values = np.asarray(values, dtype=float)
        if values.shape != baseline.shape:
            raise ValueError(f"curves of ratio {ratio} must have the baseline's shape {baseline.shape}, got {values.shape}")
        curves[float(ratio)] = values
    return _explorer_class()(baseline, curves, threshold)
