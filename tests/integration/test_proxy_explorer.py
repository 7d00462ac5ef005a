"""Cached upstream projects in the explorer: listed, searchable, with a "from …" badge."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from tests.credentials import basic
from tests.dists import make_wheel
from tests.integration.explorer_helpers import login
from tests.upstream_index import JSON_V1
from tests.upstream_index import StaticIndex


@pytest.fixture
def browser(settings: Settings, upstream_index: StaticIndex, tmp_path: Path) -> FlaskClient:
    app = create_app(settings.replace(upstream=True, upstream_url=upstream_index.url))
    app.config["TESTING"] = True
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
