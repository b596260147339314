"""The chapter 3 explorer: move one value in the plane and watch b, A and the attention update."""

from __future__ import annotations

import functools

from ..._validate import as_float_array, as_float_matrix, as_positive_int
from ._png import figure_png

__all__ = ["routing_explorer", "render_routing"]


def render_routing(scores, u, V, *, eta: float = 1.0, highlight: int | None = None, dpi: int = 72) -> bytes:
    """PNG bytes of :func:`attnlib.teaching.plots.routing.routing_view_panels` for one configuration.

    Examples
    --------
    >>> import numpy as np
    >>> render_routing(np.zeros(3), np.array([0.8, 0.2]), np.eye(3)[:, :2])[:4]
    b'\\x89PNG'
    """
    from ..plots.routing import routing_view_panels
    from ...laws.routing import routing_view

    view = routing_view(scores, u, V, eta=eta)

    def draw(figure):
        routing_view_panels(view, V, u, axes=figure.subplots(1, 2), highlight=highlight)

    return figure_png(draw, figsize=(13, 3.8), dpi=dpi)


@functools.lru_cache(maxsize=1)
def _explorer_class():
    import ipywidgets as widgets

    class RoutingExplorer(widgets.VBox):
        """Sliders for one value's coordinates and the step size; the figure of the routing law."""

        def __init__(self, scores, u, V, eta, **kwargs):
            self.scores, self.u, self.V = scores, u, V.copy()
            self.key = widgets.Dropdown(options=list(range(len(V))), value=0, description="value")
            slider = functools.partial(widgets.FloatSlider, min=-3.0, max=3.0, step=0.05, continuous_update=False)
            self.x = slider(value=float(V[0, 0]), description="v_j[0]")
            self.y = slider(value=float(V[0, 1]), description="v_j[1]")
            self.eta = widgets.FloatLogSlider(value=eta, base=10, min=-1, max=1.5, step=0.05, description="eta",
                                              continuous_update=False)
            self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%"))
            self.key.observe(self._on_key, names="value")
            for control in (self.x, self.y, self.eta):
                control.observe(self._redraw, names="value")
            controls = widgets.HBox([self.key, self.x, self.y, self.eta])
            super().__init__(children=[controls, self.image], **kwargs)
            self._redraw()

        def _on_key(self, change) -> None:
            j = change["new"]
            with self.hold_trait_notifications():
                self.x.value, self.y.value = float(self.V[j, 0]), float(self.V[j, 1])
            self._redraw()

        def _redraw(self, change=None) -> None:
            j = self.key.value
            self.V[j] = (self.x.value, self.y.value)
            self.image.value = render_routing(self.scores, self.u, self.V, eta=self.eta.value, highlight=j)

        def __repr__(self) -> str:  # stable text/plain (no model ids) for nbval
            return f"RoutingExplorer({len(self.V)} values in the plane; needs a live kernel)"

    return RoutingExplorer


def routing_explorer(scores, u, V, *, eta: float = 1.0):
    """Move one value vector with sliders and watch ``b``, ``A`` and one routing step.

    Parameters
    ----------
    scores : array_like, shape (M,)
        The query's scores.
    u : array_like, shape (2,)
        The query's error signal.
    V : array_like, shape (M, 2)
        The values (two-dimensional).
    eta : float
        Initial step size.

    Returns
    -------
    ipywidgets.VBox
        A ``RoutingExplorer`` with ``.key`` (which value), ``.x``, ``.y`` (its
        coordinates), ``.eta`` and ``.image``. Needs a live kernel to move.

    Examples
    --------
    >>> import numpy as np
    >>> explorer = routing_explorer(np.zeros(3), [0.8, 0.2], [[-1.0, 0.5], [1.0, 0.0], [0.0, -1.0]])
    >>> explorer
    RoutingExplorer(3 values in the plane; needs a live kernel)
    >>> before = explorer.image.value
    >>> explorer.x.value = -2.0
    >>> explorer.image.value != before
    True
    """
    scores = as_float_array(scores, "scores", ndim=1)
    u = as_float_array(u, "u", ndim=1)
    V = as_float_matrix(V, "V")
    if u.shape != (2,) or V.shape != (scores.shape[0], 2):
        raise ValueError(f"u must have shape (2,) and V shape (M, 2) = {(scores.shape[0], 2)}, got {u.shape}, {V.shape}")
    as_positive_int(len(scores), "number of keys")
    return _explorer_class()(scores, u, V, float(eta))
