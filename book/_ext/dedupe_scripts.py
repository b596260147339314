"""Drop repeated <script> entries from every page.

sphinx-thebe registers its inline configuration script twice under Jupyter Book
1.x, so every page declared ``const THEBE_JS_URL`` twice and the browser raised
"Identifier 'THEBE_JS_URL' has already been declared" (the rendered-book test
caught it). Keeping the first of identical entries fixes it without touching
either package.
"""

from __future__ import annotations


def _key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script)  # Sphinx >= 7.2 wraps it in _JavaScript
    return (str(filename or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _dedupe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    # Early: a later handler may return a template name, which stops the event (emit_firstresult).
    app.connect("html-page-context", _dedupe, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
