"""The Colab copies (colab/*.ipynb): up to date, plain Markdown, numbered like the book.

``tools/colab_notebooks.py`` writes them; ``book/_ext/colab_launch.py`` points each chapter's
Colab button at them. Neither needs a book build to be tested.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


cn = _load("colab_notebooks", ROOT / "tools" / "colab_notebooks.py")
launch = _load("colab_launch", ROOT / "book" / "_ext" / "colab_launch.py")

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in CHAPTERS]
_, NUMBERS = cn.toc_chapters(yaml.safe_load((ROOT / "_toc.yml").read_text()))


@pytest.fixture(scope="module")
def context():
    return cn.build_context(ROOT)


def _copy(path: Path):
    return nbformat.read(ROOT / "colab" / path.name, as_version=4)


def _markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# ----------------------------------------------------------------------------- (a) up to date


def test_every_chapter_has_a_copy_and_nothing_else_is_there():
    assert CHAPTERS
    assert sorted(p.name for p in (ROOT / "colab").glob("*.ipynb")) == [p.name for p in CHAPTERS]
    assert (ROOT / "colab" / "jupytext.toml").read_text().count('formats = "ipynb"') == 1


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_copy_is_up_to_date(path, context):
    current = (ROOT / "colab" / path.name).read_text(encoding="utf-8")
    assert current == cn.colab_text(path, context, ROOT), (
        f"colab/{path.name} is out of date: run python tools/colab_notebooks.py"
    )


# ----------------------------------------------------------------------------- (b) no MyST left

MYST = [
    (re.compile(r"\{[a-z:-]+\}`"), "role"),
    (re.compile(r"```\{|:::\{"), "directive fence"),
    (re.compile(r"^\s*\([^()\s]+\)=\s*$", re.M), "(label)= target"),
    (re.compile(r"^[>\s]*:label:", re.M), ":label: option"),
]


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_no_myst_markup_is_left(path):
    for number, cell in enumerate(_copy(path).cells):
        if cell.cell_type != "markdown":
            continue
        for pattern, what in MYST:
            match = pattern.search(cell.source)
            assert match is None, f"colab/{path.name}, cell {number}: {what} {match.group(0)!r} left"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_copy_is_a_plain_colab_notebook(path):
    nb = _copy(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["colab"] == {"provenance": []}
    assert "jupytext" not in nb.metadata
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"colab/{path.name}: a cell kept outputs"


# ----------------------------------------------------------------------------- (c) exercises, solutions


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_exercises_are_numbered_and_solutions_collapsed(path):
    source = nbformat.read(path, as_version=4)
    source_md = "\n".join(c.source for c in source.cells if c.cell_type == "markdown")
    n_exercises = len(re.findall(r"^```\{exercise\}", source_md, re.M))
    n_solutions = len(re.findall(r"^```\{solution\}", source_md, re.M))
    chapter = NUMBERS[f"notebooks/{path.stem}"]
    nb = _copy(path)
    text = _markdown(nb)
    numbers = re.findall(r"^\*\*Exercise (\d+\.\d+)(?::[^\n]*)?\*\*$", text, re.M)
    assert numbers == [f"{chapter}.{k}" for k in range(1, n_exercises + 1)], f"{path.name}: exercises {numbers}"
    summaries = re.findall(r"<details><summary>Solution to Exercise (\d+\.\d+)</summary>", text)
    assert len(summaries) == n_solutions and set(summaries) <= set(numbers)
    assert len(re.findall(r"Solution to Exercise \d", text)) == n_solutions, "a solution outside its <details>"
    for cell in nb.cells:  # each <details> is closed in its own cell, the body set off by blank lines
        if cell.cell_type == "markdown":
            assert cell.source.count("<details>") == cell.source.count("</details>")
            assert cell.source.count("</summary>\n\n") == cell.source.count("<summary>")
            assert cell.source.count("\n\n</details>") == cell.source.count("</details>")
    code = [(c, s) for c, s in zip(
        [c for c in nb.cells if c.cell_type == "code"], _kept_code_cells(source))]
    solutions = [c for c, s in code if "solution" in s.metadata.get("tags", [])]
    assert solutions, f"{path.name} has no solution code cell"
    for cell in solutions:
        assert cell.metadata.get("cellView") == "form"
        assert cell.source.startswith(f"# @title {cn.SOLUTION_TITLE}\n")


# ----------------------------------------------------------------------------- (d) install cell first


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_first_code_cell_is_the_install_cell(path):
    source_install = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    first = next(c for c in _copy(path).cells if c.cell_type == "code")
    assert "colab-install" in first.metadata.get("tags", [])
    assert first.metadata.get("cellView") == "form"
    title, _, rest = first.source.partition("\n")
    assert title == f"# @title {cn.INSTALL_TITLE}"
    assert rest == source_install.source, "the install cell must be copied as it is"


def _kept_code_cells(nb) -> list:
    """The chapter's code cells that its Colab copy keeps: all but those tagged to be dropped (cells that glue)."""
    return [c for c in nb.cells if c.cell_type == "code" and cn.DROP_TAG not in c.metadata.get("tags", [])]


