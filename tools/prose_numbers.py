"""Find numbers typed into a chapter's prose that no cell backs.

A number a sentence quotes from an output must come from the cell that computed
it (``{glue:text}``), or be asserted by a cell, so that it cannot drift from the
output. This scans the Markdown cells of each chapter (inline maths included,
display equations, code spans and roles excluded) for numbers and reports each
one that is

* not written literally in one of the chapter's code cells (an input the cell
  sets, or a value it asserts), and
* not listed for that chapter in ``tests/data/quoted_numbers.toml``, the numbers
  the book quotes from elsewhere (the paper, the authors' GPU run) or derives in
  the text, each with its source.

Small integers (counts, chapter and step numbers up to 20) are not checked.

Usage: python tools/prose_numbers.py [notebooks/NN_name.md ...]   (default: all)
Exit status 1 when a number is unbacked; one line per number.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
QUOTED = ROOT / "tests" / "data" / "quoted_numbers.toml"

_NUMBER = re.compile(r"(?<![\w.{^_\\])[-−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_HIDDEN = [
    # display maths and code; other directives (exercise, note, ...) keep their text
    re.compile(r"^(`{3,}|:{3,})(?:\{(?:math|code-cell|code|code-block)\}|[\w-]*$).*?^\1", re.S | re.M),
    re.compile(r"^(`{3,}|:{3,})\{[\w:-]+\}", re.M),                              # a directive's name
    re.compile(r"\$\$.*?\$\$", re.S),                                          # display maths
    re.compile(r"`[^`]*`"),                                                    # code spans, role text
    re.compile(r"\{[a-z:-]+\}"),                                               # role names
    re.compile(r"^\s*:[a-z-]+:.*$", re.M),                                     # directive options
    re.compile(r"^#+ .*$", re.M),                                              # headings
    re.compile(r"\]\([^)]*\)"),                                                # link targets
]


def prose_of(cell_source: str) -> str:
    """The text of a Markdown cell in which a typed number counts."""
    for pattern in _HIDDEN:
        cell_source = pattern.sub(" ", cell_source)
    return cell_source


def quoted_numbers() -> dict[str, set[str]]:
    """Chapter stem -> the numbers it may type because they come from elsewhere."""
    table = tomllib.loads(QUOTED.read_text())
    return {stem: {str(entry["number"]) for entry in entries} for stem, entries in table.items()}


def unbacked_numbers(path: Path, allowed: set[str] = frozenset()) -> list[tuple[str, str]]:
    """(number, the sentence around it) for every typed number no cell backs."""
    notebook = jupytext.read(path)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        text = prose_of(cell.source)
        for match in _NUMBER.finditer(text):
            number = match.group().replace("−", "-").lstrip("-")
            if "." not in number and "e" not in number.lower() and int(number) <= 20:
                continue
            if number in code or number in allowed:
                continue
            start = max(0, match.start() - 60)
            found.append((number, " ".join(text[start:match.end() + 30].split())))
    return found


def main(paths: list[str]) -> int:
    chapters = [Path(p) for p in paths] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))
    quoted = quoted_numbers()
    bad = 0
    for path in chapters:
        for number, context in unbacked_numbers(path, quoted.get(path.stem, set())):
            print(f"{path.name}: {number} is typed, not glued or asserted: ...{context}...")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
