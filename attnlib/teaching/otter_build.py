"""``assignments build OUT --format otter``: Otter-Grader assignments, one per chapter with code exercises.

For each chapter this module writes Otter's master notebook
(:mod:`attnlib.teaching.otter_master`, the chapter's exercises only) and runs
Otter Assign on it, which does the rest: the student notebook (solutions
replaced by stubs, hidden tests removed, an Otter ``grader`` and its check
cells added) and the Gradescope ``autograder.zip`` (tests, hidden ones
included, and the setup that installs ``attnlib`` in Gradescope's image).
The layout::

    OUT/otter/NN_name/student/NN_name.ipynb      hand this out
    OUT/otter/NN_name/autograder/autograder.zip  upload to Gradescope, or grade with `otter run`
    OUT/otter/NN_name/autograder/NN_name.ipynb   the instructor's notebook (solutions in)

Grade a submission locally with
``otter run -a OUT/otter/NN_name/autograder/autograder.zip submission.ipynb``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._build_inputs import chapter_notebooks, require
from .chapter_exercises import chapter_exercises
from .otter_master import master_notebook

__all__ = ["OtterBuild", "build_otter_assignments", "gradescope_requirements", "install_cell"]

_INSTALL_TAG = "colab-install"
_PIP_SOURCE = re.compile(r'_source = "(?P<source>[^"]+)"')
_TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class OtterBuild:
    """Where :func:`build_otter_assignments` wrote each chapter's assignment, keyed by chapter name."""

    root: Path
    students: dict[str, Path]
    autograders: dict[str, Path]
    instructors: dict[str, Path]


def _pip_source(chapter) -> str:
    """What pip installs attnlib from: the chapter's Colab install cell says (written from _config.yml)."""
    for cell in chapter.cells:
        if cell.cell_type == "code" and _INSTALL_TAG in cell.get("metadata", {}).get("tags", []):
            found = _PIP_SOURCE.search(cell.source)
            if found:
                return found.group("source")
    return "attnlib"


def install_cell(pip_source: str, otter_spec: str = "otter-grader") -> str:
    """A first cell that installs attnlib and Otter where they are missing (Colab, Binder), importing neither.

    Examples
    --------
    >>> print(install_cell("attnlib", "otter-grader==6.1.0"))
    import importlib.util
    if importlib.util.find_spec("attnlib") is None:  # Colab: install the book's package
        %pip install --quiet "attnlib"
    if importlib.util.find_spec("otter") is None:  # and Otter-Grader, for grader.check
        %pip install --quiet "otter-grader==6.1.0"
    """
    return ('import importlib.util\nif importlib.util.find_spec("attnlib") is None:  # Colab: install the book\'s package\n'
            f'    %pip install --quiet "{pip_source}"\n'
            'if importlib.util.find_spec("otter") is None:  # and Otter-Grader, for grader.check\n'
            f'    %pip install --quiet "{otter_spec}"')


def gradescope_requirements(pip_source: str) -> str:
    """The requirements Gradescope installs: PyTorch's CPU build, then attnlib at the chapter's pip source.

    Examples
    --------
    >>> print(gradescope_requirements("attnlib @ git+https://example.org/book@v1"))
    --extra-index-url https://download.pytorch.org/whl/cpu
    attnlib @ git+https://example.org/book@v1
    <BLANKLINE>
    """
    return f"--extra-index-url {_TORCH_CPU_INDEX}\n{pip_source}\n"


def _title(chapter, fallback: str) -> str:
    for cell in chapter.cells:
        if cell.cell_type == "markdown":
            heading = re.search(r"^# (.+)$", cell.source, re.M)
            if heading:
                return heading.group(1).strip()
    return fallback


def build_otter_assignments(out_dir, notebooks_dir=None) -> OtterBuild:
    """Write ``out_dir/otter/NN_name/{student,autograder}/`` for every chapter with a code exercise.

    Parameters
    ----------
    out_dir : path
        Created if missing; its ``otter`` folder is replaced.
    notebooks_dir : path, optional
        The chapters (default: the ``notebooks/`` folder of this clone).
    """
    nbformat = require("nbformat", "assignments build --format otter")
    otter_assign = require("otter.assign", "assignments build --format otter")
    otter_spec = f"otter-grader=={require('otter', 'assignments build --format otter').__version__}"  # the builder's
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a directory, got the file {out_dir}")
    paths = chapter_notebooks(notebooks_dir)
    root = (out_dir / "otter").resolve()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    students, autograders, instructors = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="attnlib-otter-") as scratch:
        for path in paths:
            chapter = nbformat.read(path, as_version=4)
            exercises = chapter_exercises(chapter)
            if not any(e.kind == "code" for e in exercises):
                continue
            name = path.stem
            source = _pip_source(chapter)
            master_dir = Path(scratch) / name
            master_dir.mkdir()
            (master_dir / "requirements.txt").write_text(gradescope_requirements(source))
            master = master_dir / f"{name}.ipynb"
            install = install_cell(source, otter_spec)
            nbformat.write(master_notebook(name, _title(chapter, name), exercises, install_code=install), master)
            result = root / name
            otter_assign.main(str(master), str(result), no_pdfs=True, no_run_tests=True)
            [archive] = (result / "autograder").glob("*.zip")
            autograders[name] = archive.rename(result / "autograder" / "autograder.zip")
            students[name] = result / "student" / f"{name}.ipynb"
            instructors[name] = result / "autograder" / f"{name}.ipynb"
    return OtterBuild(root, students, autograders, instructors)