def test_code_cells_are_kept_in_order(context):
    for path in CHAPTERS:
        source = [c.source for c in _kept_code_cells(nbformat.read(path, as_version=4))]
        copy = [re.sub(r"\A# @title [^\n]*\n", "", c.source) for c in _copy(path).cells if c.cell_type == "code"]
        assert copy == source, f"colab/{path.name}: code cells differ from the chapter's"


# ----------------------------------------------------------------------------- (e) the converter

DOC = "notebooks/03_demo"


@pytest.fixture()
def small():
    bib = cn.parse_bib(
        "@misc{a2025, author = {Agarwal, Naman and Dalal, S. and Misra, V.}, year = {2025},"
        " eprint = {2512.22473}, archiveprefix = {arXiv}}\n"
        "@book{b2006, author = {Bishop, Christopher M.}, year = {2006}}\n"
        "@inproceedings{k2015, author = {Kingma, Diederik P. and Ba, Jimmy}, year = {2015}}\n"
    )
    base = cn.repository_base_url("https://github.com/Owner/repo")
    context = cn.Context(
        base_url=base, book_title="Book", bib=bib,
        titles={DOC: "Demo chapter", "notebooks/01_other": "Other chapter", "book/notation": "Notation"},
        chapter_numbers={DOC: 3, "notebooks/01_other": 1},
    )
    state = cn.ChapterState(docname=DOC, chapter=3)
    cn.scan_markdown(
        "(ch-demo)=\n# Demo chapter\n\n## Part\n\n$$\nx = 1\n$$ (eq-x)\n\n"
        "```{exercise} Try it\n:label: ex-try\n\nBody.\n```\n", context.for_doc(DOC), state)
    other = cn.ChapterState(docname="notebooks/01_other", chapter=1)
    cn.scan_markdown("# Other chapter\n\n$$\ny$$ (eq-y)\n", context.for_doc("notebooks/01_other"), other)
    labels = {k: t for k, t in state.targets + other.targets if t.kind != "equation"}
    equations = {k: t for k, t in state.targets + other.targets if t.kind == "equation"}
    import dataclasses
    return dataclasses.replace(context, labels=labels, equations=equations, docname=DOC)


def test_base_url_and_links(small):
    assert small.base_url == "https://owner.github.io/repo/"
    out = cn.convert_markdown("See {doc}`01_other`, {doc}`the notation </book/notation>` and {ref}`ch-demo`.", small)
    assert out == ("See [Other chapter](https://owner.github.io/repo/notebooks/01_other.html), "
                   "[the notation](https://owner.github.io/repo/book/notation.html) and "
                   "[Demo chapter](https://owner.github.io/repo/notebooks/03_demo.html#ch-demo).")


def test_equation_references_and_tags(small):
    assert cn.convert_markdown("By {eq}`eq-x` and {eq}`eq-y`.", small) == (
        "By (3.1) and [(1.1)](https://owner.github.io/repo/notebooks/01_other.html#equation-eq-y).")
    state = cn.ChapterState(docname=DOC, chapter=3)
    assert cn.convert_markdown("$$\na = b\n$$ (eq-x)", small, state) == "$$\na = b\n\\tag{3.1}\n$$"
    assert cn.convert_markdown("```{math}\n:label: eq-z\nc = d\n```", small, state) == "$$\nc = d\n\\tag{3.2}\n$$"
    assert cn.convert_markdown("$$\ne = f\n$$", small, state) == "$$\ne = f\n$$"


def test_citations(small):
    out = cn.convert_markdown("{cite:t}`a2025` and {cite:p}`k2015,b2006`; {cite:t}`b2006, k2015`.", small)
    assert out == ("[Agarwal et al. (2025)](https://arxiv.org/abs/2512.22473) and (Kingma and Ba, 2015; "
                   "Bishop, 2006); Bishop (2006); Kingma and Ba (2015).")
    with pytest.raises(cn.ConversionError, match="unknown citation key 'nope'"):
        cn.convert_markdown("{cite:p}`nope`", small)


