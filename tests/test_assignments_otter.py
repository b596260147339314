"""The Otter-Grader build: layout, no leaks, no imported answers, and real grading runs.

``otter run`` grades, for every chapter with code exercises, the instructor
notebook (full marks), the untouched student notebook (0) and a student
notebook whose stubs return the package's own function (0). Each run takes
about 2 s (a fresh kernel), so the runs share one build and two worker
processes forked after Otter is imported.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import multiprocessing
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("otter", reason="the assign extra (Otter-Grader) is not installed")

from attnlib.cli import main  # noqa: E402
from attnlib.teaching import _build_inputs  # noqa: E402
from attnlib.teaching.assignments import solution_texts  # noqa: E402
from attnlib.teaching.chapter_exercises import chapter_exercises  # noqa: E402
from attnlib.teaching.otter_build import build_otter_assignments  # noqa: E402
from tests.chapter_answers import PACKAGE_ANSWERS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CODE_CHAPTERS = [p for p in CHAPTERS if any(e.kind == "code" for e in chapter_exercises(nbformat.read(p, as_version=4)))]
IDS = [p.stem for p in CODE_CHAPTERS]



@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_otter_assignments(tmp_path_factory.mktemp("assignments"))


def _student(built, path):
    return nbformat.read(built.students[path.stem], as_version=4)


def test_every_chapter_with_code_exercises_gets_a_student_notebook_and_an_autograder(built):
    assert CODE_CHAPTERS == CHAPTERS  # every chapter has a code exercise
    for path in CODE_CHAPTERS:
        name = path.stem
        assert built.students[name] == built.root / name / "student" / f"{name}.ipynb"
        assert built.autograders[name] == built.root / name / "autograder" / "autograder.zip"
        with zipfile.ZipFile(built.autograders[name]) as archive:
            assert any(n.startswith("tests/") for n in archive.namelist())
            assert "attnlib @ git+" in archive.read("environment.yml").decode()  # Gradescope installs the book's release


@pytest.mark.parametrize("path", CODE_CHAPTERS, ids=IDS)
def test_student_notebook_leaks_no_solution(built, path):
    secrets = solution_texts(nbformat.read(path, as_version=4))
    raw = built.students[path.stem].read_text()
    lines = {line.strip() for cell in json.loads(raw)["cells"] for line in "".join(cell["source"]).split("\n")}
    leaked = [line for line in secrets if line in lines]
    assert not leaked, f"{path.name}: solution text in the Otter student notebook: {leaked[:3]}"
    assert "{exercise}" not in raw and "{solution}" not in raw
    assert "case_set=" not in raw, "a hidden test reached the student notebook"


def _imports(source: str):
    """(module, names) for every import in a cell, IPython magics dropped."""
    tree = ast.parse(re.sub(r"^(\s*)%.*$", r"\1pass", source, flags=re.M))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module, tuple(alias.name for alias in node.names)


@pytest.mark.parametrize("path", CODE_CHAPTERS, ids=IDS)
def test_student_notebook_imports_nothing_that_answers(built, path):
    for cell in _student(built, path).cells:
        if cell.cell_type != "code":
            continue
        for module, names in _imports(cell.source):
            if module == "attnlib.teaching.exercises":
                assert all(n.startswith("check_") for n in names), (path.name, names)
            else:
                assert module in {"numpy", "importlib.util", "otter"}, (path.name, module, names)


@pytest.mark.parametrize("path", CODE_CHAPTERS, ids=IDS)
def test_student_notebook_installs_attnlib_and_otter_before_importing_either(built, path):
    """On Colab or Binder neither is installed: the first code cell installs both, and imports neither."""
    code = [c.source for c in _student(built, path).cells if c.cell_type == "code"]
    assert 'find_spec("attnlib") is None' in code[0] and 'find_spec("otter") is None' in code[0]
    assert [m for m, _ in _imports(code[0])] == ["importlib.util"]
    assert "import otter" in code[1] and f'otter.Notebook("{path.stem}.ipynb")' in code[1]


@pytest.mark.parametrize("path", CODE_CHAPTERS, ids=IDS)
def test_statements_are_plain_markdown_and_pencil_answers_are_markdown_cells(built, path):
    student = _student(built, path)
    text = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
    assert not re.search(r"\{(eq|ref|numref|exercise|solution)\}", text)
    pencil = [e for e in chapter_exercises(nbformat.read(path, as_version=4)) if e.kind == "pencil"]
    answers = [c for c in student.cells if c.cell_type == "markdown" and "otter_answer_cell" in c.metadata.get("tags", [])]
    assert len(answers) == len(pencil)


CHECKER_OF_FUNCTION = {
    function: checker
    for path in CODE_CHAPTERS
    for exercise in chapter_exercises(nbformat.read(path, as_version=4))
    for checker, function in exercise.checks
}


def _cheating_copy(student):
    """The student notebook with every stub returning the package's own function."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(student)))
    for cell in nb.cells:
        if cell.cell_type != "code" or "NotImplementedError" not in cell.source:
            continue
        for node in ast.parse(cell.source).body:
            module, _, attribute = PACKAGE_ANSWERS[CHECKER_OF_FUNCTION[node.name]].rpartition(".")
            params = ", ".join(a.arg for a in node.args.args)
            cell.source = cell.source.replace(
                f'raise NotImplementedError("write {node.name}")',
                f"from {module} import {attribute} as package_answer\n    return package_answer({params})")
    return nb


def _grade(job):
    """Grade one notebook with ``otter run``'s own function; return (label, score, possible)."""
    import otter.run

    label, notebook, autograder = job
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        results = otter.run.main(notebook, autograder=autograder, output_dir=None, no_logo=True)
    return label, results.total, results.possible


@pytest.fixture(scope="module")
def grades(built, tmp_path_factory):
    import otter.run  # noqa: F401  (imported once, before the workers fork)

    scratch = tmp_path_factory.mktemp("cheats")
    jobs = []
    for path in CODE_CHAPTERS:
        name = path.stem
        cheat = scratch / f"{name}.ipynb"
        nbformat.write(_cheating_copy(_student(built, path)), cheat)
        autograder = str(built.autograders[name])
        jobs += [((name, "instructor"), str(built.instructors[name]), autograder),
                 ((name, "student"), str(built.students[name]), autograder),
                 ((name, "package answer"), str(cheat), autograder)]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        return {label: (score, possible) for label, score, possible in pool.map(_grade, jobs)}


@pytest.mark.parametrize("path", CODE_CHAPTERS, ids=IDS)
def test_otter_run_gives_full_marks_to_the_instructor_and_zero_to_the_stubs_and_to_imported_answers(grades, path):
    name = path.stem
    score, possible = grades[name, "instructor"]
    assert possible > 0 and score == possible
    assert grades[name, "student"] == (0, possible)
    assert grades[name, "package answer"] == (0, possible)


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, tmp_path, capsys):
    def missing(name, *args):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(_build_inputs.importlib, "import_module", missing)
    assert main(["assignments", "build", str(tmp_path), "--format", "otter"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'attnlib[assign]'" in err


def test_outside_a_clone_the_build_says_so_in_one_line(monkeypatch, tmp_path, capsys):
    """An installed wheel has no notebooks/ beside the package: simulated by pointing the default elsewhere."""
    monkeypatch.setattr(_build_inputs, "REPOSITORY_NOTEBOOKS", tmp_path / "site-packages" / "notebooks")
    for extra in ([], ["--format", "otter"]):
        assert main(["assignments", "build", str(tmp_path / "out"), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "needs a clone of the book's repository" in err and "--notebooks DIR" in err
