"""What ``pryv start`` must do alike under each HTTP server it offers (gunicorn and granian)."""

from __future__ import annotations

import signal
import urllib.request

import pytest

from tests.credentials import basic_header
from tests.e2e.servers import EVERY_HTTP_SERVER
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server

pytestmark = pytest.mark.e2e


def _use_page(server: Server, *, proto: str | None) -> str:
    request = urllib.request.Request(server.url + "/use")
    request.add_header("Authorization", basic_header(USER, PASSWORD))
    if proto:
        request.add_header("X-Forwarded-Proto", proto)
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


@EVERY_HTTP_SERVER
def test_a_local_proxy_that_says_https_gets_https_commands(server: Server) -> None:
    """Behind nginx on the same machine, the pages show the URL the clients use: https."""
    address = server.url.removeprefix("http://")
    assert f"https://{address}/simple/" in _use_page(server, proto="https")
    plain = _use_page(server, proto=None)
    assert f"http://{address}/simple/" in plain
    assert f"https://{address}/simple/" not in plain


@EVERY_HTTP_SERVER
def test_sigterm_stops_the_server_cleanly(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=40) == 0
