"""Downloads of package files and of their ``.metadata`` answer alike, on local storage and S3.

A ``.metadata`` answer used to carry no ``Content-Length`` (the access log said ``bytes=0``)
and to advertise ``Accept-Ranges: bytes`` while answering a Range request with the whole file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.configs import build_app
from tests.credentials import basic
from tests.dists import make_wheel
from tests.s3server import S3
from tests.uploads import post_upload


@pytest.fixture(params=["local", "s3"])
def store_client(request: pytest.FixtureRequest, settings: Settings) -> FlaskClient:
    """A client of an app whose records and packages are on local storage, or on S3 (moto)."""
    if request.param == "s3":
        s3: S3 = request.getfixturevalue("s3")
        settings = settings.replace(
            projects_path=parse_location(s3.url("registry/projects")),
            packages_path=parse_location(s3.url("registry/packages")),
        )
    app = build_app(settings)
    return app.test_client()


@pytest.fixture
def served(store_client: FlaskClient, tmp_path: Path) -> dict[str, bytes]:
    """The URL paths of an uploaded wheel and of its .metadata, with their exact content."""
    wheel = make_wheel(tmp_path, "Demo", "1.0", summary="x" * 300)
    assert post_upload(store_client, wheel).status_code == 200
    metadata = get(store_client, f"/packages/{wheel.name}.metadata")
    assert metadata[0] == 200
    return {
        f"/packages/{wheel.name}": wheel.read_bytes(),
        f"/packages/{wheel.name}.metadata": metadata[2],
    }


def get(client: FlaskClient, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    response = client.get(path, headers=basic() | headers)
    try:
        return response.status_code, dict(response.headers), response.get_data()
    finally:
        response.close()


@pytest.fixture(params=["file", "metadata"])
def path_and_content(request: pytest.FixtureRequest, served: dict[str, bytes]) -> tuple[str, bytes]:
    path = next(p for p in served if p.endswith(".metadata") == (request.param == "metadata"))
    return path, served[path]


def test_a_download_sends_its_length_and_a_strong_etag(
    store_client: FlaskClient, path_and_content: tuple[str, bytes]
) -> None:
    path, content = path_and_content
    status, headers, body = get(store_client, path)
    assert (status, body) == (200, content)
    assert headers["Content-Length"] == str(len(content))
    assert headers["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert "Date" in headers


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        pytest.param("bytes=0-9", 0, 10, id="first-ten"),
        pytest.param("bytes=20-", 20, None, id="from-20"),
        pytest.param("bytes=-7", -7, None, id="last-seven"),
    ],
)
def test_a_range_request_gets_that_range(
    store_client: FlaskClient,
    path_and_content: tuple[str, bytes],
    header: str,
    start: int,
    end: int | None,
) -> None:
    path, content = path_and_content
    status, headers, body = get(store_client, path, Range=header)
    expected = content[start:end]
    assert (status, body) == (206, expected)
    first = start % len(content)
    assert headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(content)}"
    assert headers["Content-Length"] == str(len(expected))


def test_a_range_outside_the_file_is_416_with_its_length(
    store_client: FlaskClient, path_and_content: tuple[str, bytes]
) -> None:
    path, content = path_and_content
    status, headers, body = get(store_client, path, Range=f"bytes={len(content)}-")
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{len(content)}"
    assert b"range not satisfiable" in body
    again = [get(store_client, path) for _ in range(2)]  # nothing was left half-open
    for _, headers, _ in again:
        headers.pop("Date", None)  # the one header that may differ by a second
    assert again[0] == again[1]


def test_a_known_etag_gets_304(
    store_client: FlaskClient, path_and_content: tuple[str, bytes]
) -> None:
    path, content = path_and_content
    etag = get(store_client, path)[1]["ETag"]
    status, _, body = get(store_client, path, **{"If-None-Match": etag})
    assert (status, body) == (304, b"")
    other = get(store_client, path, **{"If-None-Match": '"other"'})
    assert other[0] == 200
    assert other[2] == content
