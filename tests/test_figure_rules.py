"""The book's figure rules (attnlib.teaching.plots.rules), applied to every plotting function.

(a) no figure hides runs that did not cross a threshold: the functions that draw steps to a
    threshold draw each such run as a censored mark, and refuse ``nan`` without a horizon;
(b) no two reference lines of one axes share colour and line style;
(c) every log axis shows at least three labelled ticks inside its view.
Each function is built from small synthetic inputs, and the checker is shown to fail.
"""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlib.teaching import plots  # noqa: E402
from attnlib.teaching.plots.rules import (  # noqa: E402
    CENSORED_GID,
    censored_count,
    figure_violations,
    mark_censored,
    readable_log_ticks,
)

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    plots.use_book_style()
    yield
    plt.close("all")


def _snapshot(n=4):
    mask = np.tril(np.ones((n, n), bool))  # (n, n)
    attn = np.where(mask, 1.0, 0.0) / mask.sum(axis=1, keepdims=True)  # (n, n)
    return SimpleNamespace(step=3, attn_mean=attn, mask=mask, evidence=np.arange(n) // 2,
                           compat=RNG.normal(size=(n, n)), advantage=RNG.normal(size=(n, n)),
                           tokens=np.arange(n) % 3, values=RNG.normal(size=(3, n, 2)),
                           pulls=RNG.normal(size=(3, n, 2)), readout=RNG.normal(size=(2, 3)))


def _history(steps=(0, 5, 10)):
    snaps = np.abs(RNG.normal(size=(len(steps), 6, 2))) + 1.0  # (n_snap, N, d_v)
    return SimpleNamespace(snapshot_steps=np.array(steps), value_snapshots=snaps)


def _routing(ax_pair):
    from attnlib.laws.routing import routing_view

    V = np.array([[0.0, 0.0], [1.0, 0.4], [-0.2, 1.0], [0.6, -0.9]])  # (4, 2)
    u = np.array([0.8, 0.3])  # (2,)
    plots.routing_view_panels(routing_view(np.zeros(4), u, V, eta=3.0), V, u, axes=ax_pair, highlight=0)


def _loss_curves(s=3, t=40):
    base = 2.0 - 0.3 * (1 - np.exp(-np.arange(t) / 15.0))  # (t,)
    return {"SGD": base + 0.02 * RNG.random((s, t)), "EM-like": base - 0.1 + 0.02 * RNG.random((s, t))}


