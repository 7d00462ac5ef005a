"""A static PEP 691 index served from a folder by http.server in a thread: the proxy's upstream.

``StaticIndex.add(wheel)`` copies a file in and lists it on its project's JSON page (with the
fields PyPI sends: sha256, size, upload-time, requires-python, yanked, core-metadata). Tests
count the requests it answered (``hits``) and make it fail (``status``), hang (``delay``) or
stream slowly (``file_delay``) to try the proxy's single flight, timeouts and stale pages.
It also lists its projects at ``/simple/`` and answers PEP 503 HTML to a client that does not
accept JSON (devpi's mirror, in ``bench/proxy_hermetic.py``).
"""

from __future__ import annotations

import hashlib
import html
import json
import sys
import threading
import time
import zipfile
from collections import Counter
from datetime import UTC
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from packaging.utils import canonicalize_name
from packaging.utils import parse_wheel_filename
from werkzeug.test import TestResponse

from tests.credentials import basic

JSON_V1 = "application/vnd.pypi.simple.v1+json"


def wheel_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name)


def fetch(client: FlaskClient, url: str) -> TestResponse:
    """GET a download through pryv, read it whole and close it (the store's file with it)."""
    response = client.get(url, headers=basic())
    try:
        response.get_data()
    finally:
        response.close()
    return response


def html_page(document: dict[str, Any]) -> bytes:
    """Render a PEP 691 project page as PEP 503 HTML (for clients that ask for HTML: devpi)."""
    links = []
    for entry in document["files"]:
        attributes = ""
        if entry.get("requires-python"):
            attributes += f' data-requires-python="{html.escape(entry["requires-python"])}"'
        if entry.get("yanked"):
            reason = entry["yanked"] if isinstance(entry["yanked"], str) else ""
            attributes += f' data-yanked="{html.escape(reason)}"'
        metadata = entry.get("core-metadata")
        if isinstance(metadata, dict):
            attributes += f' data-core-metadata="sha256={metadata["sha256"]}"'
        url = f"{entry['url']}#sha256={entry['hashes']['sha256']}"
        links.append(f'<a href="{url}"{attributes}>{entry["filename"]}</a>')
    return f"<html><body>{''.join(links)}</body></html>".encode()


class _QuietServer(ThreadingHTTPServer):
    """Say nothing when a client hangs up mid-answer (wrk does at the end of a run)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class StaticIndex:
    """Serve ``root/simple/<name>/index.json`` and ``root/files/<filename>`` on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "simple").mkdir(parents=True, exist_ok=True)
        (root / "files").mkdir(exist_ok=True)
        self.hits: Counter[str] = Counter()
        self.authorizations: dict[str, str | None] = {}  # path -> Authorization header sent
        self.status: int | None = None  # answer every request with this status
        self.delay = 0.0  # seconds before answering any request
        self.file_delay = 0.0  # seconds before sending a file's body
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/simple/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(
        self,
        wheel: Path,
        *,
        uploaded: datetime | None = None,
        yanked: bool | str = False,
        requires_python: str | None = None,
        sha256: str | None = None,
        size: int | None = None,
        metadata: bool = True,
    ) -> dict[str, Any]:
        """Publish ``wheel``; ``sha256``/``size`` override what the page says (to lie)."""
        content = wheel.read_bytes()
        (self.root / "files" / wheel.name).write_bytes(content)
        name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
        entry: dict[str, Any] = {
            "filename": wheel.name,
            "url": f"../../files/{wheel.name}",
            "hashes": {"sha256": sha256 or hashlib.sha256(content).hexdigest()},
            "yanked": yanked,
            "size": len(content) if size is None else size,
            "upload-time": (uploaded or datetime(2024, 1, 1, tzinfo=UTC))
            .isoformat(timespec="microseconds")
            .replace("+00:00", "Z"),
        }
        if requires_python is not None:
            entry["requires-python"] = requires_python
        if metadata:
            core = wheel_metadata(wheel)
            (self.root / "files" / f"{wheel.name}.metadata").write_bytes(core)
            entry["core-metadata"] = {"sha256": hashlib.sha256(core).hexdigest()}
        page = self.root / "simple" / name / "index.json"
        page.parent.mkdir(exist_ok=True)
        document = (
            json.loads(page.read_text())
            if page.exists()
            else {"meta": {"api-version": "1.1", "_last-serial": 1}, "name": name, "files": []}
        )
        document["files"] = [f for f in document["files"] if f["filename"] != wheel.name]
        document["files"].append(entry)
        page.write_text(json.dumps(document))
        return entry

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with index._lock:
                    index.hits[self.path] += 1
                    index.authorizations[self.path] = self.headers.get("Authorization")
                if index.delay:
                    time.sleep(index.delay)
                if index.status is not None:
                    self._answer(index.status, b"upstream trouble\n", "text/plain")
                    return
                parts = self.path.strip("/").split("/")
                as_html = "json" not in self.headers.get("Accept", "json")
                if parts == ["simple"]:  # the project list, which devpi's mirror reads first
                    names = sorted(p.name for p in (index.root / "simple").iterdir())
                    if as_html:
                        links = "".join(f'<a href="{n}/">{n}</a>' for n in names)
                        self._answer(
                            200, f"<html><body>{links}</body></html>".encode(), "text/html"
                        )
                    else:
                        projects = [{"name": name} for name in names]
                        listing = {"meta": {"api-version": "1.1"}, "projects": projects}
                        self._answer(200, json.dumps(listing).encode(), JSON_V1)
                    return
                if len(parts) == 2 and parts[0] == "simple":
                    page = index.root / "simple" / parts[1] / "index.json"
                    if page.exists() and as_html:
                        self._answer(200, html_page(json.loads(page.read_bytes())), "text/html")
                        return
                    if page.exists():
                        self._answer(200, page.read_bytes(), JSON_V1)
                        return
                elif len(parts) == 2 and parts[0] == "files":
                    path = index.root / "files" / parts[1]
                    if path.exists():
                        self._answer(200, path.read_bytes(), "application/octet-stream", True)
                        return
                self._answer(404, b"not found\n", "text/plain")

            def _answer(self, status: int, body: bytes, kind: str, slow: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if slow and index.file_delay:
                    half = len(body) // 2
                    self.wfile.write(body[:half])
                    self.wfile.flush()
                    time.sleep(index.file_delay)
                    body = body[half:]
                self.wfile.write(body)

        return Handler
