"""Plain downloads in front of Flask: they answer only what Flask would, byte for byte.

Flask is "entered" when its ``before_request`` hooks run; the tests count that to tell which path
answered. Everything a plain download does not cover (a Range or If-* header, a query string, a
HEAD, credentials not verified yet, an unknown file, a quarantined project) must reach Flask.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.config import Settings
from tests.configs import build_app
from tests.credentials import USER
from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload

FILE = "/packages/demo-1.0-py3-none-any.whl"
METADATA = f"{FILE}.metadata"


@pytest.fixture
def wheel(settings: Settings, tmp_path: Path) -> Path:
    """A file uploaded through another instance: ``app`` has verified no password yet."""
    built = make_wheel(tmp_path / "dist", "Demo", "1.0")
    assert post_upload(build_app(settings).test_client(), built).status_code == 200
    return built


def answer(client: FlaskClient, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    response = client.get(url, headers=basic() | headers)
    try:
        found = dict(response.headers.items())
        found.pop("Date")  # the only header that may differ between two answers
        return response.status_code, found, response.get_data()
    finally:
        response.close()


@pytest.mark.parametrize("url", [FILE, METADATA])
def test_a_repeat_is_streamed_in_front_of_flask_exactly_as_flask_answered(
    app: Flask, wheel: Path, entered: list[str], url: str
) -> None:
    client = app.test_client()
    first = answer(client, url)  # verifies the password: Flask's
    assert entered == [url]
    second = answer(client, url)
    assert entered == [url], "the repeat went through Flask"
    assert first[0] == 200
    assert second == first
    if url == FILE:
        assert second[2] == wheel.read_bytes()


@pytest.mark.parametrize(
    ("url", "headers", "status"),
    [
        pytest.param(FILE, {"Range": "bytes=0-9"}, 206, id="range"),
        pytest.param(FILE, {"If-None-Match": "*"}, 304, id="if-none-match"),
        pytest.param(f"{FILE}?x=1", {}, 200, id="query-string"),
        pytest.param("/packages/demo-9.0-py3-none-any.whl", {}, 404, id="unknown-file"),
        pytest.param(FILE, basic(USER, "wrong"), 401, id="wrong-password"),
        pytest.param(FILE, {"Authorization": ""}, 401, id="no-credentials"),
    ],
)
def test_anything_else_reaches_flask_every_time(
    app: Flask, wheel: Path, entered: list[str], url: str, headers: dict[str, str], status: int
) -> None:
    client = app.test_client()
    assert answer(client, FILE)[0] == 200  # the right password is verified and cached
    for _ in range(2):
        response = client.get(url, headers=basic() | headers)
        assert response.status_code == status
        response.close()
    assert len(entered) == 3


def test_a_head_request_reaches_flask(app: Flask, wheel: Path, entered: list[str]) -> None:
    client = app.test_client()
    assert answer(client, FILE)[0] == 200
    response = client.head(FILE, headers=basic())
    assert (response.status_code, response.get_data()) == (200, b"")
    response.close()
    assert entered == [FILE, FILE]


def test_the_access_log_names_the_route_and_user_of_a_fast_download(
    app: Flask, wheel: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    answer(client, FILE)
    with caplog.at_level("INFO", logger="pryv.access"):
        answer(client, FILE)
    line = caplog.records[-1].getMessage()
    assert f"path={FILE}" in line
    assert f"user={USER}" in line
    assert "status=200" in line
