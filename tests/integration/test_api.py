"""The simple API, uploads and downloads through Flask's test client, on local storage."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from tests.credentials import basic
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.uploads import post_upload


def stored_files(settings: Settings) -> list[str]:
    root = Path(settings.packages_path.path)
    records = Path(settings.projects_path.path)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) + sorted(
        str(p.relative_to(records)) for p in records.rglob("*.json")
    )


@pytest.mark.parametrize("url", ["/simple/", "/", "/legacy/"])
def test_upload_on_every_documented_url_then_listed(
    client: FlaskClient, dist: Path, url: str
) -> None:
    wheel = make_wheel(dist, "Demo_Pkg", "1.0", requires_python=">=3.8,<4")
    response = post_upload(client, wheel, url=url)
    assert response.status_code == 200, response.text
    index = client.get("/simple/", headers=basic()).text
    assert '<a href="demo-pkg/">Demo_Pkg</a>' in index
    page = client.get("/simple/demo-pkg/", headers=basic()).text
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert f'href="../../packages/{wheel.name}#sha256={sha}"' in page
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in page
    assert '<meta name="pypi:repository-version" content="1.4">' in page


def test_non_normalized_project_url_redirects(client: FlaskClient, dist: Path) -> None:
    post_upload(client, make_wheel(dist, "Demo_Pkg", "1.0"))
    for spelling in ["Demo_Pkg", "demo.pkg", "DEMO-PKG"]:
        response = client.get(f"/simple/{spelling}/", headers=basic())
        assert response.status_code == 301
        assert response.headers["Location"].endswith("/simple/demo-pkg/")
    assert client.get("/simple/demo-pkg", headers=basic()).status_code == 301
    assert client.get("/simple/unknown/", headers=basic()).status_code == 404


def test_every_endpoint_needs_credentials(client: FlaskClient, dist: Path) -> None:
    wheel = make_wheel(dist, "demo", "1.0")
    post_upload(client, wheel)
    for path in ["/simple/", "/simple/demo/", f"/packages/{wheel.name}"]:
        for headers in [
            {},
            basic("alice", "wrong"),
            basic("nobody", "wonderland"),
            {"Authorization": "Basic !!!"},
        ]:
            response = client.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["WWW-Authenticate"].startswith('Basic realm="pryv"')
    assert (
        post_upload(
            client, make_wheel(dist, "demo", "2.0"), headers=basic("alice", "nope")
        ).status_code
        == 401
    )


def test_download_streams_bytes_with_etag_and_ranges(client: FlaskClient, dist: Path) -> None:
    wheel = make_wheel(dist, "demo", "1.0")
    post_upload(client, wheel)
    with client.get(f"/packages/{wheel.name}", headers=basic()) as response:
        assert response.status_code == 200
        assert response.data == wheel.read_bytes()
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        etag = response.headers["ETag"]
    with client.get(
        f"/packages/{wheel.name}", headers={**basic(), "If-None-Match": etag}
    ) as cached:
        assert cached.status_code == 304
    with client.get(
        f"/packages/{wheel.name}", headers={**basic(), "Range": "bytes=0-9"}
    ) as partial:
        assert partial.status_code == 206
        assert partial.data == wheel.read_bytes()[:10]
    with client.get(f"/packages/{wheel.name}.metadata", headers=basic()) as metadata:
        assert metadata.status_code == 200
        assert b"Name: demo" in metadata.data
    assert client.get("/packages/missing-1.0.tar.gz", headers=basic()).status_code == 404


def test_identical_reupload_is_a_noop_and_different_bytes_conflict(
    client: FlaskClient, dist: Path, settings: Settings
) -> None:
    wheel = make_wheel(dist, "demo", "1.0")
    assert post_upload(client, wheel).status_code == 200
    before = stored_files(settings)
    assert post_upload(client, wheel).status_code == 200
    assert stored_files(settings) == before
    other = make_wheel(dist / "other", "demo", "1.0", payload="X = 1\n")
    response = post_upload(client, other)
    assert response.status_code == 409
    assert response.text.startswith("File already exists")
    assert stored_files(settings) == before
    # another spelling of the same file is the same file
    respelled = post_upload(client, other, filename="Demo-1.0.0-py3-none-any.whl")
    assert respelled.status_code == 409


def test_sdist_upload_with_only_md5_works(client: FlaskClient, dist: Path) -> None:
    sdist = make_sdist(dist, "old-style", "0.1", extra=["Classifier: Private :: Do Not Upload"])
    response = post_upload(client, sdist, sha256_digest=None, blake2_256_digest=None)
    assert response.status_code == 200, response.text
    assert sdist.name in client.get("/simple/old-style/", headers=basic()).text


def test_later_uploads_update_release_metadata(app: Flask, client: FlaskClient, dist: Path) -> None:
    post_upload(client, make_sdist(dist, "demo", "1.0", summary="first"))
    post_upload(client, make_wheel(dist, "demo", "1.0", summary="second"))
    project = app.extensions["pryv"].registry.get_project("demo")
    assert project.latest.metadata.summary == "second"
    assert len(project.latest.packages) == 2


def _bad_zip(dist: Path) -> tuple[Path, bytes]:
    return make_wheel(dist, "demo", "1.0"), b"this is not a zip file at all"


def _wheel_without_metadata(dist: Path) -> tuple[Path, bytes]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("demo/__init__.py", "")
    return make_wheel(dist, "demo", "1.0"), buffer.getvalue()


def _metadata_for_another_project(dist: Path) -> tuple[Path, bytes]:
    other = make_sdist(dist / "x", "other", "1.0", filename="demo-1.0.tar.gz")
    return make_sdist(dist, "demo", "1.0"), other.read_bytes()


@pytest.mark.parametrize(
    ("case", "overrides", "message"),
    [
        ("bad zip", {}, "not a valid zip"),
        ("no metadata", {}, "has no"),
        ("other project inside", {}, "metadata names"),
        ("wrong sha256", {"sha256_digest": "0" * 64}, "sha256 digest"),
        ("wrong md5", {"md5_digest": "0" * 32}, "md5 digest"),
        (
            "no digest",
            {"sha256_digest": None, "md5_digest": None, "blake2_256_digest": None},
            "no digest",
        ),
        ("form name differs", {"name": "other"}, "form says"),
        ("bad version", {"version": "not.a.version!"}, "but the form says 'not.a.version!'"),
        ("filetype differs", {"filetype": "sdist"}, "filetype"),
        ("bad action", {":action": "submit"}, "only 'file_upload'"),
    ],
)
def test_bad_uploads_get_400_with_reason_and_store_nothing(
    client: FlaskClient, dist: Path, settings: Settings, case: str, overrides: dict, message: str
) -> None:
    maker = {
        "bad zip": _bad_zip,
        "no metadata": _wheel_without_metadata,
        "other project inside": _metadata_for_another_project,
    }
    if case in maker:
        wheel, content = maker[case](dist)
        overrides = {
            "sha256_digest": hashlib.sha256(content).hexdigest(),
            "md5_digest": None,
            "blake2_256_digest": None,
        }
    else:
        wheel, content = make_wheel(dist, "demo", "1.0"), None
    response = post_upload(client, wheel, content=content, **overrides)
    assert response.status_code == 400, response.text
    assert message in response.text
    assert "\n" not in response.text.strip()
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    "filename",
    ["../demo-1.0-py3-none-any.whl", "..\\demo-1.0-py3-none-any.whl", "demo-1.0-py3-none-any.whl\x00.txt",
     "/etc/demo-1.0-py3-none-any.whl", "demo-1.0.exe", ".demo-1.0-py3-none-any.whl", "demo-1.0.egg"],
)  # fmt: skip
def test_path_tricks_in_filenames_are_refused(
    client: FlaskClient, dist: Path, settings: Settings, filename: str
) -> None:
    response = post_upload(client, make_wheel(dist, "demo", "1.0"), filename=filename)
    assert response.status_code == 400
    assert stored_files(settings) == []


def test_upload_without_file_part_is_400(client: FlaskClient) -> None:
    response = client.post(
        "/simple/",
        data={":action": "file_upload"},
        headers=basic(),
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "content" in response.text


def test_a_second_app_on_the_same_storage_sees_the_same_registry(
    settings: Settings, client: FlaskClient, dist: Path
) -> None:
    post_upload(client, make_wheel(dist, "demo", "1.0"))
    other = create_app(settings).test_client()
    assert "demo-1.0-py3-none-any.whl" in other.get("/simple/demo/", headers=basic()).text
    post_upload(other, make_wheel(dist, "demo", "2.0"))
    # the first app notices the other writer through the generation marker, without waiting
    assert "demo-2.0-py3-none-any.whl" in client.get("/simple/demo/", headers=basic()).text
    assert re.search(r'<a href="demo/">demo</a>', client.get("/simple/", headers=basic()).text)
