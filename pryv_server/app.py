"""The application factory: the only place that turns settings into concrete services."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask

from pryv_server._resources import asset_dir
from pryv_server.auth import CachedVerifier
from pryv_server.auth import HtpasswdUserStore
from pryv_server.auth import JsonUserStore
from pryv_server.auth import LocalFileSource
from pryv_server.auth import UserStore
from pryv_server.config import Location
from pryv_server.config import Settings
from pryv_server.config import load_settings
from pryv_server.core import IndexCache
from pryv_server.core import Registry
from pryv_server.errors import ConfigError
from pryv_server.storage import LocalStorage
from pryv_server.storage import Storage
from pryv_server.web import register_blueprints
from pryv_server.web.ratelimit import LoginLimiter
from pryv_server.web.services import Services

log = logging.getLogger(__name__)

# Form fields other than the file (a long README in `description`, hundreds of classifiers).
MAX_FORM_MEMORY = 16 * 1024 * 1024
MAX_FORM_PARTS = 10_000


def create_app(settings: Settings | None = None) -> Flask:
    """Build a pryv Flask app from ``settings`` (default: the config file the docs describe)."""
    settings = settings or load_settings()
    app = Flask(
        "pryv_server",
        template_folder=str(asset_dir("templates")),
        static_folder=str(asset_dir("static")),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key or os.urandom(32).hex(),
        MAX_CONTENT_LENGTH=settings.max_upload_size + MAX_FORM_MEMORY,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_MEMORY,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["pryv"] = build_services(settings)
    register_blueprints(app)
    return app


def build_services(settings: Settings) -> Services:
    """Create the storage, index, registry and user store that ``settings`` describe."""
    records = open_storage(settings.projects_path)
    blobs = open_storage(settings.packages_path)
    index = IndexCache(records, ttl=settings.index_ttl, check_interval=0.0)
    users = open_user_store(settings)
    limiter = LoginLimiter(settings.login_attempts, settings.login_window)
    return Services(
        settings, Registry(records, blobs, index), users, CachedVerifier(users), limiter
    )


def open_storage(location: Location) -> Storage:
    """Open the store a path option points to, creating a local folder on first start."""
    if location.scheme == "s3":
        raise ConfigError(f"{location}: S3 storage is not supported by this version of pryv")
    try:
        storage = LocalStorage(location.path)
        storage.sweep_temp_files()
        return storage
    except OSError as error:
        raise ConfigError(f"{location.path}: cannot create the storage folder: {error}") from None


def open_user_store(settings: Settings) -> UserStore:
    """Open ``.htpasswd`` when ``htpasswd-path`` is set (it wins), else ``users.json``."""
    location = settings.htpasswd_path or settings.users_path
    if location.scheme == "s3":
        raise ConfigError(
            f"{location}: users files on S3 are not supported by this version of pryv"
        )
    path = Path(location.path)
    if settings.htpasswd_path is not None:
        return HtpasswdUserStore(LocalFileSource(path))
    return JsonUserStore(LocalFileSource(path))
