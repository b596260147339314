"""Schematic diagrams of the book, drawn from code: the head as a graph, the feedback loop, EM.

Each function takes no data: it draws one fixed diagram with matplotlib and returns the
:class:`~matplotlib.figure.Figure`. The symbols are those of ``book/notation.md``. Every
node and every arrow carries a ``gid`` (``"node:S"``, ``"forward:S->alpha"``,
``"backward:alpha->S"``, ...), so a test can ask which parts a diagram draws without
reading pixels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["head_graph", "feedback_loop", "em_correspondence"]

FORWARD_COLOR = "#1f1f1f"
BACKWARD_COLOR = "#c0392b"
HOLDS_COLOR = "#1a7a3a"
BREAKS_COLOR = "#b03060"
NOTE_COLOR = "0.35"


#: Inches per unit of the layouts below. The book shows a figure about 690 px wide, so a
#: diagram drawn 9 inches wide at 100 dpi shows its 10-point labels about 11 px high there.
WIDTH = 9.0


def _canvas(figsize, xlim, ylim):
    """A blank full-figure axes; ``figsize`` is the layout's size, scaled to :data:`WIDTH` inches wide."""
    scale = WIDTH / figsize[0]
    fig = plt.figure(figsize=(WIDTH, figsize[1] * scale))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_axis_off()
    return fig, ax


def _node(ax, key, xy, label, note="", *, width=1.0, height=0.9, color="#eef3fb", edge="#35608f",
          fontsize=15):
    """A rounded box centred at ``xy`` with a symbol and, under it, a short note."""
    x, y = xy
    box = FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                         boxstyle="round,pad=0.02,rounding_size=0.15", facecolor=color,
                         edgecolor=edge, linewidth=1.4, zorder=3, gid=f"node:{key}")
    ax.add_patch(box)
    dy = 0.12 if note else 0.0
    ax.text(x, y + dy, label, ha="center", va="center", fontsize=fontsize, zorder=4)
    if note:
        ax.text(x, y - 0.25, note, ha="center", va="center", fontsize=8.5, color=NOTE_COLOR, zorder=4)
    return box


def _arrow(ax, gid, start, end, *, color=FORWARD_COLOR, dashed=False, rad=0.0, lw=1.6,
           connection=None, shrink=0.0):
    style = connection or f"arc3,rad={rad}"
    arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=15, color=color, lw=lw,
                            linestyle=(0, (4, 2.5)) if dashed else "-", connectionstyle=style,
                            shrinkA=shrink, shrinkB=shrink, zorder=2, gid=gid)
    ax.add_patch(arrow)
    return arrow


def _label(ax, xy, text, *, color=FORWARD_COLOR, fontsize=10, ha="center", va="center", **kwargs):
    return ax.text(xy[0], xy[1], text, color=color, fontsize=fontsize, ha=ha, va=va, zorder=5, **kwargs)


