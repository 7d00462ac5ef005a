"""Deleting files, releases and projects for good, with tombstones (PyPI's filename rule)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from packaging.utils import NormalizedName

from pryv_server.app import create_app
from pryv_server.cli import main
from pryv_server.core import layout
from tests.credentials import basic
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.integration.explorer_helpers import csrf_token
from tests.integration.explorer_helpers import login
from tests.uploads import post_upload

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


@pytest.fixture
def dists(client: FlaskClient, tmp_path: Path) -> dict[str, Path]:
    built = {
        "wheel1": make_wheel(tmp_path / "dist", "demo", "1.0"),
        "sdist1": make_sdist(tmp_path / "dist", "demo", "1.0"),
        "wheel2": make_wheel(tmp_path / "dist", "demo", "2.0"),
    }
    for path in built.values():
        assert post_upload(client, path).status_code == 200
    return built


def delete(client: FlaskClient, **fields: str):
    return client.post("/api/delete", headers=basic(), json=fields)


def listed(client: FlaskClient) -> list[str]:
    response = client.get("/simple/demo/", headers={**basic(), **JSON})
    if response.status_code == 404:
        return []
    return sorted(file["filename"] for file in response.json["files"])


def blobs(tmp_path: Path) -> list[str]:
    return sorted(path.name for path in (tmp_path / "packages").rglob("*.whl*"))


def download_status(client: FlaskClient, filename: str) -> int:
    with client.get(f"/packages/{filename}", headers=basic()) as response:
        return response.status_code


def test_delete_a_file_removes_it_everywhere_and_forever(
    client: FlaskClient, dists: dict[str, Path], tmp_path: Path
) -> None:
    wheel = dists["wheel1"]
    assert f"{wheel.name}.metadata" in blobs(tmp_path)
    response = delete(client, project="demo", version="1.0", filename=wheel.name, reason="leak")
    assert response.status_code == 200, response.text
    assert response.json["deleted"] == [wheel.name]
    assert listed(client) == sorted([dists["sdist1"].name, dists["wheel2"].name])
    assert download_status(client, wheel.name) == 404
    assert wheel.name not in blobs(tmp_path)
    assert f"{wheel.name}.metadata" not in blobs(tmp_path)
    assert dists["wheel2"].name in blobs(tmp_path)
    # Never again, with these bytes or others, under any spelling of the name.
    again = post_upload(client, wheel)
    assert again.status_code == 400
    assert again.text.count("\n") == 1
    assert "has already been used by a file that was deleted" in again.text
    respelled = post_upload(client, wheel, filename=wheel.name.replace("demo", "DEMO"))
    assert respelled.status_code == 400
    (stone,) = (tmp_path / "projects" / "_tombstone" / "demo").glob("*.json")
    tombstone = json.loads(stone.read_text())
    assert tombstone["filename"] == wheel.name
    assert tombstone["reason"] == "leak"
    assert tombstone["user"] == "alice"


def test_delete_a_release_and_then_the_project(
    client: FlaskClient, dists: dict[str, Path], tmp_path: Path
) -> None:
    response = delete(client, project="demo", version="1.0", reason="broken")
    assert sorted(response.json["deleted"]) == sorted([dists["wheel1"].name, dists["sdist1"].name])
    assert listed(client) == [dists["wheel2"].name]
    assert client.get("/pypi/demo/1.0/json", headers=basic()).status_code == 404
    # A status goes with the project: a new project of that name starts active.
    client.post("/api/status", headers=basic(), json={"project": "demo", "status": "archived"})
    response = delete(client, project="demo", reason="gone")
    assert response.json["deleted"] == [dists["wheel2"].name]
    assert client.get("/simple/demo/", headers=basic()).status_code == 404
    assert "demo" not in client.get("/simple/", headers=basic()).text
    assert blobs(tmp_path) == []
    fresh = make_wheel(tmp_path / "new", "demo", "3.0")
    assert post_upload(client, fresh).status_code == 200
    assert listed(client) == [fresh.name]


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"project": "demo", "version": "1.0"}, 400, "send 'project' and 'reason'"),
        ({"project": "nope", "reason": "x"}, 404, "no project named 'nope'"),
        ({"project": "demo", "version": "9", "reason": "x"}, 404, "has no release '9'"),
        ({"project": "demo", "version": "1.0", "filename": "x.whl", "reason": "x"}, 404, "no file"),
        ({"project": "demo", "filename": "x.whl", "reason": "x"}, 400, "name the version"),
        ({"project": "demo", "reason": "a\x1b[2Jb"}, 400, "deletion reason"),
    ],
)
def test_bad_deletions_get_one_line_and_delete_nothing(
    client: FlaskClient, dists: dict[str, Path], fields: dict, status: int, message: str
) -> None:
    response = client.post("/api/delete", headers=basic(), json=fields)
    assert response.status_code == status
    assert message in response.text
    assert len(listed(client)) == 3


def test_a_tombstone_hides_a_record_left_behind(
    app: Flask, client: FlaskClient, dists: dict[str, Path], tmp_path: Path
) -> None:
    """A crash after the tombstone and before the record's removal still hides the file."""
    wheel = dists["wheel2"]
    (record,) = (tmp_path / "projects" / "demo").glob("demo-2*.json")
    kept = record.read_bytes()
    delete(client, project="demo", version="2.0", reason="crash test")
    record.write_bytes(kept)  # as if the deletion had stopped after the tombstone
    key = f"{record.parent.name}/{record.name}"
    app.extensions["pryv"].registry.catalog.changed(key)  # every instance reads it again
    assert wheel.name not in listed(client)
    assert download_status(client, wheel.name) == 404


