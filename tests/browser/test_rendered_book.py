"""The rendered book, as a reader sees it in a real browser with the network closed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from .audit import audit_page
from .conftest import ROOT, SCREENSHOTS


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


PAGES = _toc_pages()


def test_navigation_reaches_every_page(browser, base_url):
    page = browser.new_page()
    page.goto(base_url + "index.html")  # a redirect to the root document
    page.wait_for_load_state("load")
    page.wait_for_selector("nav.bd-docs-nav")
    links = page.eval_on_selector_all("nav.bd-docs-nav a.reference.internal, .navbar-brand", "els => els.map(e => e.href)")
    page.close()
    reached = {re.sub(r"[#?].*$", "", link).removeprefix(base_url).removesuffix(".html") for link in links}
    missing = [p for p in PAGES if p not in reached]
    assert not missing, f"the sidebar does not link to {missing}"


@pytest.mark.parametrize("doc", PAGES)
def test_page_renders(browser, base_url, doc):
    audit = audit_page(
        browser, f"{base_url}{doc}.html", base_url,
        screenshot=SCREENSHOTS / f"{doc.replace('/', '__')}.png",
        notebook_page=doc.startswith("notebooks/"),
    )
    assert not audit.problems, "\n".join([f"{doc}:"] + audit.problems)
    if doc.startswith("notebooks/"):
        assert audit.typeset > 0 and audit.images > 0, f"{doc}: a chapter should show maths and at least one figure"


def test_the_audit_catches_broken_tex_and_a_missing_figure(browser, site_dir, serve, tmp_path):
    """Sabotage a copy of a chapter page and check that the audit reports both faults."""
    copy = tmp_path / "html"
    shutil.copytree(site_dir, copy)
    chapter = copy / (PAGES[[p.startswith("notebooks/") for p in PAGES].index(True)] + ".html")
    html = chapter.read_text()
    first_math = re.search(r'<span class="math notranslate nohighlight">\\\((.*?)\\\)</span>', html)
    assert first_math, "no inline maths to break"
    broken = '<span class="math notranslate nohighlight">\\(\\fracc{1}{2}\\)</span>'  # undefined macro
    html = html.replace(first_math.group(0), broken, 1)
    html = html.replace("<p>", "<p>Raw $$x^2$$ here. ", 1)
    chapter.write_text(html)
    image = re.search(r'<img[^>]+src="([^"]*_images/[^"]+\.png)"', html)
    assert image, "no figure to delete"
    (chapter.parent / image.group(1)).unlink()

    url = serve(copy)
    audit = audit_page(browser, url + str(chapter.relative_to(copy)), url, notebook_page=True)
    text = "\n".join(audit.problems)
    assert "TeX error" in text, text
    assert "raw TeX '$$'" in text, text
    assert "image did not load" in text and "HTTP 404" in text, text


def test_screenshots_were_saved():
    shots = sorted(Path(SCREENSHOTS).glob("*.png"))
    assert len(shots) >= len(PAGES), f"expected a screenshot per page in {SCREENSHOTS}, found {len(shots)}"
