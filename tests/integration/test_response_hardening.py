"""Headers and bodies an attacker could misuse: sniffing, lock-out pages, /health, log lines."""

from __future__ import annotations

import logging
import shlex

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.credentials import basic
from tests.dists import make_wheel
from tests.integration.explorer_helpers import login
from tests.uploads import post_upload

API_HARDENING = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
}


def _assert_hardened(response) -> None:  # type: ignore[no-untyped-def]
    for name, value in API_HARDENING.items():
        assert response.headers.get(name) == value, (name, response.headers)


@pytest.mark.parametrize("accept", ["text/html", "application/vnd.pypi.simple.v1+json"])
def test_simple_pages_are_hardened_on_first_and_cached_answers(
    client: FlaskClient, tmp_path, accept: str
) -> None:
    """The page cache answers the repeat before Flask: both paths carry the same headers."""
    wheel = make_wheel(tmp_path, "demo", "1.0")
    assert post_upload(client, wheel).status_code == 200
    headers = {**basic(), "Accept": accept}
    for path in ("/simple/", "/simple/demo/"):
        first = client.get(path, headers=headers)
        repeat = client.get(path, headers=headers)
        assert first.status_code == repeat.status_code == 200
        _assert_hardened(first)
        _assert_hardened(repeat)
        assert dict(first.headers) == dict(repeat.headers)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/simple/%3Cscript%3Ealert(1)%3C%2Fscript%3E/", 404),
        ("/packages/%3Cscript%3E.whl", 404),
    ],
)
def test_plain_errors_that_echo_names_are_hardened(
    client: FlaskClient, path: str, status: int
) -> None:
    response = client.get(path, headers=basic())
    assert response.status_code == status
    assert response.mimetype == "text/plain"
    _assert_hardened(response)


def test_unauthenticated_errors_are_hardened(client: FlaskClient) -> None:
    _assert_hardened(client.get("/simple/"))


def test_lockout_page_is_html_and_not_stored(app: Flask, client: FlaskClient) -> None:
    for _ in range(app.extensions["pryv"].settings.login_attempts):
        login(client, password="wrong")
    locked = login(client)
    assert locked.status_code == 429
    assert locked.mimetype == "text/html"
    assert "no-store" in locked.headers["Cache-Control"]
    assert locked.text.lstrip().lower().startswith("<!doctype html>")


def test_health_tells_anonymous_callers_neither_user_count_nor_version(
    client: FlaskClient,
) -> None:
    body = client.get("/health").get_json()
    assert body["status"] == "ok"
    assert "version" not in body
    assert body["checks"]["users"] == {"ok": True}
    assert "count" not in client.get("/health").text


@pytest.mark.parametrize(
    "path",
    [
        "/x%0Amethod=GET%20path=/admin%20status=200%20user=root",
        "/x%0D%0Afake",
        "/x%1B%5B31mred",
        "/x%22%20user=root",
    ],
)
def test_access_log_line_cannot_be_forged_through_the_path(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    caplog.set_level(logging.INFO, logger="pryv.access")
    client.get(path).close()
    lines = [r.getMessage() for r in caplog.records if r.name == "pryv.access"]
    assert len(lines) == 1
    (line,) = lines
    assert all(char.isprintable() for char in line)
    # the forged fields stay inside the quoted path: one of each key, and no user
    fields = [token.split("=", 1) for token in shlex.split(line)]
    keys = [key for key, _ in fields]
    assert sorted(keys) == sorted(set(keys)), line
    assert dict(fields)["user"] == "-"
    assert dict(fields)["status"] == "404"
