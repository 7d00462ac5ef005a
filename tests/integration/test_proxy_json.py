"""PyPI's JSON API for names served from upstream: what the cached page tells, nothing more."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pryv_server.config import Settings
from tests.configs import build_app
from tests.credentials import basic
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.uploads import post_upload
from tests.upstream_index import StaticIndex


@pytest.fixture
def client(settings: Settings, upstream_index: StaticIndex) -> FlaskClient:
    proxied = settings.replace(upstream=True, upstream_url=upstream_index.url, upstream_timeout=2.0)
    app = build_app(proxied)
    return app.test_client()


@pytest.fixture
def published(upstream_index: StaticIndex, tmp_path: Path) -> dict[str, dict[str, object]]:
    folder = tmp_path / "d"
    return {
        "1.0": upstream_index.add(make_wheel(folder, "Pub-Lib", "1.0"), requires_python=">=3.8"),
        "2.0": upstream_index.add(
            make_wheel(folder, "pub-lib", "2.0"),
            uploaded=datetime(2024, 6, 1, tzinfo=UTC),
            requires_python=">=3.9",
        ),
        "3.0rc1": upstream_index.add(make_wheel(folder, "pub-lib", "3.0rc1")),
        "2.1": upstream_index.add(make_wheel(folder, "pub-lib", "2.1"), yanked="broken"),
    }


def test_the_project_document_comes_from_the_cached_upstream_page(
    client: FlaskClient, published: dict[str, dict[str, object]]
) -> None:
    response = client.get("/pypi/Pub_Lib/json", headers=basic())

    assert response.status_code == 200, response.text
    assert response.headers["X-Pryv-Upstream"] == "fresh"
    document = response.json
    info = document["info"]
    # The newest final release not wholly yanked, as PyPI picks it.
    assert (info["name"], info["version"], info["requires_python"]) == ("pub-lib", "2.0", ">=3.9")
    assert info["yanked"] is False
    assert (info["requires_dist"], info["summary"]) == (None, None)  # not on the simple page
    assert info["release_url"] == "http://localhost/project/pub-lib/2.0/"
    assert sorted(document["releases"]) == ["1.0", "2.0", "2.1", "3.0rc1"]
    [url] = document["urls"]
    entry = published["2.0"]
    assert url["url"] == f"http://localhost/upstream/pub-lib/{entry['filename']}"
    assert url["digests"] == {"blake2b_256": None, "md5": None, "sha256": entry["hashes"]["sha256"]}
    assert (url["size"], url["upload_time_iso_8601"]) == (entry["size"], entry["upload-time"])
    assert url["upload_time"] == "2024-06-01T00:00:00"
    assert (url["packagetype"], url["python_version"]) == ("bdist_wheel", "py3")
    assert url["core-metadata"] == entry["core-metadata"]
    [yanked] = document["releases"]["2.1"]
    assert (yanked["yanked"], yanked["yanked_reason"]) == (True, "broken")
    assert "vulnerabilities" not in document  # an empty list would claim none are known
    assert response.headers["X-PyPI-Last-Serial"] == str(document["last_serial"])


def test_a_release_document_and_its_file_urls_download_through_pryv(
    client: FlaskClient, published: dict[str, dict[str, object]]
) -> None:
    response = client.get("/pypi/pub-lib/1.0/json", headers=basic())

    assert response.status_code == 200
    assert "releases" not in response.json
    assert response.json["info"]["requires_python"] == ">=3.8"
    [url] = response.json["urls"]
    download = client.get(url["url"].removeprefix("http://localhost"), headers=basic())
    assert download.status_code == 200
    download.close()
    assert client.get("/pypi/pub-lib/9.9/json", headers=basic()).status_code == 404
    assert client.get("/pypi/pub-lib/not a version/json", headers=basic()).status_code == 404


def test_a_local_name_is_answered_from_local_files_only(
    client: FlaskClient, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    upstream_index.add(make_wheel(tmp_path / "up", "acme-app", "99.0"))
    assert post_upload(client, make_sdist(tmp_path / "local", "acme-app", "1.0")).status_code == 200

    document = client.get("/pypi/acme-app/json", headers=basic()).json

    assert list(document["releases"]) == ["1.0"]
    assert upstream_index.hits["/simple/acme-app/"] == 0


def test_a_blocked_or_unknown_name_is_refused_as_on_the_simple_page(
    client: FlaskClient, upstream_index: StaticIndex, published: dict[str, dict[str, object]]
) -> None:
    controls = client.application.extensions["pryv"].upstream_controls
    controls.set("block", "pub-lib", by="test")
    blocked = client.get("/pypi/pub-lib/json", headers=basic())
    assert blocked.status_code == 403
    assert "blocked from upstream" in blocked.text
    assert upstream_index.hits["/simple/pub-lib/"] == 0
    assert client.get("/pypi/nowhere/json", headers=basic()).status_code == 404
    upstream_index.status = 503
    assert client.get("/pypi/never-seen/json", headers=basic()).status_code == 502
