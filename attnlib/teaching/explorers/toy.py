"""The chapter 6 explorer: a step slider over a toy training run."""

from __future__ import annotations

import functools

import numpy as np

from ..._validate import as_positive_int
from ._png import figure_png

__all__ = ["toy_training_explorer", "render_toy_step"]


def render_toy_step(history, task, t: int, *, sequence: int = 0, dpi: int = 72) -> bytes:
    """PNG bytes of the toy at step ``t``: the loss with a marker, then the panels of chapter 6.

    The panels are :func:`attnlib.teaching.plots.dynamics.toy_step_panels`.

    Draws on a :class:`matplotlib.figure.Figure` of its own (not through
    ``pyplot``), so nothing is shown or kept around.

    Parameters
    ----------
    history : attnlib.dynamics.toy.ToyHistory
    task : attnlib.dynamics.toy.ToyTask
        The batch the history was trained on.
    t : int
        ``0 <= t <= history.steps``.
    sequence : int
        Which sequence of the batch the ``b`` and ``A`` panels show.
    dpi : int

    Returns
    -------
    bytes

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_task, toy_init, train_toy
    >>> from attnlib.head.training import LearningRates
    >>> task = toy_task(all_sequences()[::40])
    >>> h = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=3)
    >>> render_toy_step(h, task, 3)[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    from ..plots.dynamics import toy_step_panels
    from ...dynamics.toy import toy_snapshot, value_trajectories

    snapshot = toy_snapshot(history, task, t, sequence=sequence)
    paths = value_trajectories(history, task.n_classes)  # (T + 1, C, N, 2)
    limits = _plane_limits(paths)

    def draw(fig):
        axes = fig.subplots(1, 5, gridspec_kw={"width_ratios": [1.25, 1, 1.1, 1, 1]})
        steps = np.arange(history.steps)  # (T,)
        axes[0].plot(steps, history.losses, color="black", linewidth=1.6, label="batch loss")
        axes[0].plot(steps, history.accuracy, color="tab:green", linewidth=1.4, label="accuracy")
        axes[0].axvline(min(t, history.steps - 1), color="tab:red", linewidth=1.2, label=f"step {t}")
        axes[0].set_xlabel("step t (updates applied)")
        axes[0].set_ylabel("loss (nats) / accuracy")
        axes[0].set_title(f"loss {snapshot.loss:.3f}, accuracy {snapshot.accuracy:.2f}")
        axes[0].legend(fontsize=8)
        toy_step_panels(snapshot, axes[1:], trail=paths[: t + 1], limits=limits)
        fig.subplots_adjust(left=0.04, right=0.98, bottom=0.15, top=0.9, wspace=0.45)  # fixed: no layout pass

    return figure_png(draw, figsize=(19.5, 3.9), dpi=dpi, tight=False)


def _plane_limits(paths: np.ndarray) -> tuple[float, float, float, float]:
    """Axis limits that hold every value at every step (shared by all frames)."""
    pts = paths.reshape(-1, paths.shape[-1])  # (M, 2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)  # (2,), (2,)
    pad = 0.12 * float((hi - lo).max())
    return (float(lo[0] - pad), float(hi[0] + pad), float(lo[1] - pad), float(hi[1] + pad))


@functools.lru_cache(maxsize=1)
def _explorer_class():
    import ipywidgets as widgets

    class ToyTrainingExplorer(widgets.VBox):
        """A step slider over a toy training run, and the figure of that step."""

        def __init__(self, history, task, sequence: int, **kwargs):
            self.history, self.task, self.sequence = history, task, sequence
            self.slider = widgets.IntSlider(value=0, min=0, max=history.steps, step=1, description="step",
                                            continuous_update=False,
                                            layout=widgets.Layout(width="70%"))
            self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%"))
            self.slider.observe(self._on_step, names="value")
            super().__init__(children=[self.slider, self.image], **kwargs)
            self.show(0)

        def show(self, t: int) -> None:
            """Draw step ``t`` (the slider calls this)."""
            self.image.value = render_toy_step(self.history, self.task, t, sequence=self.sequence)

        def _on_step(self, change) -> None:
            self.show(change["new"])

        def __repr__(self) -> str:  # no model ids, no addresses: stable text/plain for nbval
            tokens = " ".join(str(int(c)) for c in self.task.tokens[self.sequence])
            return (f"ToyTrainingExplorer(steps 0..{self.history.steps}, sequence {self.sequence}: "
                    f"{tokens}; needs a live kernel)")

    return ToyTrainingExplorer


def toy_training_explorer(history, task, *, sequence: int = 0):
    """A slider over the training steps of a toy run, redrawing the chapter 6 panels.

    Parameters
    ----------
    history : attnlib.dynamics.toy.ToyHistory
    task : attnlib.dynamics.toy.ToyTask
        The batch the history was trained on.
    sequence : int, default 0
        Which sequence of the batch the ``b`` and ``A`` panels show.

    Returns
    -------
    ipywidgets.VBox
        A ``ToyTrainingExplorer``: ``.slider`` (an ``IntSlider``), ``.image``
        (the PNG of the current step) and ``.show(t)``. Display it in a
        notebook; moving the slider needs a live kernel.

    Examples
    --------
    >>> from attnlib.dynamics.toy import all_sequences, toy_task, toy_init, train_toy
    >>> from attnlib.head.training import LearningRates
    >>> task = toy_task(all_sequences()[::40])
    >>> h = train_toy(toy_init(task, rng=0), task, LearningRates.sgd(1.0), steps=3)
    >>> explorer = toy_training_explorer(h, task, sequence=1)
    >>> explorer
    ToyTrainingExplorer(steps 0..3, sequence 1: 0 1 1 1 1; needs a live kernel)
    >>> first = explorer.image.value
    >>> explorer.slider.value = 3
    >>> explorer.image.value != first
    True
    """
    from ...dynamics.toy import ToyHistory, ToyTask

    if not isinstance(history, ToyHistory):
        raise TypeError(f"history must be an attnlib.dynamics.toy.ToyHistory, got {type(history).__name__}")
    if not isinstance(task, ToyTask):
        raise TypeError(f"task must be an attnlib.dynamics.toy.ToyTask, got {type(task).__name__}")
    sequence = as_positive_int(sequence, "sequence", minimum=0)
    if sequence >= task.n_sequences:
        raise ValueError(f"sequence must be in [0, {task.n_sequences}), got {sequence}")
    if history.W_V.shape[1] != task.d_x:
        raise ValueError(f"history was trained with d_x = {history.W_V.shape[1]}, the task has d_x = {task.d_x}")
    return _explorer_class()(history, task, sequence)