def test_headings_targets_and_numref(small):
    state = cn.ChapterState(docname=DOC, chapter=3)
    out = cn.convert_markdown("(ch-demo)=\n# Demo chapter\n\n## Part\n\n### Sub\n\n## Next", small, state)
    assert out == "# 3. Demo chapter\n\n## 3.1. Part\n\n### 3.1.1. Sub\n\n## 3.2. Next"
    out = cn.convert_markdown("({numref}`ex-try`; exercise {ref}`ex-try`; {ref}`that one <ex-try>`)", small)
    url = "https://owner.github.io/repo/notebooks/03_demo.html#ex-try"
    assert out == f"([Exercise 3.1]({url}); exercise [3.1]({url}); [that one]({url}))"


def test_exercise_solution_and_admonitions(small):
    state = cn.ChapterState(docname=DOC, chapter=3)
    text = ("```{exercise} Try it\n:label: ex-try\n\nShow that $a\n= b$:\n\n$$\nx\n= y\n$$\n```\n\n"
            "```{solution} ex-try\n:class: dropdown\n\nBecause {eq}`eq-x`.\n```\n\n"
            "```{note}\nMind the sign.\n```\n\n```{admonition} Careful\n:class: dropdown\nHidden.\n```\n\n"
            "```{dropdown} More\nText.\n```")
    out = cn.convert_markdown(text, small, state)
    assert out == (
        "**Exercise 3.1: Try it**\n\n> Show that $a = b$:\n>\n> $$ x = y $$\n\n"
        "<details><summary>Solution to Exercise 3.1</summary>\n\nBecause (3.1).\n\n</details>\n\n"
        "> **Note**\n>\n> Mind the sign.\n\n"
        "<details><summary>Careful</summary>\n\nHidden.\n\n</details>\n\n"
        "<details><summary>More</summary>\n\nText.\n\n</details>")


def test_code_blocks_and_code_spans_are_left_alone(small):
    text = "Use `{eq}` like this:\n\n```text\n{eq}`label` and (label)=\n```"
    assert cn.convert_markdown(text, small) == text


@pytest.mark.parametrize("text, message", [
    ("```{figure} a.png\nCaption.\n```", "unknown MyST directive ```{figure}"),
    (":::{warning}\nText.\n:::\n\n:::{margin}\nText.\n:::", "unknown MyST directive :::{margin}"),
    ("A {term}`softmax` here.", "unknown MyST role {term}`softmax`"),
    ("{eq}`missing`", "no equation has this label"),
    ("```{exercise} T\n:label: ex-new\n:hidden:\nx\n```", "unknown option :hidden: of ```{exercise}"),
    ("(lonely)=\nA paragraph.", "target (lonely)= is not followed by a heading"),
    ("```{note}\nnever closed", "unclosed ```{note} fence"),
    ("Term\n: definition", "definition list item"),
])
def test_unknown_constructs_fail_with_one_line(small, text, message):
    with pytest.raises(cn.ConversionError) as error:
        cn.convert_markdown(text, small)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_notebook_error_names_the_chapter(small):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("See {abbr}`LN (layer norm)`.")])
    with pytest.raises(cn.ConversionError, match=r"^03_demo: unknown MyST role \{abbr\}"):
        cn.colab_notebook(nb, small, DOC)


def test_glued_numbers_are_written_in_as_the_book_formats_them(small):
    """{glue:text}`name:fmt` becomes the glued value, formatted; a name no cell glued stops the conversion."""
    glue = nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "0.123456"},
                                  metadata={"scrapbook": {"name": "kl", "mime_prefix": "application/papermill.record/"}})
    code = nbformat.v4.new_code_cell("glue('kl', 0.123456, display=False)", outputs=[glue],
                                     metadata={"tags": ["remove-cell", cn.DROP_TAG]})
    install = nbformat.v4.new_code_cell("import attnlib", metadata={"tags": ["remove-cell", "colab-install"]})
    text = nbformat.v4.new_markdown_cell("The KL is {glue:text}`kl:.3f` nats ({glue}`kl`).")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Demo"), install, code, text])
    out = cn.colab_notebook(nb, small, DOC)
    assert out.cells[-1].source == "The KL is 0.123 nats (0.123456)."
    assert not any("glue(" in c.source for c in out.cells if c.cell_type == "code")
    nb.cells[3].source = "Missing: {glue:text}`gap:.2f`."
    with pytest.raises(cn.ConversionError, match=r"no cell of this notebook glues 'gap'"):
        cn.colab_notebook(nb, small, DOC)


