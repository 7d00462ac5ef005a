"""Operating a real `pryv start`: /health, the access log, and a SIGTERM during an upload."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.credentials import basic_header
from tests.dists import make_wheel
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server
from tests.e2e.servers import twine_upload
from tests.uploads import upload_body

pytestmark = pytest.mark.e2e


@pytest.fixture
def debug_server(tmp_path: Path) -> Iterator[Server]:
    """A server with `debug = true`, which logs a line when each request starts."""
    running = start_with_user(tmp_path / "server", extra="debug = true\n")
    yield running
    stop_server(running)


def wait_for_log(server: Server, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log_text():
        assert time.monotonic() < deadline, f"{text!r} never logged:\n{server.log_text()}"
        time.sleep(0.05)


def test_health_over_http_and_its_access_log_line(server: Server) -> None:
    with urllib.request.urlopen(f"{server.url}/health", timeout=30) as response:
        assert response.status == 200
        body = json.load(response)
    assert body["status"] == "ok"
    assert body["checks"]["users"] == {"ok": True}
    wait_for_log(server, "pryv.access: method=GET path=/health status=200")
    # pryv start spares records the caller and thread lookups; gunicorn's own lines still show
    # the worker's pid, and no record fails to format ("--- Logging error ---").
    assert re.search(r"\[\d+\] \[INFO\] Booting worker with pid: \d+", server.log_text())
    assert "Logging error" not in server.log_text()


def multipart_upload(wheel: Path) -> tuple[bytes, bytes, str]:
    """The head (form fields and part header) and tail (file bytes and end) of a twine upload."""
    content = wheel.read_bytes()
    body, content_type = upload_body(wheel.name, content)
    split = body.index(content)
    return body[:split], body[split:], content_type


def test_sigterm_lets_an_upload_in_flight_finish_and_be_stored(
    debug_server: Server, tmp_path: Path
) -> None:
    server = debug_server
    wheel = make_wheel(
        tmp_path / "dist", "inflight", "1.0", payload=f"DATA = {os.urandom(1 << 20).hex()!r}\n"
    )
    head, tail, content_type = multipart_upload(wheel)
    port = int(server.url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.putrequest("POST", "/legacy/")
    connection.putheader("Authorization", basic_header(USER, PASSWORD))
    connection.putheader("Content-Type", content_type)
    connection.putheader("Content-Length", str(len(head) + len(tail)))
    connection.endheaders()
    connection.send(head + tail[: len(tail) // 2])
    # The worker is reading this upload: now stop the server, as a deploy or `docker stop` would.
    wait_for_log(server, "request started method=POST path=/legacy/")
    server.process.send_signal(signal.SIGTERM)
    wait_for_log(server, "Handling signal: term")
    connection.send(tail[len(tail) // 2 :])
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    assert response.status == 200, body
    assert body.startswith("stored ")
    assert server.process.wait(timeout=60) == 0
    wait_for_log(server, "path=/legacy/ status=200")
    stored = list((server.root / "packages").rglob(wheel.name))
    assert len(stored) == 1
    assert stored[0].read_bytes() == wheel.read_bytes()
    assert list((server.root / "projects" / "inflight").glob("*.json"))


def test_download_access_line_under_gunicorn_has_user_and_file_size(
    server: Server, tmp_path: Path
) -> None:
    """Under gunicorn a download goes out through its file wrapper; the line still counts it."""
    wheel = make_wheel(tmp_path / "dist", "fetched", "1.0")
    twine_upload(server, wheel)
    request = urllib.request.Request(f"{server.url}/packages/{wheel.name}")
    request.add_header("Authorization", basic_header(USER, PASSWORD))
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.read() == wheel.read_bytes()
    size = wheel.stat().st_size
    wait_for_log(server, f"path=/packages/{wheel.name} status=200")
    lines = [line for line in server.log_text().splitlines() if f"/packages/{wheel.name}" in line]
    (line,) = lines
    assert f"user={USER} bytes={size} " in line
    assert re.search(
        r"method=POST path=/simple/ status=200 duration_ms=[\d.]+ user=carol", server.log_text()
    )
