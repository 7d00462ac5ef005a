"""Answer repeat requests for simple pages from the caches alone, without entering Flask.

``pip install`` asks ``/simple/<project>/`` for every dependency, again and again, with the same
credentials and ``Accept`` header. Once Flask has answered such a request, everything the answer
depends on is cached: the rendered page (in ``web.pages``), the successful password check
(in :class:`~pryv_server.auth.CachedVerifier`) and the content negotiation (per ``Accept``
value). Flask's request context, routing and hooks then cost twice what the rest of the request
does, so this middleware answers such repeats itself.

It only ever answers what Flask would, byte for byte, and hands every other request to Flask
unchanged: a method other than GET, a query string, a path that is not a normalized project
page, missing or not-yet-verified credentials, a user or address the login limiter holds back,
an ``Accept`` nothing fits, or a page not rendered for the current snapshot yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Literal

from packaging.utils import NormalizedName

from pryv_server.auth import Identity
from pryv_server.core.access import Action
from pryv_server.core.names import normalize
from pryv_server.web.access_log import ROUTE_KEY
from pryv_server.web.access_log import USER_KEY
from pryv_server.web.basic_auth import API_HEADERS
from pryv_server.web.pages import Page
from pryv_server.web.proxy_pages import UPSTREAM_HEADER
from pryv_server.web.services import Services
from pryv_server.web.simple import CONTENT_TYPES
from pryv_server.web.simple import JSON_V1
from pryv_server.web.simple import SERIAL_HEADER
from pryv_server.web.simple import negotiate
from pryv_server.web.simple import page_key

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

PREFIX = "/simple/"
# The route patterns Flask would have matched (the metrics count by pattern).
ROUTE_INDEX = "/simple/"
ROUTE_PROJECT = "/simple/<project>/"


class SimplePageCache:
    """A WSGI middleware that serves cached simple pages and passes everything else on."""

    def __init__(self, app: WSGIApplication, services: Services) -> None:
        self.app = app
        self.services = services

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer from the caches when all of them hold the answer, else call the app."""
        found = self._cached_page(environ)
        if found is None:
            return self.app(environ, start_response)
        page, content_type, upstream = found
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(page.body))),
            (SERIAL_HEADER, str(page.serial)),
            *(() if upstream is None else ((UPSTREAM_HEADER, upstream),)),
            ("Vary", "Accept"),
            *API_HEADERS,
        ]
        start_response("200 OK", headers)
        return [page.body]

    def _cached_page(self, environ: WSGIEnvironment) -> tuple[Page, str, str | None] | None:
        path: str = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or not path.startswith(PREFIX)
        ):
            return None
        project = _project_of(path[len(PREFIX) :])
        if project is False:
            return None
        fmt = negotiate(environ.get("HTTP_ACCEPT"))
        if fmt is None:
            return None
        identity = cached_identity(self.services, environ)
        if identity is None:
            return None
        services = self.services
        snapshot = services.registry.snapshot()
        if project is None:
            hidden = services.access.hidden(identity, snapshot.by_project, snapshot.generation)
            key = page_key(None, fmt, hidden)
        elif services.access.decide(identity, Action.READ, project, True).allowed:
            key = page_key(project, fmt)
        else:
            return None  # Flask answers the 403
        page = services.pages.cached(snapshot, key)
        upstream: str | None = None  # or how an upstream page was read: fresh or pinned
        if page is None and services.mirror is not None and project is not None:
            # A name the registry does not hold: an upstream page, while it is fresh
            # (web/proxy_pages).
            mirrored = services.mirror.fresh(snapshot, project)
            if mirrored is not None:
                page = services.upstream_pages.cached(mirrored, fmt == JSON_V1)
                upstream = mirrored.state
        if page is None:
            return None
        environ[ROUTE_KEY] = ROUTE_INDEX if project is None else ROUTE_PROJECT
        services.metrics.page(hit=True)
        return page, CONTENT_TYPES[fmt], upstream


def cached_identity(services: Services, environ: WSGIEnvironment) -> Identity | None:
    """Return the identity when the authenticator knows it without a password check.

    Sets the user for the access log, as the Flask path does. Every answer given in front of
    Flask starts here: anything not already verified is Flask's to answer.
    """
    identity = services.authenticator.cached_basic(
        environ.get("HTTP_AUTHORIZATION"), environ.get("REMOTE_ADDR") or ""
    )
    if identity is not None:
        environ[USER_KEY] = identity.name
    return identity


def _project_of(rest: str) -> NormalizedName | Literal[False] | None:
    """Read what follows ``/simple/``: None for the index, a project page's name, or False.

    False is anything Flask must answer itself: a redirect to the normalized name, a 404.
    """
    if not rest:
        return None
    name = rest[:-1]
    if not name or rest[-1] != "/" or "/" in name:
        return False
    normalized = normalize(name)
    return normalized if normalized == name else False