def test_notebook_cells(small):
    install = nbformat.v4.new_code_cell("import attnlib", metadata={"tags": ["remove-cell", "colab-install"]})
    solution = nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["solution", "hide-cell"]}, execution_count=3,
                                         outputs=[nbformat.v4.new_output("stream", text="1\n")])
    helper = nbformat.v4.new_code_cell("y = 2", metadata={"tags": ["remove-cell"]})
    dropped = nbformat.v4.new_code_cell("glue()", metadata={"tags": ["remove-cell", cn.DROP_TAG]})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Demo chapter"), install, solution,
                                         helper, dropped])
    nb.metadata["jupytext"] = {"formats": "ipynb,md:myst"}
    out = cn.colab_notebook(nb, small, DOC)
    nbformat.validate(out)
    assert "jupytext" not in out.metadata and out.metadata["colab"] == {"provenance": []}
    code = [c for c in out.cells if c.cell_type == "code"]
    assert [c.source for c in code] == [f"# @title {cn.INSTALL_TITLE}\nimport attnlib",
                                        f"# @title {cn.SOLUTION_TITLE}\nx = 1", "y = 2"]
    assert code[1].outputs == [] and code[1].execution_count is None and code[1].metadata["cellView"] == "form"
    assert out.cells[1].source == "# 3. Demo chapter"
    assert nb.cells[2].outputs, "the source notebook is not changed"


