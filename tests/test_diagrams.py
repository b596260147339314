"""The schematic diagrams of chapters 2, 4 and 7: which nodes and arrows they draw, and their labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from attnlib.teaching import plots  # noqa: E402
from attnlib.teaching.plots.diagrams import BACKWARD_COLOR, em_correspondence, feedback_loop, head_graph  # noqa: E402


def _gids(fig, prefix):
    return {p.get_gid().split(":", 1)[1] for p in fig.axes[0].patches if (p.get_gid() or "").startswith(prefix + ":")}


def _texts(fig):
    return " | ".join(t.get_text() for t in fig.axes[0].texts)


@pytest.fixture()
def close():
    yield
    plt.close("all")


def test_exported_with_the_other_plot_functions():
    for name in ("head_graph", "feedback_loop", "em_correspondence"):
        assert name in plots.__all__ and getattr(plots, name) is globals()[name]


def test_head_graph_forward_chain_and_gradients_flowing_back(close):
    fig = head_graph()
    assert isinstance(fig, Figure)
    nodes = _gids(fig, "node")
    assert {"X", "Q", "K", "V", "S", "alpha", "O", "Z", "p", "L", "y"} <= nodes
    forward = _gids(fig, "forward")
    chain = ["X->Q", "X->K", "X->V", "Q->S", "K->S", "S->alpha", "alpha->O", "V->O", "O->Z", "Z->p", "p->L", "y->L"]
    assert set(chain) == forward
    backward = _gids(fig, "backward")
    assert backward == {"L->Z", "Z->O", "O->alpha", "O->V", "alpha->S", "S->Q", "S->K"}
    # every backward arrow runs against a forward path
    for edge in backward:
        a, b = edge.split("->")
        assert f"{b}->{a}" in forward or edge == "L->Z", edge
    # forward and backward look different: colour and line style
    arrows = {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid()}
    fwd, bwd = arrows["forward:S->alpha"], arrows["backward:alpha->S"]
    assert matplotlib.colors.to_hex(bwd.get_edgecolor()) == BACKWARD_COLOR
    assert matplotlib.colors.to_hex(fwd.get_edgecolor()) != BACKWARD_COLOR
    assert fwd.get_linestyle() != bwd.get_linestyle()
    text = _texts(fig)
    for symbol in (r"(p_i - e_{y_i})/N", r"u_i = \partial L/\partial o_i", r"b_{ij} = u_i \cdot v_j",
                   r"\partial L/\partial \alpha_{ij}", r"\partial L/\partial s_{ij}", r"\mathbb{E}_{\alpha_i}[b]",
                   r"\partial L/\partial v_j = \sum_i \alpha_{ij}\, u_i", r"\partial L/\partial q_i",
                   r"\partial L/\partial k_j", r"O = \alpha V", r"S = QK^\top/\sqrt{d_k}"):
        assert symbol in text, symbol


def test_feedback_loop_is_a_cycle_with_an_equation_on_every_arrow(close):
    fig = feedback_loop()
    assert isinstance(fig, Figure)
    assert _gids(fig, "node") == {"value", "b", "A", "alpha"}
    edges = [e.split("->") for e in _gids(fig, "loop")]
    successor = dict(edges)
    assert len(successor) == 4
    node, seen = "value", []
    for _ in range(4):  # following the arrows returns to the start after visiting every node
        seen.append(node)
        node = successor[node]
    assert node == "value" and sorted(seen) == sorted(successor)
    text = _texts(fig)
    for equation in (r"\Delta b_{ij} = -\eta_v \sum_k \alpha_{kj}\, u_i \cdot u_k",  # value-feedback-db
                     r"\Delta A_{ij} = \sum_l \alpha_{il}\,\Delta b_{il} - \Delta b_{ij}",  # value-feedback-da
                     r"\delta s_{ij} = \eta_s\, \alpha_{ij}\, \Delta A_{ij}",  # value-feedback-ds
                     r"\delta\alpha_{ij} \approx",  # route-dalpha
                     r"\Delta v_j = -\eta_v \sum_i \alpha_{ij}\, u_i",  # value-step
                     "first order", "held fixed"):
        assert equation in text, equation


def test_em_correspondence_marks_what_holds_and_what_breaks(close):
    fig = em_correspondence()
    assert isinstance(fig, Figure)
    assert _gids(fig, "node") == {"E-step", "M-step", "attention", "value update"}
    assert _gids(fig, "holds") == {"E", "M"} and _gids(fig, "breaks") == {"E", "M"}
    assert _gids(fig, "cycle") == {"E-step->M-step", "M-step->E-step", "attention->value update",
                                   "value update->attention"}
    arrows = {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid()}
    # EM's loop is closed by the M-step; the head's return path is only indirect (dashed)
    assert arrows["cycle:value update->attention"].get_linestyle() != arrows["cycle:M-step->E-step"].get_linestyle()
    text = _texts(fig)
    assert text.count("✓") == 3 and text.count("✗") == 3
    for phrase in ("no closed form", "no bound", "not from $V$", "rows sum to 1", r"\gamma_{ik}", r"\alpha_{ij}",
                   "c_j\\, m_j"):
        assert phrase in text, phrase


@pytest.mark.parametrize("draw", [head_graph, feedback_loop, em_correspondence])
def test_no_input_is_taken(draw, close):
    with pytest.raises(TypeError, match="positional argument"):
        draw(1)


@pytest.mark.parametrize("draw", [head_graph, feedback_loop, em_correspondence])
def test_no_two_labels_overlap(draw, close):
    """Legibility: the drawn bounding boxes of the texts do not intersect one another."""
    fig = draw()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.axes[0].texts if t.get_text().strip()]
    clashes = [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]
    assert not clashes, clashes
    width, height = fig.get_size_inches() * fig.dpi
    for text, box in boxes:  # nothing is cut off at the figure's edge
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, text
