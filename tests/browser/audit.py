"""What a reader would notice on one rendered page, collected as a list of problems.

``audit_page`` opens a page in a browser context whose network is closed to
everything but the local server, and reports: requests that tried to leave the
machine or hit a missing local file, console errors, maths that MathJax did not
typeset (raw TeX left in the visible text, or TeX errors), images that did not
load, solution toggles that do not open and close, and missing launch buttons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

RAW_TEX_MARKERS = ["$$", "\\frac", "\\partial", "\\begin{", "\\[", "\\(", "\\alpha", "\\sum", "\\mathbb"]

_VISIBLE_PROSE_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, code, mjx-container, script, style, .cell_input, .highlight, .output')
      .forEach(el => el.remove());
  return copy.innerText;
}"""

_WAIT_FOR_IMAGES_JS = """async () => {
  const imgs = Array.from(document.querySelectorAll('img'));
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null :
      new Promise(resolve => { img.addEventListener('load', resolve); img.addEventListener('error', resolve); })));
  return imgs.map(img => ({src: img.getAttribute('src'), complete: img.complete,
                           width: img.naturalWidth, height: img.naturalHeight}));
}"""

_TYPESET_JS = """async () => {
  if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return {mathjax: false};
  await MathJax.startup.promise;
  return {mathjax: true,
          containers: document.querySelectorAll('mjx-container').length,
          errors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.getAttribute('data-mjx-error') || e.textContent)};
}"""


@dataclass
class PageAudit:
    """The problems found on one page (empty when the page is fine)."""

    url: str
    problems: list[str] = field(default_factory=list)
    math_elements: int = 0
    typeset: int = 0
    images: int = 0
    toggles: int = 0
    launch_links: list[str] = field(default_factory=list)


def audit_page(context, url: str, base_url: str, *, screenshot: Path | None = None, notebook_page: bool = False):
    """Open ``url`` and return a :class:`PageAudit`."""
    audit = PageAudit(url)
    page = context.new_page()
    blocked: list[str] = []

    def route(route_request):
        request_url = route_request.request.url
        if request_url.startswith(base_url) or request_url.startswith(("data:", "blob:", "about:")):
            route_request.continue_()
        else:
            blocked.append(request_url)
            route_request.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and audit.problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: audit.problems.append(f"page error: {e}"))
    page.on(
        "response",
        lambda r: r.status >= 400 and audit.problems.append(f"missing local asset: {r.url} (HTTP {r.status})"),
    )
    page.on(
        "requestfailed",
        lambda r: r.url.startswith(base_url) and audit.problems.append(f"request failed: {r.url} ({r.failure})"),
    )
    try:
        page.goto(url, wait_until="load")
        audit.math_elements = page.locator(".math").count()
        typeset = page.evaluate(_TYPESET_JS)
        if audit.math_elements:
            if not typeset["mathjax"]:
                audit.problems.append(f"{audit.math_elements} maths elements but MathJax did not load")
            else:
                audit.typeset = typeset["containers"]
                if audit.typeset < audit.math_elements:
                    audit.problems.append(f"only {audit.typeset} of {audit.math_elements} maths elements typeset")
                for error in typeset["errors"]:
                    audit.problems.append(f"TeX error in a formula: {error}")
        prose = page.evaluate(_VISIBLE_PROSE_JS)
        for marker in RAW_TEX_MARKERS:
            if marker in prose:
                start = prose.index(marker)
                audit.problems.append(f"raw TeX {marker!r} in the visible text: ...{prose[max(0, start - 40):start + 40]!r}")
        images = page.evaluate(_WAIT_FOR_IMAGES_JS)
        audit.images = len(images)
        for image in images:
            if not image["complete"] or image["width"] == 0 or image["height"] == 0:
                audit.problems.append(f"image did not load: {image['src']}")
        audit.toggles = _check_toggles(page, audit)
        if notebook_page:
            links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            audit.launch_links = [l for l in links if "mybinder.org" in l or "colab.research.google.com" in l]
            for service in ("mybinder.org", "colab.research.google.com"):
                if not any(service in link for link in audit.launch_links):
                    audit.problems.append(f"no launch button for {service}")
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    for request_url in blocked:
        audit.problems.append(f"request to the network (the book must work offline): {request_url}")
    return audit


def _check_toggles(page, audit: PageAudit) -> int:
    """Open and close every solution dropdown and every hidden cell on the page."""
    buttons = page.locator("div.solution.dropdown button.toggle-button")
    count = buttons.count()
    for index in range(count):
        button = buttons.nth(index)
        body = page.locator("div.solution.dropdown").nth(index).locator("section").first
        button.scroll_into_view_if_needed()
        if body.is_visible():
            audit.problems.append(f"solution {index + 1} is visible before its toggle is clicked")
        button.click()
        page.wait_for_timeout(250)
        if not body.is_visible():
            audit.problems.append(f"solution {index + 1} does not open when its toggle is clicked")
        button.click()
        page.wait_for_timeout(250)
        if body.is_visible():
            audit.problems.append(f"solution {index + 1} does not close when its toggle is clicked again")
    details = page.locator("details.hide")
    for index in range(details.count()):
        item = details.nth(index)
        summary = item.locator("summary").first
        summary.scroll_into_view_if_needed()
        states = [item.evaluate("e => e.open")]
        summary.click()
        states.append(item.evaluate("e => e.open"))
        summary.click()
        states.append(item.evaluate("e => e.open"))
        if states != [False, True, False]:
            audit.problems.append(f"hidden cell {index + 1} does not open and close (open states {states})")
    return count + details.count()
