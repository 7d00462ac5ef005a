"""The forwarding rule of ``pryv start --server granian``: only a local proxy names the scheme."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from pryv_server.granian_server import LocalProxyScheme


def _scheme_seen(remote: str, forwarded: str | None) -> str:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(environ["wsgi.url_scheme"])
        return [b""]

    environ: dict[str, Any] = {"REMOTE_ADDR": remote, "wsgi.url_scheme": "http"}
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_PROTO"] = forwarded
    LocalProxyScheme(app)(environ, lambda *args: None)  # type: ignore[arg-type]
    return seen[0]


@pytest.mark.parametrize("remote", ["127.0.0.1", "::1"])
def test_a_proxy_on_this_machine_names_the_scheme(remote: str) -> None:
    assert _scheme_seen(remote, "https") == "https"
    assert _scheme_seen(remote, " HTTPS ") == "https"


@pytest.mark.parametrize("remote", ["10.0.0.5", "192.168.1.2", "2001:db8::1"])
def test_a_remote_client_cannot_claim_tls(remote: str) -> None:
    assert _scheme_seen(remote, "https") == "http"


def test_only_http_and_https_are_believed() -> None:
    assert _scheme_seen("127.0.0.1", "javascript") == "http"
    assert _scheme_seen("127.0.0.1", None) == "http"
