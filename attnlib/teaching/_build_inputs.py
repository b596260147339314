"""What the assignment builders need from outside the package: the chapter notebooks and optional packages.

The chapter sources live in the repository's ``notebooks/`` folder, which an
installed wheel does not ship; and the builders use ``nbformat`` and
Otter-Grader, which are the ``assign`` extra, not core dependencies. Both
failures are told in one line that says what to do.

Examples
--------
>>> chapter_notebooks("/nonexistent")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: notebooks_dir must hold chapter notebooks (*.ipynb), found none in /nonexistent
>>> require("no_such_module_here", "building assignments")
Traceback (most recent call last):
...
attnlib.teaching._build_inputs.MissingExtra: building assignments needs no_such_module_here: pip install 'attnlib[assign]'
"""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["MissingExtra", "require", "chapter_notebooks", "REPOSITORY_NOTEBOOKS"]

#: Where the chapters are in a clone of the book's repository (absent from an installed wheel).
REPOSITORY_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


class MissingExtra(ImportError):
    """An optional dependency is missing; the message names the extra that installs it."""


def require(module: str, purpose: str):
    """Import ``module`` or raise :class:`MissingExtra` naming the ``assign`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{purpose} needs {module}: pip install 'attnlib[assign]'") from None


def chapter_notebooks(notebooks_dir=None) -> list[Path]:
    """The chapter notebooks, sorted: in ``notebooks_dir``, else in this clone's ``notebooks/``."""
    if notebooks_dir is None:
        if not REPOSITORY_NOTEBOOKS.is_dir():
            raise ValueError(
                "assignments build needs a clone of the book's repository (an installed attnlib does not ship "
                "the chapter notebooks): run it in the clone, or pass --notebooks DIR"
            )
        notebooks_dir = REPOSITORY_NOTEBOOKS
    source = Path(notebooks_dir)
    paths = sorted(source.glob("*.ipynb"))
    if not paths:
        raise ValueError(f"notebooks_dir must hold chapter notebooks (*.ipynb), found none in {source}")
    return paths
