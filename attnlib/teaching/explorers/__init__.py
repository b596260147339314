"""Interactive explorers: ipywidgets front ends to figures the chapters also draw statically.

Each explorer needs a live Jupyter kernel (Binder, Colab or a local Jupyter);
the rendered book shows the static figure beside it, which tells the same
story. ``ipywidgets`` is imported inside the functions, so ``import attnlib``
never needs it. An explorer computes only with :mod:`attnlib` (pure functions)
and draws only with :mod:`attnlib.teaching.plots`; it keeps nothing but its widgets.
"""

from .routing import render_routing, routing_explorer
from .sticky import ratio_explorer, render_ratio
from .toy import render_toy_step, toy_training_explorer

__all__ = [
    "routing_explorer",
    "render_routing",
    "toy_training_explorer",
    "render_toy_step",
    "ratio_explorer",
    "render_ratio",
]
