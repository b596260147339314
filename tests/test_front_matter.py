"""Front matter: the chapter map, the exercise catalogue, and no stub in the full book."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from attnlib.teaching import chapter_map, exercise_catalogue, exercises
from attnlib.teaching.assignments import student_notebook
from attnlib.teaching.chapter_exercises import SOLUTION_TAG, chapter_exercises

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.md"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXERCISE = re.compile(r"^(`{3,}|:{3,})\{exercise\}[^\n]*\n(?::[a-z-]+:[^\n]*\n)*?:label:\s*(\S+)", re.M)


def _load_tool(name: str):
    """A script of tools/ as a module (loaded once; dataclasses look their module up while it loads)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _exercise_labels() -> list[tuple[str, str]]:
    """(chapter document name, label) of every ``{exercise}`` in the chapters' MyST sources."""
    found = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        labels = [m.group(2) for m in EXERCISE.finditer(text)]
        assert len(labels) == text.count("{exercise}"), f"{path.name}: an {{exercise}} without a :label:"
        found += [(f"notebooks/{path.stem}", label) for label in labels]
    return found


# --- the exercise catalogue -------------------------------------------------------------------

def test_every_exercise_has_exactly_one_catalogue_entry_and_every_entry_an_exercise():
    found = _exercise_labels()
    labels = [label for _, label in found]
    assert len(labels) == len(set(labels)), "an exercise label is used twice"
    assert set(labels) - set(exercise_catalogue.CATALOGUE) == set(), "exercises missing from the catalogue"
    assert set(exercise_catalogue.CATALOGUE) - set(labels) == set(), "catalogue entries without an exercise"
    for chapter, label in found:
        assert exercise_catalogue.CATALOGUE[label].chapter == chapter, label
    assert labels == list(exercise_catalogue.CATALOGUE), "the catalogue should list the exercises in book order"


def test_catalogue_checkers_exist_and_are_those_the_solutions_call():
    public = set(exercises.__all__)
    for label, item in exercise_catalogue.CATALOGUE.items():
        missing = [name for name in item.checkers if name not in public or not callable(getattr(exercises, name))]
        assert not missing, f"{label}: {missing} not in attnlib.teaching.exercises"
    for path in NOTEBOOKS:
        for exercise in chapter_exercises(nbformat.read(path, as_version=4)):
            item = exercise_catalogue.CATALOGUE[exercise.label]
            called = tuple(dict.fromkeys(checker for checker, _ in exercise.checks))
            assert item.checkers == called, f"{exercise.label}: catalogue {item.checkers}, solution calls {called}"
            assert (item.kind == "code") == (exercise.kind == "code"), exercise.label


def test_catalogue_refuses_bad_entries():
    with pytest.raises(ValueError, match="kind must be one of"):
        exercise_catalogue.ExerciseEntry("notebooks/01_cross_entropy", "essay", 1, 10)
    with pytest.raises(ValueError, match="difficulty must be 1, 2 or 3, got 4"):
        exercise_catalogue.ExerciseEntry("notebooks/01_cross_entropy", "pencil", 4, 10)
    with pytest.raises(ValueError, match="checkers must be given exactly for code exercises"):
        exercise_catalogue.ExerciseEntry("notebooks/01_cross_entropy", "code", 1, 10)
    with pytest.raises(ValueError, match="minutes must be"):
        exercise_catalogue.ExerciseEntry("notebooks/01_cross_entropy", "pencil", 1, 0)


def test_meta_line_and_totals():
    assert exercise_catalogue.meta_line("ex-toy-em") == "Difficulty ★★☆ · about 20 min · pencil, with a run"
    assert exercise_catalogue.meta_line("ex-value-mean") == "Difficulty ★★★ · about 25 min · code"
    totals = exercise_catalogue.chapter_minutes()
    assert sum(totals.values()) == sum(i.minutes for i in exercise_catalogue.CATALOGUE.values())
    assert totals["notebooks/03_routing_law"] == 15 + 20 + 15 + 25


def test_instructors_page_reads_the_catalogue_and_types_no_run_time():
    text = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    assert "```{exercise-catalogue}\n```" in text and "```{exercise-catalogue}\n:totals:\n```" in text
    assert "| 1 | The softmax Hessian" not in text, "the typed table of exercises is back"
    typed = re.findall(r"\b\d+(?:\.\d+)? (?:to \d+ )?(?:seconds|minutes?|hours?)\b", text)
    assert typed == [], f"instructors.md types run times {typed}: point to the chapters' measured ones"


def test_config_registers_the_extension():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"]["exercise_meta"] == "book/_ext"


