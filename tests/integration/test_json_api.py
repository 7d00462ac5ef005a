"""PyPI's legacy JSON API, metadata checks at upload, metadata backfill and the yank CLI."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.cli import main
from pryv_server.config import Settings
from tests.credentials import basic
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.uploads import post_upload

RICH = [
    "License-Expression: MIT OR Apache-2.0",
    "License-File: LICENSE",
    "Dynamic: Keywords",
    "Provides-Extra: fast",
    "Requires-Dist: rich; extra == 'fast'",
    "Project-URL: Source, https://example.org/src",
    "Author: Ann <ann@example.org>",
    "Keywords: one,two",
    "Classifier: Programming Language :: Python :: 3",
]


@pytest.fixture
def demo(client: FlaskClient, tmp_path: Path) -> dict[str, Path]:
    dist = tmp_path / "dist"
    rich: dict[str, object] = {
        "requires_python": ">=3.9",
        "metadata_version": "2.4",
        "extra": RICH,
        "description": "# Hello",
        "content_type": "text/markdown",
    }
    files = {
        "old": make_wheel(dist, "Demo.Pkg", "0.9"),
        "wheel": make_wheel(dist, "Demo.Pkg", "1.0", **rich),
        "sdist": make_sdist(dist, "Demo.Pkg", "1.0", **rich),
        "pre": make_wheel(dist, "Demo.Pkg", "2.0b1"),
    }
    for path in files.values():
        assert post_upload(client, path).status_code == 200
    return files


def get_json(client: FlaskClient, url: str):
    response = client.get(url, headers=basic())
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response.json


def test_project_json_has_pypi_shape(client: FlaskClient, demo: dict[str, Path]) -> None:
    document = get_json(client, "/pypi/Demo.Pkg/json")
    assert set(document) == {"info", "last_serial", "releases", "urls", "vulnerabilities"}
    info = document["info"]
    assert info["name"] == "Demo.Pkg"
    assert info["version"] == "1.0"  # the latest final release, not the 2.0b1 pre-release
    assert info["summary"] == "A test package"
    assert info["description"] == "# Hello"
    assert info["description_content_type"] == "text/markdown"
    assert info["requires_python"] == ">=3.9"
    assert info["requires_dist"] == ["rich; extra == 'fast'"]
    assert info["provides_extra"] == ["fast"]
    assert info["license_expression"] == "MIT OR Apache-2.0"
    assert info["license_files"] == ["LICENSE"]
    assert info["dynamic"] == ["Keywords"]
    assert info["metadata_version"] == "2.4"
    assert info["project_urls"] == {"Source": "https://example.org/src"}
    assert info["author"] == "Ann <ann@example.org>"
    assert info["keywords"] == "one,two"
    assert info["classifiers"] == ["Programming Language :: Python :: 3"]
    assert info["yanked"] is False
    assert info["yanked_reason"] is None
    assert info["downloads"] == {"last_day": -1, "last_month": -1, "last_week": -1}
    assert info["package_url"] == "http://localhost/project/demo-pkg/"
    assert info["release_url"] == "http://localhost/project/demo-pkg/1.0/"
    for key in ("bugtrack_url", "docs_url", "home_page", "license", "maintainer", "platform"):
        assert key in info
    assert list(document["releases"]) == ["0.9", "1.0", "2.0b1"]
    assert [f["filename"] for f in document["urls"]] == sorted(
        [demo["wheel"].name, demo["sdist"].name]
    )
    assert document["vulnerabilities"] == []
    assert isinstance(document["last_serial"], int)


def test_project_json_file_entries(client: FlaskClient, demo: dict[str, Path]) -> None:
    document = get_json(client, "/pypi/demo-pkg/json")
    files = {entry["filename"]: entry for entry in document["urls"]}
    wheel, content = files[demo["wheel"].name], demo["wheel"].read_bytes()
    assert wheel["digests"] == {
        "blake2b_256": hashlib.blake2b(content, digest_size=32).hexdigest(),
        "md5": hashlib.md5(content).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    assert wheel["md5_digest"] == hashlib.md5(content).hexdigest()
    assert wheel["packagetype"] == "bdist_wheel"
    assert wheel["python_version"] == "py3"
    assert wheel["requires_python"] == ">=3.9"
    assert wheel["size"] == len(content)
    assert wheel["url"] == f"http://localhost/packages/{demo['wheel'].name}"
    assert wheel["yanked"] is False
    assert wheel["yanked_reason"] is None
    assert wheel["has_sig"] is False
    assert wheel["comment_text"] == ""
    assert wheel["downloads"] == -1
    iso = datetime.fromisoformat(wheel["upload_time_iso_8601"])
    assert wheel["upload_time"] == iso.strftime("%Y-%m-%dT%H:%M:%S")
    sdist = files[demo["sdist"].name]
    assert sdist["packagetype"] == "sdist"
    assert sdist["python_version"] == "source"
    response = client.get(f"/packages/{demo['wheel'].name}", headers=basic())
    assert response.data == content  # the URL works
    response.close()


def test_release_json_shows_one_release_without_releases(
    client: FlaskClient, demo: dict[str, Path]
) -> None:
    document = get_json(client, "/pypi/demo-pkg/0.9/json")
    assert set(document) == {"info", "last_serial", "urls", "vulnerabilities"}
    assert document["info"]["version"] == "0.9"
    assert [f["filename"] for f in document["urls"]] == [demo["old"].name]
    assert get_json(client, "/pypi/demo-pkg/1.0.0/json")["info"]["version"] == "1.0"


def test_json_api_errors(client: FlaskClient, demo: dict[str, Path]) -> None:
    assert client.get("/pypi/demo-pkg/json").status_code == 401
    assert client.get("/pypi/nothing/json", headers=basic()).status_code == 404
    assert client.get("/pypi/demo-pkg/7.0/json", headers=basic()).status_code == 404
    assert client.get("/pypi/demo-pkg/not-a-version/json", headers=basic()).status_code == 404


def test_last_serial_grows_with_uploads_and_yanks(
    app: Flask, client: FlaskClient, demo: dict[str, Path], tmp_path: Path
) -> None:
    first = get_json(client, "/pypi/demo-pkg/json")["last_serial"]
    assert post_upload(client, make_wheel(tmp_path / "n", "Demo.Pkg", "3.0")).status_code == 200
    second = get_json(client, "/pypi/demo-pkg/json")["last_serial"]
    app.extensions["pryv"].registry.yank("demo-pkg", "0.9")
    third = get_json(client, "/pypi/demo-pkg/json")["last_serial"]
    assert first < second < third


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(["License-Expression: MIT OR"], id="license-expr"),
        pytest.param(["Requires-Dist: foo >=< 1"], id="requires-dist"),
        pytest.param(["Dynamic: Name"], id="dynamic"),
    ],
)
def test_upload_with_odd_metadata_is_served_byte_for_byte(
    client: FlaskClient, tmp_path: Path, lines: list[str]
) -> None:
    """PEP 658: the .metadata is the archive's METADATA, whatever pryv thinks of its fields."""
    wheel = make_wheel(tmp_path, "odd", "1.0", metadata_version="2.4", extra=lines)
    assert post_upload(client, wheel).status_code == 200
    with zipfile.ZipFile(wheel) as archive:
        original = archive.read("odd-1.0.dist-info/METADATA")
    with client.get(f"/packages/{wheel.name}.metadata", headers=basic()) as served:
        assert served.status_code == 200
        assert served.data == original
    page = client.get("/simple/odd/?format=json", headers=basic()).json
    assert page["files"][0]["core-metadata"] == {"sha256": hashlib.sha256(original).hexdigest()}


