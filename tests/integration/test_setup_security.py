"""First-run setup against an outsider: the token, its guesses, the key, and never reopening."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from flask import Flask

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.config import parse_location
from pryv_server.errors import ConfigError
from pryv_server.web.explorer.setup import setup_token
from tests.concurrency import all_at_once
from tests.credentials import basic
from tests.integration.explorer_helpers import csrf_token


def fresh_app(settings: Settings, tmp_path: Path, **changes: object) -> Flask:
    users = tmp_path / "fresh" / "users.json"
    users.parent.mkdir(exist_ok=True)
    return create_app(settings.replace(users_path=parse_location(str(users)), **changes))


def post_setup(client, username: str = "root", **fields: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/setup")
    data = {"username": username, "password": "correct horse", "confirmation": "correct horse"}
    data.update(fields)
    return client.post("/setup", data={"csrf_token": token, **data})


NOT_LOCAL = [
    pytest.param({"headers": {"X-Forwarded-For": "203.0.113.9"}}, id="behind-nginx-on-loopback"),
    pytest.param({"headers": {"Forwarded": "for=203.0.113.9"}}, id="forwarded"),
    pytest.param({"headers": {"X-Real-IP": "203.0.113.9"}}, id="x-real-ip"),
    pytest.param({"headers": {"Host": "rebound.attacker.example"}}, id="dns-rebinding"),
    pytest.param({"headers": {"Host": "10.0.0.1:5555"}}, id="lan-host"),
    pytest.param({"environ_base": {"REMOTE_ADDR": "192.0.2.7"}}, id="remote-client"),
]


@pytest.mark.parametrize("request_kind", NOT_LOCAL)
def test_setup_needs_the_token_unless_the_request_is_local(
    settings: Settings, tmp_path: Path, request_kind: dict[str, dict[str, str]]
) -> None:
    """pryv itself listens on loopback here, as behind nginx: that alone must not open setup."""
    app = fresh_app(settings, tmp_path)  # host = 127.0.0.1
    client = app.test_client()
    client.environ_base.update(request_kind.get("environ_base", {}))
    headers = request_kind.get("headers", {})
    page = client.get("/setup", headers=headers)
    assert 'name="token"' in page.text
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    data = {"username": "eve", "password": "correct horse", "confirmation": "correct horse"}
    response = client.post("/setup", data={"csrf_token": token, **data}, headers=headers)
    assert response.status_code == 200
    assert "Setup token: it does not match" in response.text
    assert not (tmp_path / "fresh" / "users.json").exists()
    right = setup_token(str(app.config["SECRET_KEY"]))
    response = client.post(
        "/setup", data={"csrf_token": token, **data, "token": right}, headers=headers
    )
    assert response.status_code == 302


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5555", "[::1]:5555"])
def test_setup_needs_no_token_straight_from_loopback(
    settings: Settings, tmp_path: Path, host: str
) -> None:
    client = fresh_app(settings, tmp_path).test_client()
    assert 'name="token"' not in client.get("/setup", headers={"Host": host}).text


def test_the_token_is_logged_at_start_even_on_loopback(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pryv_server.web.explorer.setup"):
        app = fresh_app(settings, tmp_path)
    assert f"setup token: {setup_token(str(app.config['SECRET_KEY']))}" in caplog.text


def test_setup_token_guesses_are_rate_limited(settings: Settings, tmp_path: Path) -> None:
    app = fresh_app(settings, tmp_path, login_attempts=3, login_window=60)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    for _ in range(3):
        assert "does not match" in post_setup(client, token="AAAA-BBBB-CCCC-DDDD").text
    right = setup_token(str(app.config["SECRET_KEY"]))
    locked = post_setup(client, token=right)  # even the right token, once locked
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert not (tmp_path / "fresh" / "users.json").exists()


@pytest.mark.parametrize("key", ["x", "short-key", "fifteen-chars!!"])
def test_a_short_secret_key_stops_the_server(tmp_path: Path, key: str) -> None:
    from pryv_server.config import load_settings

    config = tmp_path / "pryv.ini"
    config.write_text(f"[server]\nsecret-key = {key}\n")
    with pytest.raises(ConfigError, match=r"\[server\] secret-key: is \d+ characters long"):
        load_settings(str(config))


def test_a_sixteen_character_secret_key_is_accepted(tmp_path: Path) -> None:
    from pryv_server.config import load_settings

    config = tmp_path / "pryv.ini"
    config.write_text("[server]\nsecret-key = 0123456789abcdef\n")
    assert load_settings(str(config)).secret_key == "0123456789abcdef"


@pytest.mark.parametrize("damage", ["missing", "empty-object", "empty-file"])
def test_setup_never_reopens_once_a_user_existed(
    settings: Settings, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    app = create_app(settings)  # alice exists
    client = app.test_client()
    assert client.get("/simple/", headers=basic()).status_code == 200
    users = Path(settings.users_path.path)
    if damage == "missing":
        users.unlink()
    else:
        users.write_text("{}" if damage == "empty-object" else "")
    with caplog.at_level(logging.ERROR):
        page = client.get("/projects")
    assert page.status_code == 503
    assert "users file" in caplog.text
    assert client.get("/setup").status_code == 404
    response = client.post(
        "/setup",
        data={"username": "eve", "password": "correct horse", "confirmation": "correct horse"},
    )
    assert response.status_code == 404
    assert damage == "missing" or json.loads(users.read_text() or "{}") == {}
    # A new app on the same storage (a restart, another instance) keeps it closed too.
    assert create_app(settings).test_client().get("/setup").status_code == 404


def test_concurrent_setups_in_one_process_create_exactly_one_user(
    settings: Settings, tmp_path: Path
) -> None:
    app = fresh_app(settings, tmp_path)
    clients = [app.test_client() for _ in range(6)]
    tokens = [csrf_token(client, "/setup") for client in clients]
    statuses: dict[str, int] = {}

    def attempt(n: int) -> None:
        data = {"username": f"user{n}", "password": "correct horse"}
        response = clients[n].post(
            "/setup", data={**data, "confirmation": "correct horse", "csrf_token": tokens[n]}
        )
        statuses[f"user{n}"] = response.status_code

    all_at_once(len(clients), attempt)
    winners = [name for name, status in statuses.items() if status == 302]
    assert len(winners) == 1, statuses
    assert set(statuses.values()) == {302, 404}
    stored = json.loads((tmp_path / "fresh" / "users.json").read_text())
    assert list(stored) == winners
