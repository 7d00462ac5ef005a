"""Project roles: the first uploader owns a new project, the CLI names others; setup's admin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from pryv_server.app import create_app
from pryv_server.cli import main
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.configs import write_ini
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import basic
from tests.credentials import write_users
from tests.dists import make_wheel
from tests.integration.explorer_helpers import csrf_token
from tests.uploads import post_upload

BOB = basic("bob", "bob-pass")


@pytest.fixture
def owners(settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    write_users(tmp_path / "users.json", {USER: PASSWORD, "bob": "bob-pass"})
    permissions = tmp_path / "permissions.json"
    permissions.write_text("{}")
    changed = settings.replace(permissions_path=parse_location(str(permissions)), uploads="owners")
    config = write_ini(
        settings,
        tmp_path / "pryv.ini",
        f"permissions-path = {permissions}\n[permissions]\nuploads = owners\n",
    )
    return changed, config


def test_the_first_uploader_owns_and_the_cli_adds_a_maintainer(
    owners: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, config = owners
    app = create_app(settings)
    client = app.test_client()
    assert post_upload(client, make_wheel(tmp_path / "a", "demo", "1.0")).status_code == 200
    second = make_wheel(tmp_path / "b", "demo", "2.0")
    assert post_upload(client, second, headers=BOB).status_code == 403
    runner = CliRunner()
    listed = runner.invoke(main, ["project-role", "list", "-c", str(config)])
    assert listed.output.split() == ["demo", USER, "owner"]
    granted = runner.invoke(
        main, ["project-role", "grant", "demo", "bob", "--role", "maintainer", "-c", str(config)]
    )
    assert granted.exit_code == 0, granted.output
    assert post_upload(client, second, headers=BOB).status_code == 200  # seen at once
    answer = client.post("/api/yank", json={"project": "demo", "version": "2.0"}, headers=BOB)
    assert answer.status_code == 200
    revoked = runner.invoke(main, ["project-role", "revoke", "demo", "bob", "-c", str(config)])
    assert revoked.exit_code == 0
    third = make_wheel(tmp_path / "c", "demo", "3.0")
    assert post_upload(client, third, headers=BOB).status_code == 403
    again = runner.invoke(main, ["project-role", "revoke", "demo", "bob", "-c", str(config)])
    assert again.exit_code == 1
    assert "bob holds no role in demo" in again.output


def test_the_first_setup_user_is_an_admin(settings: Settings, tmp_path: Path) -> None:
    users = tmp_path / "fresh" / "users.json"
    users.parent.mkdir()
    permissions = tmp_path / "fresh" / "permissions.json"
    app: Flask = create_app(
        settings.replace(
            users_path=parse_location(str(users)),
            permissions_path=parse_location(str(permissions)),
        )
    )
    client = app.test_client()
    token = csrf_token(client, "/setup")
    data = {"username": "root", "password": "correct horse", "confirmation": "correct horse"}
    assert client.post("/setup", data={"csrf_token": token, **data}).status_code == 302
    assert json.loads(permissions.read_text())["roles"] == {"root": "admin"}
    assert app.extensions["pryv"].access.policy().role("root") == "admin"