def test_colab_copies_show_the_line_under_each_exercise_title():
    for path in sorted((ROOT / "colab").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        for label, item in exercise_catalogue.CATALOGUE.items():
            if item.chapter != f"notebooks/{path.stem}":
                continue
            line = exercise_catalogue.meta_line(label)
            assert re.search(r"\*\*Exercise [0-9.]+: [^\n]*\*\*\n\n\*" + re.escape(line) + r"\*\n", text), (
                f"{path.name}: no line {line!r} under the title of {label}")


def test_colab_converter_puts_the_line_under_the_title():
    cn = _load_tool("colab_notebooks")
    context = cn.build_context(ROOT).for_doc("notebooks/04_value_updates")
    state = cn.ChapterState(docname="notebooks/04_value_updates", chapter=4)
    out = cn.convert_markdown("```{exercise} Sum it\n:label: ex-value-sum\n\nShow it.\n```\n", context, state)
    assert out == "**Exercise 4.1: Sum it**\n\n*Difficulty ★☆☆ · about 10 min · pencil*\n\n> Show it."


# --- no stub in the full book ------------------------------------------------------------------

def _stub_cells(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"
            and SOLUTION_TAG not in cell.metadata.get("tags", []) and "raise NotImplementedError" in cell.source]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_stub_renders_in_the_full_book(path):
    """A code cell the book shows (not a solution) must not be a bare ``raise NotImplementedError`` stub."""
    stubs = _stub_cells(nbformat.read(path, as_version=4))
    assert not stubs, f"{path.name} shows a stub:\n{stubs[0]}"


def test_the_stub_scan_can_fail():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def f(x):\n    raise NotImplementedError")])
    assert _stub_cells(nb)


def test_students_still_get_a_stub_for_chapter_4s_optional_exercise():
    student = student_notebook(nbformat.read(ROOT / "notebooks" / "04_value_updates.ipynb", as_version=4))
    stubs = [c.source for c in student.cells if "exercise-stub" in c.metadata.get("tags", [])]
    assert any("def my_weighted_mean(R, T):" in s and "raise NotImplementedError" in s
               and "check_weighted_mean(my_weighted_mean)" in s for s in stubs), stubs


# --- the chapter map ---------------------------------------------------------------------------

def test_chapter_map_names_the_books_chapters_and_only_earlier_ones():
    chapters = chapter_map.read_chapters(ROOT)
    numbers = {c.docname: c.number for c in chapters}
    assert list(chapter_map.PREREQUISITES) == [c.docname for c in chapters]
    for chapter, needs in chapter_map.PREREQUISITES.items():
        assert len(needs) == len(set(needs)), chapter
        for before in needs:
            assert before in numbers, f"{chapter} needs {before!r}, which is not a chapter"
            assert numbers[before] < numbers[chapter], f"{chapter} needs the later chapter {before}"


def test_chapter_map_has_no_cycle_and_the_check_can_fail(monkeypatch):
    for chapter in chapter_map.PREREQUISITES:
        assert chapter not in chapter_map.all_prerequisites(chapter)
    broken = dict(chapter_map.PREREQUISITES)
    broken["notebooks/01_cross_entropy"] = ("notebooks/03_routing_law",)
    monkeypatch.setattr(chapter_map, "PREREQUISITES", broken)
    with pytest.raises(ValueError, match="cycle"):
        chapter_map.all_prerequisites("notebooks/03_routing_law")


def test_drawn_edges_leave_out_only_needs_implied_by_another():
    edges = set(chapter_map.drawn_edges())
    assert ("notebooks/01_cross_entropy", "notebooks/03_routing_law") not in edges  # through chapter 2
    assert ("notebooks/08_sticky_chain", "notebooks/11_deep_transformer") not in edges  # through chapter 9
    assert ("notebooks/04_value_updates", "notebooks/06_toy_feedback_loop") in edges
    reachable = {c: chapter_map.all_prerequisites(c) for c in chapter_map.PREREQUISITES}
    for chapter, needs in chapter_map.PREREQUISITES.items():  # every need is still visible as a path
        drawn = {a for a, b in edges if b == chapter}
        assert set(needs) <= drawn | {x for d in drawn for x in reachable[d]}, chapter


def test_chapter_map_svg_is_committed_and_redraws_to_the_same_bytes():
    tool = _load_tool("draw_chapter_map")
    first, second = tool.chapter_map_svg(), tool.chapter_map_svg()
    assert first == second, "the drawing is not deterministic"
    committed = (ROOT / "book" / "figures" / "chapter_map.svg").read_bytes()
    assert committed == first, "book/figures/chapter_map.svg is out of date: run python tools/draw_chapter_map.py"


def test_the_drawing_refuses_an_arrow_that_points_up():
    from attnlib.teaching.plots import chapter_map_figure

    chapters = chapter_map.read_chapters(ROOT)[:2]
    levels = {chapters[0].docname: 1, chapters[1].docname: 0}
    with pytest.raises(ValueError, match="levels must put"):
        chapter_map_figure(chapters, [(chapters[0].docname, chapters[1].docname)], levels)
    with pytest.raises(ValueError, match="edges must name chapters"):
        chapter_map_figure(chapters, [("notebooks/99_x", chapters[1].docname)], levels)


def test_start_page_is_in_the_toc_and_cites_the_numbered_map():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    start_here = [c["file"] for c in toc["parts"][0]["chapters"]]
    assert "book/start" in start_here
    text = (ROOT / "book" / "start.md").read_text(encoding="utf-8")
    figure = re.search(r"```\{figure\} figures/chapter_map\.svg\n:name: (\S+)\n", text)
    assert figure, "start.md should show figures/chapter_map.svg as a named {figure}"
    assert f"{{numref}}`{figure.group(1)}`" in text
    assert "{doc}`start`" in (ROOT / "book" / "intro.md").read_text(encoding="utf-8")
