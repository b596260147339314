"""Launch in Binder or Colab: one repository address and one release, written into every
chapter's install cell by tools/install_cell.py; the cell installs that release and fails
loudly, in its own cell, when it cannot."""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from packaging.requirements import Requirement
from packaging.version import Version

from tools import install_cell

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

#: What Colab ships (checked 2026: Python 3.12/3.13, torch 2.11, numpy 2.1, matplotlib 3.10,
#: ipywidgets 7.7): the install cell must keep these, so attnlib's ranges must admit them.
COLAB = {"torch": "2.11.0", "numpy": "2.1.3", "matplotlib": "3.10.0", "tqdm": "4.67.1", "ipywidgets": "7.7.1"}


def test_launch_buttons_point_at_binder_and_colab():
    buttons = CONFIG["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["repository"]["url"].startswith("https://github.com/")


def test_the_release_tag_is_the_package_version():
    assert CONFIG["release_tag"] == f"v{PROJECT['version']}", "bump release_tag in _config.yml with the version"
    import attnlib

    assert attnlib.__version__ == PROJECT["version"]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_install_cell_is_generated_from_the_config_and_pins_the_release(path):
    nb = nbformat.read(path, as_version=4)
    cell = install_cell.install_cell(nb)
    assert cell is not None, f"{path.name}: the first code cell is not the install cell"
    assert cell.source == install_cell.install_source(), (
        f"{path.name}: install cell differs from _config.yml; run python tools/install_cell.py"
    )
    pinned = f'"attnlib @ git+{CONFIG["repository"]["url"]}@{CONFIG["release_tag"]}"'
    assert pinned in cell.source
    assert "import attnlib" in cell.source and "except ImportError" in cell.source
    assert cell.outputs == [], "where attnlib is installed the cell must print nothing"


def test_the_text_twins_hold_the_same_install_cell():
    import jupytext

    for path in CHAPTERS:
        twin = jupytext.read(path.with_suffix(".md"))
        assert install_cell.install_cell(twin).source == install_cell.install_source(), path.name


def test_a_failed_install_stops_in_its_own_cell_with_one_line(tmp_path):
    """attnlib missing and the install impossible: the cell raises, showing one line, not a traceback."""
    broken = tmp_path / "attnlib"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise ImportError('attnlib is not installed here')\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(install_cell.install_source()), nbformat.v4.new_code_cell("print('next')")]
    # pip can reach neither the repository nor any index, so the install fails at once.
    env = {"PYTHONPATH": str(tmp_path), "PIP_NO_INDEX": "1", "GIT_TERMINAL_PROMPT": "0",
           "GIT_CONFIG_GLOBAL": str(tmp_path / "no-git-config"),
           "GIT_ALLOW_PROTOCOL": "file"}  # fmt: skip
    import os

    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with pytest.raises(CellExecutionError):
            client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    error = next(o for o in nb.cells[0].outputs if o.output_type == "error")
    assert error.ename == "InstallFailed"
    assert len(error.traceback) == 1, error.traceback
    assert error.traceback[0].startswith("InstallFailed: pip could not install attnlib @ git+"), error.traceback
    assert "fatal: transport 'https' not allowed" in error.traceback[0], "the line must give git's or pip's reason"
    assert nb.cells[1].outputs == [], "the next cell must not run after a failed install"


@pytest.mark.parametrize("requirement", PROJECT["dependencies"] + PROJECT["optional-dependencies"]["book"])
def test_ranges_admit_what_colab_ships(requirement):
    req = Requirement(requirement)
    if req.name in COLAB:
        assert req.specifier.contains(Version(COLAB[req.name])), f"{requirement} would replace Colab's {req.name}"


def test_python_3_11_to_3_13_are_supported():
    spec = Requirement(f"python{PROJECT['requires-python']}").specifier
    for version in ("3.11", "3.12", "3.13"):
        assert spec.contains(Version(version)), f"requires-python {PROJECT['requires-python']} refuses {version}"


def test_binder_installs_attnlib():
    post_build = (ROOT / "postBuild").read_text()
    assert "pip install" in post_build and "-e ." in post_build
    assert "jupytext" in (ROOT / "environment.yml").read_text(), "Binder must open the text twins too"


@pytest.mark.parametrize("name", ["README.md", "book/intro.md", "book/instructors.md", "environment.yml", "postBuild",
                                  "pyproject.toml", "Makefile", ".ci/run"])
def test_the_address_is_written_only_in_the_config(name):
    """Prose pages use the {{ repository_url }} substitution; notebooks get it from tools/install_cell.py."""
    path = ROOT / name
    assert CONFIG["repository"]["url"] not in path.read_text(), f"{name} repeats the repository address"


def test_the_intro_takes_the_address_from_the_config():
    assert CONFIG["parse"]["myst_substitutions"]["repository_url"] == CONFIG["repository"]["url"]
    assert "{{ repository_url }}" in (ROOT / "book" / "intro.md").read_text()