N = np.array([16.0, 64.0, 256.0, 1024.0])  # (4,)
# Every plotting function of attnlib.teaching.plots that the chapters call, drawn on a figure of
# the given number of axes from small synthetic inputs.
BUILDERS = {
    "curves": (1, lambda a: plots.curves([0, 1, 2], {"a": [0, 1, 4], "b": [0, 1, 2]}, ax=a[0])),
    "grouped_bars": (1, lambda a: plots.grouped_bars({"g": [0.5, -0.2, 3.0], "α": [0.6, 0.4, 0.0]},
                                                     ["key 0", "key 1", "key 2"], ax=a[0],
                                                     masked=[False, False, True])),
    "heatmap": (1, lambda a: plots.heatmap(RNG.normal(size=(3, 3)), ax=a[0], center=True, annotate=True)),
    "flops_by_line": (1, lambda a: plots.flops_by_line(["S = Q K^T", "Q = X W_Q", "o = A V"],
                                                       [4e8, 8e5, 3e7], [True, False, True], ax=a[0])),
    "flops_vs_length": (1, lambda a: plots.flops_vs_length(N, {"N^2 part": 3 * N**2, "linear": 50 * N},
                                                           slopes={2: 768.0, 1: 800.0}, mark=500, ax=a[0])),
    "step_size_errors": (1, lambda a: plots.step_size_errors(np.logspace(-4, 0, 9),
                                                             {"attention": 3 * np.logspace(-4, 0, 9) ** 2},
                                                             ax=a[0])),
    "routing_view_panels": (2, _routing),
    "error_signal_arrows": (1, lambda a: plots.error_signal_arrows(RNG.normal(size=(3, 2)), ax=a[0])),
    "value_update_quiver": (1, lambda a: plots.value_update_quiver(RNG.normal(size=(3, 2)),
                                                                   0.1 * RNG.normal(size=(3, 3, 2)), ax=a[0])),
    "attention_panel": (1, lambda a: plots.attention_panel(_snapshot(), a[0])),
    "compat_advantage_panels": (2, lambda a: plots.compat_advantage_panels(_snapshot(), a)),
    "grad_norm_curves": (1, lambda a: plots.grad_norm_curves(np.arange(50), np.linspace(0.1, 0.13, 50),
                                                             np.linspace(0.3, 0.2, 50), ax=a[0])),
    "mark_evidence": (1, lambda a: plots.mark_evidence(plots.heatmap(np.eye(3), ax=a[0]), [0, 0, 1])),
    "per_query_lines": (1, lambda a: plots.per_query_lines(np.arange(20), 1 + np.abs(RNG.normal(size=(20, 3))),
                                                           reference=[1.0, 1.2, 1.4], log_y=True, ax=a[0])),
    "toy_step_panels": (4, lambda a: plots.toy_step_panels(_snapshot(), a)),
    "value_plane": (1, lambda a: plots.value_plane(RNG.normal(size=(3, 4, 2)), ax=a[0],
                                                   readout=RNG.normal(size=(2, 3)))),
    "seed_bands": (1, lambda a: plots.seed_bands(np.arange(30), {
        "entropy": 1 - 0.1 * np.linspace(0, 1, 30) * RNG.uniform(0.5, 1.5, (3, 1)),
        "force": 1 + 7 * np.linspace(0, 1, 30) * RNG.uniform(0.5, 1.5, (3, 1))}, logy=True,
        hlines={"mean final SGD loss": 1.9, "H_min": 1.83}, ax=a[0])),
    "arm_loss_curves": (1, lambda a: plots.arm_loss_curves(
        _loss_curves(), threshold=1.8, crossings={"EM-like": np.array([12.0, np.nan, 20.0])},
        hlines={"H_min": 1.6}, ax=a[0])),
    "steps_strip": (1, lambda a: plots.steps_strip({"SGD": np.array([np.nan, 576.0, np.nan]),
                                                    "EM-like": np.array([640.0, 212.0, 384.0])},
                                                   horizon=1000, reference={"paper": (430.0, 143.0)}, ax=a[0])),
    "sweep_lines": (1, lambda a: plots.sweep_lines([1, 3, 10, 30], {"steps": np.array(
        [[np.nan, 576, np.nan], [np.nan, 388, 699], [640, 212, 384], [380, 109, 207]])}, logx=True,
        horizon=1000, hlines={"no speed-up": 1.0}, ax=a[0])),
    "train_vs_heldout": (1, lambda a: plots.train_vs_heldout({"SGD": ([2.0, 2.1], [2.05, 2.12])},
                                                             h_min=1.83, ax=a[0])),
    "explained_variance_bars": (1, lambda a: plots.explained_variance_bars({"a": [0.7, 0.2, 0.1]}, ax=a[0])),
    "component_scatter": (1, lambda a: plots.component_scatter(RNG.normal(size=40), RNG.normal(size=40),
                                                               groups=np.arange(40) % 8, ax=a[0])),
    "value_norm_curves": (1, lambda a: plots.value_norm_curves({"SGD": [_history(), _history()],
                                                                "EM-like": [_history(), _history()]},
                                                               ax=a[0])),
    "entropy_mae_curves": (1, lambda a: plots.entropy_mae_curves([0, 100], {"SGD": [[0.3, 0.2], [0.35, 0.25]]},
                                                                 hlines={"uniform": 0.5, "Bayes": 0.0},
                                                                 ax=a[0])),
    "diversity_scatter": (1, lambda a: plots.diversity_scatter([[1.0, 0.99], [0.5, 0.4]],
                                                               {"EM-like": [[1, 1], [2, 2]]},
                                                               hlines={"one": 1.0, "two": 2.0}, ax=a[0])),
    "settling_dots": (1, lambda a: plots.settling_dots({"SGD": {"loss": [900, 950]},
                                                        "EM-like": {"loss": [800, 850]}}, horizon=999, ax=a[0])),
    "variant_panels": (2, lambda a: plots.variant_panels(
        {"SGD": np.ones((2, 5)), "EM-like": np.full((2, 5), 0.5)},
        {"SGD": {"loss": [3, 4]}, "EM-like": {"loss": [2, 3]}}, axes=a,
        reference={"single head, SGD": np.ones((2, 5))}, hlines={"H_min": 0.4, "uniform": 1.2})),
}