def test_another_instance_drops_the_file_at_once_on_local_storage(
    app: Flask, client: FlaskClient, dists: dict[str, Path]
) -> None:
    other = create_app(app.extensions["pryv"].settings).test_client()
    wheel = dists["wheel2"]
    assert wheel.name in listed(other)
    delete(client, project="demo", version="2.0", reason="gone")
    assert wheel.name not in listed(other)
    assert post_upload(other, wheel).status_code == 400


def test_deleting_the_sdist_frees_the_release_claim_not_the_name(
    client: FlaskClient, dists: dict[str, Path], tmp_path: Path
) -> None:
    sdist = dists["sdist1"]
    delete(client, project="demo", version="1.0", filename=sdist.name, reason="bad sdist")
    claim = layout.sdist_claim_key(NormalizedName("demo"), "1.0")
    assert not (tmp_path / "projects" / claim).exists()
    assert post_upload(client, sdist).status_code == 400


def test_cli_deletes_with_a_reason(
    client: FlaskClient, dists: dict[str, Path], cli_config: Path
) -> None:
    config = cli_config
    no_reason = CliRunner().invoke(main, ["delete", "-c", str(config), "demo", "2.0", "--yes"])
    assert no_reason.exit_code != 0
    assert "--reason" in no_reason.output
    declined = CliRunner().invoke(
        main, ["delete", "-c", str(config), "demo", "2.0", "--reason", "x"], input="n\n"
    )
    assert declined.exit_code != 0
    assert len(listed(client)) == 3
    result = CliRunner().invoke(
        main, ["delete", "-c", str(config), "demo", "2.0", "--reason", "old", "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"deleted {dists['wheel2'].name}\n"
    assert dists["wheel2"].name not in listed(client)


def test_explorer_deletes_a_release(client: FlaskClient, dists: dict[str, Path]) -> None:
    login(client)
    token = csrf_token(client, "/project/demo/manage")
    fields = {"csrf_token": token, "action": "delete", "reason": "bad"}
    whole = client.post("/project/demo/manage", data=fields)
    assert whole.status_code == 400
    assert "to confirm deleting the whole project" in whole.text
    response = client.post("/project/demo/manage", data={**fields, "version": "2.0"})
    assert response.status_code == 302
    assert dists["wheel2"].name not in listed(client)
    assert "Deleted 1 file(s)" in client.get(response.headers["Location"]).text
