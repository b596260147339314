"""A chapter's exercises, read from its notebook: statement, worked answer, solution code.

The chapters mark exercises in MyST, which Otter-Grader and plain Jupyter do
not read:

* an ``{exercise}`` directive (title, ``:label:``, the statement);
* a ``{solution}`` directive for it (the worked answer, in prose);
* code cells tagged ``solution`` that follow (the worked code). A code
  exercise's solution cell defines the answer functions and calls the book's
  checkers on them, ``check_score_grad(score_grad)``; a pencil exercise's
  solution cell only checks the worked answer on the chapter's own arrays.

:func:`chapter_exercises` turns that into :class:`Exercise` objects whose
text is plain Markdown (MyST roles such as ``{eq}`route-law``` become plain
text), ready to be written in any grader's format.

Examples
--------
>>> import nbformat
>>> nb = nbformat.v4.new_notebook(cells=[
...     nbformat.v4.new_markdown_cell("```{exercise} Square it\\n:label: ex-sq\\n\\nWrite `sq(x)`.\\n```"),
...     nbformat.v4.new_code_cell("def sq(x):\\n    return x * x\\n\\nprint(check_cross_entropy_grad(sq))",
...                               metadata={"tags": ["solution"]})])
>>> [exercise] = chapter_exercises(nb)
>>> exercise.label, exercise.kind, exercise.checks
('ex-sq', 'code', (('check_cross_entropy_grad', 'sq'),))
>>> print(exercise.answer_code)
def sq(x):
    return x * x
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

__all__ = ["Exercise", "chapter_exercises", "plain_markdown", "SOLUTION_TAG"]

#: The cell tag that marks a code cell as part of a solution.
SOLUTION_TAG = "solution"

_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>exercise|solution)\}[ \t]*(?P<arg>.*)$")
_ROLE = re.compile(r"\{(?P<role>[a-z:-]+)\}`(?P<text>[^`]*)`")


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter.

    Attributes
    ----------
    label : str
        The ``:label:`` of the ``{exercise}`` directive, e.g. ``"ex-route-code"``.
    title : str
    statement : str
        The exercise in plain Markdown.
    worked_answer : str
        The ``{solution}`` directive's text in plain Markdown ('' if none).
    solution_code : str
        The solution cells' code, joined ('' if none).
    checks : tuple of (checker, function) pairs
        Each book checker the solution calls, with the name of the function it checks.
    """

    label: str
    title: str
    statement: str
    worked_answer: str
    solution_code: str
    checks: tuple[tuple[str, str], ...]

    @property
    def kind(self) -> str:
        """``"code"`` when a checker grades it, ``"pencil"`` otherwise."""
        return "code" if self.checks else "pencil"

    @property
    def answer_code(self) -> str:
        """The top-level function definitions of the solution (what a student writes)."""
        tree = ast.parse(self.solution_code)
        return "\n\n".join(ast.get_source_segment(self.solution_code, n) for n in tree.body
                           if isinstance(n, ast.FunctionDef))

    def free_names(self) -> set[str]:
        """Names the answer functions read that they neither define nor get from builtins."""
        tree = ast.parse(self.answer_code)
        defined = {n.name for n in tree.body}
        loaded, bound = set(), set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
        return loaded - bound - defined - set(dir(builtins))


def plain_markdown(myst: str) -> str:
    """MyST text as plain Markdown: roles become their text, ``:label:``-style options go.

    Examples
    --------
    >>> plain_markdown("By {eq}`route-law`, see {ref}`the law <sec-law>`.\\n:class: dropdown\\nDone.")
    'By eq. (route-law), see the law.\\nDone.'
    """
    def role(match: re.Match) -> str:
        text = match.group("text")
        if match.group("role") == "eq":
            return f"eq. ({text})"
        return re.sub(r"\s*<[^>]*>$", "", text)

    lines = [line for line in myst.split("\n") if not re.match(r"^:[a-z-]+:", line)]
    return _ROLE.sub(role, "\n".join(lines)).strip("\n")


def _directives(markdown: str):
    """Yield ``(name, argument, body)`` for each top-level exercise/solution directive."""
    lines = markdown.split("\n")
    index = 0
    while index < len(lines):
        match = _OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        fence, body = match.group("fence"), []
        index += 1
        while index < len(lines) and lines[index].strip() != fence:
            body.append(lines[index])
            index += 1
        if index == len(lines):
            raise ValueError(f"a {{{match.group('name')}}} directive is not closed by {fence!r}")
        index += 1
        yield match.group("name"), match.group("arg").strip(), "\n".join(body)


def _label(body: str) -> str:
    found = re.search(r"^:label:\s*(\S+)", body, re.M)
    return found.group(1) if found else ""


def _checks(code: str, checkers: frozenset[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for node in ast.walk(ast.parse(code)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in checkers
                and node.args and isinstance(node.args[0], ast.Name)):
            pairs.append((node.func.id, node.args[0].id))
    return tuple(dict.fromkeys(pairs))


def _book_checkers() -> frozenset[str]:
    from . import exercises

    return frozenset(name for name in exercises.__all__ if name.startswith("check_"))


def chapter_exercises(notebook) -> list[Exercise]:
    """Every exercise of a chapter notebook, in order (see the module docstring)."""
    checkers = _book_checkers()
    found: list[dict] = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for name, argument, body in _directives(cell.source):
                if name == "exercise":
                    found.append({"label": _label(body), "title": argument, "statement": plain_markdown(body),
                                  "worked_answer": "", "code": []})
                elif found:
                    found[-1]["worked_answer"] = plain_markdown(body)
        elif cell.cell_type == "code" and SOLUTION_TAG in cell.get("metadata", {}).get("tags", []) and found:
            found[-1]["code"].append(cell.source)
    exercises = []
    for item in found:
        code = "\n\n".join(item["code"])
        exercises.append(Exercise(item["label"], item["title"], item["statement"], item["worked_answer"], code,
                                  _checks(code, checkers) if code else ()))
    return exercises
