"""API tokens through the HTTP API: ``__token__`` plus the token, capped, limited, revocable."""

from __future__ import annotations

import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.cli import main
from pryv_server.config import Settings
from pryv_server.core import layout
from tests.configs import write_ini
from tests.credentials import USER
from tests.credentials import basic
from tests.dists import make_wheel
from tests.s3server import S3
from tests.s3server import s3_settings
from tests.uploads import post_upload


def token(app: Flask, role: str, **options: object) -> dict[str, str]:
    _, secret = app.extensions["pryv"].tokens.create(USER, role, **options)
    return basic("__token__", secret)


def yank(client: FlaskClient, headers: dict[str, str], project: str = "demo") -> int:
    answer = client.post("/api/yank", json={"project": project, "version": "1.0"}, headers=headers)
    return answer.status_code


def test_a_read_token_reads_and_nothing_more(
    app: Flask, client: FlaskClient, published: Path, tmp_path: Path
) -> None:
    headers = token(app, "read")
    assert client.get("/simple/demo/", headers=headers).status_code == 200
    with client.get(f"/packages/{published.name}", headers=headers) as download:
        assert download.status_code == 200
    refused = post_upload(client, make_wheel(tmp_path / "b", "demo", "2.0"), headers=headers)
    assert refused.status_code == 403
    assert "this API token may only read; it cannot upload" in refused.text
    assert yank(client, headers) == 403


def test_an_upload_token_uploads_but_does_not_yank(
    app: Flask, client: FlaskClient, published: Path, tmp_path: Path
) -> None:
    headers = token(app, "upload")
    upload = post_upload(client, make_wheel(tmp_path / "b", "demo", "2.0"), headers=headers)
    assert upload.status_code == 200
    assert yank(client, headers) == 403
    assert yank(client, token(app, "maintain")) == 200
    record = client.get("/pypi/demo/2.0/json", headers=headers).json
    assert record["urls"][0]["filename"] == "demo-2.0-py3-none-any.whl"


def test_a_project_limited_token_stays_in_its_projects(
    app: Flask, client: FlaskClient, published: Path, tmp_path: Path
) -> None:
    headers = token(app, "maintain", projects=("acme-*",))
    inside = post_upload(client, make_wheel(tmp_path / "b", "acme-x", "1.0"), headers=headers)
    assert inside.status_code == 200
    outside = post_upload(client, make_wheel(tmp_path / "c", "demo", "2.0"), headers=headers)
    assert outside.status_code == 403
    assert "limited to acme-*" in outside.text
    assert client.get("/simple/demo/", headers=headers).status_code == 403
    assert client.get(f"/packages/{published.name}", headers=headers).status_code == 403
    listed = client.get("/simple/", headers=headers).text
    assert "acme-x" in listed
    assert "demo" not in listed
    assert "demo" in client.get("/simple/", headers=basic()).text  # the user's own listing


def test_wrong_expired_and_revoked_tokens_are_refused(app: Flask, client: FlaskClient) -> None:
    tokens = app.extensions["pryv"].tokens
    record, secret = tokens.create(USER, "read")
    headers = basic("__token__", secret)
    assert client.get("/simple/", headers=headers).status_code == 200
    wrong = basic("__token__", secret[:-1] + ("0" if secret[-1] != "0" else "1"))
    answer = client.get("/simple/", headers=wrong)
    assert answer.status_code == 401
    assert "invalid API token" in answer.text
    assert "WWW-Authenticate" in answer.headers
    tokens.revoke(record.id)
    revoked = client.get("/simple/", headers=headers)
    assert revoked.status_code == 401
    assert f"the API token {record.id} was revoked" in revoked.text
    assert secret not in revoked.text


def test_an_expired_token_is_refused(app: Flask, client: FlaskClient) -> None:
    tokens = app.extensions["pryv"].tokens
    _, secret = tokens.create(USER, "read", expires=datetime.now(UTC) + timedelta(hours=1))
    tokens._now = lambda: datetime.now(UTC) + timedelta(hours=2)
    answer = client.get("/simple/", headers=basic("__token__", secret))
    assert answer.status_code == 401
    assert "expired on" in answer.text


