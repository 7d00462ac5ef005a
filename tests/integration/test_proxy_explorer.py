"""Cached upstream projects in the explorer: listed, searchable, with a "from …" badge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.configs import build_app
from tests.credentials import USER
from tests.credentials import basic
from tests.dists import make_wheel
from tests.integration.explorer_helpers import csrf_token
from tests.integration.explorer_helpers import login
from tests.upstream_index import JSON_V1
from tests.upstream_index import StaticIndex


@pytest.fixture
def browser(settings: Settings, upstream_index: StaticIndex, tmp_path: Path) -> FlaskClient:
    app = build_app(settings.replace(upstream=True, upstream_url=upstream_index.url))
    client = app.test_client()
    upstream_index.add(make_wheel(tmp_path / "up", "http-helper", "1.0"), yanked="bad")
    upstream_index.add(make_wheel(tmp_path / "up", "other-tool", "2.0"))
    for name in ("http-helper", "other-tool"):
        headers = {**basic(), "Accept": JSON_V1}
        assert client.get(f"/simple/{name}/", headers=headers).status_code == 200
    login(client)
    return client


def test_cached_upstream_projects_are_listed_with_a_badge(browser: FlaskClient) -> None:
    page = browser.get("/projects").text
    assert "Cached from 127.0.0.1" in page
    assert 'href="/project/http-helper/"' in page
    assert 'href="/project/other-tool/"' in page
    assert page.count("badge--upstream") == 2


def test_search_finds_cached_upstream_projects_by_name(browser: FlaskClient) -> None:
    page = browser.get("/projects?q=http").text
    assert 'href="/project/http-helper/"' in page
    assert "other-tool" not in page


def test_an_upstream_project_page_shows_its_files(browser: FlaskClient) -> None:
    page = browser.get("/project/http-helper/").text
    assert "from 127.0.0.1" in page
    assert "http_helper-1.0-py3-none-any.whl" in page
    assert "Yanked" in page
    assert browser.get("/project/nowhere/").status_code == 404


def control(browser: FlaskClient, name: str, action: str) -> str:
    path = f"/project/{name}/upstream"
    token = csrf_token(browser, path)
    response = browser.post(path, data={"action": action, "csrf_token": token})
    assert response.status_code == 302, response.text
    return browser.get(path).text


def test_an_admin_blocks_pins_and_purges_from_the_explorer(
    browser: FlaskClient, upstream_index: StaticIndex
) -> None:
    headers = {**basic(), "Accept": JSON_V1}
    assert 'href="/project/http-helper/upstream"' in browser.get("/project/http-helper/").text

    page = control(browser, "http-helper", "block")
    assert "http-helper is blocked." in page
    assert 'value="unblock"' in page
    assert browser.get("/simple/http-helper/", headers=headers).status_code == 403
    assert browser.get("/project/http-helper/").status_code == 403  # the controls page is not
    assert "is no longer blocked" in control(browser, "http-helper", "unblock")
    assert "http-helper is pinned." in control(browser, "http-helper", "pin")
    assert "pinned: not refreshed" in browser.get("/project/http-helper/").text
    purged = control(browser, "http-helper", "purge")
    assert "Purged http-helper: its page and 0 file(s)." in purged
    assert "Last purged" in purged
    events = browser.application.extensions["pryv"].audit.events()
    assert [(e.action, e.who) for e in events] == [
        ("upstream.block", USER),
        ("upstream.unblock", USER),
        ("upstream.pin", USER),
        ("upstream.purge", USER),
    ]


def test_only_an_admin_may_use_the_upstream_controls(
    settings: Settings, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    permissions = tmp_path / "permissions.json"
    permissions.write_text(json.dumps({"roles": {"someone-else": "admin"}}))
    app = build_app(
        settings.replace(
            upstream=True,
            upstream_url=upstream_index.url,
            permissions_path=parse_location(str(permissions)),
        )
    )
    client = app.test_client()
    upstream_index.add(make_wheel(tmp_path / "up", "http-helper", "1.0"))
    login(client)

    assert "/upstream" not in client.get("/project/http-helper/").text
    assert client.get("/project/http-helper/upstream").status_code == 403
    token = csrf_token(client, "/project/http-helper/")
    refused = client.post(
        "/project/http-helper/upstream", data={"action": "block", "csrf_token": token}
    )
    assert refused.status_code == 403
    assert client.get("/simple/http-helper/", headers=basic()).status_code == 200
