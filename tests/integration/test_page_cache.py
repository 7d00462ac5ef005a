"""The simple-page cache in front of Flask: it answers only what Flask would, byte for byte.

Flask is "entered" when its ``before_request`` hooks run; the tests count that to tell which path
answered. Every case that must reach Flask (credentials not verified yet, a wrong password, a
locked-out user, a changed users file, a new upload, a query string, a redirect, a 406) is checked
to get Flask's own answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.config import Settings
from tests.credentials import USER
from tests.credentials import basic
from tests.credentials import write_users
from tests.dists import make_wheel
from tests.uploads import post_upload

JSON = "application/vnd.pypi.simple.v1+json"
PIP_ACCEPT = f"{JSON}, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


@pytest.fixture
def client(app: Flask, entered: list[str]) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def demo(client: FlaskClient, tmp_path: Path, entered: list[str]) -> Path:
    wheel = make_wheel(tmp_path / "dist", "Demo", "1.0")
    assert post_upload(client, wheel).status_code == 200
    entered.clear()
    return wheel


def answer(
    client: FlaskClient, url: str, **headers: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    response = client.get(url, headers=basic() | headers)
    try:
        return response.status_code, list(response.headers.items()), response.get_data()
    finally:
        response.close()


@pytest.mark.parametrize("url", ["/simple/", "/simple/demo/"])
@pytest.mark.parametrize("accept", [None, "text/html", JSON, PIP_ACCEPT, "*/*"])
def test_a_repeat_is_answered_from_the_cache_exactly_as_flask_answered(
    client: FlaskClient, demo: Path, entered: list[str], url: str, accept: str | None
) -> None:
    headers = {} if accept is None else {"Accept": accept}
    first = answer(client, url, **headers)
    assert entered == [url]
    second = answer(client, url, **headers)
    assert entered == [url], "the repeat went through Flask"
    assert first[0] == 200
    assert second == first


@pytest.mark.parametrize(
    ("url", "headers", "status"),
    [
        pytest.param("/simple/demo/?format=json", {}, 200, id="query-string"),
        pytest.param("/simple/Demo/", {}, 301, id="not-normalized"),
        pytest.param("/simple/demo", {}, 301, id="no-trailing-slash"),
        pytest.param("/simple/nothing/", {}, 404, id="unknown-project"),
        pytest.param("/simple//", {}, 308, id="empty-name"),
        pytest.param("/simple/demo/x/", {}, 404, id="nested-path"),
        pytest.param("/simple/demo/", {"Accept": "image/png"}, 406, id="not-acceptable"),
        pytest.param("/simple/demo/", basic(USER, "wrong"), 401, id="wrong-password"),
        pytest.param("/simple/demo/", {"Authorization": ""}, 401, id="no-credentials"),
    ],
)
def test_anything_else_reaches_flask_every_time(
    client: FlaskClient, demo: Path, entered: list[str], url: str, headers: dict, status: int
) -> None:
    assert answer(client, "/simple/demo/")[0] == 200  # the right password is verified and cached
    for _ in range(2):
        response = client.get(url, headers=basic() | headers)
        assert response.status_code == status
        response.close()
    assert len(entered) == 3


def test_a_locked_out_user_is_refused_even_with_a_cached_password(
    app: Flask, client: FlaskClient, demo: Path, entered: list[str]
) -> None:
    assert answer(client, "/simple/demo/")[0] == 200
    limiter = app.extensions["pryv"].login_limiter
    for _ in range(limiter.attempts):
        limiter.failed(USER, "203.0.113.9")
    status, headers, _ = answer(client, "/simple/demo/")
    assert status == 429
    assert dict(headers)["Retry-After"]
    assert entered == ["/simple/demo/", "/simple/demo/"]


def test_a_changed_password_is_checked_again(
    settings: Settings, client: FlaskClient, demo: Path, entered: list[str]
) -> None:
    assert answer(client, "/simple/demo/")[0] == 200
    write_users(Path(settings.users_path.path), {USER: "a new password"})
    assert answer(client, "/simple/demo/")[0] == 401
    assert answer(client, "/simple/demo/", **basic(USER, "a new password"))[0] == 200


def test_an_upload_is_listed_on_the_next_request(
    client: FlaskClient, demo: Path, tmp_path: Path, entered: list[str]
) -> None:
    before = answer(client, "/simple/demo/")[2]
    assert post_upload(client, make_wheel(tmp_path / "dist", "Demo", "2.0")).status_code == 200
    after = answer(client, "/simple/demo/")[2]
    assert b"demo-2.0-py3-none-any.whl" in after
    assert b"demo-2.0-py3-none-any.whl" not in before
    assert entered.count("/simple/demo/") == 2


def test_the_access_log_names_the_user_of_a_cached_answer(
    client: FlaskClient, demo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    answer(client, "/simple/demo/")
    with caplog.at_level("INFO", logger="pryv.access"):
        answer(client, "/simple/demo/")
    assert [
        record.getMessage()
        for record in caplog.records
        if "path=/simple/demo/" in record.getMessage()
    ]
    assert f"user={USER}" in caplog.records[-1].getMessage()


def test_warm_up_renders_the_index_pages_a_request_would(app: Flask, demo: Path) -> None:
    """``pryv start`` renders ``/simple/`` before forking, so no worker renders it again."""
    from pryv_server.web.simple import CONTENT_TYPES
    from pryv_server.web.simple import page_key
    from pryv_server.web.simple import warm_up

    services = app.extensions["pryv"]
    snapshot = services.registry.snapshot()
    assert services.pages.cached(snapshot, page_key(None, JSON)) is None
    warm_up(app)
    client = app.test_client()
    for fmt in CONTENT_TYPES:
        page = services.pages.cached(snapshot, page_key(None, fmt))
        assert page is not None
        body = page.body
        response = client.get("/simple/", headers=basic() | {"Accept": fmt})
        assert response.get_data() == body
        assert b"Demo" in body
