"""The API's request guards (HTTP Basic for pip, twine and uv; no cross-site writes), headers."""

from __future__ import annotations

from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from flask import g
from flask import request
from werkzeug.wrappers import Response

from pryv_server.auth import ANONYMOUS
from pryv_server.errors import PermissionDenied
from pryv_server.web.services import get_services

# What every answer of the API carries: its pages, its JSON and its one-line errors echo names a
# client chose, so a browser must never sniff them into HTML, run anything in them, or frame
# them. The explorer's pages set their own, looser policy first (its CSS and scripts).
API_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox"),
)


def require_basic_user() -> None:
    """Authenticate the request with HTTP Basic and keep its identity on ``g.identity``.

    Only the ``Authorization`` header counts here, never the explorer's session cookie, so a
    third-party page cannot make a logged-in browser upload or read through the API. What a
    header must hold, how failures are limited (429 with ``Retry-After``) and why unknown users
    cost the same time is :class:`~pryv_server.auth.Authenticator`'s business.

    :raises AuthenticationRequired: no, malformed or wrong credentials (401).
    :raises TooManyLoginAttempts: the user or the address used up its failed logins (429).
    """
    header = request.headers.get("Authorization")
    services = get_services()
    if header is None and services.access.policy().anonymous_read:
        g.identity = ANONYMOUS  # what it may read is the access policy's business
        return
    g.identity = services.authenticator.basic(header, request.remote_addr or "")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_SITE = frozenset({"cross-site", "same-site"})


def refuse_cross_site() -> None:
    """Refuse an upload or a yank that a browser sent on behalf of another site.

    A browser that once opened the index URL with ``user:password@`` (or answered the Basic
    prompt) resends those credentials after a 401 whatever page started the request, so a page
    on another site could post a form to ``/`` or ``/api/yank`` as that user. Browsers mark such
    requests with ``Sec-Fetch-Site`` and, for a POST, an ``Origin`` header; twine, uv, poetry and
    pip send neither, so they are unaffected.

    :raises PermissionDenied: a state-changing request from another site (403).
    """
    if request.method in SAFE_METHODS:
        return
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    origin = request.headers.get("Origin")
    if site in CROSS_SITE or (origin is not None and not _is_this_server(origin)):
        raise PermissionDenied(
            "a page of another site may not upload or yank here (a browser marked this "
            "request as cross-site); use twine, uv or the explorer"
        )


def _is_this_server(origin: str) -> bool:
    """Say whether an ``Origin`` header names this server (``null`` and garbage do not)."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and parts.netloc.lower() == request.host.lower()


def harden(response: Response) -> Response:
    """Add :data:`API_HEADERS` to a response that does not set its own."""
    for name, value in API_HEADERS:
        response.headers.setdefault(name, value)
    return response


def relative_redirects(response: Response) -> Response:
    """Make a redirect to this server relative, so it never repeats the ``Host`` a client sent.

    Werkzeug's own redirects (a missing trailing slash, merged slashes) are absolute URLs built
    from the request's ``Host`` header; a relative ``Location`` works the same for every client
    and cannot be bent to another site by a forged header.
    """
    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        if parts.netloc and parts.netloc == request.host:
            path = "/" + parts.path.lstrip("/")  # never "//host", which is absolute again
            response.headers["Location"] = urlunsplit(("", "", path, parts.query, parts.fragment))
    return response
