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
from tests.concurrency import all_at_once
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


@pytest.mark.parametrize("round_", range(3))
def test_two_first_uploads_of_a_new_project_make_exactly_one_owner(
    owners: tuple[Settings, Path], tmp_path: Path, round_: int
) -> None:
    """Two users publish the first file of one new project at once: one owns it, one is refused."""
    app = create_app(owners[0])
    wheels = [make_wheel(tmp_path / f"w{n}", "racy", f"1.{n}") for n in range(2)]
    headers = [basic(), BOB]

    def upload(n: int):
        return post_upload(app.test_client(), wheels[n], headers=headers[n])

    answers = all_at_once(2, upload)
    assert sorted(answer.status_code for answer in answers) == [200, 403]
    (refused,) = [answer for answer in answers if answer.status_code == 403]
    assert "racy" in refused.text
    assert len(refused.text.strip().splitlines()) == 1
    owners_of = app.extensions["pryv"].project_roles.current()["racy"]
    assert list(owners_of.values()) == ["owner"]
    (winner,) = owners_of
    project = app.extensions["pryv"].registry.get_project("racy")
    assert [p.uploader for p in project.packages] == [winner]  # the refused file is not there
    grants = [e for e in app.extensions["pryv"].audit.events() if e.action == "project-role.grant"]
    assert [(e.target, e.details["grantee"]) for e in grants] == [("racy", winner)]


def test_a_failed_first_upload_leaves_the_new_project_unclaimed(
    owners: tuple[Settings, Path], tmp_path: Path
) -> None:
    app = create_app(owners[0])
    client = app.test_client()
    wheel = make_wheel(tmp_path / "a", "freename", "1.0")
    assert post_upload(client, wheel, sha256_digest="0" * 64).status_code == 400
    assert app.extensions["pryv"].project_roles.current().get("freename") is None
    assert post_upload(client, wheel, headers=BOB).status_code == 200
    assert dict(app.extensions["pryv"].project_roles.current()["freename"]) == {"bob": "owner"}
    events = app.extensions["pryv"].audit.events()
    assert [(e.action, e.who) for e in events] == [("project-role.grant", "bob"), ("upload", "bob")]
