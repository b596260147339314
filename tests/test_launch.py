"""Launch in Binder or Colab: one repository address, a guarded install cell in every chapter."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def test_launch_buttons_point_at_binder_and_colab():
    buttons = CONFIG["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["repository"]["url"].startswith("https://github.com/")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_first_code_cell_installs_attnlib_only_when_missing(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "colab-install" in first.metadata.get("tags", []), f"{path.name}: the first code cell is not the install cell"
    source = first.source
    assert "import attnlib" in source and "except ImportError" in source
    assert f'"attnlib @ git+{CONFIG["repository"]["url"]}"' in source, "install URL differs from _config.yml"
    assert "--no-deps" in source, "installing attnlib's pinned torch would replace Colab's own"
    assert first.outputs == [], "where attnlib is installed the cell must print nothing"


def test_binder_installs_attnlib():
    post_build = (ROOT / "postBuild").read_text()
    assert "pip install" in post_build and "-e ." in post_build
    assert "jupytext" in (ROOT / "environment.yml").read_text(), "Binder must open the text twins too"
