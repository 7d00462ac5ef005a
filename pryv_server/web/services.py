"""The services one app instance runs on, kept on ``app.extensions["pryv"]``."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from flask import current_app

from pryv_server.auth import Authenticator
from pryv_server.auth import LoginLimiter
from pryv_server.auth import UserStore
from pryv_server.config import Settings
from pryv_server.core import Registry
from pryv_server.core.access import Access
from pryv_server.core.audit import AuditLog
from pryv_server.core.mirror import Mirror
from pryv_server.core.permissions import PermissionsFile
from pryv_server.core.project_roles import ProjectRoleStore
from pryv_server.core.tokens import TokenStore
from pryv_server.core.upstream_controls import UpstreamControls
from pryv_server.web.pages import Pages
from pryv_server.web.proxy_pages import UpstreamPages

if TYPE_CHECKING:
    from pryv_server.web.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler needs; built once by the app factory."""

    settings: Settings
    registry: Registry
    users: UserStore
    # The one way in for every login path (API Basic auth, explorer login, setup token, the
    # simple-page fast path).
    authenticator: Authenticator
    # Who may do what (core/access.py) and the API tokens behind ``__token__`` logins.
    access: Access
    tokens: TokenStore
    permissions: PermissionsFile
    project_roles: ProjectRoleStore
    audit: AuditLog  # one object per write: who, from where, what, when
    # What /metrics reports (web/metrics.py).
    metrics: Metrics
    # The one cache of rendered pages (views and the fast path in front of Flask).
    pages: Pages = field(default_factory=Pages)
    # The caching proxy of an upstream index ([upstream]); None when it is off.
    mirror: Mirror | None = None
    # An admin's blocks, pins and purges of upstream names (kept even while [upstream] is off).
    upstream_controls: UpstreamControls | None = None
    upstream_pages: UpstreamPages = field(default_factory=UpstreamPages)

    @property
    def login_limiter(self) -> LoginLimiter:
        """The failed-login limiter every path shares (the authenticator's)."""
        return self.authenticator.limiter


def get_services() -> Services:
    """Return the current app's services (typed access to ``app.extensions``)."""
    services: Services = current_app.extensions["pryv"]
    return services
