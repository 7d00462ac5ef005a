"""The application factory: the only place that turns settings into concrete services."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from pryv_server._resources import asset_dir
from pryv_server.auth import Authenticator
from pryv_server.auth import CachedVerifier
from pryv_server.auth import FileSource
from pryv_server.auth import HtpasswdUserStore
from pryv_server.auth import JsonUserStore
from pryv_server.auth import LocalFileSource
from pryv_server.auth import LoginLimiter
from pryv_server.auth import UserStore
from pryv_server.config import Location
from pryv_server.config import Settings
from pryv_server.config import load_settings
from pryv_server.core import Catalog
from pryv_server.core import Registry
from pryv_server.errors import ConfigError
from pryv_server.storage import LocalStorage
from pryv_server.storage import Presigner
from pryv_server.storage import Storage
from pryv_server.web import register_blueprints
from pryv_server.web.services import Services

if TYPE_CHECKING:
    from pryv_server.aws import S3Connector

log = logging.getLogger(__name__)

# On S3 the generation marker is checked every index-ttl; a full relist without a marker change
# (records added by hand) happens this often at most.
S3_RELIST_SECONDS = 300.0
# Records read at once when an index (re)loads from S3 (the client's pool has 32 connections).
S3_RECORD_LOADERS = 16

# Room in the body for the form fields beside the file (twine sends the README, classifiers...).
FORM_ALLOWANCE = 16 * 1024 * 1024
# One field other than the file (a long README in `description`), and the parts of one form:
# real clients send a few dozen parts; more is junk refused before it costs memory.
MAX_FORM_FIELD = 1024 * 1024
MAX_FORM_PARTS = 1_000


def create_app(settings: Settings | None = None) -> Flask:
    """Build a pryv Flask app from ``settings`` (default: the config file the docs describe)."""
    settings = settings or load_settings(read_remote=read_remote_config)
    app = Flask(
        "pryv_server",
        template_folder=str(asset_dir("templates")),
        static_folder=str(asset_dir("static")),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key or os.urandom(32).hex(),
        MAX_CONTENT_LENGTH=settings.max_upload_size + FORM_ALLOWANCE,
        MAX_FORM_MEMORY_SIZE=MAX_FORM_FIELD,
        MAX_FORM_PARTS=MAX_FORM_PARTS,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["pryv"] = build_services(settings)
    register_blueprints(app)
    return app


def build_services(settings: Settings) -> Services:
    """Create the storage, catalog, registry and user store that ``settings`` describe."""
    s3 = connect_s3(settings) if uses_s3(settings) else None
    records = open_storage(settings.projects_path, s3)
    blobs = open_storage(settings.packages_path, s3)
    catalog = open_catalog(records, settings)
    users = open_user_store(settings, s3)
    links = blobs if settings.aws_download == "redirect" and isinstance(blobs, Presigner) else None
    registry = Registry(records, blobs, catalog, links=links)
    limiter = LoginLimiter(settings.login_attempts, settings.login_window)
    return Services(settings, registry, users, Authenticator(CachedVerifier(users), limiter))


def open_catalog(records: Storage, settings: Settings) -> Catalog:
    """Build the catalog: a local marker costs a stat a request, an S3 one a HEAD per index-ttl."""
    if settings.projects_path.scheme == "s3":
        ttl = max(S3_RELIST_SECONDS, settings.index_ttl)
        return Catalog(
            records,
            ttl=ttl,
            check_interval=settings.index_ttl,
            loaders=S3_RECORD_LOADERS,
            signal=worker_signal(),
        )
    return Catalog(records, ttl=settings.index_ttl, check_interval=0.0)


def worker_signal() -> Storage:
    """Make a local folder the workers of this server share to tell each other of uploads.

    ``pryv start`` builds the app before gunicorn forks, so every worker inherits this folder.
    It is removed when the process that made it exits (not when a worker does).
    """
    folder = tempfile.mkdtemp(prefix="pryv-workers-")
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)
    return LocalStorage(folder)


def uses_s3(settings: Settings) -> bool:
    """Say whether any path option is an ``s3://`` location."""
    locations = [settings.projects_path, settings.packages_path, settings.users_path]
    locations += [settings.htpasswd_path] if settings.htpasswd_path else []
    return any(location.scheme == "s3" for location in locations)


def connect_s3(settings: Settings | None = None) -> S3Connector:
    """Return an S3 connector, or say how to install boto3 when it is missing.

    :raises ConfigError: pryv was installed without the ``aws`` extra.
    """
    try:
        from pryv_server.aws import S3Connector
    except ModuleNotFoundError as error:
        if error.name not in {"boto3", "botocore", "s3transfer"}:
            raise
        raise ConfigError(
            "s3:// paths need boto3, which pryv installs with its aws extra: "
            'pip install "pryv[aws]"'
        ) from None
    return S3Connector(settings)


def read_remote_config(location: Location) -> bytes | None:
    """Read an ``s3://`` configuration file for :func:`load_settings` (None when absent)."""
    connect_s3()  # the friendly error when boto3 is missing
    from pryv_server.aws import read_remote_config as read

    return read(location)


def open_storage(location: Location, s3: S3Connector | None = None) -> Storage:
    """Open the store a path option points to, creating a local folder on first start."""
    if location.scheme == "s3":
        return (s3 or connect_s3()).storage(location)
    try:
        storage = LocalStorage(location.path)
        storage.sweep_temp_files()
        return storage
    except OSError as error:
        raise ConfigError(f"{location.path}: cannot create the storage folder: {error}") from None


def open_user_store(settings: Settings, s3: S3Connector | None = None) -> UserStore:
    """Open ``.htpasswd`` when ``htpasswd-path`` is set (it wins), else ``users.json``."""
    location = settings.htpasswd_path or settings.users_path
    source: FileSource
    if location.scheme == "s3":
        # Re-read when the ETag changes, which is checked at most once per index-ttl.
        connector = s3 or connect_s3(settings)
        source = connector.file_source(location, check_interval=settings.index_ttl)
    else:
        source = LocalFileSource(Path(location.path))
    if settings.htpasswd_path is not None:
        return HtpasswdUserStore(source)
    return JsonUserStore(source)
