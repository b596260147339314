"""The numbered figures (myst-nb figure cells) as a reader sees them on the built pages.

Each chapter's code cells with ``mystnb: figure: {name, caption}`` metadata must appear as a
figure with the id ``name``, an image that loads, and a caption that starts with the figure's
number ("Fig. 8.2") and holds the caption text; the prose's {numref} to it must be a link
that reads "Fig. 8.2".
"""

from __future__ import annotations

import re

import nbformat
import pytest
import yaml

from .conftest import ROOT

_FIGURE_JS = """name => {
  const figure = document.getElementById(name);
  if (!figure) return null;
  const img = figure.querySelector('img');
  const caption = figure.querySelector('figcaption');
  return {tag: figure.tagName.toLowerCase(),
          src: img ? img.getAttribute('src') : null,
          loaded: img ? (img.complete && img.naturalWidth > 0 && img.naturalHeight > 0) : false,
          width: img ? img.naturalWidth : 0,
          caption: caption ? caption.innerText : null};
}"""

_LINKS_JS = """name => Array.from(document.querySelectorAll('a[href$="#' + name + '"]'))
    .filter(a => !a.closest('figure') && !a.classList.contains('headerlink'))
    .map(a => a.innerText.trim())"""


def _chapter_numbers() -> dict[str, int]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    numbers, count = {}, 0
    for part in toc.get("parts", []):
        for chapter in part["chapters"]:
            if part.get("numbered"):
                count += 1
                numbers[re.sub(r"\.(md|ipynb)$", "", chapter["file"])] = count
    return numbers


_FIGURE_DIRECTIVE = re.compile(r"^\s{0,3}(?:`{3,}|:{3,})\{figure\}", re.M)


def _figures() -> list[tuple[str, str, str, str]]:
    """(docname, name, number, caption) of every numbered figure cell, in document order.

    A markdown ``{figure}`` directive takes a number from the same count (Sphinx numbers
    all figures of a chapter together), so it is counted too.
    """
    numbers, found = _chapter_numbers(), []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        docname = f"notebooks/{path.stem}"
        k = 0
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                k += len(_FIGURE_DIRECTIVE.findall(cell.source))
                continue
            spec = cell.metadata.get("mystnb", {}).get("figure") if cell.cell_type == "code" else None
            if spec:
                k += 1
                found.append((docname, spec["name"], f"{numbers[docname]}.{k}", " ".join(spec["caption"].split())))
    return found


FIGURES = _figures()


def test_the_chapters_have_numbered_figures():
    chapters = {docname for docname, *_ in FIGURES}
    for stem in ("02_attention_head", "03_routing_law", "07_two_timescales", "08_sticky_chain",
                 "09_value_manifolds"):
        assert f"notebooks/{stem}" in chapters, f"{stem} has no numbered figure"


@pytest.mark.parametrize("docname, name, number, caption", FIGURES, ids=[f[1] for f in FIGURES])
def test_numbered_figure_renders_with_caption_and_image(browser, base_url, docname, name, number, caption):
    page = browser.new_page()
    try:
        page.goto(f"{base_url}{docname}.html", wait_until="load")
        page.evaluate("() => document.querySelectorAll('img').forEach(img => { img.loading = 'eager'; })")
        page.wait_for_function(
            "name => { const f = document.getElementById(name); const i = f && f.querySelector('img');"
            " return !i || i.complete; }", arg=name, timeout=10_000)
        figure = page.evaluate(_FIGURE_JS, name)
        links = page.evaluate(_LINKS_JS, name)
    finally:
        page.close()
    assert figure is not None, f"{docname}: no element with id {name!r}"
    assert figure["tag"] == "figure", f"{docname}: #{name} is a <{figure['tag']}>, not a figure"
    assert figure["src"] and figure["loaded"], f"{docname}: the image of {name} did not load ({figure['src']})"
    assert figure["width"] >= 400, f"{docname}: the image of {name} is only {figure['width']} px wide"
    shown = " ".join((figure["caption"] or "").split()).replace("\u2019", "'")  # Sphinx's smart quotes
    assert shown.startswith(f"Fig. {number}"), f"{docname}: {name} is captioned {shown[:40]!r}, not Fig. {number}"
    assert caption[:60] in shown, f"{docname}: the caption of {name} does not show its text: {shown!r}"
    assert links, f"{docname}: the prose never cites {name}"
    assert all(text == f"Fig. {number}" for text in links), f"{docname}: links to {name} read {links}"