# Metadata backfill for files published before pryv stored .metadata -------------------------


def strip_metadata(settings: Settings) -> list[Path]:
    """Make the stored records look like pryv's before PEP 658: no metadata_key, no blob."""
    stored = Path(settings.projects_path.path).glob("*/*.json")
    records = sorted(path for path in stored if not path.parent.name.startswith("_"))
    for record in records:
        data = json.loads(record.read_text())
        if data["metadata_key"]:
            (Path(settings.packages_path.path) / data["metadata_key"]).unlink()
        data["metadata_key"] = data["metadata_sha256"] = None
        record.write_text(json.dumps(data))
    return records


def test_backfill_metadata_serves_metadata_of_old_files(
    settings: Settings, client: FlaskClient, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "olden", "1.0")
    old_sdist = make_sdist(tmp_path, "olden", "1.0", metadata_version="2.1")
    new_sdist = make_sdist(tmp_path, "olden", "2.0", metadata_version="2.2")
    for path in (wheel, old_sdist, new_sdist):
        assert post_upload(client, path).status_code == 200
    strip_metadata(settings)
    app = create_app(settings)  # a server started on the old records
    old_client = app.test_client()
    before = old_client.get("/simple/olden/", headers=basic())
    assert "data-core-metadata" not in before.text

    config = tmp_path / "pryv.ini"
    config.write_text(
        f"[core]\nprojects-path = {settings.projects_path.path}\n"
        f"packages-path = {settings.packages_path.path}\n"
        f"[user]\nusers-path = {settings.users_path.path}\n"
    )
    result = CliRunner().invoke(main, ["backfill-metadata", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "2 file(s) backfilled" in result.output  # the wheel and the 2.2 sdist

    files = {
        f["filename"]: f
        for f in old_client.get(
            "/simple/olden/", headers=basic() | {"Accept": "application/vnd.pypi.simple.v1+json"}
        ).json["files"]
    }
    assert files[old_sdist.name]["core-metadata"] is False
    # The pages changed, so the serial did: a mirror picks the .metadata files up.
    after = old_client.get("/simple/olden/", headers=basic())
    assert int(after.headers["X-PyPI-Last-Serial"]) > int(before.headers["X-PyPI-Last-Serial"])
    for path in (wheel, new_sdist):
        response = old_client.get(f"/packages/{path.name}.metadata", headers=basic())
        assert response.status_code == 200
        digest = hashlib.sha256(response.data).hexdigest()
        response.close()
        assert files[path.name]["core-metadata"] == {"sha256": digest}
    again = CliRunner().invoke(main, ["backfill-metadata", "-c", str(config)])
    assert "0 file(s) backfilled" in again.output


def test_yank_cli_yanks_and_unyanks(
    settings: Settings, client: FlaskClient, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "cli-demo", "1.0")
    sdist = make_sdist(tmp_path, "cli-demo", "1.0")
    for path in (wheel, sdist):
        assert post_upload(client, path).status_code == 200
    config = tmp_path / "pryv.ini"
    config.write_text(
        f"[core]\nprojects-path = {settings.projects_path.path}\n"
        f"packages-path = {settings.packages_path.path}\n"
        f"[user]\nusers-path = {settings.users_path.path}\n"
    )
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["yank", "cli-demo", "1.0", "--file", sdist.name, "--reason", "oops", "-c", str(config)],
    )
    assert result.exit_code == 0, result.output
    assert f"{sdist.name}: yanked (oops)" in result.output
    assert f"{wheel.name}: available" in result.output
    assert 'data-yanked="oops"' in client.get("/simple/cli-demo/", headers=basic()).text
    result = runner.invoke(main, ["yank", "cli-demo", "1.0", "--undo", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "data-yanked" not in client.get("/simple/cli-demo/", headers=basic()).text
    missing = runner.invoke(main, ["yank", "cli-demo", "9.0", "-c", str(config)])
    assert missing.exit_code == 1
    assert "has no release '9.0'" in missing.output
