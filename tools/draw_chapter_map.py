"""Draw the chapter-dependency map, book/figures/chapter_map.svg, from attnlib.teaching.chapter_map.

Usage: python tools/draw_chapter_map.py [--check]

The SVG is the same bytes on every run (fixed ids, no date), so it is committed and
tests/test_front_matter.py redraws it and compares: edit PREREQUISITES, run this, commit both.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from attnlib.teaching import chapter_map  # noqa: E402
from attnlib.teaching.plots import chapter_map_figure  # noqa: E402

TARGET = ROOT / "book" / "figures" / "chapter_map.svg"


def chapter_map_svg(root: Path = ROOT) -> bytes:
    """The map as SVG bytes, identical on every run."""
    with matplotlib.rc_context({"svg.hashsalt": "attnlib-chapter-map", "svg.fonttype": "path",
                                "font.family": "DejaVu Sans"}):
        fig = chapter_map_figure(chapter_map.read_chapters(root), chapter_map.drawn_edges(), chapter_map.levels())
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(fig)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed SVG differs from a fresh drawing")
    args = parser.parse_args(argv)
    svg = chapter_map_svg()
    current = TARGET.read_bytes() if TARGET.exists() else None
    if args.check:
        if current != svg:
            print(f"{TARGET.relative_to(ROOT)} is out of date: run python tools/draw_chapter_map.py")
            return 1
        return 0
    if current != svg:
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        TARGET.write_bytes(svg)
        print(f"{TARGET.relative_to(ROOT)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
