"""Every way of yanking applies the same rules to the reason pip prints (one short line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.cli import main
from tests.credentials import basic

BAD_REASONS = [
    pytest.param("\x1b]0;owned\x07\x1b[2J", id="terminal-escape"),
    pytest.param("first\nsecond", id="newline"),
    pytest.param("c1\x9bcontrol", id="c1"),
    pytest.param("x" * 501, id="too-long"),
    pytest.param("x" * (1024 * 1024), id="one-mebibyte"),
]


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
@pytest.mark.parametrize("reason", BAD_REASONS)
def test_api_yank_refuses_a_bad_reason(
    client: FlaskClient, published: Path, reason: str, as_json: bool
) -> None:
    fields = {"project": "demo", "version": "1.0", "reason": reason}
    body = {"json": fields} if as_json else {"data": fields}
    response = client.post("/api/yank", headers=basic(), **body)
    assert response.status_code == 400, response.text[:200]
    assert "reason" in response.text
    assert len(response.text) < 600
    page = client.get("/simple/demo/", headers=basic()).text
    assert "data-yanked" not in page


def test_api_yank_accepts_a_good_reason(client: FlaskClient, published: Path) -> None:
    response = client.post(
        "/api/yank",
        headers=basic(),
        json={"project": "demo", "version": "1.0", "reason": "broken on 3.13 — use 1.1"},
    )
    assert response.status_code == 200
    assert response.json["yanked_reason"] == "broken on 3.13 — use 1.1"


def test_cli_yank_refuses_a_bad_reason(app: Flask, published: Path, tmp_path: Path) -> None:
    settings = app.extensions["pryv"].settings
    config = tmp_path / "pryv.ini"
    config.write_text(
        "[core]\n"
        f"projects-path = {settings.projects_path.path}\n"
        f"packages-path = {settings.packages_path.path}\n"
        "[user]\n"
        f"users-path = {settings.users_path.path}\n"
    )
    result = CliRunner().invoke(
        main, ["yank", "-c", str(config), "demo", "1.0", "--reason", "evil\x1b[31m"]
    )
    assert result.exit_code != 0
    assert "reason" in result.output
    assert "\x1b" not in result.output