def test_check_reports_stale_copies(tmp_path):
    for name in ("_config.yml", "_toc.yml", "book", "notebooks", "colab"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    assert cn.main(["--check"], root=tmp_path) == 0
    stale = tmp_path / "colab" / CHAPTERS[0].name
    stale.write_text(stale.read_text().replace("Exercise", "Exercize", 1))
    (tmp_path / "colab" / "99_gone.ipynb").write_text("{}")
    assert cn.main(["--check"], root=tmp_path) == 1
    assert cn.main([], root=tmp_path) == 1  # rewrites the stale copy, still reports the orphan
    (tmp_path / "colab" / "99_gone.ipynb").unlink()
    assert cn.main(["--check"], root=tmp_path) == 0


# ----------------------------------------------------------------------------- (f) the launch button

COLAB = "https://colab.research.google.com/github/o/r/blob"
BINDER = "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/notebooks/03_x.ipynb"


def test_rewrite_colab_url():
    url = f"{COLAB}/main/notebooks/03_x.ipynb"
    assert launch.rewrite_colab_url(url, "main", "v0.2.0", "notebooks/03_x") == f"{COLAB}/v0.2.0/colab/03_x.ipynb"
    assert launch.rewrite_colab_url(url, "main", None, "notebooks/03_x") == f"{COLAB}/main/colab/03_x.ipynb"
    assert launch.rewrite_colab_url(url, "main", "v1", "notebooks/04_y") == url  # another page's link: untouched
    assert launch.rewrite_colab_url(f"{COLAB}/main/book/03_x.ipynb", "main", "v1", "03_x", "book") == (
        f"{COLAB}/v1/colab/03_x.ipynb")


def _page(tmp_path, release_tag):
    (tmp_path / "colab").mkdir(exist_ok=True)
    (tmp_path / "colab" / "03_x.ipynb").write_text("{}")
    (tmp_path / "_config.yml").write_text(f"release_tag: {release_tag}\n" if release_tag else "title: t\n")
    app = SimpleNamespace(srcdir=str(tmp_path), config=SimpleNamespace(
        html_theme_options={"repository_branch": "main", "path_to_docs": ""}, colab_release_tag=None))
    buttons = [{"type": "link", "text": "Binder", "url": BINDER},
               {"type": "link", "text": "Colab", "url": f"{COLAB}/main/notebooks/03_x.ipynb"}]
    context = {"header_buttons": [{"type": "group", "label": "launch-buttons", "buttons": buttons}]}
    return app, context, buttons


@pytest.mark.parametrize("tag, ref", [("v0.2.0", "v0.2.0"), (None, "main")])
def test_launch_handler_rewrites_colab_only(tmp_path, tag, ref):
    app, context, buttons = _page(tmp_path, tag)
    launch._rewrite(app, "notebooks/03_x", "page.html", context, None)
    assert buttons[0]["url"] == BINDER
    assert buttons[1]["url"] == f"{COLAB}/{ref}/colab/03_x.ipynb"
    app, context, buttons = _page(tmp_path, tag)
    launch._rewrite(app, "notebooks/04_no_copy", "page.html", context, None)
    assert buttons[1]["url"] == f"{COLAB}/main/notebooks/03_x.ipynb"


def test_release_tag_of_this_book():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert launch.read_release_tag(ROOT / "_config.yml") == config.get("release_tag")


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_no_prose_is_lost(path):
    """Every word of the chapter's markdown (outside roles and options) is in the copy as often."""
    def words(text):
        text = re.sub(r"\{[a-z:-]+\}`[^`]*`", " ", text)
        text = re.sub(r"^\s*:[\w-]+:.*$|^\(\S+\)=$|^```\{solution\}.*$|^```\{\w+\}|\$\$\s*\(\S+\)$", " ", text,
                      flags=re.M)
        return Counter(re.findall(r"[A-Za-z]{4,}", text))

    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    missing = words(source) - words(_markdown(_copy(path)))
    assert not missing, f"colab/{path.name} lost words: {dict(missing)}"


def test_numbered_figures_are_cited_and_captioned(small):
    """A myst-nb figure cell is numbered per chapter; {numref} reads "Fig. 3.2"; the caption follows the cell."""
    import dataclasses

    install = nbformat.v4.new_code_cell("import attnlib", metadata={"tags": ["remove-cell", "colab-install"]})
    figures = [nbformat.v4.new_code_cell(
        f"plt.plot([{k}])", metadata={"tags": ["hide-input"], "mystnb": {"figure": {
            "name": f"fig-demo-{k}", "caption": f"What to see\nin figure {k}, by {{eq}}`eq-x`."}}})
        for k in (1, 2)]
    state = cn.ChapterState(docname=DOC, chapter=3)
    found = [cn.code_figure(cell, state) for cell in figures]
    assert [(name, target.number, target.text, target.anchor) for name, target, _ in found] == [
        ("fig-demo-1", "3.1", "Fig. 3.1", "fig-demo-1"), ("fig-demo-2", "3.2", "Fig. 3.2", "fig-demo-2")]
    context = dataclasses.replace(small, labels={**small.labels, **{name: t for name, t, _ in found}})
    assert cn.convert_markdown("As {numref}`fig-demo-2` shows.", context) == "As Fig. 3.2 shows."
    elsewhere = dataclasses.replace(context, docname="notebooks/01_other")
    assert cn.convert_markdown("See {numref}`fig-demo-1`.", elsewhere) == (
        "See [Fig. 3.1](https://owner.github.io/repo/notebooks/03_demo.html#fig-demo-1).")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Demo chapter"), install, *figures])
    out = cn.colab_notebook(nb, context, DOC)
    nbformat.validate(out)
    assert [c.cell_type for c in out.cells] == ["markdown", "markdown", "code", "code", "markdown", "code",
                                                "markdown"]
    assert out.cells[4].source == "**Fig. 3.1.** What to see in figure 1, by (3.1)."
    assert out.cells[6].source == "**Fig. 3.2.** What to see in figure 2, by (3.1)."
    no_caption = nbformat.v4.new_code_cell("plt.plot()", metadata={"mystnb": {"figure": {"name": "fig-x"}}})
    with pytest.raises(cn.ConversionError, match="a figure cell needs both a name and a caption"):
        cn.code_figure(no_caption, cn.ChapterState(docname=DOC, chapter=3))


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_figure_references_read_as_plain_text(path, context):
    """Every {numref} of a numbered figure becomes "Fig. N.k" in the copy, and every caption is there."""
    nb = nbformat.read(path, as_version=4)
    names = [c.metadata["mystnb"]["figure"]["name"] for c in nb.cells
             if c.cell_type == "code" and "figure" in c.metadata.get("mystnb", {})]
    text = _markdown(_copy(path))
    for k, name in enumerate(names, start=1):
        number = f"{NUMBERS[f'notebooks/{path.stem}']}.{k}"
        assert context.labels[name].number == number
        assert f"**Fig. {number}.** " in text, f"colab/{path.name}: no caption for {name}"
    assert "numref" not in text


def test_the_diagrams_are_numbered_in_their_chapters(context):
    """The three diagrams are figures of chapters 2, 4 and 7, numbered as the book numbers them."""
    for name, chapter in (("fig-head-graph", "2"), ("fig-feedback-loop", "4"), ("fig-em-correspondence", "7")):
        target = context.labels[name]
        assert target.kind == "figure" and target.number.split(".")[0] == chapter, (name, target)
