"""Which code a notebook's stored outputs came from: two hashes kept in its metadata.

``make notebooks`` (``tools/run_notebooks.py``) executes a chapter and records, in the
notebook's metadata under ``attnlib_book``, a hash of the chapter's code cells and a hash of
the ``attnlib`` package it ran against. (Markdown cells are left out: prose does not change
an output, and a typo fixed in a sentence should not mean re-running the chapter.) ``tests/test_notebooks.py`` recomputes both and fails
when either changed since, so stored outputs are always those of the current code, also in
the cells whose text nbval does not compare exactly (``tools/nbval.py``).

The install cell (tag ``colab-install``) is left out of the source hash: it is written from
``_config.yml`` by ``tools/install_cell.py``, prints nothing where attnlib is installed, and
changing the release it names must not force every chapter to be re-executed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "attnlib"
METADATA_KEY = "attnlib_book"
INSTALL_TAG = "colab-install"


def source_hash(nb) -> str:
    """SHA-256 of the source of every code cell but the install cell, in order."""
    cells = [
        cell.source
        for cell in nb.cells
        if cell.cell_type == "code" and INSTALL_TAG not in cell.get("metadata", {}).get("tags", [])
    ]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode()).hexdigest()


def package_hash(package: Path = PACKAGE) -> str:
    """SHA-256 of every ``.py`` and ``.c`` file of the package, with its relative path."""
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".c") and "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def stamp(nb) -> None:
    """Record the two hashes in ``nb.metadata`` (after a clean top-to-bottom execution)."""
    nb.metadata[METADATA_KEY] = {"source_sha256": source_hash(nb), "attnlib_sha256": package_hash()}


def stale_reasons(nb) -> list[str]:
    """Why the stored outputs may not be those of the current code (empty when they are)."""
    recorded = nb.metadata.get(METADATA_KEY)
    if not recorded:
        return ["it carries no record of the code its outputs came from"]
    reasons = []
    if recorded.get("source_sha256") != source_hash(nb):
        reasons.append("its code cells changed since its outputs were stored")
    if recorded.get("attnlib_sha256") != package_hash():
        reasons.append("attnlib changed since its outputs were stored")
    return reasons
