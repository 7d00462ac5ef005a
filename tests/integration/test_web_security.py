"""API-side web security through the test client: Basic auth, rate limiting, paths, redirects."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.config import Settings
from tests.configs import build_app
from tests.configs import from_address
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import basic
from tests.credentials import raw_basic_header
from tests.dists import make_wheel
from tests.security_helpers import tree
from tests.uploads import post_upload

MALFORMED = [
    pytest.param("Basic !!!", id="bad-base64"),
    pytest.param("Basic YWxpY2U", id="base64-no-padding"),
    pytest.param(raw_basic_header(b"alice"), id="no-colon"),
    pytest.param(raw_basic_header(b"\xff\xfe:\xff"), id="not-utf8"),
    pytest.param(raw_basic_header(b":"), id="empty-user-password"),
    pytest.param(raw_basic_header(b""), id="empty-token"),
    pytest.param("Basic", id="scheme-only"),
    pytest.param("Basic ", id="scheme-space"),
    pytest.param("", id="empty-header"),
    pytest.param("Bearer abc", id="bearer"),
    pytest.param('Digest username="alice"', id="digest"),
    pytest.param("Basic " + "A" * 20_000, id="huge"),
    pytest.param(raw_basic_header(b"alice:" + PASSWORD.encode() + b"\0"), id="nul-suffix"),
    pytest.param(raw_basic_header(b"alice\0:" + PASSWORD.encode()), id="nul-in-user"),
    pytest.param(raw_basic_header(b"alice:wonderland:extra"), id="two-colons"),
]


@pytest.mark.parametrize("header", MALFORMED)
@pytest.mark.parametrize("path", ["/simple/", "/packages/x.whl"])
def test_malformed_basic_auth_is_401(client: FlaskClient, header: str, path: str) -> None:
    response = client.get(path, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="pryv"')
    assert response.text.count("\n") == 1


def test_unknown_user_and_wrong_password_answer_identically(client: FlaskClient) -> None:
    answers = []
    for user, password in [("alice", "wrong"), ("nobody", "wrong"), ("nobody", PASSWORD)]:
        response = client.get("/simple/", headers=basic(user, password))
        headers = {k: v for k, v in response.headers.items() if k != "Date"}
        answers.append((response.status, response.data, headers))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0].startswith("401")


@pytest.fixture
def limited(settings: Settings) -> Flask:
    app = build_app(settings.replace(login_attempts=3, login_window=120))
    return app


def test_failed_logins_are_rate_limited_per_user(limited: Flask) -> None:
    attacker = from_address(limited, "10.0.0.66")
    for _ in range(3):
        assert attacker.get("/simple/", headers=basic(USER, "guess")).status_code == 401
    locked = attacker.get("/simple/", headers=basic(USER, "guess"))
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "120"
    assert "too many failed logins" in locked.text
    # Even the right password is refused while locked: no oracle for the attacker.
    assert attacker.get("/simple/", headers=basic()).status_code == 429
    # The user is locked from every address; another user from another address is not.
    assert from_address(limited, "10.0.0.7").get("/simple/", headers=basic()).status_code == 429
    other = from_address(limited, "10.0.0.7").get("/simple/", headers=basic("bob", "x"))
    assert other.status_code == 401


def test_failed_logins_are_rate_limited_per_address(limited: Flask) -> None:
    attacker = from_address(limited, "10.0.0.66")
    for user in ["u1", "u2", "u3"]:
        assert attacker.get("/simple/", headers=basic(user, "guess")).status_code == 401
    assert attacker.get("/simple/", headers=basic("u4", "guess")).status_code == 429
    assert attacker.get("/simple/", headers={"Authorization": "Basic !!!"}).status_code == 401
    assert from_address(limited, "10.0.0.8").get("/simple/", headers=basic()).status_code == 200


def test_upload_failures_count_too(limited: Flask, tmp_path: Path) -> None:
    client = from_address(limited, "10.0.0.66")
    wheel = make_wheel(tmp_path / "d", "demo", "1.0")
    for _ in range(3):
        assert post_upload(client, wheel, headers=basic(USER, "guess")).status_code == 401
    assert post_upload(client, wheel, headers=basic(USER, "guess")).status_code == 429


def test_successes_are_never_limited(limited: Flask) -> None:
    client = from_address(limited, "10.0.0.5")
    for _ in range(20):
        assert client.get("/simple/", headers=basic()).status_code == 200


def test_upload_ignores_session_cookie(client: FlaskClient, tmp_path: Path) -> None:
    """A browser logged in to the explorer cannot be made to upload by a third-party page."""
    assert client.get("/simple/", headers=basic()).status_code == 200
    with client.session_transaction() as session:
        for key in ("user", "username", "user_id", "_user_id", "login"):
            session[key] = USER
    wheel = make_wheel(tmp_path / "d", "demo", "1.0")
    response = post_upload(client, wheel, headers={})
    assert response.status_code == 401
    assert client.get("/simple/", headers={}).status_code == 401
    assert client.get("/simple/demo/", headers=basic()).status_code == 404


def test_downloads_are_nosniff(client: FlaskClient, published: Path) -> None:
    for suffix in ["", ".metadata"]:
        response = client.get(f"/packages/{published.name}{suffix}", headers=basic())
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()
    attachment = client.get(f"/packages/{published.name}", headers=basic())
    assert attachment.headers["Content-Disposition"] == f'attachment; filename="{published.name}"'
    attachment.close()


TRAVERSALS = [
    "../users.json",
    "..%2fusers.json",
    "..%2Fusers.json",
    "%2e%2e/users.json",
    "%2e%2e%2fusers.json",
    "%252e%252e%252fusers.json",
    "..%252fusers.json",
    "..\\users.json",
    "..%5cusers.json",
    "%5c..%5cusers.json",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "//etc/passwd",
    "users.json",
    "pryv.ini",
    ".htpasswd",
    "users.json%00.whl",
    "%00",
    "%c0%ae%c0%ae/users.json",
    "%c0%ae%c0%ae%c0%afusers.json",
    "..%c0%afusers.json",
    "..%u2216users.json",
    "....//users.json",
    ".%2e/users.json",
    "projects/demo/x.json",
    "..;/users.json",
]


@pytest.mark.parametrize("prefix", ["/packages/", "/simple/", "/static/", "/packages/demo/"])
@pytest.mark.parametrize("attack", TRAVERSALS)
def test_no_path_serves_files_outside_the_records(
    client: FlaskClient, published: Path, settings: Settings, prefix: str, attack: str
) -> None:
    before = tree(Path(settings.projects_path.path).parent)
    response = client.get(prefix + attack, headers=basic())
    body = response.get_data()
    response.close()
    assert response.status_code in {301, 308, 404}, (response.status, body[:200])
    assert b"password" not in body
    assert b"[core]" not in body
    assert b"root:" not in body
    if response.status_code in {301, 308}:
        location = response.headers["Location"]
        assert location.startswith(prefix.rstrip("/"))
        assert "\r" not in location
        assert "\n" not in location
    assert tree(Path(settings.projects_path.path).parent) == before


@pytest.mark.parametrize("host", ["evil.example", "evil.example:666", "localhost"])
def test_redirects_never_reflect_host(client: FlaskClient, published: Path, host: str) -> None:
    for path in ["/simple/Demo/", "/simple/demo", "/", "/simple", "/simple//demo/", "//simple/"]:
        response = client.get(path, headers={**basic(), "Host": host})
        assert response.status_code in {301, 302, 308}, path
        location = response.headers["Location"]
        assert location.startswith("/")
        assert not location.startswith("//")
        assert "evil" not in location
        assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/simple/demo%0d%0aSet-Cookie:%20x=1/",
        "/simple/demo%0aLocation:%20http://evil.example/",
        "/simple/%2F%2Fevil.example/",
        "/simple/%5C%5Cevil.example/",
        "/simple/Demo%0d%0a",
    ],
)
def test_redirects_never_carry_crlf(client: FlaskClient, published: Path, path: str) -> None:
    response = client.get(path, headers={**basic(), "Host": "evil.example"})
    assert response.status_code in {301, 308, 404}
    assert "Set-Cookie" not in response.headers
    location = response.headers.get("Location", "/simple/")
    assert "\r" not in location
    assert "\n" not in location
    assert location.startswith("/simple/")
