"""Numbers in the prose: attnlib.teaching.prose.glue, and every {glue:text} role has its cell."""

import re
import sys
import types
from pathlib import Path

import pytest

from attnlib.teaching.prose import glue

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))


@pytest.fixture
def stored(monkeypatch):
    """A stand-in for myst_nb.glue that records what it was given."""
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    return calls


def test_glue_stores_floats_and_ints_without_display(stored):
    import numpy as np

    glue("ratio", np.float64(0.25))
    glue("count", np.int64(2))
    assert stored == [("ratio", 0.25, False), ("count", 2, False)]
    assert type(stored[0][1]) is float and type(stored[1][1]) is int


@pytest.mark.parametrize("value, error", [("0.5", TypeError), (True, TypeError), (float("nan"), ValueError),
                                          (float("inf"), ValueError)])
def test_glue_refuses_what_the_prose_cannot_quote(stored, value, error):
    with pytest.raises(error, match="value must be"):
        glue("x", value)
    assert stored == []


def test_glue_names_must_be_identifiers(stored):
    with pytest.raises(ValueError, match="name must be an identifier, got 'two words'"):
        glue("two words", 1.0)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_quoted_number_is_glued_by_its_chapter(path):
    text = path.read_text()
    quoted = set(re.findall(r"\{glue(?::text)?\}`([A-Za-z_]\w*)", text))
    glued = set(re.findall(r"""\bglue\(\s*["']([A-Za-z_]\w*)["']""", text))
    assert quoted <= glued, f"{path.name} quotes {sorted(quoted - glued)} but no cell glues them"


# --- typed numbers: each is glued, asserted by a cell, or quoted with its source -------------

from tools.prose_numbers import quoted_numbers, unbacked_numbers  # noqa: E402

QUOTED = quoted_numbers()


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_no_typed_number_lacks_its_cell(path):
    unbacked = unbacked_numbers(path, QUOTED.get(path.stem, set()))
    assert not unbacked, f"{path.name}: typed numbers no cell glues or asserts: " + "; ".join(
        f"{number} in ...{context}..." for number, context in unbacked)


def test_a_typed_number_that_contradicts_its_cell_is_reported(tmp_path):
    chapter = tmp_path / "99_example.md"
    chapter.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n"
        "The loss ends at $0.42$ on every seed; the rate is 0.25, and {glue:text}`end:.2f` is glued.\n\n"
        "```{code-cell} ipython3\nrate = 0.25\nprint(f'final loss {0.4137:.2f}')\n```\n")
    assert [number for number, _ in unbacked_numbers(chapter)] == ["0.42"]
    assert unbacked_numbers(chapter, {"0.42"}) == []


def test_every_quoted_number_names_its_source_and_is_still_typed():
    import tomllib

    table = tomllib.loads((ROOT / "tests" / "data" / "quoted_numbers.toml").read_text())
    for stem, entries in table.items():
        path = ROOT / "notebooks" / f"{stem}.md"
        assert path.exists(), f"quoted_numbers.toml names {stem}, which is not a chapter"
        typed = {number for number, _ in unbacked_numbers(path)}
        for entry in entries:
            assert entry.get("source"), f"{stem}: {entry['number']} has no source"
            assert entry["number"] in typed, f"{stem}: {entry['number']} is listed but no longer typed"
