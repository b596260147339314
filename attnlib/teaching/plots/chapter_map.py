"""The chapter-dependency map of "Before you start": boxes per chapter, an arrow per need."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["chapter_map_figure", "PART_COLORS"]

#: Fill colours of the parts, in the order the parts appear (colour-blind-safe pastels).
PART_COLORS = ("#cfe2f3", "#fce5cd", "#d9ead3", "#ead1dc")

_ROW = 0.95  # inches between rows
_BOX_W, _BOX_H = 3.0, 0.62  # inches
_GAP = 0.5  # inches between two boxes of a row


def chapter_map_figure(chapters, edges, levels):
    """Draw the map and return the figure.

    Parameters
    ----------
    chapters : sequence of objects with ``docname``, ``number``, ``part``, ``title``
        The chapters, in book order (:func:`attnlib.teaching.chapter_map.read_chapters`).
    edges : sequence of (needed, needing) document names
        One arrow each, from the chapter needed to the chapter that needs it.
    levels : mapping docname -> int
        The row of each chapter, 0 at the top; every edge must go down.
    """
    chapters = list(chapters)
    by_name = {c.docname: c for c in chapters}
    missing = [c.docname for c in chapters if c.docname not in levels]
    if missing:
        raise ValueError(f"levels must give every chapter a row, missing {missing[0]!r}")
    for needed, needing in edges:
        for name in (needed, needing):
            if name not in by_name:
                raise ValueError(f"edges must name chapters of `chapters`, got {name!r}")
        if levels[needed] >= levels[needing]:
            raise ValueError(f"levels must put {needed!r} above {needing!r}, got rows {levels[needed]} and {levels[needing]}")
    parts = list(dict.fromkeys(c.part for c in chapters))
    if len(parts) > len(PART_COLORS):
        raise ValueError(f"chapters must come from at most {len(PART_COLORS)} parts, got {len(parts)}")
    color = dict(zip(parts, PART_COLORS))

    rows: dict[int, list] = {}
    for chapter in chapters:  # book order within a row
        rows.setdefault(levels[chapter.docname], []).append(chapter)
    widest = max(len(r) for r in rows.values())
    width = widest * _BOX_W + (widest - 1) * _GAP + 0.4
    height = (max(rows) + 1) * _ROW + 0.5  # room for the legend
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-width / 2, width / 2)
    ax.set_ylim(-height + 0.55, 0.55)
    ax.set_axis_off()

    centre = {}
    for row, members in rows.items():
        span = len(members) * _BOX_W + (len(members) - 1) * _GAP
        for k, chapter in enumerate(members):
            x = -span / 2 + _BOX_W / 2 + k * (_BOX_W + _GAP)
            y = -row * _ROW
            centre[chapter.docname] = (x, y)
            ax.add_patch(FancyBboxPatch((x - _BOX_W / 2, y - _BOX_H / 2), _BOX_W, _BOX_H,
                                        boxstyle="round,pad=0.02,rounding_size=0.08",
                                        facecolor=color[chapter.part], edgecolor="#444444", linewidth=0.8))
            label = textwrap.fill(f"{chapter.number}. {chapter.title}", 40)
            ax.text(x, y, label, ha="center", va="center", fontsize=8.5)
    for needed, needing in edges:
        (x0, y0), (x1, y1) = centre[needed], centre[needing]
        ax.add_patch(FancyArrowPatch((x0, y0 - _BOX_H / 2), (x1, y1 + _BOX_H / 2), arrowstyle="-|>",
                                     mutation_scale=10, color="#444444", linewidth=0.9, shrinkA=1, shrinkB=1))
    handles = [FancyBboxPatch((0, 0), 1, 1, facecolor=color[p], edgecolor="#444444", label=p) for p in parts]
    ax.legend(handles=handles, loc="lower center", ncol=len(parts), fontsize=8.5, frameon=False,
              bbox_to_anchor=(0.5, 0.0))
    return fig
