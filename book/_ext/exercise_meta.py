"""Each exercise's difficulty and time, from ``attnlib.teaching.exercise_catalogue``.

Two things, both read from the one catalogue:

* under the title of every ``{exercise}`` (sphinx-exercise's nodes, found by their
  ``:label:``) a line such as "Difficulty ★★☆ · about 20 min · pencil"; an exercise
  without a catalogue entry, or an entry without an exercise, is a build warning (an
  error under ``-W``);
* the directive ``exercise-catalogue``, which renders the instructors' table of every
  exercise (chapter, exercise, kind, checkers, difficulty, time) and, with the flag
  ``:totals:``, a table of each chapter's total time instead.

Enable it in ``_config.yml`` under ``sphinx.local_extensions`` with ``exercise_meta: book/_ext``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

META_CLASS = "exercise-meta"


def _catalogue():
    try:
        from attnlib.teaching import exercise_catalogue
    except ImportError:  # building from a clone whose attnlib is not installed
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
        from attnlib.teaching import exercise_catalogue
    return exercise_catalogue


def _chapters(srcdir):
    from attnlib.teaching.chapter_map import read_chapters

    return {c.docname: c for c in read_chapters(srcdir)}


def _is_exercise(node) -> bool:
    return type(node).__name__ in ("exercise_node", "exercise_enumerable_node")


def _add_meta_lines(app, doctree) -> None:
    catalogue = _catalogue()
    docname = app.env.docname
    seen = app.env.__dict__.setdefault("exercise_meta_seen", {})
    seen[docname] = []
    for node in list(doctree.findall(_is_exercise)):
        label = node.get("label", "")
        if label not in catalogue.CATALOGUE:
            logger.warning(f"exercise {label!r} has no entry in attnlib.teaching.exercise_catalogue.CATALOGUE",
                           location=node)
            continue
        item = catalogue.CATALOGUE[label]
        if item.chapter != docname:
            logger.warning(f"exercise {label!r} is in {docname}, but the catalogue puts it in {item.chapter}",
                           location=node)
        seen[docname].append(label)
        text = catalogue.meta_line(label)
        line = nodes.paragraph("", "", nodes.emphasis(text, text), classes=[META_CLASS])
        content = next((c for c in node.children if isinstance(c, nodes.section)), None)
        if content is None:
            node.insert(1, line)
        else:
            content.insert(0, line)


def _purge(app, env, docname) -> None:
    getattr(env, "exercise_meta_seen", {}).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    env.__dict__.setdefault("exercise_meta_seen", {}).update(getattr(other, "exercise_meta_seen", {}))


def _check_every_entry_used(app, env) -> None:
    catalogue = _catalogue()
    found = {label for labels in getattr(env, "exercise_meta_seen", {}).values() for label in labels}
    built = set(env.found_docs)
    for label, item in catalogue.CATALOGUE.items():
        if item.chapter in built and label not in found:
            logger.warning(f"the catalogue's exercise {label!r} is not an {{exercise}} of {item.chapter}")


def _text_cell(text, literal=False):
    entry = nodes.entry()
    paragraph = nodes.paragraph()
    paragraph += nodes.literal(text, text) if literal else nodes.Text(text)
    entry += paragraph
    return entry


def _doc_cell(target, text, refdoc):
    entry = nodes.entry()
    paragraph = nodes.paragraph()
    ref = addnodes.pending_xref("", refdomain="std", reftype="doc", reftarget=target, refexplicit=True,
                                refwarn=True, refdoc=refdoc)
    ref += nodes.inline(text, text)
    paragraph += ref
    entry += paragraph
    return entry


class exercise_link(nodes.Inline, nodes.TextElement):
    """A link to an exercise, with the exercise's own title; filled in once every page is read."""


def _exercise_cell(label):
    entry = nodes.entry()
    paragraph = nodes.paragraph()
    paragraph += exercise_link(label, label, label=label)
    entry += paragraph
    return entry