def head_graph():
    r"""The attention head as a computation graph: the forward pass and the gradients flowing back.

    Forward (solid black, left to right): :math:`X \to Q, K, V`, :math:`S = QK^\top/\sqrt{d_k}`,
    :math:`\alpha` = the masked row softmax of :math:`S`, :math:`O = \alpha V`,
    :math:`Z = O W_O`, :math:`p_i = \operatorname{softmax}(z_i)` and the mean cross-entropy
    :math:`L`. Backward (dashed red, right to left): each arrow is labelled with the gradient
    that arrives at the node it points to, :math:`\partial L/\partial z_i = (p_i - e_{y_i})/N`,
    :math:`u_i = \partial L/\partial o_i`, :math:`b_{ij} = u_i \cdot v_j = \partial L/\partial
    \alpha_{ij}`, :math:`\partial L/\partial s_{ij}`, :math:`\partial L/\partial v_j`,
    :math:`\partial L/\partial q_i` and :math:`\partial L/\partial k_j`, with the chapter that
    derives it.

    Returns
    -------
    matplotlib Figure
        Nodes have gids ``node:X``, ``node:Q``, ...; arrows ``forward:A->B`` and
        ``backward:B->A``.

    Examples
    --------
    >>> fig = head_graph()
    >>> sorted(a.get_gid() for a in fig.axes[0].patches if (a.get_gid() or "").startswith("backward"))[:2]
    ['backward:L->Z', 'backward:O->V']
    >>> plt.close(fig)
    """
    fig, ax = _canvas((17.4, 9.1), (-0.2, 17.2), (-0.55, 8.55))
    pos = {"X": (0.6, 4.4), "Q": (3.3, 7.3), "K": (3.3, 5.2), "V": (3.3, 1.6), "S": (6.2, 6.3),
           "alpha": (10.0, 6.3), "O": (10.0, 1.6), "Z": (12.4, 1.6), "p": (14.5, 1.6), "L": (16.6, 1.6), "y": (16.6, 4.0)}
    nodes = {"X": (r"$X$", "input"), "Q": (r"$Q$", "queries"), "K": (r"$K$", "keys"),
             "V": (r"$V$", "values"), "S": (r"$S$", "scores"), "alpha": (r"$\alpha$", "attention"),
             "O": (r"$O$", "outputs"), "Z": (r"$Z$", "logits"), "p": (r"$p$", "probs"), "L": (r"$L$", "loss")}
    half_w, half_h = 0.55, 0.5
    for key, (symbol, note) in nodes.items():
        _node(ax, key, pos[key], symbol, note, width=2 * half_w, height=2 * half_h)
    _node(ax, "y", pos["y"], r"$y$", "targets", width=2 * half_w, height=2 * half_h, color="#f4f4f4", edge="0.5")

    def east(k, dy=0.0):
        return (pos[k][0] + half_w, pos[k][1] + dy)

    def west(k, dy=0.0):
        return (pos[k][0] - half_w, pos[k][1] + dy)

    def south(k, dx=0.0):
        return (pos[k][0] + dx, pos[k][1] - half_h)

    def north(k, dx=0.0):
        return (pos[k][0] + dx, pos[k][1] + half_h)

    # ---- forward pass (solid, black)
    for b in ("Q", "K", "V"):
        _arrow(ax, f"forward:X->{b}", east("X", 0.1), west(b, 0.1))
    _label(ax, (1.75, 6.25), r"$XW_Q$", ha="right")
    _label(ax, (2.05, 4.55), r"$XW_K$", va="top")
    _label(ax, (1.7, 2.6), r"$XW_V$", ha="right")
    _arrow(ax, "forward:Q->S", east("Q", 0.0), west("S", 0.25))
    _arrow(ax, "forward:K->S", east("K", 0.15), west("S", -0.15))
    _label(ax, (6.2, 6.9), r"$S = QK^\top/\sqrt{d_k}$", va="bottom")
    _arrow(ax, "forward:S->alpha", east("S", 0.2), west("alpha", 0.2))
    _label(ax, (8.1, 6.55), "masked softmax", va="bottom", fontsize=9.5)
    _arrow(ax, "forward:alpha->O", south("alpha", -0.2), north("O", -0.2))
    _label(ax, (9.65, 4.0), r"$O = \alpha V$", ha="right")
    _arrow(ax, "forward:V->O", east("V", 0.15), west("O", 0.15))
    _arrow(ax, "forward:O->Z", east("O", 0.2), west("Z", 0.2))
    _label(ax, (11.2, 1.85), r"$OW_O$", va="bottom")
    _arrow(ax, "forward:Z->p", east("Z", 0.2), west("p", 0.2))
    _label(ax, (13.45, 1.85), "soft-\nmax", va="bottom", fontsize=9.5)
    _arrow(ax, "forward:p->L", east("p", 0.2), west("L", 0.2))
    _arrow(ax, "forward:y->L", south("y"), north("L"))
    _label(ax, (16.4, 2.8), r"$L = -\sum_i \log p_{i, y_i} / N$", ha="right")

    # ---- backward pass (dashed, red): each label is the gradient that reaches the node
    red = {"color": BACKWARD_COLOR, "dashed": True}
    grad = {"color": BACKWARD_COLOR, "va": "top", "fontsize": 10.5}
    _arrow(ax, "backward:L->Z", south("L"), south("Z", 0.15), connection="arc3,rad=-0.22", **red)
    _label(ax, (14.5, 0.12), r"$\partial L/\partial z_i = (p_i - e_{y_i})/N$" + "   (ch. 1)", **grad)
    _arrow(ax, "backward:Z->O", west("Z", -0.2), east("O", -0.2), **red)
    _label(ax, (11.15, 1.05), r"$u_i = \partial L/\partial o_i$" + "\n"
           + r"$=(\partial L/\partial z_i)\,W_O^\top$" + "\n(ch. 3)", **grad)
    _arrow(ax, "backward:O->alpha", north("O", 0.2), south("alpha", 0.2), **red)
    _label(ax, (10.35, 4.55), r"$b_{ij} = u_i \cdot v_j$" + "\n" + r"$= \partial L/\partial \alpha_{ij}$"
           + "\n(ch. 3)", ha="left", **grad)
    _arrow(ax, "backward:alpha->S", west("alpha", -0.2), east("S", -0.2), **red)
    _label(ax, (8.05, 5.95), r"$\partial L/\partial s_{ij} =$" + "\n"
           + r"$\alpha_{ij}\,(b_{ij} - \mathbb{E}_{\alpha_i}[b])$" + "\n(ch. 2, 3)", **grad)
    _arrow(ax, "backward:O->V", west("O", -0.15), east("V", -0.15), **red)
    _label(ax, (6.65, 1.25), r"$\partial L/\partial v_j = \sum_i \alpha_{ij}\, u_i$   (ch. 4)", **grad)
    _arrow(ax, "backward:S->Q", west("S", 0.45), east("Q", 0.3), **red)
    _label(ax, (4.0, 8.35), r"$\partial L/\partial q_i = \sum_j (\partial L/\partial s_{ij})\, k_j/\sqrt{d_k}$"
           + "   (ch. 5)", ha="left", **grad)
    _arrow(ax, "backward:S->K", west("S", -0.4), east("K", -0.2), **red)
    _label(ax, (4.0, 4.55), r"$\partial L/\partial k_j =$" + "\n"
           + r"$\sum_i (\partial L/\partial s_{ij})\, q_i/\sqrt{d_k}$" + "\n(ch. 5)", ha="left", **grad)

    # ---- legend, top right
    ax.add_patch(FancyArrowPatch((12.3, 7.9), (13.3, 7.9), arrowstyle="-|>", mutation_scale=13,
                                 color=FORWARD_COLOR, lw=1.6))
    _label(ax, (13.5, 7.9), "forward pass", ha="left")
    ax.add_patch(FancyArrowPatch((13.3, 7.25), (12.3, 7.25), arrowstyle="-|>", mutation_scale=13,
                                 color=BACKWARD_COLOR, lw=1.6, linestyle=(0, (4, 2.5))))
    _label(ax, (13.5, 7.25), "backward pass: the\ngradient that\nreaches the node", ha="left", va="top",
           color=BACKWARD_COLOR)
    return fig


