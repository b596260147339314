"""Build the book with every solution removed: ``BOOK_HIDE_SOLUTIONS=1 make book``.

By default solutions sit behind a reveal (sphinx-exercise dropdowns for the
worked answers, collapsed cells for solution code). An instructor who wants a
copy without them sets ``BOOK_HIDE_SOLUTIONS=1``: this extension then turns on
sphinx-exercise's ``hide_solutions`` and drops every notebook cell tagged
``solution`` from the pages.
"""

from __future__ import annotations

import os

from docutils import nodes

ENV_VAR = "BOOK_HIDE_SOLUTIONS"


def _enabled() -> bool:
    return os.environ.get(ENV_VAR, "0") not in ("", "0", "false", "no")


def _configure(app, config) -> None:
    if _enabled():
        config.hide_solutions = True


def _drop_solution_cells(app, doctree) -> None:
    if not _enabled():
        return
    for node in list(doctree.findall(nodes.container)):
        if "tag_solution" in node.get("classes", []):
            node.parent.remove(node)


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("doctree-read", _drop_solution_cells)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
