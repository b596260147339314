"""Which chapter needs which: the one source of the book's chapter-dependency map.

:data:`PREREQUISITES` maps each chapter (its document name in ``_toc.yml``) to the
chapters whose results it uses directly: a derivation it builds on, a law it
applies, an experiment it extends. A chapter that only mentions another in
passing does not count. The page "Before you start" (``book/start.md``) shows the
map as a figure, ``book/figures/chapter_map.svg``, drawn by
``tools/draw_chapter_map.py`` from this table with
:func:`attnlib.teaching.plots.chapter_map_figure`; a test redraws it and compares
the bytes, so the picture cannot drift from the table.

The chapters' numbers, parts and titles are not typed here: :func:`read_chapters`
reads them from ``_toc.yml`` (order and part captions) and from each chapter's
first heading, as the book shows them.

Examples
--------
>>> direct_prerequisites("notebooks/04_value_updates")
('notebooks/03_routing_law',)
>>> "notebooks/01_cross_entropy" in all_prerequisites("notebooks/11_deep_transformer")
True
>>> direct_prerequisites("notebooks/99_missing")
Traceback (most recent call last):
...
ValueError: chapter must be a document name of PREREQUISITES (e.g. 'notebooks/03_routing_law'), got 'notebooks/99_missing'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PREREQUISITES",
    "Chapter",
    "direct_prerequisites",
    "all_prerequisites",
    "drawn_edges",
    "levels",
    "read_chapters",
]

#: chapter -> the chapters it uses directly (document names, as in ``_toc.yml``).
PREREQUISITES: dict[str, tuple[str, ...]] = {
    # the error signal p - e_y of a softmax read-out; nothing before it
    "notebooks/01_cross_entropy": (),
    # the head's forward pass; its softmax Jacobian carries chapter 1's error signal
    "notebooks/02_attention_head": ("notebooks/01_cross_entropy",),
    # the routing law: chapter 1's u_i pushed through chapter 2's softmax Jacobian
    "notebooks/03_routing_law": ("notebooks/01_cross_entropy", "notebooks/02_attention_head"),
    # the value law and one turn of the feedback loop, in chapter 3's notation (b_ij, advantages)
    "notebooks/04_value_updates": ("notebooks/03_routing_law",),
    # the whole backward pass: lines taken from chapters 3 and 4
    "notebooks/05_full_backward": ("notebooks/03_routing_law", "notebooks/04_value_updates"),
    # the feedback loop of the two laws (chapters 3 and 4), run in a toy
    "notebooks/06_toy_feedback_loop": ("notebooks/03_routing_law", "notebooks/04_value_updates"),
    # the EM reading: chapter 4's M-step; the gradients and costs of chapter 5
    "notebooks/07_two_timescales": ("notebooks/04_value_updates", "notebooks/05_full_backward"),
    # the paper's experiment: chapter 5's backward pass, chapter 7's trainer and EM schedule
    "notebooks/08_sticky_chain": ("notebooks/05_full_backward", "notebooks/07_two_timescales"),
    # chapter 8's protocol and runs; chapter 4's value law explains the flattening
    "notebooks/09_value_manifolds": ("notebooks/04_value_updates", "notebooks/08_sticky_chain"),
    # chapter 7's settling steps and chapter 8's speed-up, on heads that extend chapter 5's
    "notebooks/10_beyond_single_head": (
        "notebooks/05_full_backward",
        "notebooks/07_two_timescales",
        "notebooks/08_sticky_chain",
    ),
    # chapter 8's protocol and signatures; chapter 9's exact Bayesian predictor as the yardstick
    "notebooks/11_deep_transformer": ("notebooks/08_sticky_chain", "notebooks/09_value_manifolds"),
}


@dataclass(frozen=True)
class Chapter:
    """A chapter as the book shows it: ``docname``, ``number`` (1-based), ``part`` caption, ``title``."""

    docname: str
    number: int
    part: str
    title: str


def _check(chapter: str) -> None:
    if chapter not in PREREQUISITES:
        raise ValueError(
            "chapter must be a document name of PREREQUISITES (e.g. 'notebooks/03_routing_law'), "
            f"got {chapter!r}"
        )


def direct_prerequisites(chapter: str) -> tuple[str, ...]:
    """The chapters ``chapter`` uses directly (see :data:`PREREQUISITES`)."""
    _check(chapter)
    return PREREQUISITES[chapter]


def all_prerequisites(chapter: str) -> frozenset[str]:
    """Every chapter ``chapter`` needs, directly or through another; raises on a cycle."""
    _check(chapter)
    seen: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        for before in PREREQUISITES[node]:
            _check(before)
            if before in path:
                raise ValueError(f"PREREQUISITES has a cycle: {' -> '.join((*path, before))}")
            seen.add(before)
            visit(before, (*path, before))

    visit(chapter, (chapter,))
    return frozenset(seen)


def drawn_edges() -> list[tuple[str, str]]:
    """The arrows of the map, ``(needed, needing)``: every direct need not implied by another.

    A need that follows through a chapter in between (chapter 3 needs 1, which 2
    already needs) is left out, so that the picture shows the routes and not every
    pair.
    """
    edges = []
    for chapter in PREREQUISITES:
        direct = direct_prerequisites(chapter)
        for before in direct:
            through_another = any(before in all_prerequisites(other) for other in direct if other != before)
            if not through_another:
                edges.append((before, chapter))
    return edges


def levels() -> dict[str, int]:
    """Each chapter's row in the map: 0 for no prerequisite, else 1 + the deepest prerequisite's row."""
    out: dict[str, int] = {}

    def level(chapter: str) -> int:
        if chapter not in out:
            all_prerequisites(chapter)  # raises on a cycle before the recursion could
            out[chapter] = 1 + max((level(b) for b in PREREQUISITES[chapter]), default=-1)
        return out[chapter]

    for chapter in PREREQUISITES:
        level(chapter)
    return out


def _first_heading(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    raise ValueError(f"{path} has no '# ' heading")


def read_chapters(root) -> list[Chapter]:
    """The numbered chapters of the book at ``root`` (a clone of the repository), in order.

    Numbers and part captions come from ``_toc.yml`` (its numbered parts), titles from each
    chapter's first heading in its MyST source ``NAME.md``.
    """
    import yaml

    root = Path(root)
    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise ValueError(f"root must be a clone of the book's repository (with _toc.yml), got {root}")
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    chapters = []
    for part in toc.get("parts", []):
        if not part.get("numbered"):
            continue
        for entry in part["chapters"]:
            docname = entry["file"]
            chapters.append(Chapter(docname, len(chapters) + 1, part["caption"], _first_heading(root / f"{docname}.md")))
    return chapters
