"""Point each chapter's Colab launch button at its Colab copy, at the release tag.

sphinx-book-theme links the Colab button to the chapter as it is built,
``.../blob/<branch>/notebooks/NN_name.ipynb``: MyST markup that Colab shows as raw
text, and a branch that moves under the reader. ``tools/colab_notebooks.py`` writes a
plain-Markdown copy to ``colab/NN_name.ipynb``; this extension rewrites the button to
``.../blob/<release_tag>/colab/NN_name.ipynb``. ``release_tag`` is the top-level key of
``_config.yml`` (Jupyter Book does not pass it to Sphinx, so it is read from the file);
without it the branch is used. Pages without a Colab copy, and every other launch button
(Binder included), are left as they are.

Enable it in ``_config.yml`` under ``sphinx.local_extensions`` with ``colab_launch: book/_ext``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

COLAB_DIR = "colab"


def rewrite_colab_url(url: str, branch: str, release_tag: str | None, pagename: str, book_path: str = "") -> str:
    """The Colab URL of ``pagename``'s Colab copy at ``release_tag`` (or ``branch``).

    ``book_path`` is the book's folder in the repository (``repository.path_to_book``).

    >>> rewrite_colab_url("https://colab.research.google.com/github/o/r/blob/main/notebooks/03_x.ipynb",
    ...                   "main", "v0.2.0", "notebooks/03_x")
    'https://colab.research.google.com/github/o/r/blob/v0.2.0/colab/03_x.ipynb'

    A URL that is not the theme's link to this page comes back unchanged.
    """
    book_path = book_path.strip("/") + "/" if book_path.strip("/") else ""
    old = f"/blob/{branch}/{book_path}{pagename}.ipynb"
    if not url.endswith(old):
        return url
    ref = release_tag or branch
    return f"{url[: -len(old)]}/blob/{ref}/{COLAB_DIR}/{Path(pagename).name}.ipynb"


def read_release_tag(config_path: Path) -> str | None:
    """The top-level ``release_tag`` of a Jupyter Book ``_config.yml`` (None if absent)."""
    if not config_path.is_file():
        return None
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    tag = config.get("release_tag")
    if tag is None or not str(tag).strip():
        return None
    return str(tag).strip()


def _colab_buttons(header_buttons):
    for button in header_buttons or []:
        if button.get("type") == "group":
            yield from _colab_buttons(button.get("buttons"))
        elif button.get("type") == "link" and button.get("text") == "Colab":
            yield button


def _rewrite(app, pagename, templatename, context, doctree) -> None:
    options = app.config.html_theme_options or {}
    book_path = str(options.get("path_to_docs", "") or "").strip("/")
    repo_root = Path(app.srcdir)
    for _ in Path(book_path).parts:
        repo_root = repo_root.parent
    if not (repo_root / COLAB_DIR / f"{Path(pagename).name}.ipynb").is_file():
        return
    branch = options.get("repository_branch") or "master"  # the theme's own default
    release_tag = app.config.colab_release_tag or read_release_tag(Path(app.srcdir) / "_config.yml")
    for button in _colab_buttons(context.get("header_buttons")):
        button["url"] = rewrite_colab_url(button["url"], branch, release_tag, pagename, book_path)


def setup(app):
    # An explicit value (sphinx.config.colab_release_tag) wins over _config.yml's release_tag.
    app.add_config_value("colab_release_tag", None, "html")
    # sphinx-book-theme adds the launch buttons at priority 501: rewrite them afterwards.
    app.connect("html-page-context", _rewrite, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
