"""GET /health and the access log, through the Flask test client on a real local store."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.web.access_log import logfmt
from pryv_server.web.health import CachedChecks
from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload


def test_health_answers_ok_without_credentials(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["projects-storage"] == {"ok": True}
    assert body["checks"]["packages-storage"] == {"ok": True}
    assert body["checks"]["users"] == {"ok": True}
    assert "no-store" in response.headers["Cache-Control"]


def test_health_probe_is_invisible_to_the_index(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get("/health").status_code == 200
    response = client.get("/simple/", headers=auth)
    assert response.status_code == 200
    assert "_health" not in response.get_data(as_text=True)


def test_health_is_503_when_packages_storage_is_gone(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)
    packages = Path(settings.packages_path.path)
    shutil.rmtree(packages)
    packages.write_text("not a directory any more")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["packages-storage"]["ok"] is False
    assert body["checks"]["projects-storage"]["ok"] is True
    assert str(tmp_path) not in response.get_data(as_text=True)  # no paths to strangers
    assert any("packages-storage" in record.getMessage() for record in caplog.records)


def test_health_is_503_when_users_file_is_broken(settings: Settings) -> None:
    app = create_app(settings)
    Path(settings.users_path.path).write_text("{not json")
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["checks"]["users"]["ok"] is False


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "pryv.access"]


def test_access_log_has_one_line_per_request_with_user_status_and_duration(
    client: FlaskClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pryv.access")
    wheel = make_wheel(tmp_path / "dist", "logged", "1.0")
    with post_upload(client, wheel) as response:
        assert response.status_code == 200
    with client.get(f"/packages/{wheel.name}", headers=basic()) as response:
        assert response.status_code == 200
        assert response.get_data() == wheel.read_bytes()
    with client.get("/simple/") as response:
        assert response.status_code == 401
    lines = _access_lines(caplog)
    assert len(lines) == 3
    upload, download, refused = (dict(p.split("=", 1) for p in line.split()) for line in lines)
    assert upload["method"] == "POST"
    assert upload["path"] == "/simple/"
    assert upload["status"] == "200"
    assert upload["user"] == "alice"
    assert float(upload["duration_ms"]) >= 0
    assert download["path"] == f"/packages/{wheel.name}"
    assert download["bytes"] == str(wheel.stat().st_size)
    assert (refused["status"], refused["user"]) == ("401", "-")


def test_access_log_has_the_query_string_and_body_size(
    app: Flask, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pryv.access")
    with client.get("/health?verbose=1") as response:
        size = len(response.get_data())
    (line,) = _access_lines(caplog)
    assert "path=/health?verbose=1" in line
    assert f"bytes={size}" in line


def test_access_log_start_line_only_in_debug(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pryv.access")
    client.get("/health").close()
    assert not any("request started" in line for line in _access_lines(caplog))
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="pryv.access")
    client.get("/health").close()
    started, finished = _access_lines(caplog)
    assert started.startswith("request started method=GET path=/health")
    assert "status=200" in finished


def test_logfmt_quotes_values_with_spaces_and_quotes() -> None:
    line = logfmt({"path": '/a b"c', "user": None, "n": 3})
    assert line == 'path="/a b\\"c" user=- n=3'
    assert json.dumps(line)  # one line, printable


def test_health_checks_run_at_most_once_per_ttl() -> None:
    calls: list[float] = []
    now = [100.0]

    def run() -> dict[str, dict[str, object]]:
        calls.append(now[0])
        return {"users": {"ok": True}}

    cache = CachedChecks(run, ttl=1.0, clock=lambda: now[0])
    assert cache.get() == {"users": {"ok": True}}
    now[0] += 0.5
    cache.get()
    assert calls == [100.0]
    now[0] += 0.5
    cache.get()
    assert calls == [100.0, 101.0]


def test_a_users_file_edited_into_invalid_json_is_503_naming_the_file_in_the_log(
    client: FlaskClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/simple/", headers=basic()).status_code == 200
    users = Path(settings.users_path.path)
    users.write_text("{not json")
    response = client.get("/simple/", headers=basic())
    assert response.status_code == 503
    assert response.text == (
        "the server's configuration is unreadable (its log says why); try again later\n"
    )
    assert f"{users}: not valid JSON" in caplog.text
    assert "Traceback" not in caplog.text
