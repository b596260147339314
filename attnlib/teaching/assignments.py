"""Student and instructor versions of the whole chapters, from one source.

Two builds share the chapters' solution marks. ``--format otter``
(:mod:`attnlib.teaching.otter_build`) hands grading to Otter-Grader: it writes
each chapter's exercises as an Otter master notebook and lets ``otter assign``
make the student notebook and the Gradescope ``autograder.zip``. This module
keeps what Otter cannot do: a reading copy of every *whole* chapter without its
solutions (Otter's notebooks hold the exercises only, so that grading takes
seconds), which needs the MyST ``{solution}`` directives that Otter does not
read removed, and the list of solution lines the leak tests look for
(:func:`solution_texts`), used for both builds.

Solutions are marked in exactly two ways in the chapter notebooks:

* a MyST ``{solution}`` directive in a markdown cell (the worked answer), and
* a code cell tagged ``solution`` (the worked code, or the check of a worked answer).

:func:`student_notebook` removes both. A solution code cell that defines functions
becomes a stub: each function keeps its signature and raises
``NotImplementedError``, and the calls of the chapter's checkers (and the
prints of their results) stay, so a student notebook runs top to bottom and
every checker reports "not implemented yet" until the student fills the stub.
Every output is cleared, so nothing computed from a solution survives.

:func:`build_assignments` writes ``OUT/student/``, ``OUT/instructor/`` and a zip
of each; ``python -m attnlib assignments build OUT`` calls it.
"""

from __future__ import annotations

import ast
import copy
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ._build_inputs import chapter_notebooks, require
from .chapter_exercises import SOLUTION_TAG

__all__ = [
    "SOLUTION_TAG",
    "strip_solution_directives",
    "stub_solution_code",
    "student_notebook",
    "solution_texts",
    "paste_solutions",
    "AssignmentBuild",
    "build_assignments",
]


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{solution\}")
_STUB_NOTE = "# Exercise: write your answer here (the worked solution is in the instructor version).\n"


def strip_solution_directives(markdown: str) -> str:
    """Remove every ``{solution}`` directive (fence to matching fence) from MyST text.

    Examples
    --------
    >>> text = "Before.\\n\\n```{solution} ex-1\\n:class: dropdown\\n\\nSecret.\\n```\\n\\nAfter."
    >>> strip_solution_directives(text)
    'Before.\\n\\nAfter.'
    """
    lines = markdown.split("\n")
    kept, closing = [], None
    for line in lines:
        if closing is None:
            match = _FENCE.match(line)
            if match:
                closing = match.group("fence")
                continue
            kept.append(line)
        elif line.strip() == closing:
            closing = None
    if closing is not None:
        raise ValueError(f"a {{solution}} directive is not closed by {closing!r}")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


def _exercise_checkers() -> frozenset[str]:
    from . import exercises

    return frozenset(name for name in exercises.__all__ if name.startswith("check_"))


def _calls_a_checker(node: ast.AST) -> bool:
    """True when the statement calls one of the exercise checkers of :mod:`attnlib.teaching.exercises`."""
    checkers = _exercise_checkers()
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in checkers for n in ast.walk(node)
    )


def stub_solution_code(source: str) -> str:
    """Turn a solution code cell into the student's starting point.

    Functions keep their signatures and raise ``NotImplementedError``; statements
    that call an exercise checker of :mod:`attnlib.teaching.exercises` stay, and so do prints of the names they
    assign; everything else (the worked code, the asserts) goes.

    Examples
    --------
    >>> print(stub_solution_code('''def f(x):
    ...     return 2 * x
    ...
    ... result = check_cross_entropy_grad(f)
    ... print(result)
    ... assert result.passed'''))
    # Exercise: write your answer here (the worked solution is in the instructor version).
    def f(x):
        raise NotImplementedError("write f")
    <BLANKLINE>
    result = check_cross_entropy_grad(f)
    print(result)
    <BLANKLINE>
    """
    tree = ast.parse(source)
    kept: list[str] = [_STUB_NOTE.rstrip("\n")]
    checked_names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            kept.append(f"def {node.name}({ast.unparse(node.args)}):")
            kept.append(f'    raise NotImplementedError("write {node.name}")\n')
        elif _calls_a_checker(node):
            kept.append(ast.get_source_segment(source, node))
            if isinstance(node, ast.Assign):
                checked_names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", None) == "print"
            and {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} - {"print"} <= checked_names
            and checked_names
        ):
            kept.append(ast.get_source_segment(source, node))
    return "\n".join(kept) + "\n"


