"""The services one app instance runs on, kept on ``app.extensions["pryv"]``."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from flask import current_app

from pryv_server.auth import CachedVerifier
from pryv_server.auth import UserStore
from pryv_server.config import Settings
from pryv_server.core import Registry
from pryv_server.web.pages import Pages
from pryv_server.web.ratelimit import LoginLimiter


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler needs; built once by the app factory."""

    settings: Settings
    registry: Registry
    users: UserStore
    verifier: CachedVerifier
    # Shared by every login path (API Basic auth, explorer login form).
    login_limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # The one cache of rendered pages (views and the fast path in front of Flask).
    pages: Pages = field(default_factory=Pages)


def get_services() -> Services:
    """Return the current app's services (typed access to ``app.extensions``)."""
    services: Services = current_app.extensions["pryv"]
    return services
