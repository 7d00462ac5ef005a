"""Shared fixtures: settings in a temp folder, the app, a test client, credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask import request
from flask.testing import FlaskClient

from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.configs import build_app
from tests.configs import write_ini
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import basic
from tests.credentials import write_users
from tests.dists import make_wheel
from tests.integration.explorer_helpers import login
from tests.s3server import moto_admin  # noqa: F401 - fixtures for the S3 tests
from tests.s3server import moto_endpoint  # noqa: F401
from tests.s3server import s3  # noqa: F401
from tests.uploads import post_upload
from tests.upstream_index import StaticIndex


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    users = tmp_path / "users.json"
    write_users(users, {USER: PASSWORD})
    return Settings(
        projects_path=parse_location(str(tmp_path / "projects")),
        packages_path=parse_location(str(tmp_path / "packages")),
        users_path=parse_location(str(users)),
        secret_key="test-secret",
        index_ttl=5.0,
    )


@pytest.fixture
def app(settings: Settings) -> Flask:
    app = build_app(settings)
    return app


@pytest.fixture
def entered(app: Flask) -> list[str]:
    """The paths of the requests Flask itself handled (the fast paths in front of it answer the
    others)."""
    seen: list[str] = []
    app.before_request(lambda: seen.append(request.full_path.rstrip("?")))
    return seen


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def user(client: FlaskClient) -> FlaskClient:
    """The test client, logged in to the explorer as the test user."""
    assert login(client).status_code == 302
    return client


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A folder for the wheels and sdists a test builds (made by the first one)."""
    return tmp_path / "dist"


@pytest.fixture
def published(client: FlaskClient, dist: Path) -> Path:
    """demo 1.0's wheel, uploaded by the test user: the one file most tests start from."""
    wheel = make_wheel(dist, "demo", "1.0")
    assert post_upload(client, wheel).status_code == 200
    return wheel


@pytest.fixture
def cli_config(settings: Settings, tmp_path: Path) -> Path:
    """A pryv.ini naming the ``settings``' stores, for ``pryv`` commands run with CliRunner."""
    return write_ini(settings, tmp_path / "pryv.ini")


@pytest.fixture
def auth() -> dict[str, str]:
    return basic()


@pytest.fixture
def upstream_index(tmp_path: Path) -> Iterator[StaticIndex]:
    """A static PEP 691 index on a loopback port, for the caching proxy to proxy."""
    served = StaticIndex(tmp_path / "upstream")
    yield served
    served.close()
