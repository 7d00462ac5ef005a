"""Shared fixtures: settings in a temp folder, the app, a test client, credentials."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.s3server import moto_admin  # noqa: F401 - fixtures for the S3 tests
from tests.s3server import moto_endpoint  # noqa: F401
from tests.s3server import s3  # noqa: F401

USER = "alice"
PASSWORD = "wonderland"


def write_users(path: Path, users: dict[str, str]) -> None:
    """Write a users.json with the docs' SHA-256 entries (fast to check, unlike bcrypt)."""
    document = {
        name: {"password": hashlib.sha256(pw.encode()).hexdigest()} for name, pw in users.items()
    }
    path.write_text(json.dumps(document))


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


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
