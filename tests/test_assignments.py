"""Student notebooks leak no solution, run with stubs, and pass with the solutions pasted back."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from attnlib.teaching.assignments import (
    build_assignments,
    paste_solutions,
    solution_texts,
    strip_solution_directives,
    student_notebook,
)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in CHAPTERS]


def _all_lines(node):
    """Every stripped line of every string anywhere in a JSON document."""
    if isinstance(node, str):
        yield from (line.strip() for line in node.split("\n"))
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _all_lines(key)
            yield from _all_lines(value)
    elif isinstance(node, list):
        for value in node:
            yield from _all_lines(value)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_assignments(tmp_path_factory.mktemp("assignments"))


def test_build_writes_both_versions_and_zips(built):
    assert sorted(p.name for p in built.student_dir.glob("*.ipynb")) == [p.name for p in CHAPTERS]
    assert sorted(p.name for p in built.instructor_dir.glob("*.ipynb")) == [p.name for p in CHAPTERS]
    for archive, folder in [(built.student_zip, built.student_dir), (built.instructor_zip, built.instructor_dir)]:
        with zipfile.ZipFile(archive) as z:
            assert sorted(z.namelist()) == sorted(p.name for p in folder.glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_notebook_leaks_no_solution(built, path):
    instructor = nbformat.read(path, as_version=4)
    secrets = solution_texts(instructor)
    assert secrets, f"{path.name} has no marked solutions to strip"
    raw = (built.student_dir / path.name).read_text()  # cells, outputs, metadata, attachments: all of it
    student_lines = set(_all_lines(json.loads(raw)))
    leaked = [line for line in secrets if line in student_lines]
    assert not leaked, f"{path.name}: solution text in the student version: {leaked[:3]}"
    student = nbformat.reads(raw, as_version=4)
    for cell in student.cells:
        assert "solution" not in cell.get("metadata", {}).get("tags", [])
        assert not cell.get("attachments")
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        else:
            assert "{solution}" not in cell.source
    assert "jupytext" not in student.metadata


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_no_launch_link_reaches_a_solution(built, path):
    """A student notebook must not link to the full notebooks (Binder, Colab or the repository)."""
    flat = (built.student_dir / path.name).read_text()
    for url in re.findall(r"https?://[^\s\"')\]]+", flat):
        assert "mybinder.org" not in url and "colab.research.google.com" not in url, url
        assert not re.search(r"/notebooks/[^/]+\.(ipynb|md)", url), url


def _execute(nb, path):
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path)}}).execute()
    return nb


#: The chapters whose student versions are executed here: those that run in seconds. The
#: dynamics chapters train for a minute or more each; nbval executes their full versions, and
#: test_student_version_defines_every_name_it_uses proves statically that their student
#: versions (solutions removed) still define every name they use.
EXECUTED = [p for p in CHAPTERS if p.name[:2] in {"01", "02", "03", "04", "05", "06"}]


def undefined_names(nb) -> list[str]:
    """pyflakes' "undefined name" reports on a notebook's code cells, read top to bottom as one module."""
    import io

    from pyflakes.api import check
    from pyflakes.reporter import Reporter

    code = "\n\n".join(c.source for c in nb.cells if c.cell_type == "code")
    found, errors = io.StringIO(), io.StringIO()
    check(code, "notebook", Reporter(found, errors))
    assert not errors.getvalue(), errors.getvalue()  # a syntax error would hide everything else
    return [line.split(": ", 1)[1] for line in found.getvalue().splitlines() if "undefined name" in line]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_version_defines_every_name_it_uses(built, path):
    student = nbformat.read(built.student_dir / path.name, as_version=4)
    assert undefined_names(student) == []


def test_the_undefined_name_check_can_fail():
    """Removing a cell that defines a name a later cell uses is reported."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import numpy as np\nsteps = np.arange(3)"),
                                         nbformat.v4.new_code_cell("print(steps.sum())")])
    assert undefined_names(nb) == []
    del nb.cells[0]
    assert undefined_names(nb) == ["undefined name 'steps'"]


