"""Every chapter is a Jupytext pair in sync, executed top to bottom, and in the book.

nbval (run by ``make test``) separately proves that the stored outputs equal a
fresh run; these tests prove there *are* outputs to compare, from one clean
top-to-bottom execution, and that the text twin says the same as the notebook.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml
from jupytext.compare import compare_notebooks

from tools import provenance

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def test_there_are_chapters():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pair_is_in_sync(path):
    twin = path.with_suffix(".md")
    assert twin.exists(), f"{path.name} has no MyST text twin {twin.name}"
    from_ipynb = jupytext.read(path)
    from_md = jupytext.read(twin)
    assert from_ipynb.metadata.get("jupytext", {}).get("formats") == "ipynb,md:myst"
    # Raises with a readable diff when a cell's source, type or tags differ.
    compare_notebooks(from_md, from_ipynb, fmt="md:myst")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_come_from_one_clean_run(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(code)}: "
        "run `make notebooks` to execute it top to bottom from a clean kernel"
    )
    assert sum(len(c.outputs) for c in code) > 0, f"{path.name} was committed without outputs"
    for index, cell in enumerate(code, 1):
        for out in cell.outputs:
            assert out.output_type != "error", f"{path.name}: code cell {index} stored an error: {out.get('ename')}"
            if out.output_type == "stream":
                assert out.name != "stderr" or not out.text.strip(), (
                    f"{path.name}: code cell {index} wrote to stderr: {out.text[:200]!r}"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_figure_is_rendered_as_png(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/plain" in data and data["text/plain"].startswith("<Figure"):
                assert "image/png" in data, f"{path.name}: a figure was stored without its image"


def _toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    files = _toc_files()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in files, f"{path.name} is not in _toc.yml"
    for entry in files:
        matches = [p for p in ROOT.glob(entry + ".*") if p.suffix in (".md", ".ipynb")]
        assert matches, f"_toc.yml lists {entry}, which does not exist"


def test_text_twins_are_not_built_as_documents():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "notebooks/*.md" in config["exclude_patterns"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figures_are_opaque_for_dark_mode(path):
    """A transparent figure with black text disappears on the dark theme."""
    import base64
    import io

    import matplotlib.image as mpimg

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png:
                pixels = mpimg.imread(io.BytesIO(base64.b64decode(png)), format="png")
                if pixels.shape[-1] == 4:
                    assert pixels[..., 3].min() == 1.0, f"{path.name}: a figure has transparent pixels"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_outputs_come_from_the_current_code(path):
    """make notebooks records hashes of the chapter's code cells and of attnlib; both must still hold."""
    reasons = provenance.stale_reasons(nbformat.read(path, as_version=4))
    assert not reasons, f"{path.name}: {'; '.join(reasons)}: run `make notebooks NB=notebooks/{path.name}`"


def test_the_provenance_check_notices_a_change(tmp_path):
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    assert not provenance.stale_reasons(nb)
    edited = nbformat.from_dict(nb)
    code = next(c for c in edited.cells if c.cell_type == "code" and "colab-install" not in c.metadata.get("tags", []))
    code.source += "\n# edited"
    assert provenance.stale_reasons(edited) == ["its code cells changed since its outputs were stored"]
    prose = nbformat.from_dict(nb)
    next(c for c in prose.cells if c.cell_type == "markdown").source += " A sentence more."
    assert not provenance.stale_reasons(prose), "editing prose must not ask for a re-run"
    package = tmp_path / "attnlib"
    shutil.copytree(provenance.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    assert provenance.package_hash(package) == provenance.package_hash()
    kernel = package / "chain" / "engine" / "kernel.c"
    kernel.write_bytes(kernel.read_bytes().replace(b"1.0f", b"1.5f", 1))  # one constant of the C kernel
    assert provenance.package_hash(package) != provenance.package_hash()
    unstamped = nbformat.from_dict(nb)
    unstamped.metadata.pop(provenance.METADATA_KEY)
    assert provenance.stale_reasons(unstamped) == ["it carries no record of the code its outputs came from"]
