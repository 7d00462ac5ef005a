"""Apps built from a test's settings, their clients, and config files naming their stores."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings


def build_app(settings: Settings) -> Flask:
    """The app of ``settings`` in Flask's testing mode (its errors reach the test)."""
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def write_ini(settings: Settings, path: Path, extra: str = "") -> Path:
    """Write a ``pryv.ini`` naming the stores and users file of local ``settings``."""
    path.write_text(
        f"[core]\nprojects-path = {settings.projects_path.path}\n"
        f"packages-path = {settings.packages_path.path}\n"
        f"[user]\nusers-path = {settings.users_path.path}\n{extra}"
    )
    return path


def from_address(app: Flask, address: str) -> FlaskClient:
    """A test client whose requests come from ``address`` (``REMOTE_ADDR``)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client
