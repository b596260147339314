"""An Otter-Grader master notebook holding one chapter's exercises.

Otter Assign (``otter assign``) turns a *master notebook* into a student
notebook and a Gradescope ``autograder.zip``. This module writes that master
notebook from a chapter's :class:`~attnlib.teaching.chapter_exercises.Exercise`
list, in Otter's format (raw ``# BEGIN QUESTION`` / ``# BEGIN SOLUTION`` /
``# BEGIN TESTS`` cells; their configuration is YAML, written as JSON). It holds the exercises only, not the chapter, so a
grading run takes seconds however long the chapter's experiments run:

* an install cell (the chapter's own, for Colab) and a setup cell importing
  NumPy and the chapter's checkers, nothing that answers an exercise;
* per code exercise, a question worth one point per test: its statement, a
  cell with each answer function (the book's code as the solution, a stub that
  raises ``NotImplementedError`` as the student's prompt), and per checker a
  public test and a hidden one (``case_set="hidden"``). Each test imports the
  checker itself (a notebook that redefines ``check_...`` cannot fool it) and
  fails with the checker's one-line message;
* per pencil exercise, a manually graded question: the statement, and the
  book's worked answer as the solution of a Markdown answer cell.

Examples
--------
>>> from attnlib.teaching.chapter_exercises import Exercise
>>> ex = Exercise("ex-sq", "Square it", "Write `sq(x)`.", "", "def sq(x):\\n    return x * x",
...               (("check_cross_entropy_grad", "sq"),))
>>> print(prompted_solution(ex.answer_code))
def sq(x):
    # BEGIN SOLUTION NO PROMPT
    return x * x
    # END SOLUTION
    \"\"\" # BEGIN PROMPT
    raise NotImplementedError("write sq")
    \"\"\" # END PROMPT
"""

from __future__ import annotations

import ast
import json

__all__ = ["master_notebook", "prompted_solution", "question_name", "POINTS_PER_TEST", "MANUAL_POINTS"]

#: Points of each autograded test (a checker's public test and its hidden test).
POINTS_PER_TEST = 1
#: Points of a pencil (manually graded) exercise.
MANUAL_POINTS = 2


def question_name(label: str) -> str:
    """Otter's question name for an exercise label: ``"ex-route-code"`` -> ``"ex_route_code"``."""
    return label.replace("-", "_")


def prompted_solution(answer_code: str) -> str:
    """Each function keeps its signature; its body is Otter's solution, a ``NotImplementedError`` its prompt."""
    lines = answer_code.split("\n")
    out = []
    for node in ast.parse(answer_code).body:
        first_body = node.body[0].lineno - 1  # 0-based line where the body starts
        pad = " " * node.body[0].col_offset
        out.extend(lines[node.lineno - 1:first_body])
        out.append(f"{pad}# BEGIN SOLUTION NO PROMPT")
        out.extend(lines[first_body:node.end_lineno])
        out.append(f"{pad}# END SOLUTION")
        out.append(f'{pad}""" # BEGIN PROMPT')
        out.append(f'{pad}raise NotImplementedError("write {node.name}")')
        out.append(f'{pad}""" # END PROMPT')
        out.append("")
    return "\n".join(out).rstrip("\n")


def _yaml(config: dict) -> str:
    """YAML for Otter's configuration cells, written as JSON (a subset of YAML) on one line."""
    return json.dumps(config) + "\n"


def _test_cell(checker: str, function: str, hidden: bool) -> str:
    case_set = ', case_set="hidden"' if hidden else ""
    config = _yaml({"points": POINTS_PER_TEST, "hidden": hidden})
    test = f"test_{function}{'_hidden' if hidden else ''}"
    body = (f"def {test}({function}):\n"
            f"    from attnlib.teaching.exercises import {checker}\n"
            f"    result = {checker}({function}{case_set})\n"
            f"    assert result.passed, result.message\n\n"
            f"{test}({function})")
    return f'""" # BEGIN TEST CONFIG\n{config}""" # END TEST CONFIG\n{body}'


