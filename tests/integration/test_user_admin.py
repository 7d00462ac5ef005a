"""``pryv user list|add|remove|passwd|role``, one password policy, and the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from click.testing import Result

from pryv_server.app import create_app
from pryv_server.cli import main
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.configs import write_ini
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload


@pytest.fixture
def admin(settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    permissions = tmp_path / "permissions.json"
    config = write_ini(settings, tmp_path / "pryv.ini", f"permissions-path = {permissions}\n")
    return settings.replace(permissions_path=parse_location(str(permissions))), config


def pryv(config: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, [*args, "-c", str(config)], input=stdin)


def test_users_and_roles_from_the_command_line(admin: tuple[Settings, Path]) -> None:
    settings, config = admin
    short = pryv(config, "user", "add", "bob", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1
    assert "a password has at least 8 characters" in short.output
    added = pryv(config, "user", "add", "bob", "--password-stdin", "--role", "reader",
                 stdin="bob-password\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert pryv(config, "user", "list").output.split() == [USER, "member", "bob", "reader"]
    app = create_app(settings)
    app.extensions["pryv"].permissions.check_interval = 0  # else re-read within a second
    client = app.test_client()
    bob = basic("bob", "bob-password")
    assert client.get("/simple/", headers=bob).status_code == 200
    wheel = make_wheel(Path(str(config.parent)) / "d", "bobs", "1.0")
    assert post_upload(client, wheel, headers=bob).status_code == 403  # a reader
    assert pryv(config, "user", "role", "bob", "member").exit_code == 0
    assert post_upload(client, wheel, headers=bob).status_code == 200  # the file is re-read
    changed = pryv(config, "user", "passwd", "bob", "--password-stdin", stdin="new-password\n")
    assert changed.exit_code == 0, changed.output
    assert client.get("/simple/", headers=bob).status_code == 401
    assert client.get("/simple/", headers=basic("bob", "new-password")).status_code == 200
    assert pryv(config, "user", "remove", "bob").exit_code == 0
    assert client.get("/simple/", headers=basic("bob", "new-password")).status_code == 401
    assert "bob" not in json.loads((config.parent / "permissions.json").read_text())["roles"]
    missing = pryv(config, "user", "remove", "bob")
    assert missing.exit_code == 1
    assert "no user 'bob'" in missing.output


def test_every_write_is_audited(admin: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, config = admin
    client = create_app(settings).test_client()
    client.environ_base["REMOTE_ADDR"] = "198.51.100.4"
    assert post_upload(client, make_wheel(tmp_path, "demo", "1.0")).status_code == 200
    body = {"project": "demo", "version": "1.0", "reason": "broken"}
    assert client.post("/api/yank", json=body, headers=basic()).status_code == 200
    created = pryv(config, "token", "create", USER, "--description", "CI")
    token_id = created.stdout.split("-")[1]
    assert pryv(config, "token", "revoke", token_id).exit_code == 0
    assert pryv(config, "project-role", "grant", "demo", USER).exit_code == 0
    assert pryv(config, "user", "add", "carl", "--password-stdin", stdin="carl-password\n")
    refused = post_upload(client, make_wheel(tmp_path / "x", "demo", "2.0"), headers={})
    assert refused.status_code == 401
    log = pryv(config, "audit").output.splitlines()
    events = [line.split("  ")[1:5] for line in log]
    assert events == [
        [USER, "198.51.100.4", "upload", "demo-1.0-py3-none-any.whl"],
        [USER, "198.51.100.4", "yank", "demo 1.0"],
        ["cli", "cli", "token.create", token_id],
        ["cli", "cli", "token.revoke", token_id],
        ["cli", "cli", "project-role.grant", "demo"],
        ["cli", "cli", "user.add", "carl"],
    ]
    assert "reason=broken" in log[1]
    assert pryv(config, "audit", "--since", "2999-01-01").output == ""
    assert PASSWORD not in "\n".join(log)


def test_the_cli_writes_are_audited(admin: tuple[Settings, Path], tmp_path: Path) -> None:
    """pryv yank, status, delete and backfill-metadata leave the same events as the API."""
    settings, config = admin
    client = create_app(settings).test_client()
    for version in ("1.0", "2.0"):
        wheel = make_wheel(tmp_path / version, "Demo", version)
        assert post_upload(client, wheel).status_code == 200
    assert pryv(config, "yank", "Demo", "1.0", "--reason", "broken").exit_code == 0
    assert pryv(config, "yank", "demo", "1.0", "--undo").exit_code == 0
    assert pryv(config, "status", "demo", "deprecated", "--reason", "use demo2").exit_code == 0
    deleted = pryv(config, "delete", "demo", "2.0", "--reason", "leaked", "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert pryv(config, "backfill-metadata").exit_code == 0  # nothing to do: nothing logged
    log = pryv(config, "audit").output.splitlines()[2:]
    assert [line.split("  ")[1:5] for line in log] == [
        ["cli", "cli", "yank", "demo 1.0"],
        ["cli", "cli", "unyank", "demo 1.0"],
        ["cli", "cli", "status", "demo"],
        ["cli", "cli", "delete", "demo"],
    ]
    assert "reason=broken" in log[0]
    assert "status=deprecated" in log[2]
    assert "demo-2.0-py3-none-any.whl" in log[3]
