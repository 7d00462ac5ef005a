"""The application factory: the only place that turns settings into concrete services."""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import time

from flask import Flask

from pryv_server._resources import asset_dir
from pryv_server.auth import Authenticator
from pryv_server.auth import CachedVerifier
from pryv_server.auth import HtpasswdUserStore
from pryv_server.auth import JsonUserStore
from pryv_server.auth import LoginLimiter
from pryv_server.auth import UserStore
from pryv_server.backends import Backends
from pryv_server.backends import read_remote_config
from pryv_server.backends.webhooks import WebhookSender
from pryv_server.config import Settings
from pryv_server.config import load_settings
from pryv_server.core import Catalog
from pryv_server.core import Registry
from pryv_server.core.access import Access
from pryv_server.core.audit import AuditLog
from pryv_server.core.catalog import LOCAL_CHECKPOINT_EVERY
from pryv_server.core.events import Events
from pryv_server.core.events import no_events
from pryv_server.core.mirror import Mirror
from pryv_server.core.permissions import PermissionsFile
from pryv_server.core.project_roles import ProjectRoleStore
from pryv_server.core.tokens import TokenStore
from pryv_server.core.upstream import UpstreamPolicy
from pryv_server.core.upstream_controls import UpstreamControls
from pryv_server.errors import ConfigError
from pryv_server.storage import LocalStorage
from pryv_server.storage import Presigner
from pryv_server.storage import Storage
from pryv_server.upstream import HttpIndex
from pryv_server.web import register_blueprints
from pryv_server.web.metrics import Metrics
from pryv_server.web.services import Services

log = logging.getLogger(__name__)

# Records read at once when the catalog loads from a remote store (S3's pool has 32 connections).
REMOTE_RECORD_LOADERS = 16

# Room in the body for the form fields beside the file (twine sends the README, classifiers...).
FORM_ALLOWANCE = 16 * 1024 * 1024
# One field other than the file (a long README in `description`), and the parts of one form:
# real clients send a few dozen parts; more is junk refused before it costs memory.
MAX_FORM_FIELD = 1024 * 1024
MAX_FORM_PARTS = 1_000
# Seconds a process waits at exit for its queued webhook events.
WEBHOOK_DRAIN_SECONDS = 10.0


def create_app(settings: Settings | None = None) -> Flask:
    """Build a pryv Flask app from ``settings`` (default: the config file the docs describe)."""
    settings = (settings or load_settings(read_remote=read_remote_config)).with_secret_key()
    app = Flask(
        "pryv_server",
        template_folder=str(asset_dir("templates")),
        static_folder=str(asset_dir("static")),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
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
    backends = Backends(settings)
    records = backends.storage(settings.projects_path)
    blobs = backends.storage(settings.packages_path)
    catalog = open_catalog(records, settings)
    users = open_user_store(settings, backends)
    links = blobs if settings.aws_download == "redirect" and isinstance(blobs, Presigner) else None
    registry = Registry(
        records,
        blobs,
        catalog,
        links=links,
        events=open_webhooks(settings),
        sigstore=settings.provenance_verify == "sigstore",
    )
    limiter = LoginLimiter(settings.login_attempts, settings.login_window)
    # Tokens, project roles and upstream controls ride in the catalog (side records): built
    # before its first snapshot, they are in its checkpoints and journal, and a request reads
    # them from memory. A token is checked before the request reads its snapshot, so its check
    # makes the catalog's (TokenStore asks for it).
    tokens = TokenStore(records, catalog)
    project_roles = ProjectRoleStore(records, catalog)
    upstream_controls = UpstreamControls(records, blobs, catalog, clock=time.time)
    permissions = open_permissions(settings, backends)
    access = Access(permissions.current, project_roles.current)
    authenticator = Authenticator(CachedVerifier(users), limiter, tokens)
    metrics = Metrics(registry.snapshot)
    catalog.on_relist = metrics.index_reloaded
    services = Services(
        settings,
        registry,
        users,
        authenticator,
        access,
        tokens,
        permissions,
        project_roles,
        AuditLog(blobs),
        metrics,
        mirror=open_mirror(settings, blobs, access, upstream_controls),
        upstream_controls=upstream_controls,
    )
    services.pages.on_lookup = metrics.page
    return services


def open_permissions(settings: Settings, backends: Backends) -> PermissionsFile:
    """Open the permissions file ``[user] permissions-path`` names (none: today's behaviour)."""
    location = settings.permissions_path
    source = None
    if location is not None:
        source = backends.file_source(location, check_interval=settings.index_ttl)
    return PermissionsFile(source, uploads=settings.uploads, anonymous_read=settings.anonymous_read)


def open_mirror(
    settings: Settings, blobs: Storage, access: Access, controls: UpstreamControls
) -> Mirror | None:
    """Build the caching proxy of ``[upstream]`` (None without that section).

    A name under a reserved namespace (PEP 752) is never served from upstream, like a local one.
    """
    if not settings.upstream:
        return None
    policy = UpstreamPolicy(
        settings.upstream_allow, settings.upstream_deny, settings.upstream_min_age
    )
    index = HttpIndex.from_environment(settings.upstream_url, timeout=settings.upstream_timeout)
    return Mirror(
        index,
        blobs,
        policy,
        ttl=settings.upstream_ttl,
        reserved=lambda name: access.policy().namespace_of(name) is not None,
        controls=controls.current,
    )


def open_webhooks(settings: Settings) -> Events:
    """Build the webhook sender ``[webhooks]`` asks for, or listen to nothing.

    :raises ConfigError: URLs without a secret (events would go out unsigned).
    """
    if not settings.webhook_urls:
        return no_events
    if settings.webhook_secret is None:
        raise ConfigError(
            f"{settings.config_path}: [webhooks] secret: set it (at least 16 characters): "
            "receivers check each event's signature with it"
        )
    sender = WebhookSender(
        settings.webhook_urls,
        settings.webhook_secret,
        queue_size=settings.webhook_queue_size,
        retries=settings.webhook_retries,
    )
    # A command (pryv delete, prune) exits right after its change: give its events a moment.
    atexit.register(sender.drain, WEBHOOK_DRAIN_SECONDS)
    return sender


def open_catalog(records: Storage, settings: Settings) -> Catalog:
    """Build the catalog: locally a stat a request, remotely a journal listing per index-ttl."""
    if not settings.projects_path.is_local:
        return Catalog(
            records,
            check_interval=settings.index_ttl,
            loaders=REMOTE_RECORD_LOADERS,
            signal=worker_signal(),
            marker=False,
        )
    return Catalog(
        records,
        ttl=settings.index_ttl,
        check_interval=0.0,
        checkpoint_every=LOCAL_CHECKPOINT_EVERY,
    )


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


def open_user_store(settings: Settings, backends: Backends | None = None) -> UserStore:
    """Open ``.htpasswd`` when ``htpasswd-path`` is set (it wins), else ``users.json``."""
    location = settings.htpasswd_path or settings.users_path
    # A remote file is re-read when its ETag changes, which is checked at most once per index-ttl.
    backends = backends or Backends(settings)
    source = backends.file_source(location, check_interval=settings.index_ttl)
    if settings.htpasswd_path is not None:
        return HtpasswdUserStore(source)
    return JsonUserStore(source)