def _chapter_map():
    from pathlib import Path

    from attnlib.teaching import chapter_map

    root = Path(__file__).resolve().parents[1]
    return plots.chapter_map_figure(chapter_map.read_chapters(root), chapter_map.drawn_edges(),
                                    chapter_map.levels())


#: The drawers that make a whole figure of their own (diagrams, the chapter map).
FIGURE_BUILDERS = {
    "head_graph": plots.head_graph,
    "feedback_loop": plots.feedback_loop,
    "em_correspondence": plots.em_correspondence,
    "chapter_map_figure": _chapter_map,
}


def test_every_exported_plotting_function_is_checked():
    drawers = {name for name in plots.__all__ if callable(getattr(plots, name))} - {"use_book_style"}
    checked = set(BUILDERS) | set(FIGURE_BUILDERS)
    assert drawers == checked, f"not checked: {sorted(drawers - checked)}"


@pytest.mark.parametrize("name", sorted(FIGURE_BUILDERS))
def test_whole_figure_keeps_the_figure_rules(name):
    fig = FIGURE_BUILDERS[name]()
    assert figure_violations(fig) == []
    plt.close(fig)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_function_keeps_the_figure_rules(name):
    n_axes, build = BUILDERS[name]
    fig, axes = plt.subplots(1, n_axes, figsize=(4 * n_axes, 3.5), squeeze=False)
    build(list(axes[0]))
    assert figure_violations(fig) == []


# ----------------------------------------------------------------------------- (a) censored runs


def test_steps_strip_draws_every_run_that_did_not_cross():
    fig, ax = plt.subplots()
    groups = {"SGD": np.array([np.nan, 576.0, np.nan]), "ratio 3": np.array([np.nan, 388.0, 699.0]),
              "EM-like": np.array([640.0, 212.0, 384.0])}
    plots.steps_strip(groups, horizon=1000, ax=ax)
    assert censored_count(ax) == 3  # one mark per run that never crossed
    marks = [line for line in ax.lines if line.get_gid() == CENSORED_GID]
    assert all(np.all(line.get_xdata() == 1000) for line in marks)
    assert "did not cross within 1000 steps" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "SGD (1/3 crossed)", "ratio 3 (2/3 crossed)", "EM-like (3/3 crossed)"]
    # no mean over the seeds that happened to cross: only the complete row gets a bar
    assert len(ax.containers) == 1
    with pytest.raises(ValueError, match=r"groups\['SGD'\] has runs that never reached \(nan\): pass horizon="):
        plots.steps_strip(groups, ax=ax)