def feedback_loop():
    r"""The positive feedback loop of chapter 4 as a cycle, each arrow with the equation it rests on.

    A value step moves :math:`v_j` along the descent directions of its users; that lowers
    :math:`b_{ij} = u_i \cdot v_j` for users whose error signals agree; their advantage
    :math:`A_{ij} = \mathbb{E}_{\alpha_i}[b] - b_{ij}` rises; the routing law raises
    :math:`s_{ij}` and with it :math:`\alpha_{ij}`; and a larger :math:`\alpha_{ij}` weighs
    query :math:`i`'s pull in the next value step more. The first three links are exact with
    :math:`\alpha` and :math:`U` held fixed, the softmax link is first order, and the change of
    the error signals themselves is left out (both noted in the figure).

    Returns
    -------
    matplotlib Figure
        Nodes ``node:value``, ``node:b``, ``node:A``, ``node:alpha``; arrows ``loop:value->b``,
        ``loop:b->A``, ``loop:A->alpha``, ``loop:alpha->value``.

    Examples
    --------
    >>> fig = feedback_loop()
    >>> sorted(p.get_gid() for p in fig.axes[0].patches if (p.get_gid() or "").startswith("loop"))
    ['loop:A->alpha', 'loop:alpha->value', 'loop:b->A', 'loop:value->b']
    >>> plt.close(fig)
    """
    fig, ax = _canvas((16.6, 8.0), (-8.3, 8.3), (-4.0, 4.0))
    w, h, dx = 4.3, 1.2, 4.5
    pos = {"value": (0.0, 2.55), "b": (dx, 0.0), "A": (0.0, -2.55), "alpha": (-dx, 0.0)}
    texts = {
        "value": ("value step", r"$v_j$ moves along $-u_i$ of its users"),
        "b": (r"$v_j$ serves query $i$ better", r"$b_{ij} = u_i \cdot v_j$ falls"),
        "A": ("its advantage rises", r"$A_{ij} = \mathbb{E}_{\alpha_i}[b] - b_{ij}$"),
        "alpha": ("routing law", r"$s_{ij}$, then $\alpha_{ij}$, rise"),
    }
    for key, (title, detail) in texts.items():
        x, y = pos[key]
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.25",
                                    facecolor="#eef3fb", edgecolor="#35608f", lw=1.4, zorder=3, gid=f"node:{key}"))
        _label(ax, (x, y + 0.22), title, fontsize=11, weight="bold")
        _label(ax, (x, y - 0.24), detail, fontsize=10.5)
    loop = {"color": "#35608f", "lw": 2.0}
    _arrow(ax, "loop:value->b", (w / 2, 2.55), (dx, h / 2), connection="angle3,angleA=0,angleB=90", **loop)
    _arrow(ax, "loop:b->A", (dx, -h / 2), (w / 2, -2.55), connection="angle3,angleA=-90,angleB=0", **loop)
    _arrow(ax, "loop:A->alpha", (-w / 2, -2.55), (-dx, -h / 2), connection="angle3,angleA=180,angleB=-90", **loop)
    _arrow(ax, "loop:alpha->value", (-dx, h / 2), (-w / 2, 2.55), connection="angle3,angleA=90,angleB=0", **loop)
    eq = {"fontsize": 10.5, "color": FORWARD_COLOR}
    _label(ax, (dx + 0.35, 2.05), r"$\Delta b_{ij} = -\eta_v \sum_k \alpha_{kj}\, u_i \cdot u_k$" + "\n"
           r"own pull: $-\eta_v \alpha_{ij}\Vert u_i\Vert^2 \leq 0$", ha="left", **eq)
    _label(ax, (dx + 0.35, -2.05), r"$\Delta A_{ij} = \sum_l \alpha_{il}\,\Delta b_{il} - \Delta b_{ij}$" + "\n"
           "rises when $b_{ij}$ falls more\nthan the row's average", ha="left", **eq)
    _label(ax, (-dx - 0.35, -2.05), r"$\delta s_{ij} = \eta_s\, \alpha_{ij}\, \Delta A_{ij}$" + "\n"
           r"$\delta\alpha_{ij} \approx \alpha_{ij}(\delta s_{ij} - \sum_l \alpha_{il}\, \delta s_{il})$"
           + "\n(first order)", ha="right", **eq)
    _label(ax, (-dx - 0.35, 2.05), r"$\Delta v_j = -\eta_v \sum_i \alpha_{ij}\, u_i$" + "\n"
           r"a larger $\alpha_{ij}$" + "\n" + r"weighs $u_i$ more", ha="right", **eq)
    _label(ax, (0.0, 0.35), "positive feedback\nfor users whose error\nsignals agree "
           r"($u_i \cdot u_k > 0$)", fontsize=10.5, color="#35608f")
    _label(ax, (0.0, -0.95), r"a user whose $u_i$ disagrees" + "\nloses the value", fontsize=9.5,
           color=NOTE_COLOR)
    _label(ax, (0.0, -3.75), r"exact with $\alpha$ and $U$ held fixed; left out: $U$ moves too "
           r"($\Delta u_i \cdot v_j$, same order)", fontsize=9.5, color=NOTE_COLOR, va="bottom")
    return fig


