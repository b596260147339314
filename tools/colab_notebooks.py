"""Write the Colab copies of the chapters: ``colab/NN_name.ipynb`` from ``notebooks/NN_name.ipynb``.

Usage: python tools/colab_notebooks.py [--check] [notebooks/NN_name.ipynb ...]   (default: all)

Google Colab (and plain JupyterLab) renders Markdown and MathJax, not MyST: a role such as
{eq}`label`, a ``(label)=`` target or a ```{exercise} fence would show as raw text. Each
Colab copy therefore has

* its markdown cells in plain Markdown, numbered as the book numbers them: section headings
  ("## 3.2. ..."), equations (``\\tag{3.4}`` on the equation, "(3.4)" where it is cited),
  exercises ("**Exercise 3.1: title**" and a blockquote), solutions in a collapsed
  ``<details>``, citations as "Author et al. (Year)", and ``{doc}``/``{ref}``/``{numref}``
  as links to the rendered book page (a numbered figure of the same chapter as plain "Fig. 8.2"); a number quoted with ``{glue:text}`name:.3f``` written in
  as the book shows it (from the value the notebook's cells glued);
* its code cells without outputs or execution counts; solution cells, the install cell and the
  book's hide-input figure cells become Colab form cells (``# @title`` first line and
  ``cellView: form``), so their code starts collapsed as it does in the book; a numbered
  figure (a code cell with myst-nb's ``mystnb: figure: {name, caption}`` metadata) is
  followed by a markdown cell with its number and caption ("**Fig. 8.2.** ...");
* a kernelspec for python3, ``colab: {provenance: []}`` and no Jupytext metadata.

A MyST construct the converter does not know stops it with one line naming the chapter and
the construct: nothing is passed through raw. ``--check`` converts in memory and exits 1,
with one line per copy that is missing or differs from a fresh conversion.
"""

from __future__ import annotations

import argparse
import dataclasses
import posixpath
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml
from docutils.nodes import make_id  # the ids Sphinx gives labels on the rendered pages
from myst_nb.core.variables import format_plain_text  # {glue:text}`name:.2f`, formatted as in the book

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the clone's attnlib, for the exercise catalogue
    sys.path.insert(0, str(ROOT))
from attnlib.teaching import exercise_catalogue  # noqa: E402  difficulty and time under each exercise title
SOURCE_DIR = "notebooks"
COLAB_DIR = "colab"
COMMAND = "python tools/colab_notebooks.py"

SOLUTION_TITLE = "Solution (double-click to show the code)"
INSTALL_TITLE = "Install the book's support package"
FIGURE_TITLE = "Code of the figure below (double-click to show it)"
FIGURE_PREFIX = "Fig."  # Sphinx's numfig_format for figures, as the book shows "Fig. 8.2"
HIDDEN_TITLE = "Code hidden in the book (double-click to show it)"
# A ``remove-cell`` code cell is kept (its code may define what later cells use); a cell
# that only serves the rendered book is dropped when it also carries this tag.
DROP_TAG = "colab-remove"

ADMONITIONS = {
    "note": "Note", "tip": "Tip", "hint": "Hint", "important": "Important", "warning": "Warning",
    "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error",
    "seealso": "See also",
}
DIRECTIVE_OPTIONS = {
    "exercise": {"label", "class", "nonumber"},
    "solution": {"label", "class"},
    "admonition": {"class", "name"},
    "dropdown": {"open", "name", "class"},
    "math": {"label", "name", "class"},
    **{name: {"class", "name"} for name in ADMONITIONS},
}
ROLES = {"eq", "ref", "numref", "doc", "cite", "cite:p", "cite:t", "math", "sub", "sup", "glue", "glue:text"}


class ConversionError(ValueError):
    """A construct the converter does not handle (the message is one line)."""


# ----------------------------------------------------------------------------- context


@dataclass(frozen=True)
class Target:
    """Something a role can point at: a section, an exercise or an equation."""

    docname: str  # "notebooks/03_routing_law"
    anchor: str  # the id on the rendered page ("" for the page itself)
    text: str  # what {ref} prints: a heading's text, or "Exercise 3.1"
    number: str | None = None  # "3.1" (exercise, section, equation, figure), None when unnumbered
    kind: str = "section"  # "section" | "exercise" | "equation" | "figure"
    title: str = ""  # an exercise's own title


@dataclass(frozen=True)
class BibEntry:
    authors: str  # "Agarwal et al.", "Kingma and Ba", "Bishop"
    year: str
    url: str | None = None