def test_sweep_lines_draws_every_run_that_did_not_cross():
    fig, ax = plt.subplots()
    steps = np.array([[np.nan, 576, np.nan], [np.nan, 388, 699], [640, 212, 384]])  # (K, S)
    plots.sweep_lines([1, 3, 10], {"steps": steps}, logx=True, horizon=1000, ax=ax)
    assert censored_count(ax) == 3
    assert [t.get_text() for t in ax.texts] == ["1/3", "2/3", "3/3"]
    median = next(line for line in ax.lines if line.get_label() == "steps: median over runs")
    # ratio 1: two of three never crossed, so the median is unknown and not drawn; ratio 3: 699
    np.testing.assert_array_equal(median.get_ydata(), [np.nan, 699.0, 384.0])
    with pytest.raises(ValueError, match=r"series 'steps' has runs that never reached \(nan\): pass horizon="):
        plots.sweep_lines([1, 3, 10], {"steps": steps}, ax=ax)


def test_arm_loss_curves_marks_seeds_that_never_fell_below():
    fig, ax = plt.subplots()
    curves = _loss_curves(s=4)
    plots.arm_loss_curves(curves, threshold=1.75, ax=ax,
                          crossings={"SGD": np.array([np.nan, np.nan, 30.0, np.nan]),
                                     "EM-like": np.array([5.0, 6.0, np.nan, 7.0])})
    assert censored_count(ax) == 4
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "SGD: not below within 39 steps (3 of 4)" in labels


def test_mark_censored_checks_its_input():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="x and y must have one shape"):
        mark_censored(ax, [1.0, 2.0], [1.0], color="k")


# ----------------------------------------------------------------------------- the checker can fail


def test_checker_reports_two_reference_lines_of_one_style():
    fig, ax = plt.subplots()
    ax.plot([0, 10], [1.2, 2.1])
    ax.axhline(1.88, color="black", linestyle=":", label="mean final SGD loss")
    ax.axhline(1.83, color="black", linestyle=":", label="H_min")
    assert figure_violations(fig) == [
        "axes 0: reference lines y=1.88 and y=1.83 share colour (0, 0, 0) and line style ':'"]


def test_checker_accepts_one_reference_drawn_twice_and_distinct_styles():
    fig, ax = plt.subplots()
    ax.plot([1.7, 2.1], [1.7, 2.1])
    ax.axhline(1.83, color="gray", linestyle=":")
    ax.axvline(1.83, color="gray", linestyle=":")  # the same H_min across and up
    ax.axhline(1.9, color="gray", linestyle="-.")
    ax.axhline(2.0, color="black", linestyle=":")
    assert figure_violations(fig) == []


def test_checker_reports_a_log_axis_with_two_labelled_ticks():
    fig, ax = plt.subplots()
    ax.plot(np.arange(10), np.linspace(0.7, 12.0, 10))
    ax.set_yscale("log")
    (line,) = figure_violations(fig)
    assert line.startswith("axes 0: log y axis has 2 labelled ticks in view (") and line.endswith(
        "needs at least 3"), line
    readable_log_ticks(ax, "y")
    assert figure_violations(fig) == []
    with pytest.raises(ValueError, match="axis must be 'x' or 'y', got 'z'"):
        readable_log_ticks(ax, "z")


@pytest.mark.parametrize("low, high", [(0.86, 1.0), (0.6, 12.0), (0.05, 8.0), (1e-3, 20.0), (1e-9, 1e3)])
def test_readable_log_ticks_label_enough_of_any_range(low, high):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [low, high])
    ax.set_yscale("log")
    readable_log_ticks(ax, "y")
    assert figure_violations(fig) == []


def test_reference_lines_of_a_plot_function_never_share_a_style():
    """Two references in one call (chapter 7's loss figure) get two styles."""
    fig, ax = plt.subplots()
    plots.seed_bands(np.arange(5), {"SGD": np.ones((2, 5)) * 2.0}, ax=ax,
                     hlines={"mean final SGD loss": 1.88, "H_min (entropy rate)": 1.83})
    styles = {line.get_label(): line.get_linestyle() for line in ax.lines if line.get_label() != "SGD"}
    assert len(set(styles.values())) == 2, styles
