"""Re-uploads: one sdist per release, an identical upload repairs the stored copy, damage is a 409."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.cli import main
from pryv_server.config import Settings
from tests.concurrency import all_at_once
from tests.credentials import basic
from tests.security_helpers import sdist_members
from tests.security_helpers import tar_bytes
from tests.security_helpers import wheel_members
from tests.security_helpers import zip_bytes
from tests.uploads import post_multipart
from tests.uploads import upload_body

TAR = tar_bytes(sdist_members())
ZIP = zip_bytes([*sdist_members(), ("demo-1.0/other.py", b"other = True\n")])
WHEEL = zip_bytes(wheel_members())


def send(client: FlaskClient, filename: str, content: bytes):
    return post_multipart(client, *upload_body(filename, content, "demo", "1.0"))


def blob_path(settings: Settings, filename: str) -> Path:
    (found,) = Path(settings.packages_path.path).rglob(filename)
    return found


def test_a_second_sdist_of_a_release_is_refused(client: FlaskClient) -> None:
    assert send(client, "demo-1.0.tar.gz", TAR).status_code == 200
    response = send(client, "demo-1.0.zip", ZIP)
    assert response.status_code == 400
    assert response.text == (
        "release 1.0 of 'demo' already has an sdist (demo-1.0.tar.gz); "
        "one sdist per release is allowed, as on PyPI\n"
    )
    assert send(client, "demo-1.0.tar.gz", TAR).status_code == 200  # the same one again
    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    files = client.get("/simple/demo/?format=json", headers=basic()).json["files"]
    assert sorted(f["filename"] for f in files) == ["demo-1.0-py3-none-any.whl", "demo-1.0.tar.gz"]


def test_two_different_sdists_racing_have_one_winner(app: Flask) -> None:
    contenders = [("demo-1.0.tar.gz", TAR), ("demo-1.0.zip", ZIP)]
    statuses = all_at_once(2, lambda n: send(app.test_client(), *contenders[n]).status_code)
    assert sorted(statuses) == [200, 400]
    files = app.test_client().get("/simple/demo/?format=json", headers=basic()).json["files"]
    assert len(files) == 1


def test_identical_reupload_restores_a_deleted_blob(
    client: FlaskClient, settings: Settings
) -> None:
    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    blob_path(settings, "demo-1.0-py3-none-any.whl").unlink()
    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    with client.get("/packages/demo-1.0-py3-none-any.whl", headers=basic()) as response:
        assert response.status_code == 200
        assert response.data == WHEEL


def test_identical_reupload_repairs_a_damaged_blob_and_metadata(
    client: FlaskClient, settings: Settings
) -> None:
    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    blob = blob_path(settings, "demo-1.0-py3-none-any.whl")
    metadata = blob_path(settings, "demo-1.0-py3-none-any.whl.metadata")
    original_metadata = metadata.read_bytes()
    blob.write_bytes(b"X" * len(WHEEL))  # same size, other bytes: bit rot
    metadata.write_bytes(b"garbage")
    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    assert blob.read_bytes() == WHEEL
    assert metadata.read_bytes() == original_metadata


def test_other_bytes_never_repair(client: FlaskClient, settings: Settings) -> None:
    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    blob_path(settings, "demo-1.0-py3-none-any.whl").unlink()
    other = zip_bytes([*wheel_members(), ("demo/extra.py", b"y = 2\n")])
    response = send(client, "demo-1.0-py3-none-any.whl", other)
    assert response.status_code == 409
    assert not list(Path(settings.packages_path.path).rglob("demo-1.0-py3-none-any.whl"))


def test_reupload_over_a_damaged_record_is_409(client: FlaskClient, settings: Settings) -> None:
    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    (record,) = Path(settings.projects_path.path).glob("demo/*.json")
    record.write_bytes(b"{not json")
    response = send(client, "demo-1.0-py3-none-any.whl", WHEEL)
    assert response.status_code == 409
    assert response.text.count("\n") == 1
    assert "is damaged and cannot be read" in response.text
    assert record.read_bytes() == b"{not json"


def test_pryv_verify_names_missing_and_damaged_files(
    client: FlaskClient, settings: Settings, tmp_path: Path
) -> None:
    config = tmp_path / "pryv.ini"
    config.write_text(
        f"[core]\nprojects-path = {settings.projects_path.path}\n"
        f"packages-path = {settings.packages_path.path}\n"
        f"[user]\nusers-path = {settings.users_path.path}\n"
    )
    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    assert send(client, "demo-1.0.tar.gz", TAR).status_code == 200
    healthy = CliRunner().invoke(main, ["verify", "-c", str(config)])
    assert healthy.exit_code == 0, healthy.output
    assert "every stored file matches its sha256" in healthy.output

    blob_path(settings, "demo-1.0.tar.gz").unlink()
    blob_path(settings, "demo-1.0-py3-none-any.whl.metadata").write_bytes(b"rot")
    broken = CliRunner().invoke(main, ["verify", "-c", str(config)])
    assert broken.exit_code == 1
    lines = broken.output.splitlines()
    assert lines[0].startswith("demo-1.0-py3-none-any.whl: its core metadata is missing or damaged")
    assert lines[1].startswith("demo-1.0.tar.gz: its file is missing or damaged")
    assert "2 problem(s)" in broken.output

    assert send(client, "demo-1.0-py3-none-any.whl", WHEEL).status_code == 200
    assert send(client, "demo-1.0.tar.gz", TAR).status_code == 200
    assert CliRunner().invoke(main, ["verify", "-c", str(config)]).exit_code == 0
