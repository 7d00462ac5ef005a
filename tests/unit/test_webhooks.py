"""The webhook sender: signed bodies, retries with backoff, and a queue that never blocks."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from pryv_server.backends.webhooks import SIGNATURE_HEADER
from pryv_server.backends.webhooks import WebhookSender
from pryv_server.backends.webhooks import sign

SECRET = "webhook-secret-0123456789"


class Receiver(http.server.ThreadingHTTPServer):
    """Answers each POST with the next status of ``statuses`` (then 204) and keeps what came."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.done = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if status < 300:
            self.server.done.set()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    server = Receiver(list(getattr(request, "param", [])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_signature_is_github_style_hmac_sha256() -> None:
    body = b'{"event": "upload"}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) == f"sha256={expected}"


@pytest.mark.parametrize("receiver", [[500, 503, 429]], indirect=True)
def test_a_failing_receiver_is_retried_with_backoff(receiver: Receiver) -> None:
    waits: list[float] = []
    sender = WebhookSender((receiver.url,), SECRET, retries=5, sleep=waits.append)
    sender("upload", {"project": "demo", "filename": "demo-1.0.tar.gz"})
    assert receiver.done.wait(10)
    assert sender.drain(5)
    assert waits == [1.0, 2.0, 4.0]
    assert len(receiver.received) == 4
    ids = {headers["X-Pryv-Delivery"] for headers, _ in receiver.received}
    assert len(ids) == 1  # one event, retried: the same delivery id
    headers, body = receiver.received[-1]
    assert headers[SIGNATURE_HEADER] == sign(SECRET, body)
    assert headers["X-Pryv-Event"] == "upload"
    document = json.loads(body)
    assert document["event"] == "upload"
    assert document["data"] == {"project": "demo", "filename": "demo-1.0.tar.gz"}


@pytest.mark.parametrize("receiver", [[400]], indirect=True)
def test_a_refusal_is_not_retried(receiver: Receiver) -> None:
    waits: list[float] = []
    sender = WebhookSender((receiver.url,), SECRET, retries=5, sleep=waits.append)
    sender("delete", {"project": "demo"})
    assert sender.drain(5)
    assert (waits, len(receiver.received)) == ([], 1)


def test_a_full_queue_drops_events_instead_of_blocking(caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    sender = WebhookSender(("http://127.0.0.1:9/hook",), SECRET, queue_size=1, retries=0)
    sender._deliver = lambda url, delivery: release.wait(10)  # type: ignore[method-assign]
    for number in range(5):
        sender("upload", {"n": number})  # returns at once, whatever the receiver does
    assert "webhook queue full" in caplog.text
    release.set()
    assert sender.drain(5)


def test_urls_without_a_secret_stop_the_start(tmp_path: object) -> None:
    from pryv_server.app import open_webhooks
    from pryv_server.config import Settings
    from pryv_server.errors import ConfigError

    settings = Settings.from_mapping({"webhooks": {"urls": "http://127.0.0.1:9/hook"}})
    with pytest.raises(ConfigError, match=r"\[webhooks\] secret: set it"):
        open_webhooks(settings)
    with pytest.raises(ConfigError, match="not an http"):
        Settings.from_mapping({"webhooks": {"urls": "ftp://x/hook", "secret": SECRET}})
