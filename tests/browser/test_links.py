"""Every local href and src in the built HTML resolves to a file (and an anchor)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse


ATTR = re.compile(r'(?:href|src)="([^"]*)"')
IDS = re.compile(r'\bid="([^"]+)"')


@lru_cache(maxsize=None)
def _ids(path: Path) -> frozenset[str]:
    return frozenset(IDS.findall(path.read_text(errors="replace")))


def test_every_local_link_resolves(site_dir):
    broken = []
    pages = sorted(p for p in site_dir.rglob("*.html") if "_static" not in p.relative_to(site_dir).parts)
    assert pages
    for page in pages:
        for target in ATTR.findall(page.read_text(errors="replace")):
            parsed = urlparse(target)
            if parsed.scheme or target.startswith(("//", "mailto:", "javascript:", "data:")) or not target:
                continue
            path = (page.parent / unquote(parsed.path)).resolve() if parsed.path else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.relative_to(site_dir)}: {target} (no such file)")
            elif parsed.fragment and path.suffix == ".html" and unquote(parsed.fragment) not in _ids(path):
                broken.append(f"{page.relative_to(site_dir)}: {target} (no such anchor)")
    assert not broken, "\n".join(broken[:40])
