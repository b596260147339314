"""Write every chapter's install cell from ``_config.yml``; ``--check`` only compares.

Usage: python tools/install_cell.py [--check]

The first code cell of each chapter (tag ``colab-install``) installs the book's support
package where it is missing, which in practice means Colab (Binder and a local clone
install it themselves). Its text is generated here from two settings of ``_config.yml``:
``repository.url`` and ``release_tag``, the git tag of the book's version that the
chapter was written for (``tests/test_launch.py`` checks that it matches
``pyproject.toml``'s version). So the address and the version live in one place, and a
reader who opens a chapter in Colab installs the attnlib that chapter was written for.

The cell keeps what the runtime already has: attnlib's ranges admit Colab's PyTorch, NumPy
and matplotlib, so pip adds only attnlib itself. When pip fails, the cell stops right there
with one line saying why (IPython shows an exception's ``_render_traceback_`` instead of a
traceback), instead of a ``ModuleNotFoundError`` in the next cell.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "colab-install"

TEMPLATE = '''\
# Colab: install the book's support package, release {tag}, where it is missing (Binder
# and a local clone already have it). Colab's own PyTorch, NumPy and matplotlib are kept.
# Generated from _config.yml by tools/install_cell.py: edit it there, not here.
try:
    import attnlib
except ImportError:
    import subprocess, sys
    _source = "attnlib @ git+{url}@{tag}"
    _pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-color",
                           _source], capture_output=True, text=True)
    if _pip.returncode != 0:
        class InstallFailed(Exception):
            def _render_traceback_(self):  # IPython prints this line, not a traceback
                return [f"InstallFailed: {{self}}"]
        _lines = [line.strip() for line in _pip.stderr.splitlines() if line.strip()]
        _why = next((line for line in _lines if line.startswith(("ERROR", "fatal"))),
                    _lines[-1] if _lines else "pip printed nothing")
        raise InstallFailed(f"pip could not install {{_source}}: {{_why}}")
    import attnlib'''


def settings(root: Path = ROOT) -> tuple[str, str]:
    """``(repository url, release tag)`` from ``_config.yml``."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    url, tag = config.get("repository", {}).get("url"), config.get("release_tag")
    if not url or not tag:
        raise SystemExit("install_cell: _config.yml must set repository.url and release_tag")
    return url.rstrip("/"), str(tag)


def install_source(root: Path = ROOT) -> str:
    """The install cell's source, as every chapter must hold it."""
    url, tag = settings(root)
    return TEMPLATE.format(url=url, tag=tag)


def install_cell(nb):
    """The notebook's install cell (its first code cell, tagged ``colab-install``), or None."""
    first = next((c for c in nb.cells if c.cell_type == "code"), None)
    return first if first is not None and TAG in first.metadata.get("tags", []) else None


def main(argv: list[str]) -> int:
    check = "--check" in argv
    expected = install_source()
    stale = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cell = install_cell(nb)
        if cell is None:
            print(f"install_cell: {path.name}: the first code cell is not tagged {TAG}", file=sys.stderr)
            return 2
        if cell.source == expected:
            continue
        stale.append(path.name)
        if not check:
            cell.source = expected
            nbformat.write(nb, path)
            # Carry the new cell into the text twin, keeping the rest of it as it is.
            twin = path.with_suffix(".md")
            text = jupytext.read(twin)
            twin_cell = install_cell(text)
            twin_cell.source = expected
            jupytext.write(text, twin, fmt="md:myst")
    if check:
        for name in stale:
            print(f"{name}: install cell differs from _config.yml (run python tools/install_cell.py)")
        return 1 if stale else 0
    print(f"install cell written in {len(stale)} chapter(s)" if stale else "every install cell is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
