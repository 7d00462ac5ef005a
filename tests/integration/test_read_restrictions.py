"""Read restrictions: 403 on pages and files, hidden from /simple/, search and the explorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import basic
from tests.credentials import write_users
from tests.dists import make_wheel
from tests.integration.explorer_helpers import login
from tests.uploads import post_upload

BOB = basic("bob", "bob-pass")
SECRET_FILE = "secret_tool-1.0-py3-none-any.whl"


@pytest.fixture
def restricted(settings: Settings, tmp_path: Path) -> Flask:
    write_users(tmp_path / "users.json", {USER: PASSWORD, "bob": "bob-pass"})
    permissions = tmp_path / "permissions.json"
    permissions.write_text(json.dumps({"read": {"secret-*": [USER]}}))
    app = create_app(
        settings.replace(permissions_path=parse_location(str(permissions)), anonymous_read=True)
    )
    client = app.test_client()
    for name in ("secret-tool", "public-tool"):
        assert post_upload(client, make_wheel(tmp_path / name, name, "1.0")).status_code == 200
    return app


def test_others_get_403_and_never_see_it_listed(restricted: Flask) -> None:
    client = restricted.test_client()
    for path in ("/simple/secret-tool/", f"/packages/{SECRET_FILE}", "/pypi/secret-tool/json"):
        answer = client.get(path, headers=BOB)
        assert answer.status_code == 403, path
        assert answer.text.strip() == "'secret-tool' is restricted; ask an admin for read access"
    # A restricted name that does not exist is a 403 too: no probing, and uv does not fall
    # through to the next index for it.
    assert client.get("/simple/secret-other/", headers=BOB).status_code == 403
    assert client.get("/packages/secret_other-1.0.tar.gz", headers=BOB).status_code == 403
    for accept in ("text/html", "application/vnd.pypi.simple.v1+json"):
        listing = client.get("/simple/", headers={**BOB, "Accept": accept}).text
        assert "public-tool" in listing
        assert "secret-tool" not in listing
        assert "secret-tool" in client.get("/simple/", headers={**basic(), "Accept": accept}).text


def test_the_fast_path_keeps_the_restriction(restricted: Flask) -> None:
    client = restricted.test_client()
    for _ in range(3):  # the second and third answers come from the caches in front of Flask
        assert client.get("/simple/secret-tool/", headers=basic()).status_code == 200
        assert client.get("/simple/secret-tool/", headers=BOB).status_code == 403
        with client.get(f"/packages/{SECRET_FILE}", headers=basic()) as download:
            assert download.status_code == 200
        assert client.get(f"/packages/{SECRET_FILE}", headers=BOB).status_code == 403
        assert client.get(f"/packages/{SECRET_FILE}.metadata", headers=BOB).status_code == 403
        assert "secret-tool" not in client.get("/simple/", headers=BOB).text
        assert "secret-tool" in client.get("/simple/", headers=basic()).text


def test_anonymous_readers_read_only_what_is_not_restricted(restricted: Flask) -> None:
    client = restricted.test_client()
    assert client.get("/simple/public-tool/").status_code == 200
    assert "secret-tool" not in client.get("/simple/").text
    answer = client.get("/simple/secret-tool/")
    assert answer.status_code == 401
    assert "WWW-Authenticate" in answer.headers


def test_the_explorer_hides_and_refuses(restricted: Flask) -> None:
    client = restricted.test_client()
    assert login(client, "bob", "bob-pass").status_code == 302
    assert "secret-tool" not in client.get("/projects").text
    assert "secret-tool" not in client.get("/projects?q=secret").text
    assert "public-tool" in client.get("/projects?q=tool").text
    assert client.get("/project/secret-tool/").status_code == 403
    assert client.get(f"/files/{SECRET_FILE}").status_code == 403
    owner = restricted.test_client()
    assert login(owner).status_code == 302
    assert "secret-tool" in owner.get("/projects").text
    assert owner.get("/project/secret-tool/").status_code == 200


def test_the_permissions_file_is_reloaded(restricted: Flask, tmp_path: Path) -> None:
    restricted.extensions["pryv"].permissions.check_interval = 0  # else within a second
    client = restricted.test_client()
    assert client.get("/simple/secret-tool/", headers=BOB).status_code == 403
    (tmp_path / "permissions.json").write_text(json.dumps({"read": {"secret-*": ["bob"]}}))
    assert client.get("/simple/secret-tool/", headers=BOB).status_code == 200
    assert client.get("/simple/secret-tool/", headers=basic()).status_code == 403
    (tmp_path / "permissions.json").write_text("{not json")
    assert client.get("/simple/secret-tool/", headers=BOB).status_code == 200  # kept the last


def test_without_a_permissions_file_everyone_does_everything(
    client: FlaskClient, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "secret-x", "1.0")
    assert post_upload(client, wheel).status_code == 200
    assert client.get("/simple/secret-x/", headers=basic()).status_code == 200
    assert client.get("/simple/secret-x/").status_code == 401  # no anonymous read by default
    answer = client.post(
        "/api/yank", json={"project": "secret-x", "version": "1.0"}, headers=basic()
    )
    assert answer.status_code == 200