def em_correspondence():
    r"""EM for a Gaussian mixture beside one attention head: where the analogy holds and where it breaks.

    Left, the mixture: the E-step computes responsibilities :math:`\gamma_{ik}` from the means,
    the M-step moves each mean to the responsibility-weighted mean, in closed form, and both
    steps maximise one bound. Right, the head: attention :math:`\alpha_{ij}` from
    :math:`W_Q, W_K`, and a gradient step on the values that is :math:`c_j` times a
    responsibility-weighted mean of the error signals. Between them, green ticks mark what
    holds exactly and red crosses what does not (chapters 4 and 7).

    Returns
    -------
    matplotlib Figure
        Nodes ``node:E-step``, ``node:M-step``, ``node:attention``, ``node:value update``;
        links ``holds:...`` and ``breaks:...`` between the columns, and ``cycle:...`` within them.

    Examples
    --------
    >>> fig = em_correspondence()
    >>> sum((p.get_gid() or "").startswith("breaks") for p in fig.axes[0].patches)
    2
    >>> plt.close(fig)
    """
    fig, ax = _canvas((17.0, 9.5), (-0.1, 16.9), (-0.1, 9.4))
    bw, bh = 4.8, 1.9
    left, right = 2.5, 13.7
    rows = {"E": 7.2, "M": 2.9}
    boxes = {
        ("E-step", left, "E"): ("E-step: responsibilities",
                                r"$\gamma_{ik} = \mathrm{softmax}_k(-\frac{1}{2}\Vert x_i - \mu_k\Vert^2)$",
                                "computed from the means"),
        ("M-step", left, "M"): ("M-step: new means",
                                r"$\mu_k \leftarrow \sum_i \gamma_{ik}\, x_i \,/\, N_k$",
                                "closed form, fixed data $x_i$"),
        ("attention", right, "E"): ("attention (the 'E-step')",
                                    r"$\alpha_{ij} = \mathrm{softmax}_j(q_i \cdot k_j / \sqrt{d_k})$",
                                    "computed from $W_Q, W_K$, not from $V$"),
        ("value update", right, "M"): ("value step (the 'M-step')",
                                       r"$-\partial L/\partial v_j = \sum_i \alpha_{ij}(-u_i) = c_j\, m_j$",
                                       "a gradient step on error signals"),
    }
    for (key, x, row), (title, formula, note) in boxes.items():
        y = rows[row]
        ax.add_patch(FancyBboxPatch((x - bw / 2, y - bh / 2), bw, bh, boxstyle="round,pad=0.02,rounding_size=0.2",
                                    facecolor="#eef3fb", edgecolor="#35608f", lw=1.4, zorder=3, gid=f"node:{key}"))
        _label(ax, (x, y + 0.6), title, fontsize=10.5, weight="bold")
        _label(ax, (x, y + 0.0), formula, fontsize=11)
        _label(ax, (x, y - 0.6), note, fontsize=9.5, color=NOTE_COLOR)
    _label(ax, (left, 8.95), "Gaussian-mixture EM", fontsize=12, weight="bold")
    _label(ax, (right, 8.95), "attention head, gradient descent", fontsize=12, weight="bold")

    # the cycle inside each column
    top, bottom = rows["E"] - bh / 2, rows["M"] + bh / 2
    _arrow(ax, "cycle:E-step->M-step", (left - 0.9, top), (left - 0.9, bottom), color="#35608f", lw=1.8)
    _arrow(ax, "cycle:M-step->E-step", (left + 0.9, bottom), (left + 0.9, top), color="#35608f", lw=1.8)
    _label(ax, (left - 1.0, 5.05), r"$\gamma$ fixed", ha="right", fontsize=9.5)
    _label(ax, (left + 1.0, 5.05), "new $\\mu$ give\nnew $\\gamma$", ha="left", fontsize=9.5)
    _arrow(ax, "cycle:attention->value update", (right - 0.9, top), (right - 0.9, bottom), color="#35608f", lw=1.8)
    _arrow(ax, "cycle:value update->attention", (right + 0.9, bottom), (right + 0.9, top), color=NOTE_COLOR,
           lw=1.5, dashed=True)
    _label(ax, (right - 1.0, 5.05), r"$\alpha$ weighs" + "\nthe pulls", ha="right", fontsize=9.5)
    _label(ax, (right + 1.0, 5.05), "only through\nthe routing\nstep on $W_Q, W_K$", ha="left", fontsize=9.5,
           color=NOTE_COLOR)

    # links between the columns: what holds (solid green) and what breaks (dashed red)
    x0, x1 = left + bw / 2, right - bw / 2
    for row, dy_h, dy_b in (("E", 0.45, -0.45), ("M", 0.45, -0.45)):
        y = rows[row]
        _arrow(ax, f"holds:{row}", (x0, y + dy_h), (x1, y + dy_h), color=HOLDS_COLOR, lw=1.6,
               connection="arc3,rad=0")
        ax.patches[-1].set_arrowstyle("<|-|>")
        _arrow(ax, f"breaks:{row}", (x0, y + dy_b), (x1, y + dy_b), color=BREAKS_COLOR, lw=1.6, dashed=True)
        ax.patches[-1].set_arrowstyle("<|-|>")
    mid = (x0 + x1) / 2
    holds = {"E": "✓ soft responsibilities:\nrows sum to 1",
             "M": "✓ each prototype pulled by its users, weighted by\nresponsibility; with $\\alpha$ fixed, a convex problem"}
    breaks = {"E": "✗ $\\gamma$ is a posterior of the means;\n$\\alpha$ is no posterior of any model",
              "M": "✗ no closed form (a logistic regression);\naverages error signals $-u_i$ that change;\n"
                   "not normalised: the step grows with $c_j$"}
    for row in rows:
        y = rows[row]
        _label(ax, (mid, y + 0.55), holds[row], color=HOLDS_COLOR, va="bottom", fontsize=9.5)
        _label(ax, (mid, y - 0.55), breaks[row], color=BREAKS_COLOR, va="top", fontsize=9.5)
    _label(ax, (left, 1.05), "✓ both steps maximise one bound:\nthe likelihood never decreases", va="top",
           color=HOLDS_COLOR, fontsize=9.5)
    _label(ax, (right, 1.05), "✗ no bound, no guarantee; plain gradient\ndescent updates all four "
           "matrices at once", va="top", color=BREAKS_COLOR, fontsize=9.5)
    return fig
