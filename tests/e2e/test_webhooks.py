"""A webhook receiver started by the test gets pryv's signed events from a real ``pryv start``
(an upload through twine) and from the command line (``pryv delete``)."""

from __future__ import annotations

import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dists import make_wheel
from tests.e2e.servers import Server
from tests.e2e.servers import run
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-0123456789"


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.arrived = threading.Condition()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(SECRET.encode(), body, "sha256").hexdigest()
        good = hmac.compare_digest(self.headers["X-Pryv-Signature-256"], expected)
        self.send_response(204 if good else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if good:
            with self.server.arrived:
                self.server.events.append(json.loads(body))
                self.server.arrived.notify_all()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def server(tmp_path: Path, receiver: Receiver) -> Iterator[Server]:
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    extra = f"[webhooks]\nurls = {hook}\nsecret = {SECRET}\n"
    running = start_with_user(tmp_path / "server", extra=extra)
    yield running
    stop_server(running)


def wait_for(receiver: Receiver, count: int) -> list[dict]:
    with receiver.arrived:
        receiver.arrived.wait_for(lambda: len(receiver.events) >= count, timeout=30)
        return list(receiver.events)


def test_upload_and_delete_send_signed_events(
    server: Server, receiver: Receiver, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "dist", "demo", "1.0")
    twine_upload(server, wheel)
    (upload,) = wait_for(receiver, 1)
    assert upload["event"] == "upload"
    assert upload["data"]["filename"] == wheel.name
    assert upload["data"]["user"] == "carol"
    run(tool("pryv"), "delete", "-c", str(server.config), "demo", "1.0",
        "--reason", "leak", "--yes")  # fmt: skip
    events = wait_for(receiver, 2)
    assert events[1]["event"] == "delete"
    assert events[1]["data"]["reason"] == "leak"
    assert events[1]["data"]["filename"] == wheel.name