@dataclass(frozen=True)
class Context:
    """Everything a conversion needs to know about the whole book."""

    base_url: str  # "https://OWNER.github.io/REPO/"
    book_title: str = ""
    titles: dict = field(default_factory=dict)  # docname -> page title
    chapter_numbers: dict = field(default_factory=dict)  # docname -> int (numbered chapters only)
    labels: dict = field(default_factory=dict)  # label -> Target (sections and exercises)
    equations: dict = field(default_factory=dict)  # label -> Target
    bib: dict = field(default_factory=dict)  # key -> BibEntry
    docname: str = ""  # the page being converted
    glued: dict = field(default_factory=dict)  # name -> text/plain of a value the page's cells glued

    def for_doc(self, docname: str) -> "Context":
        return dataclasses.replace(self, docname=docname)

    def url(self, docname: str, anchor: str = "") -> str:
        return f"{self.base_url}{docname}.html" + (f"#{anchor}" if anchor else "")


@dataclass
class ChapterState:
    """Counters that advance through one chapter, in document order (as Sphinx numbers)."""

    docname: str = ""
    chapter: int | None = None
    sections: list = field(default_factory=list)  # open heading levels
    counters: list = field(default_factory=list)  # section number at each depth
    exercises: int = 0
    equations: int = 0
    figures: int = 0
    exercise_numbers: dict = field(default_factory=dict)  # label -> "3.1"
    pending_labels: list = field(default_factory=list)  # (label)= lines waiting for their heading
    targets: list = field(default_factory=list)  # (label, Target), collected by scan_markdown

    def number(self, count: int) -> str:
        return f"{self.chapter}.{count}" if self.chapter is not None else str(count)

    def heading(self, level: int) -> str | None:
        """The section number of a new heading of this level ("3." / "3.2."), like Sphinx's."""
        while self.sections and self.sections[-1] >= level:
            self.sections.pop()
        self.sections.append(level)
        depth = len(self.sections)
        del self.counters[depth:]
        while len(self.counters) < depth:
            self.counters.append(0)
        self.counters[depth - 1] += 1
        if self.chapter is None:
            return None
        return ".".join([str(self.chapter)] + [str(c) for c in self.counters[1:depth]]) + "."


def repository_base_url(repository_url: str) -> str:
    """https://github.com/OWNER/REPO -> https://OWNER.github.io/REPO/ (GitHub Pages).

    >>> repository_base_url("https://github.com/attnlib-book/gradient-dynamics-of-attention")
    'https://attnlib-book.github.io/gradient-dynamics-of-attention/'
    """
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository_url.strip())
    if not match:
        raise ConversionError(f"repository.url {repository_url!r} is not https://github.com/OWNER/REPO")
    owner, repo = match.groups()
    return f"https://{owner.lower()}.github.io/{repo}/"


def toc_chapters(toc: dict) -> tuple[list[str], dict[str, int]]:
    """Every docname of a jb-book _toc.yml, and the chapter numbers of the numbered parts.

    With ``use_multitoc_numbering`` the numbered parts share one count (1, 2, ... across parts).
    """
    docnames, numbers, count = [toc["root"]], {}, 0

    def visit(entries, numbered):
        nonlocal count
        for entry in entries or []:
            if "file" in entry:
                name = re.sub(r"\.(md|ipynb)$", "", entry["file"])
                docnames.append(name)
                if numbered:
                    count += 1
                    numbers[name] = count
            visit(entry.get("sections"), False)

    for part in toc.get("parts", []):
        visit(part.get("chapters"), bool(part.get("numbered")))
    visit(toc.get("chapters"), bool(toc.get("numbered")))
    return docnames, numbers


_BIB_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,")
_BIB_FIELD = re.compile(r"\s*(\w+)\s*=\s*")


def _bib_value(text: str, i: int) -> tuple[str, int]:
    if text[i] == "{":
        depth, j = 0, i
        while True:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
            if depth == 0:
                return text[i + 1 : j - 1], j
    if text[i] == '"':
        j = text.index('"', i + 1)
        return text[i + 1 : j], j + 1
    match = re.compile(r"[^,}\s]+").match(text, i)
    return match.group(0), match.end()


def _detex(text: str) -> str:
    text = re.sub(r"\{\\L\}", "Ł", text)
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()


def _surname(name: str) -> str:
    name = name.strip()
    return _detex(name.split(",")[0] if "," in name else name.split()[-1])