@pytest.fixture(scope="module")
def executed_students(built):
    """The student notebooks of :data:`EXECUTED`, two kernels at a time (each kernel is its own process).

    Returns ``{name: notebook or the exception it raised}``.
    """
    from concurrent.futures import ThreadPoolExecutor

    def run(path):
        student = nbformat.read(built.student_dir / path.name, as_version=4)
        try:
            return _execute(student, ROOT / "notebooks")
        except Exception as error:  # reported by the test of that chapter
            return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip((p.name for p in EXECUTED), pool.map(run, EXECUTED)))


@pytest.mark.parametrize("path", EXECUTED, ids=[p.stem for p in EXECUTED])
def test_student_version_runs_and_checkers_report_failures(executed_students, path):
    student = executed_students[path.name]
    if isinstance(student, Exception):  # a cell crashed
        raise student
    stubs = [c for c in student.cells if "exercise-stub" in c.metadata.get("tags", [])]
    assert stubs, f"{path.name} has no exercise stubs"
    reports = "".join(o.get("text", "") for c in stubs for o in c.outputs)
    if "check_" in "".join(c.source for c in stubs):
        assert "not implemented yet" in reports, reports[:500]
        assert "correct on all" not in reports


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_pasting_the_solutions_back_restores_the_instructor_code(built, path):
    """With the solutions pasted back, every code cell is the instructor's, which nbval runs."""
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(built.student_dir / path.name, as_version=4)
    restored = paste_solutions(student, instructor)
    assert [c.source for c in restored.cells if c.cell_type == "code"] == [
        c.source for c in instructor.cells if c.cell_type == "code"
    ]


#: The derivation chapters run in seconds, so their restored student versions are also executed
#: here; the dynamics chapters run real experiments, and nbval already executes their full versions.
QUICK = [p for p in CHAPTERS if p.name[:2] in {"01", "02", "03", "04", "05"}]


@pytest.mark.parametrize("path", QUICK, ids=[p.stem for p in QUICK])
def test_solutions_pasted_back_pass(built, path):
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(built.student_dir / path.name, as_version=4)
    restored = _execute(paste_solutions(student, instructor), ROOT / "notebooks")
    stubs = [c for c in restored.cells if "exercise-stub" in c.metadata.get("tags", [])]
    reports = "".join(o.get("text", "") for c in stubs for o in c.outputs)
    assert "not implemented" not in reports and "Hint:" not in reports, reports[:500]


def test_strip_refuses_an_unclosed_solution():
    with pytest.raises(ValueError, match="not closed"):
        strip_solution_directives("```{solution} ex-1\nSecret.\n")


def test_student_notebook_keeps_the_exercise_and_stubs_the_code():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("```{exercise} E\n:label: ex-e\nDo it.\n```\n\n```{solution} ex-e\nSecret answer here.\n```"),
        nbformat.v4.new_code_cell("def f(x):\n    return 42 * x  # the secret\n\nresult = check_cross_entropy_grad(f)\nprint(result)\nassert result.passed", metadata={"tags": ["solution", "hide-cell"]}),
    ]
    student = student_notebook(nb)
    assert "Do it." in student.cells[0].source and "Secret" not in student.cells[0].source
    code = student.cells[1].source
    assert "42" not in code and "NotImplementedError" in code and "assert" not in code
    assert student.cells[1].metadata["tags"] == ["exercise-stub"]


def test_the_leak_check_can_fail():
    instructor = nbformat.read(CHAPTERS[0], as_version=4)
    secret = solution_texts(instructor)[0]
    student = student_notebook(instructor)
    student.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=secret + "\n")] if (
        student.cells[-1].cell_type == "code") else []
    student.cells.append(nbformat.v4.new_markdown_cell(f"A hint that says too much:\n{secret}"))
    assert secret in set(_all_lines(json.loads(nbformat.writes(student))))
