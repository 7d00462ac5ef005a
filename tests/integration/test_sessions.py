"""Explorer sessions end with logout, a password change and user removal, everywhere at once."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.auth import JsonUserStore
from pryv_server.auth import LocalFileSource
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import write_users
from tests.integration.explorer_helpers import csrf_token
from tests.integration.explorer_helpers import login

COOKIE = "session"


def stolen(cookie_from: FlaskClient, app: Flask) -> FlaskClient:
    """A second browser (on any app) that holds a copy of ``cookie_from``'s session cookie."""
    cookie = cookie_from.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def logged_in(client: FlaskClient) -> bool:
    return client.get("/projects").status_code == 200


def test_logout_ends_a_copied_session_cookie(app: Flask, client: FlaskClient) -> None:
    assert login(client).status_code == 302
    thief = stolen(client, app)
    assert logged_in(thief)
    token = csrf_token(client, "/logout")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not logged_in(thief)
    assert not logged_in(client)
    assert login(client).status_code == 302  # logging in again works at once
    assert logged_in(client)
    assert not logged_in(thief)


def test_logout_on_one_instance_ends_the_session_on_another(
    settings: Settings, app: Flask, client: FlaskClient
) -> None:
    """Two apps on one storage with one key: two workers, or two instances behind a balancer."""
    other = create_app(settings)
    assert login(client).status_code == 302
    thief = stolen(client, other)
    assert logged_in(thief)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/logout")})
    assert not logged_in(thief)


def test_a_password_change_ends_sessions(
    settings: Settings, app: Flask, client: FlaskClient
) -> None:
    assert login(client).status_code == 302
    write_users(Path(settings.users_path.path), {USER: "a-new-password"})
    assert not logged_in(client)


def test_a_removed_then_recreated_user_does_not_get_old_sessions_back(
    settings: Settings, tmp_path: Path
) -> None:
    users = tmp_path / "bcrypt-users.json"
    store = JsonUserStore(LocalFileSource(users))
    store.add(USER, PASSWORD)
    app = create_app(settings.replace(users_path=parse_location(str(users))))
    client = app.test_client()
    assert login(client).status_code == 302
    kept = stolen(client, app)  # a copy made before the user was removed
    users.write_text(json.dumps({"bob": {"password": "0" * 64}}))
    assert not logged_in(client)
    store.add(USER, PASSWORD)  # the same name and password again: a new bcrypt hash
    assert not logged_in(kept)
