"""Slow clients (slowloris) against a real ``pryv start``: they must not starve anyone else.

The header deadline holds under both HTTP servers ``pryv start`` offers; the body deadline only
under gunicorn, the default (granian has none: docs/performance.md says why that decides it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.servers import EVERY_HTTP_SERVER
from tests.e2e.servers import Server
from tests.security_helpers import AUTH
from tests.security_helpers import read_response

SLOW_CONNECTIONS = 64
PROBE_SECONDS = 3.0


def _connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _probe(server: Server) -> tuple[int, float]:
    """An authenticated ``GET /simple/``: its status and how long the answer took."""
    start = time.monotonic()
    try:
        with _connect(server) as sock:
            sock.settimeout(PROBE_SECONDS)
            sock.sendall(
                b"GET /simple/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                b"Authorization: " + AUTH + b"\r\n\r\n"
            )
            status, _ = read_response(sock)
    except OSError:
        status = 0
    return status, time.monotonic() - start


@pytest.fixture
def slowloris(server: Server) -> Iterator[list[socket.socket]]:
    """64 anonymous connections that send their headers one byte every 10 seconds."""
    request = b"GET /simple/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    sockets = [_connect(server) for _ in range(SLOW_CONNECTIONS)]
    stop = threading.Event()

    def trickle() -> None:
        for position in range(len(request)):
            for sock in sockets:
                try:
                    sock.sendall(request[position : position + 1])
                except OSError:
                    pass  # the server hung up on it: that is the point
            if stop.wait(10):
                return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    time.sleep(1)  # every slow connection has sent its first byte
    yield sockets
    stop.set()
    thread.join()
    for sock in sockets:
        sock.close()


@EVERY_HTTP_SERVER
def test_slow_headers_do_not_starve_other_clients(
    server: Server, slowloris: list[socket.socket]
) -> None:
    probes = [_probe(server) for _ in range(4)]
    assert all(status == 200 and took < PROBE_SECONDS for status, took in probes), probes


@EVERY_HTTP_SERVER
def test_slow_headers_are_cut_after_the_header_deadline(
    server: Server, slowloris: list[socket.socket]
) -> None:
    sock = slowloris[0]
    sock.settimeout(20)
    start = time.monotonic()
    status, answer = read_response(sock)
    assert time.monotonic() - start < 15
    assert status in (0, 408), answer  # an answer, or just the connection closed


def test_a_slow_body_is_cut(server: Server) -> None:
    """An authenticated upload whose body crawls is answered 408 instead of holding a thread."""
    with _connect(server) as sock:
        sock.sendall(
            b"POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + AUTH + b"\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n"
            b"--x\r\n"
        )
        sock.settimeout(1)
        start = time.monotonic()
        status, answer = 0, b""
        while time.monotonic() - start < 25 and not status:
            try:
                sock.sendall(b"a")
                status, answer = read_response(sock)
            except OSError:
                break
        assert time.monotonic() - start < 25
        assert status in (0, 408), answer