def _raw(text: str):
    import nbformat

    return nbformat.v4.new_raw_cell(text)


def _question_cells(exercise) -> list:
    import nbformat

    v4 = nbformat.v4
    statement = v4.new_markdown_cell(f"### Exercise: {exercise.title}\n\n{exercise.statement}")
    if exercise.kind == "pencil":
        config = {"name": question_name(exercise.label), "manual": True, "points": MANUAL_POINTS}
        return [_raw("# BEGIN QUESTION\n" + _yaml(config)), statement,
                _raw("# BEGIN SOLUTION"), v4.new_markdown_cell(exercise.worked_answer or "(see the chapter)"),
                _raw("# END SOLUTION"), _raw("# END QUESTION")]
    config = {"name": question_name(exercise.label), "points": POINTS_PER_TEST * 2 * len(exercise.checks)}
    tests = [v4.new_code_cell(_test_cell(checker, function, hidden))
             for checker, function in exercise.checks for hidden in (False, True)]
    return [_raw("# BEGIN QUESTION\n" + _yaml(config)), statement,
            _raw("# BEGIN SOLUTION"), v4.new_code_cell(prompted_solution(exercise.answer_code)), _raw("# END SOLUTION"),
            _raw("# BEGIN TESTS"), *tests, _raw("# END TESTS"), _raw("# END QUESTION")]


def master_notebook(name: str, title: str, exercises, *, install_code: str = "", requirements: str = "requirements.txt"):
    """Otter's master notebook for one chapter.

    Parameters
    ----------
    name : str
        The assignment's name (``"03_routing_law"``), which Otter checks submissions against.
    title : str
        The chapter's title, for the first Markdown cell.
    exercises : list of Exercise
        The chapter's exercises (:func:`~attnlib.teaching.chapter_exercises.chapter_exercises`).
    install_code : str
        A cell that installs ``attnlib`` and Otter where they are missing; none if empty. The
        cell that creates Otter's ``grader`` comes after it.
    requirements : str
        The requirements file Otter puts in the Gradescope image.
    """
    import nbformat

    code = [e for e in exercises if e.kind == "code"]
    if not code:
        raise ValueError(f"exercises must hold at least one code exercise for {name!r}, got none")
    for exercise in code:
        extra = exercise.free_names() - {"np"}
        if extra:
            raise ValueError(f"{name}: the answer of {exercise.label} reads {sorted(extra)}, which the "
                             "assignment notebook does not define (it imports only numpy as np)")
    checkers = sorted({checker for e in code for checker, _ in e.checks})
    config = {
        "name": name,
        "requirements": requirements,
        "init_cell": False,  # ours follows the install cell: Otter's own would import otter before it
        "check_all_cell": False,
        "export_cell": {"pdf": False, "run_tests": True},
        "run_tests": False,
        "tests": {"files": False, "ok_format": False},
        "generate": {"pdf": False, "show_stdout": True, "show_hidden": False},
    }
    intro = (f"# {title}: exercises\n\nThe exercises of the chapter *{title}*. Write each answer where it "
             "says so; run `grader.check(...)` after a code exercise to see what the book's checker says. "
             "Write pencil answers in the Markdown cell that follows each statement.")
    cells = [_raw("# ASSIGNMENT CONFIG\n" + _yaml(config)), nbformat.v4.new_markdown_cell(intro)]
    if install_code:
        cells.append(nbformat.v4.new_code_cell(install_code))
    cells.append(nbformat.v4.new_code_cell(f'# Initialize Otter\nimport otter\ngrader = otter.Notebook("{name}.ipynb")'))
    setup = "import numpy as np\n\n" + "\n".join(f"from attnlib.teaching.exercises import {c}" for c in checkers)
    cells.append(nbformat.v4.new_code_cell(setup))
    for exercise in exercises:
        cells.extend(_question_cells(exercise))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return nb

