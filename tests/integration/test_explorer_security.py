"""The explorer's security rules: CSRF, safe redirects, escaping, sanitizing, headers, setup."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.web.explorer.setup import setup_token
from tests.credentials import basic
from tests.dists import make_wheel
from tests.integration.explorer_helpers import csrf_token
from tests.integration.explorer_helpers import login
from tests.integration.explorer_helpers import readme_html
from tests.security_helpers import TagCollector
from tests.uploads import post_upload


def fresh_app(settings: Settings, tmp_path: Path, **changes: object) -> Flask:
    """An app whose users file does not exist yet: the first visit is the setup."""
    users = tmp_path / "fresh" / "users.json"
    users.parent.mkdir(exist_ok=True)
    from pryv_server.config import parse_location

    return create_app(settings.replace(users_path=parse_location(str(users)), **changes))


# CSRF ------------------------------------------------------------------------------------


def test_login_without_or_with_a_wrong_csrf_token_is_refused(client: FlaskClient) -> None:
    for data in [
        {"username": "alice", "password": "wonderland"},
        {"username": "alice", "password": "wonderland", "csrf_token": "forged"},
    ]:
        response = client.post("/login", data=data)
        assert response.status_code == 400
        assert response.mimetype == "text/html"
        assert "CSRF" in response.text
    assert client.get("/projects").status_code == 302  # still not logged in


def test_logout_needs_the_csrf_token(user: FlaskClient) -> None:
    assert user.post("/logout").status_code == 400
    assert user.get("/projects").status_code == 200  # still logged in


def test_a_token_from_another_session_is_refused(app: Flask, client: FlaskClient) -> None:
    other = app.test_client()
    token = csrf_token(other)
    response = client.post(
        "/login", data={"username": "alice", "password": "wonderland", "csrf_token": token}
    )
    assert response.status_code == 400


def test_the_api_needs_no_csrf_token_and_never_accepts_the_session(
    user: FlaskClient, dist: Path
) -> None:
    wheel = make_wheel(dist, "demo", "1.0")
    # Logged in through the explorer, but no HTTP Basic: the upload API refuses.
    refused = post_upload(user, wheel, headers={})
    assert refused.status_code == 401
    assert user.get("/simple/", headers={}).status_code == 401
    # HTTP Basic without any CSRF token works, as twine sends it.
    assert post_upload(user, wheel).status_code == 200
    assert user.get(f"/packages/{wheel.name}", headers={}).status_code == 401
    response = user.get(f"/packages/{wheel.name}", headers=basic())
    assert response.status_code == 200
    response.close()


# Redirects after login -------------------------------------------------------------------

HOSTILE_NEXT = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "javascript:alert(1)",
    "/projects\r\nSet-Cookie: x=1",
    "/projects%0d%0aSet-Cookie: x=1\n",
    "evil.example",
    "/\tevil",
    "",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_only_leads_to_local_paths(client: FlaskClient, target: str) -> None:
    response = login(client, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/projects"


def test_a_hostile_next_is_not_put_in_the_login_form(client: FlaskClient) -> None:
    page = client.get("/login", query_string={"next": "//evil.example/"}).text
    assert "evil.example" not in page
    page = client.get("/login", query_string={"next": '/projects"><script>x</script>'}).text
    assert "<script>x" not in page
    assert "&#34;&gt;&lt;script&gt;" in page or "&quot;&gt;&lt;script&gt;" in page


def test_a_local_next_with_a_query_is_kept(client: FlaskClient) -> None:
    response = login(client, next="/projects?q=demo&page=1")
    assert response.headers["Location"] == "/projects?q=demo&page=1"


# Escaping and sanitizing -----------------------------------------------------------------

HOSTILE_METADATA = dict(
    summary='<script>alert("summary")</script>',
    metadata_version="2.1",
    requires_python=">=3.8",
    extra=[
        "Author: <img src=x onerror=alert(1)>",
        'Author-email: "<b>bold</b>" <x@example.org>',
        "Maintainer: </aside><script>alert(2)</script>",
        "License: <svg onload=alert(3)>",
        "Keywords: <i>one</i>,two",
        'Project-URL: Quote, https://example.org/"onmouseover="alert(6)',
        "Classifier: Framework :: <script>alert(8)</script>",
    ],
)


@pytest.mark.parametrize(
    "url_field",
    ["Project-URL: Evil, javascript:alert(4)", "Project-URL: Data, data:text/html,<script>alert(5)</script>",
     "Home-page: JaVaScRiPt:alert(7)"],
)  # fmt: skip
def test_script_urls_are_accepted_but_never_linked(
    user: FlaskClient, dist: Path, url_field: str
) -> None:
    """A link is only displayed, so it never refuses a file; only http(s) becomes an href."""
    response = post_upload(user, make_wheel(dist, "evil", "1.0", extra=[url_field]))
    assert response.status_code == 200, response.text
    page = user.get("/project/evil/").text
    scheme = url_field.split(", ")[-1].split(": ")[-1].split(":")[0]
    assert scheme in page  # shown as text
    assert f'href="{scheme}' not in page.lower().replace(scheme.lower(), scheme)
    assert 'href="javascript' not in page.lower()
    assert 'href="data' not in page.lower()


def test_hostile_metadata_fields_are_escaped(user: FlaskClient, dist: Path) -> None:
    assert post_upload(user, make_wheel(dist, "evil", "1.0", **HOSTILE_METADATA)).status_code == 200
    pages = [
        user.get("/projects").text,
        user.get("/projects?q=evil").text,
        user.get("/project/evil/").text,
        user.get("/project/evil/latest/releases").text,
        user.get("/project/evil/latest/packages").text,
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "<svg onload" not in page
        assert 'href="javascript:' not in page.lower()
        assert 'href="data:' not in page
        assert '"onmouseover="' not in page
    project = pages[2]
    assert "&lt;script&gt;alert(&#34;summary&#34;)&lt;/script&gt;" in project
    assert "&lt;img src=x onerror=alert(1)&gt;" in project
    # The quoted URL stays inside its attribute.
    assert 'href="https://example.org/&#34;onmouseover=&#34;alert(6)"' in project


HOSTILE_DESCRIPTIONS = [
    ("text/markdown", "Hi <script>alert(1)</script>"),
    ("text/markdown", '<img src="x" onerror="alert(1)">'),
    ("text/markdown", "[click](javascript:alert(1))"),
    ("text/markdown", '<a href="javascript:alert(1)">x</a>'),
    ("text/markdown", '<a href="JaVaScRiPt:alert(1)" onclick="alert(2)">x</a>'),
    ("text/markdown", '<iframe src="https://evil.example"></iframe>'),
    ("text/markdown", "<style>body{display:none}</style><form action=/logout></form>"),
    ("text/markdown", '<div onmouseover="alert(1)" style="position:fixed">x</div>'),
    ("text/markdown; variant=CommonMark", "<svg><script>alert(1)</script></svg>"),
    ("text/x-rst", ".. raw:: html\n\n   <script>alert(1)</script>\n"),
    ("text/x-rst", "`click <javascript:alert(1)>`_\n"),
    ("text/x-rst", ".. image:: javascript:alert(1)\n"),
    ("text/plain", "<script>alert(1)</script>"),
    ("", '<script>alert(1)</script>\n\n<img src=x onerror="alert(1)">'),
]


@pytest.mark.parametrize(("content_type", "text"), HOSTILE_DESCRIPTIONS)
def test_hostile_descriptions_are_sanitized(
    user: FlaskClient, dist: Path, content_type: str, text: str
) -> None:
    wheel = make_wheel(dist, "evil", "1.0", description=text, content_type=content_type or None)
    assert post_upload(user, wheel).status_code == 200
    html = readme_html(user.get("/project/evil/").text)
    parser = TagCollector()
    parser.feed(html)
    for tag, attributes in parser.tags:
        assert tag not in {"script", "iframe", "style", "form", "svg", "object", "embed"}, html
        for name, value in attributes:
            assert not name.startswith("on"), html
            assert name != "style", html
            if name in {"href", "src"}:
                assert not (value or "").strip().lower().startswith(("javascript:", "data:")), html


# Headers and cookies ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/projects", "/project/nothing/", "/setup"])
def test_pages_carry_the_security_headers(user: FlaskClient, path: str) -> None:
    response = user.get(path)
    headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def test_pages_have_no_inline_script_or_style(user: FlaskClient, dist: Path) -> None:
    post_upload(user, make_wheel(dist, "demo", "1.0", description="# Hi"))
    for path in ["/projects", "/project/demo/", "/project/demo/latest/packages", "/logout"]:
        page = user.get(path).text
        assert "<script>" not in page
        assert "<script src=" in page
        assert " style=" not in page
        assert " onclick=" not in page


def test_session_cookie_flags(client: FlaskClient) -> None:
    response = login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back


def test_session_cookie_is_secure_over_https(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"username": "alice", "password": "wonderland", "csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


# Setup -----------------------------------------------------------------------------------


def setup_form(client: FlaskClient, **fields: str):
    token = csrf_token(client, "/setup")
    data = {"username": "root", "password": "correct horse", "confirmation": "correct horse"}
    data.update(fields)
    return client.post("/setup", data={"csrf_token": token, **data})


def test_without_users_every_page_leads_to_setup(settings: Settings, tmp_path: Path) -> None:
    client = fresh_app(settings, tmp_path).test_client()
    for path in ["/", "/projects", "/project/x/", "/login", "/logout"]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/setup"
    page = client.get("/setup").text
    assert "Welcome to pryv" in page
    assert 'name="token"' not in page  # loopback: no token needed


def test_setup_creates_the_first_user_and_logs_in(settings: Settings, tmp_path: Path) -> None:
    app = fresh_app(settings, tmp_path)
    client = app.test_client()
    response = setup_form(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/projects"
    assert client.get("/projects").status_code == 200
    stored = json.loads((tmp_path / "fresh" / "users.json").read_text())
    assert stored["root"]["password"].startswith("$2")  # bcrypt
    # The new user works for the API too.
    assert (
        app.test_client().get("/simple/", headers=basic("root", "correct horse")).status_code == 200
    )


def test_setup_is_gone_once_a_user_exists(client: FlaskClient) -> None:
    assert client.get("/setup").status_code == 404
    for data in [
        {},
        {"username": "mallory", "password": "password1", "confirmation": "password1"},
        {"username": "mallory", "password": "password1", "confirmation": "password1",
         "csrf_token": "forged"},
    ]:  # fmt: skip
        response = client.post("/setup", data=data)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
    login(client)
    assert client.get("/setup").status_code == 404


def test_setup_post_needs_the_csrf_token(settings: Settings, tmp_path: Path) -> None:
    client = fresh_app(settings, tmp_path).test_client()
    response = client.post(
        "/setup", data={"username": "root", "password": "password1", "confirmation": "password1"}
    )
    assert response.status_code == 400
    assert not (tmp_path / "fresh" / "users.json").exists()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"confirmation": "something else"}, "the two passwords differ"),
        ({"password": "short", "confirmation": "short"}, "at least 8 characters"),
        ({"username": "bad:name"}, "cannot contain"),
        ({"username": ""}, "1 to 128 characters"),
    ],
)
def test_setup_refuses_bad_input(
    settings: Settings, tmp_path: Path, fields: dict[str, str], problem: str
) -> None:
    client = fresh_app(settings, tmp_path).test_client()
    response = setup_form(client, **fields)
    assert response.status_code == 200
    assert problem in response.text
    assert not (tmp_path / "fresh" / "users.json").exists()


def test_setup_needs_the_token_off_loopback(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pryv_server.web.explorer.setup"):
        app = fresh_app(settings, tmp_path, host="0.0.0.0")
    token = setup_token(str(app.config["SECRET_KEY"]))
    assert f"setup token: {token}" in caplog.text
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"  # another machine
    assert 'name="token"' in client.get("/setup").text
    for wrong in [{}, {"token": ""}, {"token": "AAAA-BBBB-CCCC-DDDD"}]:
        response = setup_form(client, **wrong)
        assert "Setup token: it does not match" in response.text
        assert not (tmp_path / "fresh" / "users.json").exists()
    # Case and dashes do not matter; every worker derives the same token from the key.
    response = setup_form(client, token=token.lower().replace("-", " "))
    assert response.status_code == 302
    assert (tmp_path / "fresh" / "users.json").exists()


def test_no_token_is_logged_once_users_exist(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pryv_server.web.explorer.setup"):
        create_app(settings.replace(host="0.0.0.0"))  # alice exists
    assert "setup token" not in caplog.text


def test_the_token_depends_on_the_secret_key() -> None:
    assert setup_token("one") == setup_token("one")
    assert setup_token("one") != setup_token("two")


# Failed-login limiting ---------------------------------------------------------------------


def test_explorer_login_is_rate_limited_per_user_like_the_api(settings: Settings) -> None:
    app = create_app(settings.replace(login_attempts=3, login_window=60))
    client = app.test_client()
    for _ in range(3):
        response = login(client, password="wrong")
        assert response.status_code == 200
        assert "invalid" in response.text.lower()
    locked = login(client)  # even the right password is refused while locked
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "too many failed logins" in locked.text.lower()
    assert client.get("/projects").status_code == 302  # not logged in
    # the API shares the limiter: the same user is locked out of the simple index too
    assert client.get("/simple/", headers=basic()).status_code == 429
    other = create_app(settings.replace(login_attempts=3, login_window=60)).test_client()
    assert login(other).status_code == 302


def test_api_requests_get_no_session_and_set_no_cookie(user: FlaskClient, dist: Path) -> None:
    """The API never opens the explorer session: a logged-in browser's cookie changes nothing."""
    assert post_upload(user, make_wheel(dist, "quiet", "1.0")).status_code == 200
    for path in [
        "/simple/",
        "/simple/quiet/",
        "/pypi/quiet/json",
        "/packages/quiet-1.0-py3-none-any.whl",
    ]:
        with user.get(path, headers=basic()) as response:
            assert response.status_code == 200, path
            assert "Set-Cookie" not in response.headers, path
            assert "Cookie" not in response.headers.get("Vary", ""), path
        with user.get(path) as anonymous:  # the session cookie alone is no credential
            assert anonymous.status_code == 401, path
    assert user.get("/projects").status_code == 200  # the explorer session still works


def test_descriptions_may_show_https_images_unless_turned_off(
    user: FlaskClient, dist: Path, settings: Settings
) -> None:
    readme = "![badge](https://img.shields.io/badge/ci-passing-green)"
    post_upload(
        user, make_wheel(dist, "badged", "1.0", description=readme,
                         content_type="text/markdown"),
    )  # fmt: skip
    page = user.get("/project/badged/")
    assert 'src="https://img.shields.io/badge/ci-passing-green"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https:;" in csp
    assert "script-src 'self';" in csp  # only images may come from elsewhere

    closed = create_app(settings.replace(external_images=False)).test_client()
    login(closed)
    csp = closed.get("/project/badged/").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in csp
    assert "https:" not in csp
