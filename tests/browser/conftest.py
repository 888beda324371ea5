"""A headless Chromium (Debian's ``chromium``, driven by Playwright; no browser download) and a
loopback server for the browser's own scripts and the test pages.

Tests that use the browser are marked ``browser``. Without a ``chromium`` on the PATH they
are skipped, except under CI, where they fail (``.ci/run`` installs it). Each test's
screenshots go to ``var/browser/<module>-<test>/`` (or under ``$SGB_BROWSER_OUTPUT``).
"""

import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from browser import integrity, vectors

PAGES = Path(__file__).parent / "pages"
OUTPUT = Path(os.environ.get("SGB_BROWSER_OUTPUT", Path(__file__).parents[2] / "var" / "browser"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Whatever drives the browser is marked; the vectors' own Python checks are not.
    for item in items:
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


# Per module, not per session: Playwright's sync API runs an event loop in this thread while it
# is open, and every async test after it in the same process would find a loop running.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        message = "no chromium on the PATH (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Chromium refuses to run its sandbox as root (CI containers run as root).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def notice_vectors() -> dict[str, Any]:
    """Vectors sealed by the producers' code, with fresh keys for this session."""
    return vectors.build()


@pytest.fixture(scope="session")
def site(notice_vectors: dict[str, Any]) -> Iterator[str]:
    """The loopback server's base URL: ``/static/`` is the broker's static folder, ``/pages/``
    the test pages, ``/vectors.json`` the sealed notices (never their keys or plaintext),
    ``/events?backwards=...`` one server-sent event saying that the right way round."""
    public = {
        "broker_public": notice_vectors["broker_public"],
        "vectors": [
            {k: v[k] for k in ("name", "key", "sealed")} for v in notice_vectors["vectors"]
        ],
    }
    handler = _handler(json.dumps(public).encode())
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    """This test's own folder for what it leaves behind (screenshots)."""
    test = f"{request.node.path.stem}::{request.node.nodeid.split('::', 1)[-1]}"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test).strip("-")
    folder = OUTPUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def screenshot(output_dir: Path) -> Callable[[Page, str], Path]:
    """``screenshot(page, "inbox")`` saves the whole page as 01-inbox.png, 02-..., in order."""
    taken: list[Path] = []

    def take(page: Page, name: str) -> Path:
        path = output_dir / f"{len(taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
        return path

    return take


def _handler(vectors_json: bytes) -> type[SimpleHTTPRequestHandler]:
    integrity_values = integrity.recorded()

    class Handler(SimpleHTTPRequestHandler):
        extensions_map = {  # noqa: RUF012 (the base class's own attribute, replaced whole)
            ".js": "text/javascript",
            ".html": "text/html; charset=utf-8",
            ".css": "text/css",
            ".json": "application/json",
            ".png": "image/png",
        }

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/vectors.json":
                return self._send(vectors_json, "application/json")
            if path == "/events":
                # Sent backwards, so that the request does not carry what the event says.
                return self._event_stream(self.path.partition("?backwards=")[2][::-1])
            for prefix, root in (("/static/", integrity.STATIC), ("/pages/", PAGES)):
                if path.startswith(prefix):
                    file = (root / path.removeprefix(prefix)).resolve()
                    if root.resolve() in file.parents and file.is_file():
                        return self._file(file)
            return self.send_error(HTTPStatus.NOT_FOUND)

        def _file(self, file: Path) -> None:
            data = file.read_bytes()
            if file.suffix == ".html":
                # {{sri:js/notice-crypto.js}} in a test page: the hash the manifest records.
                data = re.sub(
                    rb"\{\{sri:js/([^}]+)\}\}",
                    lambda m: integrity_values.get(m[1].decode(), "missing").encode(),
                    data,
                )
            self._send(data, self.extensions_map.get(file.suffix, "application/octet-stream"))

        def _event_stream(self, say: str) -> None:
            # One server-sent event carrying what the query asked for, as live updates will.
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(f"data: {say}\n\n".encode())
            self.wfile.flush()

        def _send(self, data: bytes, content_type: str) -> None:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test's output stays readable

    return Handler
