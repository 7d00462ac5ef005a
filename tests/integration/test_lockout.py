"""Issue 14's lock-out: others' failures from one address never refuse a credential that verifies.

Behind the documented nginx set-up every client reaches pryv from the proxy's address, so a
per-address limit that refused everyone once it tripped let one broken CI job lock out the whole
team. The limit now counts failures and stops further *failing* guesses only. ``[server]
trusted-proxies`` names the proxies whose ``X-Forwarded-For`` is believed, so each client behind
them is counted on its own address; from any other peer the header is ignored (a client cannot
escape its own count by inventing addresses).
"""

from __future__ import annotations

import ipaddress

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.config import Settings
from tests.configs import build_app
from tests.configs import from_address as peer
from tests.credentials import basic
from tests.integration.explorer_helpers import login

PROXY = "10.0.0.1"


def limited_app(settings: Settings, **changes: object) -> Flask:
    app = build_app(settings.replace(login_attempts=3, login_window=120, **changes))
    return app


def forwarded(client: FlaskClient, path: str, headers: dict[str, str], chain: str) -> int:
    return client.get(path, headers={**headers, "X-Forwarded-For": chain}).status_code


def test_a_broken_ci_job_does_not_lock_out_the_team(settings: Settings) -> None:
    """Ten wrong logins from the proxy's address, then a valid user from the same address."""
    proxy = peer(limited_app(settings), PROXY)
    answers = [
        proxy.get("/simple/", headers=basic("ci-bot", "stale")).status_code for _ in range(10)
    ]
    assert answers[:3] == [401] * 3
    assert set(answers[3:]) == {429}  # failing guesses from the address are stopped...
    assert proxy.get("/simple/", headers=basic()).status_code == 200  # ...a valid user is not
    assert proxy.get("/simple/", headers=basic("bob", "guess")).status_code == 429


def test_explorer_login_is_not_locked_out_by_others(settings: Settings) -> None:
    proxy = peer(limited_app(settings), PROXY)
    for _ in range(5):
        proxy.get("/simple/", headers=basic("ci-bot", "stale"))
    assert login(proxy).status_code == 302


def test_a_locked_user_is_still_refused_even_with_the_right_password(settings: Settings) -> None:
    """The per-user lock still answers before the check: no oracle for a guessed password."""
    client = peer(limited_app(settings), "10.0.0.66")
    for _ in range(3):
        assert client.get("/simple/", headers=basic("alice", "guess")).status_code == 401
    assert peer(client.application, "10.0.0.7").get("/simple/", headers=basic()).status_code == 429


def test_forwarded_for_is_ignored_without_trusted_proxies(settings: Settings) -> None:
    attacker = peer(limited_app(settings), "10.0.0.66")
    statuses = [
        forwarded(attacker, "/simple/", basic("bob", "guess"), f"192.0.2.{n}") for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]  # inventing addresses escapes nothing


def test_trusted_proxy_counts_each_forwarded_client_apart(settings: Settings) -> None:
    app = limited_app(settings, trusted_proxies=(ipaddress.ip_network("10.0.0.0/30"),))
    proxy = peer(app, PROXY)
    for _ in range(3):
        assert forwarded(proxy, "/simple/", basic("u", "x"), "198.51.100.9") == 401
    assert forwarded(proxy, "/simple/", basic("v", "x"), "198.51.100.9") == 429
    # Another client behind the same proxy has its own count; the client's spoofed entry left of
    # what the proxy appended is not believed.
    assert forwarded(proxy, "/simple/", basic("w", "x"), "198.51.100.9, 203.0.113.5") == 401
    assert forwarded(proxy, "/simple/", basic("w", "x"), "203.0.113.5, 198.51.100.9") == 429


def test_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Settings) -> None:
    app = limited_app(settings, trusted_proxies=(ipaddress.ip_network(PROXY),))
    stranger = peer(app, "10.0.0.99")
    statuses = [forwarded(stranger, "/simple/", basic("u", "x"), f"192.0.2.{n}") for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_the_access_log_names_the_forwarded_client(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = limited_app(settings, trusted_proxies=(ipaddress.ip_network(PROXY),))
    caplog.set_level("INFO", logger="pryv.access")
    response = peer(app, PROXY).get(
        "/simple/", headers={**basic(), "X-Forwarded-For": "198.51.100.9"}
    )
    assert response.status_code == 200
    response.close()
    assert "remote=198.51.100.9" in caplog.text
