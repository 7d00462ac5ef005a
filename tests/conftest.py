"""Shared fixtures: settings in a temp folder, the app, a test client, credentials."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import basic
from tests.credentials import write_users
from tests.s3server import moto_admin  # noqa: F401 - fixtures for the S3 tests
from tests.s3server import moto_endpoint  # noqa: F401
from tests.s3server import s3  # noqa: F401


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
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def auth() -> dict[str, str]:
    return basic()


def upload_form(path: Path, **overrides: str | None) -> dict[str, object]:
    """The multipart fields twine sends for ``path`` (override or drop any with None)."""
    content = path.read_bytes()
    name, version = path.name.split("-")[:2]
    if path.name.endswith(".tar.gz"):
        version = version.removesuffix(".tar.gz")
    fields: dict[str, object] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel" if path.suffix == ".whl" else "sdist",
        "pyversion": "py3" if path.suffix == ".whl" else "source",
        "md5_digest": hashlib.md5(content).hexdigest(),
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(content, digest_size=32).hexdigest(),
    }
    for key, value in overrides.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def post_upload(
    client: FlaskClient,
    path: Path,
    url: str = "/simple/",
    filename: str | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    **overrides: str | None,
):
    import io

    data = upload_form(path, **overrides)
    data["content"] = (
        io.BytesIO(path.read_bytes() if content is None else content),
        filename or path.name,
    )
    return client.post(
        url,
        data=data,
        headers=basic() if headers is None else headers,
        content_type="multipart/form-data",
    )