def parse_bib(text: str) -> dict[str, BibEntry]:
    """A small BibTeX reader: author surnames, year and a URL (``url``, or an arXiv eprint).

    >>> bib = parse_bib('@book{b, author = {Bishop, Christopher M.}, year = {2006}}')
    >>> bib["b"]
    BibEntry(authors='Bishop', year='2006', url=None)
    """
    entries = {}
    for match in _BIB_ENTRY.finditer(text):
        fields, i = {}, match.end()
        while True:
            field_match = _BIB_FIELD.match(text, i)
            if not field_match:
                break
            value, i = _bib_value(text, field_match.end())
            fields[field_match.group(1).lower()] = value
            i = re.compile(r"\s*,?").match(text, i).end()
        names = [n for n in re.split(r"\s+and\s+", fields.get("author", fields.get("editor", ""))) if n.strip()]
        if not names:
            raise ConversionError(f"references.bib: entry {match.group(2)} has no author")
        surnames = [_surname(n) for n in names]
        authors = (surnames[0] if len(surnames) == 1 else f"{surnames[0]} and {surnames[1]}"
                   if len(surnames) == 2 else f"{surnames[0]} et al.")
        url = fields.get("url")
        if not url and fields.get("eprint") and fields.get("archiveprefix", "").lower() == "arxiv":
            url = f"https://arxiv.org/abs/{fields['eprint']}"
        entries[match.group(2)] = BibEntry(authors, _detex(fields.get("year", "n.d.")), url)
    return entries


def _first_heading(markdown: str) -> str | None:
    for line in _outside_fences(markdown):
        match = re.match(r"#\s+(.+?)\s*#*\s*$", line)
        if match:
            return match.group(1)
    return None


def _outside_fences(markdown: str):
    fence = None
    for line in markdown.split("\n"):
        match = re.match(r"\s{0,3}(`{3,}|~{3,}|:{3,})", line)
        if fence is None and match:
            fence = match.group(1)
        elif fence and re.fullmatch(rf"\s{{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*", line):
            fence = None
        elif fence is None:
            yield line


