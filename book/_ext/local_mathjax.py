"""Serve MathJax from the built site instead of a CDN.

The book must render offline (a classroom without network, a downloaded copy).
MathJax 3 is installed from PyPI (the ``django-static-mathjax`` wheel: static
files only, no Django needed); this extension copies it into ``_static`` and
points Sphinx's ``mathjax_path`` at the local copy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MATHJAX_ENTRY = "mathjax/es5/tex-chtml.js"


def _mathjax_static_dir() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax is missing: install django-static-mathjax (it is in requirements/lock.txt)")
    static = Path(list(spec.submodule_search_locations)[0]) / "static"
    if not (static / MATHJAX_ENTRY).is_file():
        raise RuntimeError(f"MathJax entry point not found at {static / MATHJAX_ENTRY}")
    return static


def _use_local_mathjax(app) -> None:
    app.config.html_static_path.append(str(_mathjax_static_dir()))
    app.config.mathjax_path = MATHJAX_ENTRY


def setup(app):
    app.connect("builder-inited", _use_local_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
