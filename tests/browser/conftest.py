"""Fixtures for the rendered-book tests: the built site on localhost and headless Chromium.

Chromium is Debian's package (``/usr/bin/chromium``, or ``$CHROMIUM``), driven by
Playwright for Python; nothing is downloaded. Without Chromium the tests are
skipped with one line saying how to enable them, unless ``ATTNLIB_REQUIRE_BROWSER=1``
(set by ``.ci/run``), in which case a missing browser is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def _chromium() -> str | None:
    candidate = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return candidate if candidate and Path(candidate).exists() else None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="session")
def site_dir() -> Path:
    if not (SITE / "index.html").exists():
        pytest.fail(f"no built book at {SITE}: run `make book` first", pytrace=False)
    return SITE


@pytest.fixture(scope="session")
def serve():
    """Serve a directory on 127.0.0.1 and return its base URL (one server per directory)."""
    servers = []

    def start(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def base_url(site_dir, serve) -> str:
    return serve(site_dir)


@pytest.fixture(scope="session")
def browser():
    path = _chromium()
    if path is None:
        message = (
            "Chromium not found: install it (Debian: apt-get install chromium) or set CHROMIUM=/path/to/chromium "
            "to run the rendered-book tests"
        )
        if os.environ.get("ATTNLIB_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (ATTNLIB_REQUIRE_BROWSER=1 makes this a failure)", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="attnlib-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=path, args=CHROMIUM_FLAGS, headless=True, viewport={"width": 1280, "height": 900}
        )
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)