def _subtitle(node) -> list:
    """Copies of the nodes of the exercise's own title (its maths included); [] when it has none."""
    for child in node.findall(lambda n: type(n).__name__ == "exercise_subtitle"):
        return [grandchild.deepcopy() for grandchild in child.children]
    return []


def _resolve_exercise_links(app, doctree, fromdocname) -> None:
    registry = getattr(app.env, "sphinx_exercise_registry", {})
    for link in list(doctree.findall(exercise_link)):
        label = link["label"]
        if label not in registry:
            logger.warning(f"the exercise catalogue names {label!r}, which no {{exercise}} has as :label:",
                           location=link)
            link.replace_self(nodes.Text(label))
            continue
        target = registry[label]
        uri = app.builder.get_relative_uri(fromdocname, target["docname"]) + "#" + label
        reference = nodes.reference("", "", internal=True, refuri=uri)
        reference += _subtitle(target["node"]) or [nodes.Text(label)]
        link.replace_self(reference)


def _table(headers, rows, widths):
    table = nodes.table(classes=["exercise-catalogue"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    row = nodes.row()
    for header in headers:
        row += _text_cell(header)
    head += row
    group += head
    body = nodes.tbody()
    for cells in rows:
        row = nodes.row()
        for cell in cells:
            row += cell
        body += row
    group += body
    return table


class ExerciseCatalogue(SphinxDirective):
    """The table of every exercise (or, with ``:totals:``, of each chapter's total time)."""

    has_content = False
    option_spec = {"totals": directives.flag}

    def run(self):
        catalogue = _catalogue()
        chapters = _chapters(self.env.srcdir)
        docname = self.env.docname
        for item in catalogue.CATALOGUE.values():
            self.env.note_dependency(str(Path(self.env.srcdir) / f"{item.chapter}.md"))
        unknown = sorted({i.chapter for i in catalogue.CATALOGUE.values()} - set(chapters))
        if unknown:
            raise self.error(f"the exercise catalogue names chapters that are not in _toc.yml: {unknown}")
        if "totals" in self.options:
            rows = []
            for chapter, minutes in catalogue.chapter_minutes().items():
                count = sum(1 for i in catalogue.CATALOGUE.values() if i.chapter == chapter)
                rows.append([_doc_cell("/" + chapter, str(chapters[chapter].number), docname),
                             _text_cell(str(count)), _text_cell(f"{minutes} min")])
            total = sum(catalogue.chapter_minutes().values())
            rows.append([_text_cell("all"), _text_cell(str(len(catalogue.CATALOGUE))),
                         _text_cell(f"{total} min (about {total / 60:.0f} hours)")])
            return [_table(["Chapter", "Exercises", "Time, all exercises"], rows, [1, 1, 2])]
        rows = []
        for label, item in catalogue.CATALOGUE.items():
            checkers = _text_cell("")
            if item.checkers:
                paragraph = checkers.children[0]
                for k, name in enumerate(item.checkers):
                    if k:
                        paragraph += nodes.Text(", ")
                    paragraph += nodes.literal(name, name)
            else:
                checkers = _text_cell("(checked in the worked answer)")
            rows.append([
                _doc_cell("/" + item.chapter, str(chapters[item.chapter].number), docname),
                _exercise_cell(label),
                _text_cell(catalogue.KINDS[item.kind]),
                checkers,
                _text_cell(catalogue.difficulty_stars(item.difficulty)),
                _text_cell(f"{item.minutes} min"),
            ])
        return [_table(["Chapter", "Exercise", "Kind", "Checker", "Difficulty", "Time"], rows, [1, 6, 2, 4, 2, 2])]


def setup(app):
    app.add_node(exercise_link)
    app.add_directive("exercise-catalogue", ExerciseCatalogue)
    app.connect("doctree-resolved", _resolve_exercise_links)
    app.connect("doctree-read", _add_meta_lines)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-check-consistency", _check_every_entry_used)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