def test_a_revocation_reaches_a_second_instance_on_the_same_store(
    settings: Settings, app: Flask, client: FlaskClient
) -> None:
    other = create_app(settings).test_client()
    record, secret = app.extensions["pryv"].tokens.create(USER, "read")
    headers = basic("__token__", secret)
    assert other.get("/simple/", headers=headers).status_code == 200  # seen by the other too
    app.extensions["pryv"].tokens.revoke(record.id)
    assert client.get("/simple/", headers=headers).status_code == 401
    assert other.get("/simple/", headers=headers).status_code == 401  # local store: at once


def test_wrong_tokens_never_lock_out_other_tokens(settings: Settings) -> None:
    app = create_app(settings.replace(login_attempts=3))
    _, secret = app.extensions["pryv"].tokens.create(USER, "read")
    for n in range(5):
        attacker = app.test_client()
        attacker.environ_base["REMOTE_ADDR"] = f"192.0.2.{n}"
        assert attacker.get("/simple/", headers=basic("__token__", "pryv-x")).status_code == 401
    assert app.test_client().get("/simple/", headers=basic("__token__", secret)).status_code == 200


def test_a_token_of_a_removed_user_is_refused(
    settings: Settings, app: Flask, client: FlaskClient
) -> None:
    headers = token(app, "read")
    Path(settings.users_path.path).write_text("{}")
    answer = client.get("/simple/", headers=headers)
    assert answer.status_code == 401
    assert "user no longer exists" in answer.text


def test_the_secret_is_stored_only_as_a_hash(app: Flask) -> None:
    record, secret = app.extensions["pryv"].tokens.create(USER, "read", description="CI")
    store = app.extensions["pryv"].registry.records
    stored = store.read(layout.token_key(record.id)).decode()
    assert secret.rsplit("-", 1)[1] not in stored
    assert record.digest in stored
    assert '"description": "CI"' in stored


def test_the_token_commands(settings: Settings, tmp_path: Path) -> None:
    config = write_ini(settings, tmp_path / "pryv.ini")
    runner = CliRunner()
    created = runner.invoke(
        main,
        ["token", "create", USER, "-c", str(config), "--role", "read", "--description", "CI"],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.splitlines()[0]
    assert secret.startswith("pryv-")
    app = create_app(settings)
    assert app.test_client().get("/simple/", headers=basic("__token__", secret)).status_code == 200
    listed = runner.invoke(main, ["token", "list", "-c", str(config)])
    token_id = secret.split("-")[1]
    assert token_id in listed.output
    assert "read" in listed.output
    assert "active" in listed.output
    assert secret.split("-")[2] not in listed.output
    revoked = runner.invoke(main, ["token", "revoke", token_id, "-c", str(config)])
    assert revoked.exit_code == 0
    assert f"revoked token {token_id}" in revoked.output
    assert app.test_client().get("/simple/", headers=basic("__token__", secret)).status_code == 401
    assert "revoked" in runner.invoke(main, ["token", "list", "-c", str(config)]).output
    unknown = runner.invoke(main, ["token", "create", "nobody", "-c", str(config)])
    assert unknown.exit_code == 1
    assert "no user 'nobody'" in unknown.output


def test_on_s3_a_revocation_reaches_another_instance_within_index_ttl(s3: S3) -> None:
    settings = s3_settings(s3, index_ttl=1.0)
    first, second = create_app(settings), create_app(settings)
    record, secret = first.extensions["pryv"].tokens.create(USER, "read")
    headers = basic("__token__", secret)
    time.sleep(1.1)
    assert second.test_client().get("/simple/", headers=headers).status_code == 200
    first.extensions["pryv"].tokens.revoke(record.id)
    assert first.test_client().get("/simple/", headers=headers).status_code == 401  # at once
    started = time.monotonic()
    while second.test_client().get("/simple/", headers=headers).status_code == 200:
        assert time.monotonic() - started < 1.5, "still accepted after index-ttl"
        time.sleep(0.05)
