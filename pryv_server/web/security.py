"""HTTP Basic authentication for the API (pip, twine, uv)."""

from __future__ import annotations

from flask import g
from flask import request

from pryv_server.errors import AuthenticationRequired
from pryv_server.web.services import get_services


def require_basic_user() -> None:
    """Authenticate the request with HTTP Basic, or raise :class:`AuthenticationRequired`.

    Only the ``Authorization`` header counts here, never the explorer's session cookie, so a
    third-party page cannot make a logged-in browser upload or read through the API.
    """
    authorization = request.authorization
    if authorization is None or authorization.type != "basic":
        raise AuthenticationRequired("authentication required: send a user name and password")
    username = authorization.username or ""
    password = authorization.password or ""
    if not username or not get_services().verifier.verify(username, password):
        raise AuthenticationRequired("invalid user name or password")
    g.user = username
