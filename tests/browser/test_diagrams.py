"""The three schematic diagrams on the rendered pages: numbered, captioned, cited, and their images load."""

from __future__ import annotations

import pytest

#: chapter page -> (figure label, chapter number, words its caption starts with)
DIAGRAMS = {
    "notebooks/02_attention_head": ("fig-head-graph", 2, "The attention head as a computation graph"),
    "notebooks/04_value_updates": ("fig-feedback-loop", 4, "The positive feedback loop"),
    "notebooks/07_two_timescales": ("fig-em-correspondence", 7, "The EM reading of one head"),
}

_FIGURE_JS = """label => {
  const figure = document.getElementById(label);
  if (!figure) return null;
  const img = figure.querySelector('img');
  const box = img ? img.getBoundingClientRect() : null;
  return {tag: figure.tagName,
          number: (figure.querySelector('.caption-number') || {}).textContent || '',
          caption: (figure.querySelector('.caption-text') || {}).textContent || '',
          src: img ? img.getAttribute('src') : null,
          loaded: !!img && img.complete && img.naturalWidth > 0 && img.naturalHeight > 0,
          naturalWidth: img ? img.naturalWidth : 0, shownWidth: box ? box.width : 0,
          citations: Array.from(document.querySelectorAll('a[href="#' + label + '"]'))
                          .filter(a => !a.classList.contains('headerlink')).map(a => a.textContent.trim())};
}"""


@pytest.mark.parametrize("doc", DIAGRAMS)
def test_diagram_is_numbered_captioned_cited_and_loads(browser, base_url, doc):
    label, chapter, caption_start = DIAGRAMS[doc]
    page = browser.new_page()
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((base_url, "data:")) else r.abort())
    try:
        page.goto(f"{base_url}{doc}.html", wait_until="load")
        page.evaluate("() => document.querySelectorAll('img').forEach(img => { img.loading = 'eager'; })")
        page.locator(f"#{label} img").scroll_into_view_if_needed()
        page.wait_for_function(f"() => {{ const i = document.querySelector('#{label} img'); "
                               "return i && i.complete; }", timeout=10_000)
        found = page.evaluate(_FIGURE_JS, label)
    finally:
        page.close()
    assert found is not None, f"{doc}: no element with id {label!r}"
    assert found["tag"] == "FIGURE", f"{doc}: #{label} is a {found['tag']}, not a figure"
    assert found["number"].strip().startswith(f"Fig. {chapter}."), f"{doc}: figure number {found['number']!r}"
    assert found["caption"].startswith(caption_start), f"{doc}: caption {found['caption'][:80]!r}"
    assert found["loaded"], f"{doc}: the image of #{label} ({found['src']}) did not load"
    assert found["naturalWidth"] >= 800, f"{doc}: the diagram is only {found['naturalWidth']} px wide"
    assert found["shownWidth"] >= 600, f"{doc}: the diagram is shown only {found['shownWidth']:.0f} px wide"
    number = found["number"].strip()
    assert found["citations"] and all(c == number for c in found["citations"]), (
        f"{doc}: the prose should cite {label} as {number!r}, found {found['citations']}")