def _is_solution_cell(cell) -> bool:
    return cell.cell_type == "code" and SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def student_notebook(notebook):
    """The student version of a chapter notebook (a new object; the input is untouched).

    Solution directives and solution code are removed (code with functions
    becomes a stub), every output and execution count is cleared, attachments
    are dropped, and the Jupytext pairing is removed so the student file
    stands alone.
    """
    nb = copy.deepcopy(notebook)
    nb.metadata.pop("jupytext", None)
    cells = []
    for cell in nb.cells:
        cell.pop("attachments", None)
        if cell.cell_type == "markdown":
            text = strip_solution_directives(cell.source)
            if not text.strip():
                continue
            cell.source = text
        elif cell.cell_type == "code":
            if _is_solution_cell(cell):
                tags = [t for t in cell.metadata.get("tags", []) if t not in (SOLUTION_TAG, "hide-cell", "hide-input")]
                cell.metadata = {"tags": tags + ["exercise-stub"]}
                cell.source = stub_solution_code(cell.source)
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    return nb


def solution_texts(notebook) -> list[str]:
    """Every distinctive line of the notebook's solutions (for leak tests).

    A line counts when it is at least 12 characters long and does not appear
    outside the solutions (so a function signature the exercise itself states,
    or a checker call, does not count).
    """
    inside, outside = [], set()
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            stripped = strip_solution_directives(cell.source)
            outside.update(line.strip() for line in stripped.split("\n"))
            removed = [line for line in cell.source.split("\n") if line not in stripped.split("\n")]
            inside.extend(removed)
        elif _is_solution_cell(cell):
            inside.extend(cell.source.split("\n"))
        else:
            outside.update(line.strip() for line in cell.source.split("\n"))
    stub_lines = set()
    for cell in notebook.cells:
        if _is_solution_cell(cell):
            stub_lines.update(line.strip() for line in stub_solution_code(cell.source).split("\n"))
    lines = {line.strip() for line in inside}
    return sorted(
        line
        for line in lines - outside - stub_lines
        if len(line) >= 12 and not _FENCE.match(line) and not line.startswith((":class:", ":label:", "```"))
    )


def paste_solutions(student, instructor):
    """Put the instructor's solution code back into a student notebook's stubs (matched by cell id)."""
    solutions = {cell.get("id"): cell.source for cell in instructor.cells if _is_solution_cell(cell)}
    nb = copy.deepcopy(student)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.get("id") in solutions:
            cell.source = solutions[cell.get("id")]
    return nb


@dataclass(frozen=True)
class AssignmentBuild:
    """Where :func:`build_assignments` wrote its output."""

    student_dir: Path
    instructor_dir: Path
    student_zip: Path
    instructor_zip: Path
    notebooks: tuple[str, ...]


def build_assignments(out_dir, notebooks_dir=None) -> AssignmentBuild:
    """Write ``out_dir/student/``, ``out_dir/instructor/`` and ``student.zip``, ``instructor.zip``.

    Parameters
    ----------
    out_dir : path
        Created if missing; its ``student`` and ``instructor`` folders are replaced.
    notebooks_dir : path, optional
        The chapters (default: the ``notebooks/`` folder of this repository).
    """
    nbformat = require("nbformat", "assignments build")
    out_dir = Path(out_dir)
    paths = chapter_notebooks(notebooks_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir must be a directory, got the file {out_dir}")
    student_dir, instructor_dir = out_dir / "student", out_dir / "instructor"
    for folder in (student_dir, instructor_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_notebook(nb), student_dir / path.name)
        shutil.copy2(path, instructor_dir / path.name)
    student_zip = Path(shutil.make_archive(str(out_dir / "student"), "zip", student_dir))
    instructor_zip = Path(shutil.make_archive(str(out_dir / "instructor"), "zip", instructor_dir))
    return AssignmentBuild(student_dir, instructor_dir, student_zip, instructor_zip, tuple(p.name for p in paths))