def _doc_title(root: Path, docname: str) -> str | None:
    if (root / f"{docname}.ipynb").exists():
        nb = nbformat.read(root / f"{docname}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown" and (title := _first_heading(cell.source)):
                return title
        return None
    if (root / f"{docname}.md").exists():
        text = (root / f"{docname}.md").read_text(encoding="utf-8")
        text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
        return _first_heading(text)
    return None


def build_context(root: Path = ROOT) -> Context:
    """Read _config.yml, _toc.yml, references.bib and every chapter's labels."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    docnames, numbers = toc_chapters(toc)
    titles = {name: title for name in docnames if (title := _doc_title(root, name))}
    bib = {}
    for bibfile in config.get("bibtex_bibfiles", []):
        bib.update(parse_bib((root / bibfile).read_text(encoding="utf-8")))
    context = Context(
        base_url=repository_base_url(config["repository"]["url"]),
        book_title=str(config.get("title", "")),
        titles=titles,
        chapter_numbers=numbers,
        bib=bib,
    )
    labels, equations = {}, {}
    for name in docnames:
        path = root / f"{name}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        state = ChapterState(docname=name, chapter=numbers.get(name))
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                try:
                    scan_markdown(cell.source, context.for_doc(name), state)
                except ConversionError as error:
                    raise ConversionError(f"{Path(name).name}: {error}") from None
            elif cell.cell_type == "code":
                try:
                    figure = code_figure(cell, state)
                except ConversionError as error:
                    raise ConversionError(f"{Path(name).name}: {error}") from None
                if figure is not None:
                    state.targets.append((figure[0], figure[1]))
        for label, target in state.targets:
            table = equations if target.kind == "equation" else labels
            if label in table:
                raise ConversionError(f"{Path(name).name}: label {label!r} is defined twice")
            table[label] = target
    return dataclasses.replace(context, labels=labels, equations=equations)


# ----------------------------------------------------------------------------- block parser

_FENCE_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[^{}\s]+)\}\s*(?P<args>.*)$")
_TARGET_LINE = re.compile(r"^\s{0,3}\((?P<label>[^()\s]+)\)=\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_MATH_OPEN = re.compile(r"^\s{0,3}\$\$")
_MATH_CLOSE = re.compile(r"^(?P<body>.*?)\$\$\s*(?:\((?P<label>[^()\s]+)\))?\s*$")


@dataclass
class _Block:
    kind: str  # "text" | "code" | "directive" | "math"
    lines: list = field(default_factory=list)  # text and code: the raw lines
    name: str = ""  # directive name
    args: str = ""
    options: dict = field(default_factory=dict)
    body: str = ""  # directive content / math content
    label: str | None = None  # math label
    fence: str = "```"  # a directive's fence, as written


def _closes(line: str, fence: str) -> bool:
    return re.fullmatch(rf" {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*", line) is not None


def _directive_options(name: str, lines: list[str]) -> tuple[dict, list[str]]:
    options, i = {}, 0
    if lines and lines[0].strip() == "---":
        end = next((j for j in range(1, len(lines)) if lines[j].strip() == "---"), None)
        if end is None:
            raise ConversionError(f"{{{name}}}: unclosed --- option block")
        options = yaml.safe_load("\n".join(lines[1:end])) or {}
        i = end + 1
    else:
        while i < len(lines) and (match := re.match(r"^:(?P<key>[\w-]+):(?:\s+(?P<value>.*?))?\s*$", lines[i])):
            options[match.group("key")] = match.group("value") or ""
            i += 1
    return options, lines[i:]


def _blocks(markdown: str) -> list[_Block]:
    lines, blocks, text = markdown.split("\n"), [], []

    def flush():
        if text:
            blocks.append(_Block("text", list(text)))
            text.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group("fence")[0] == "`" and "`" in opening.group("info")):
            fence, info = opening.group("fence"), opening.group("info").strip()
            directive = _DIRECTIVE.match(info)
            if fence[0] == ":" and not directive:
                text.append(line)  # a colon line that is not a colon fence is text
                i += 1
                continue
            end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], fence)), None)
            if end is None:
                what = f"{{{directive.group('name')}}}" if directive else "code"
                raise ConversionError(f"unclosed {fence}{what} fence")
            flush()
            inner = lines[i + 1 : end]
            if directive:
                name = directive.group("name")
                options, content = _directive_options(name, inner)
                blocks.append(_Block("directive", fence=fence, name=name, args=directive.group("args").strip(),
                                     options=options, body="\n".join(content).strip("\n")))
            else:
                blocks.append(_Block("code", lines[i : end + 1]))
            i = end + 1
            continue
        if _MATH_OPEN.match(line):
            rest = line.split("$$", 1)[1]
            close = _MATH_CLOSE.match(rest) if "$$" in rest else None
            if "$$" in rest and not close:  # $$x$$ followed by text: inline display math
                text.append(line)
                i += 1
                continue
            if close:  # $$ ... $$ (label) on one line
                body_lines, end, label = [close.group("body")], i, close.group("label")
            else:
                body_lines, end, label = [rest], None, None
                for j in range(i + 1, len(lines)):
                    if "$$" in lines[j]:
                        close = _MATH_CLOSE.match(lines[j])
                        if not close:
                            raise ConversionError(f"text after the closing $$: {lines[j].strip()!r}")
                        body_lines.append(close.group("body"))
                        end, label = j, close.group("label")
                        break
                    body_lines.append(lines[j])
                if end is None:
                    raise ConversionError("unclosed $$ display math")
            flush()
            body = "\n".join(body_lines).strip("\n")
            blocks.append(_Block("math", body=body if body.strip() else "", label=label))
            i = end + 1
            continue
        text.append(line)
        i += 1
    flush()
    return blocks


# ----------------------------------------------------------------------------- inline roles

_INLINE = re.compile(
    r"(?P<role>\{(?P<name>[A-Za-z][\w:+.-]*)\}(?P<rticks>`+)(?P<content>.+?)(?P=rticks))"
    r"|(?P<code>(?P<ticks>`+).+?(?P=ticks))"
    r"|(?P<dmath>\$\$.+?\$\$)"
    r"|(?P<math>\$(?![\s$])(?:\\.|[^$\\\n]|\n(?![ \t>]*\n))+?(?<!\s)\$)",
    re.S,
)
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)


def _explicit(content: str) -> tuple[str | None, str]:
    match = _EXPLICIT.match(content.strip())
    if match and match.group("text"):
        return match.group("text"), match.group("target").strip()
    return None, content.strip()


def _link(text: str, url: str) -> str:
    return f"[{text}]({url})"


def _citation(keys: str, context: Context, textual: bool) -> str:
    parts = []
    for key in (k.strip() for k in keys.split(",") if k.strip()):
        entry = context.bib.get(key)
        if entry is None:
            raise ConversionError(f"unknown citation key {key!r} (not in references.bib)")
        text = f"{entry.authors} ({entry.year})" if textual else f"{entry.authors}, {entry.year}"
        parts.append(_link(text, entry.url) if entry.url else text)
    return "; ".join(parts) if textual else f"({'; '.join(parts)})"


def _role(name: str, content: str, context: Context, before: str) -> str:
    if name not in ROLES:
        raise ConversionError(f"unknown MyST role {{{name}}}`{content}`")
    if name == "math":
        return f"${content}$"
    if name in ("glue", "glue:text"):  # the number itself, formatted as the book formats it
        key, _, spec = content.partition(":")
        if key not in context.glued:
            raise ConversionError(f"{{{name}}}`{content}`: no cell of this notebook glues {key!r} (is it executed?)")
        return format_plain_text(context.glued[key], spec)
    if name in ("sub", "sup"):
        return f"<{name}>{content}</{name}>"
    if name in ("cite", "cite:p", "cite:t"):
        return _citation(content, context, textual=name == "cite:t")
    if name == "eq":
        label = _explicit(content)[1]
        target = context.equations.get(label)
        if target is None:
            raise ConversionError(f"{{eq}}`{label}`: no equation has this label")
        text = f"({target.number})"
        return text if target.docname == context.docname else _link(text, context.url(target.docname, target.anchor))
    if name == "doc":
        title, path = _explicit(content)
        path = re.sub(r"\.(md|ipynb)$", "", path)
        docname = path[1:] if path.startswith("/") else posixpath.normpath(
            posixpath.join(posixpath.dirname(context.docname), path))
        if docname not in context.titles:
            raise ConversionError(f"{{doc}}`{content}`: no page {docname!r} in _toc.yml")
        return _link(title or context.titles[docname], context.url(docname))
    # ref and numref
    title, label = _explicit(content)
    target = context.labels.get(label)
    if target is None:
        raise ConversionError(f"{{{name}}}`{content}`: no section, exercise or figure has this label")
    if name == "numref":
        if target.number is None:
            raise ConversionError(f"{{numref}}`{content}`: the target has no number")
        default = {"exercise": "Exercise %s", "figure": FIGURE_PREFIX + " %s"}.get(target.kind, "Section %s")
        text = (title or default).replace("%s", target.number).replace("{number}", target.number)
        if target.kind == "figure" and target.docname == context.docname:
            return text  # the figure is in this notebook, drawn by its cell: plain "Fig. 8.2", as for equations
    else:
        text = title or target.text
    if not title and text.startswith("Exercise ") and re.search(r"(?i)\bexercise\s+$", before):
        text = text[len("Exercise "):]  # "exercise {ref}`x`" reads "exercise 3.1", not "exercise Exercise 3.1"
    return _link(text, context.url(target.docname, target.anchor))


def _inline(text: str, context: Context) -> str:
    out, pos = [], 0
    for match in _INLINE.finditer(text):
        out.append(text[pos : match.start()])
        if match.group("role"):
            out.append(_role(match.group("name"), match.group("content"), context, "".join(out)[-40:]))
        else:
            out.append(match.group(0))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out)


# ----------------------------------------------------------------------------- conversion


def _blockquote(markdown: str) -> str:
    """Quote Markdown; math never spans lines, so a "> " never lands inside a formula."""
    flat = _INLINE.sub(lambda m: re.sub(r"\s*\n\s*", " ", m.group(0)) if (m.group("math") or m.group("dmath"))
                       else m.group(0), markdown)
    return "\n".join(f"> {line}" if line.strip() else ">" for line in flat.split("\n"))


def _details(summary: str, body: str, is_open: bool = False) -> str:
    return f"<details{' open' if is_open else ''}><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _equation(body: str, number: str | None) -> str:
    tag = f"\n\\tag{{{number}}}" if number else ""
    return f"$$\n{body}{tag}\n$$"


class _Walker:
    """One pass over a chapter's markdown. ``collect`` records labels instead of resolving roles."""

    def __init__(self, context: Context, state: ChapterState, collect: bool):
        self.context, self.state, self.collect = context, state, collect

    def inline(self, text: str) -> str:
        return text if self.collect else _inline(text, self.context)

    def target(self, label: str, target: Target) -> None:
        if self.collect:
            self.state.targets.append((label, target))

    def convert(self, markdown: str, top: bool = True) -> str:
        return "\n".join(self.block(block, top) for block in _blocks(markdown))

    def block(self, block: _Block, top: bool) -> str:
        if self.state.pending_labels and block.kind != "text":
            raise ConversionError(f"target ({self.state.pending_labels[0]})= is not followed by a heading")
        if block.kind == "code":
            return "\n".join(block.lines)
        if block.kind == "math":
            return self.math(block.body, block.label)
        if block.kind == "directive":
            return self.directive(block)
        return self.text(block.lines, top)

    def math(self, body: str, label: str | None) -> str:
        number = None
        if label:
            self.state.equations += 1
            number = self.state.number(self.state.equations)
            anchor = make_id(f"equation-{label}")
            self.target(label, Target(self.state.docname, anchor, f"({number})", number, "equation"))
        return _equation(body, number)

    def text(self, lines: list[str], top: bool) -> str:
        out = []
        for line in lines:
            target = _TARGET_LINE.match(line)
            if target:
                if not top:
                    raise ConversionError(f"target ({target.group('label')})= inside a directive")
                self.state.pending_labels.append(target.group("label"))
                continue
            if re.match(r"^\s{0,3}%", line):  # a MyST comment
                continue
            if re.match(r"^\s{0,3}\\begin\{", line):
                raise ConversionError(f"amsmath environment outside $$: {line.strip()!r}")
            if re.match(r"^\s{0,3}:\s", line):
                raise ConversionError(f"definition list item: {line.strip()!r}")
            if "{{" in line and re.search(r"\{\{\s*[\w.-]+\s*\}\}", line):
                raise ConversionError(f"substitution: {line.strip()!r}")
            heading = _HEADING.match(line)
            if heading and top:
                text = heading.group("text")
                number = self.state.heading(len(heading.group("hashes")))
                for label in self.state.pending_labels:
                    is_page = len(self.state.sections) == 1
                    self.target(label, Target(self.state.docname, make_id(label),
                                              self.context.titles.get(self.state.docname, text) if is_page else text,
                                              number.rstrip(".") if number else None, "section"))
                self.state.pending_labels.clear()
                line = f"{heading.group('hashes')} {number + ' ' if number else ''}{text}"
            elif line.strip() and self.state.pending_labels and top:
                raise ConversionError(f"target ({self.state.pending_labels[0]})= is not followed by a heading")
            out.append(line)
        return self.inline("\n".join(out))

    def directive(self, block: _Block) -> str:
        name, options = block.name, block.options
        if name not in DIRECTIVE_OPTIONS:
            raise ConversionError(f"unknown MyST directive {block.fence}{{{name}}}")
        unknown = set(options) - DIRECTIVE_OPTIONS[name]
        if unknown:
            raise ConversionError(f"unknown option :{sorted(unknown)[0]}: of {block.fence}{{{name}}}")
        classes = str(options.get("class", "")).split()
        if name == "math":
            label = options.get("label") or options.get("name")
            return self.math(block.body, label or None)
        if name == "exercise":
            number = None
            if "nonumber" not in options:
                self.state.exercises += 1
                number = self.state.number(self.state.exercises)
            label = options.get("label")
            title = self.inline(block.args)
            heading = f"Exercise {number}" if number else "Exercise"
            if label:
                self.state.exercise_numbers[label] = number
                self.target(label, Target(self.state.docname, make_id(label), heading, number, "exercise", block.args))
            body = self.convert(block.body, top=False)
            meta = f"*{exercise_catalogue.meta_line(label)}*\n\n" if label in exercise_catalogue.CATALOGUE else ""
            return f"**{heading}{': ' + title if title else ''}**\n\n{meta}{_blockquote(body)}"
        if name == "solution":
            label = block.args
            if not label:
                raise ConversionError("```{solution}``` without the label of its exercise")
            if self.collect:
                number = self.state.exercise_numbers.get(label, "?")
            else:
                target = self.context.labels.get(label)
                if target is None or target.kind != "exercise":
                    raise ConversionError(f"```{{solution}} {label}```: no exercise has this label")
                number = target.number
            body = self.convert(block.body, top=False)
            return _details(f"Solution to Exercise {number}" if number else "Solution", body)
        if name == "dropdown":
            body = self.convert(block.body, top=False)
            return _details(self.inline(block.args) or "Details", body, is_open="open" in options)
        # admonitions
        if name == "admonition":
            if not block.args:
                raise ConversionError("```{admonition}``` without a title")
            title, body_text = block.args, block.body
        else:
            title, body_text = ADMONITIONS[name], (f"{block.args}\n{block.body}" if block.args else block.body)
        title, body = self.inline(title), self.convert(body_text, top=False)
        if "dropdown" in classes:
            return _details(title, body)
        return _blockquote(f"**{title}**\n\n{body}")


_LEFTOVER = [  # line-level MyST; roles are found by myst_leftovers itself
    (re.compile(r"^\s*(`{3,}|:{3,})\{", re.M), "directive fence"),
    (re.compile(r"^\s*\([^()\s]+\)=\s*$", re.M), "target line"),
    (re.compile(r"^[>\s]*:(label|class|name|tags):", re.M), "option line"),
]


def myst_leftovers(markdown: str) -> list[str]:
    """MyST markup left in converted Markdown (outside code blocks and code spans).

    >>> myst_leftovers("See {eq}`x` and `{eq}` in code.")
    ["role '{eq}'"]
    """
    text = "\n".join(_outside_fences(markdown))
    found, kept = [], []
    pattern = r"(?P<role>(?P<name>\{[A-Za-z][\w:+.-]*\})(`+).*?\3)|(?P<code>(`+).+?\5)|[^`{]+|."
    for match in re.finditer(pattern, text, re.S):
        if match.group("role"):
            found.append(f"role {match.group('name')!r}")
        kept.append("" if match.group("code") else match.group(0))
    for pattern, what in _LEFTOVER:
        found.extend(f"{what} {m.group(0).strip()!r}" for m in pattern.finditer("".join(kept)))
    return found


def scan_markdown(text: str, context: Context, state: ChapterState) -> None:
    """Advance ``state`` over one markdown cell and record its labels in ``state.targets``."""
    _Walker(context, state, collect=True).convert(text)


def convert_markdown(text: str, context: Context, state: ChapterState | None = None) -> str:
    """One markdown cell, MyST -> plain Markdown that Colab renders.

    ``state`` carries the chapter's counters from cell to cell (headings, exercises and
    equations are numbered in document order); a fresh one is used when it is omitted.
    Raises :class:`ConversionError` for any construct it does not handle.
    """
    if state is None:
        state = ChapterState(docname=context.docname, chapter=context.chapter_numbers.get(context.docname))
    markdown = _Walker(context, state, collect=False).convert(text)
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip("\n")
    leftovers = myst_leftovers(markdown)
    if leftovers:
        raise ConversionError(f"MyST markup left after conversion: {leftovers[0]}")
    return markdown


# ----------------------------------------------------------------------------- notebooks


def code_figure(cell, state: ChapterState) -> tuple[str, Target, str] | None:
    """(name, target, caption) of a code cell that myst-nb shows as a numbered figure, else None.

    The figure is counted in ``state`` (figures are numbered per chapter in document order, as
    Sphinx's ``numfig`` with ``numfig_secnum_depth: 1`` numbers them: "8.2"). Sphinx counts a
    markdown ``{figure}`` directive in the same sequence, so a converter for that directive
    must advance ``state.figures`` too.
    """
    spec = cell.metadata.get("mystnb", {}).get("figure")
    if spec is None:
        return None
    name, caption = spec.get("name"), spec.get("caption")
    if not name or not caption:
        raise ConversionError(f"a figure cell needs both a name and a caption, got {dict(spec)}")
    state.figures += 1
    number = state.number(state.figures)
    target = Target(state.docname, make_id(name), f"{FIGURE_PREFIX} {number}", number, kind="figure")
    return name, target, " ".join(str(caption).split())


def _form_cell(source: str, title: str) -> tuple[str, dict]:
    return f"# @title {title}\n{source}", {"cellView": "form"}


def _cell_id(cell) -> dict:
    return {"id": cell["id"]} if cell.get("id") else {}


def _header(context: Context) -> str:
    number = context.chapter_numbers.get(context.docname)
    which = f"chapter {number}" if number is not None else "a page"
    return (
        f"*This is the Colab copy of {which} of* **{context.book_title}** "
        f"*([read it in the book]({context.url(context.docname)})). Run the cells from the top: the "
        "first code cell installs the book's support package `attnlib` when it is missing. Solutions "
        "start collapsed: click a* **Solution to Exercise** *line to read one, and double-click a "
        "Solution code cell to see its code.*"
    )


def glued_values(nb) -> dict:
    """name -> text/plain of every value the notebook's code cells stored with myst-nb's ``glue``."""
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            book = out.get("metadata", {}).get("scrapbook")
            if book:
                found[book["name"]] = out["data"][book.get("mime_prefix", "") + "text/plain"]
    return found


def colab_notebook(nb, context: Context, docname: str | None = None):
    """The Colab copy of one chapter notebook (a new NotebookNode; ``nb`` is not changed).

    A number the text quotes with ``{glue:text}`` is written in as the book shows it; the
    cells that glue (tagged ``colab-remove``) are dropped.
    """
    context = context.for_doc(docname) if docname else context
    context = dataclasses.replace(context, glued=glued_values(nb))
    name = Path(context.docname).name
    state = ChapterState(docname=context.docname, chapter=context.chapter_numbers.get(context.docname))
    cells = [nbformat.v4.new_markdown_cell(_header(context), id="colab-header")]
    for cell in nb.cells:
        tags = list(cell.metadata.get("tags", []))
        if cell.cell_type == "markdown":
            if cell.get("attachments"):
                raise ConversionError(f"{name}: a markdown cell has attachments")
            try:
                source = convert_markdown(cell.source, context, state)
            except ConversionError as error:
                raise ConversionError(f"{name}: {error}") from None
            if source.strip():
                cells.append(nbformat.v4.new_markdown_cell(source, **_cell_id(cell)))
            continue
        if cell.cell_type != "code":
            raise ConversionError(f"{name}: a {cell.cell_type} cell (only markdown and code cells are converted)")
        source, metadata = cell.source, {}
        if "colab-install" in tags:
            source, metadata = _form_cell(source, INSTALL_TITLE)
        elif DROP_TAG in tags:
            continue
        elif "solution" in tags:
            source, metadata = _form_cell(source, SOLUTION_TITLE)
        elif "hide-input" in tags or "remove-input" in tags:
            source, metadata = _form_cell(source, FIGURE_TITLE if cell.get("outputs") and all(
                "image/png" in out.get("data", {}) for out in cell.outputs) else HIDDEN_TITLE)
        elif "hide-cell" in tags:
            source, metadata = _form_cell(source, HIDDEN_TITLE)
        if tags:
            metadata["tags"] = tags
        cells.append(nbformat.v4.new_code_cell(source, metadata=metadata, **_cell_id(cell)))
        try:
            figure = code_figure(cell, state)
            caption = None if figure is None else convert_markdown(figure[2], context, state)
        except ConversionError as error:
            raise ConversionError(f"{name}: {error}") from None
        if figure is not None:
            ids = {"id": f"{cell['id']}-caption"[:64]} if cell.get("id") else {}
            cells.append(nbformat.v4.new_markdown_cell(f"**{figure[1].text}.** {caption}", **ids))
    code = [c for c in cells if c.cell_type == "code"]
    if not code or "colab-install" not in code[0].metadata.get("tags", []):
        raise ConversionError(f"{name}: the first code cell is not the colab-install cell")
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {
        "colab": {"provenance": []},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    out.nbformat, out.nbformat_minor = 4, 5
    return out


def colab_text(path: Path, context: Context, root: Path = ROOT) -> str:
    """The exact file contents of ``colab/NAME.ipynb`` for ``notebooks/NAME.ipynb``."""
    docname = path.resolve().relative_to(root.resolve()).with_suffix("").as_posix()
    if docname not in context.titles:
        raise ConversionError(f"{path.name}: not in _toc.yml")
    nb = nbformat.read(path, as_version=4)
    out = colab_notebook(nb, context, docname)
    nbformat.validate(out)
    text = nbformat.writes(out)
    return text if text.endswith("\n") else text + "\n"


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a Colab copy is missing or out of date")
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapter notebooks (default: all)")
    args = parser.parse_args(argv)
    paths = [p if p.is_absolute() else Path.cwd() / p for p in args.notebooks] or sorted(
        (root / SOURCE_DIR).glob("*.ipynb"))
    for path in paths:
        if path.suffix != ".ipynb" or not path.exists() or path.resolve().parent != (root / SOURCE_DIR).resolve():
            print(f"colab_notebooks: expected an existing {SOURCE_DIR}/NAME.ipynb, got {path}", file=sys.stderr)
            return 2
    try:
        context = build_context(root)
        texts = {root / COLAB_DIR / path.name: colab_text(path, context, root) for path in paths}
    except ConversionError as error:
        print(f"colab_notebooks: {error}", file=sys.stderr)
        return 2
    stale = []
    for target, text in texts.items():
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        relative = target.relative_to(root).as_posix()
        if args.check:
            stale.append(f"{relative} is {'missing' if current is None else 'out of date'}: run {COMMAND}")
        else:
            target.parent.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"{relative} written")
    if not args.notebooks:
        for orphan in sorted(set((root / COLAB_DIR).glob("*.ipynb")) - set(texts)):
            stale.append(f"{orphan.relative_to(root).as_posix()} has no chapter in {SOURCE_DIR}/: delete it")
    for line in stale:
        print(line)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
