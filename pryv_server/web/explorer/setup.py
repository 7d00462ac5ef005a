"""First-run setup: create the first user from the browser, exactly once, then never again.

``/setup`` exists only until a first user exists; afterwards it answers 404 whatever is posted.
"Exists" is remembered by a marker object in the projects store
(:data:`~pryv_server.core.layout.SETUP_MARKER`), so setup stays closed when the users file is
briefly missing or empty (a missing users file is then a 503, not an open door). The marker is
also the claim: the setup that creates it (create-if-absent, so one writer wins across workers
and instances) is the one that adds its user; every other concurrent setup answers 404.

The form asks for a setup token, which ``pryv start`` writes to its log, unless the request comes
straight from this machine: a loopback client address, a loopback ``Host`` (a DNS-rebound name
is not) and no forwarding header (a reverse proxy on the same machine adds them). The token is
derived from the secret key with HMAC, so every gunicorn worker agrees on it without shared
state; wrong tokens are counted by the login limiter like wrong passwords.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import validate_csrf
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from pryv_server.auth import validate_username
from pryv_server.auth.stores import MIN_PASSWORD_LENGTH
from pryv_server.auth.stores import check_password
from pryv_server.core.layout import SETUP_MARKER
from pryv_server.core.permissions import set_role
from pryv_server.errors import NotFound
from pryv_server.web.explorer.auth import log_in
from pryv_server.web.explorer.first_run import claim
from pryv_server.web.explorer.first_run import setup_closed
from pryv_server.web.services import get_services

log = logging.getLogger(__name__)

_TOKEN_CONTEXT = b"pryv first-run setup token"
# The login limiter counts wrong setup tokens under this name (":" is in no user name).
SETUP_LIMIT_KEY = ":setup"
# Headers a reverse proxy adds: a request carrying one did not come straight from this machine.
FORWARDING_HEADERS = (
    "Forwarded",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Real-IP",
    "X-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
)


def setup_token(secret_key: str) -> str:
    """Derive the one-time setup token from the secret key (``XXXX-XXXX-XXXX-XXXX``)."""
    digest = hmac.new(secret_key.encode("utf-8"), _TOKEN_CONTEXT, hashlib.sha256).digest()
    text = base64.b32encode(digest).decode("ascii")[:16]
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


def _normalize_token(token: str) -> str:
    return "".join(char for char in token.upper() if char.isalnum())


def is_loopback(host: str) -> bool:
    """Say whether ``host`` (an address or a name) is reachable from this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume the network can reach it


def token_required() -> bool:
    """Say whether the setup form must ask for the token: unless the request is local.

    Local means all three: the client address is loopback, the ``Host`` header names loopback
    (so a DNS-rebound site name does not count) and no proxy forwarding header is present (so
    nginx on the same machine, the documented layout, does not make every client local).
    """
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return True
    if not is_loopback(request.remote_addr or ""):
        return True
    try:
        hostname = urlsplit(f"//{request.host}").hostname
    except ValueError:
        return True
    return not hostname or not is_loopback(hostname)


def announce_setup_token(app: Flask) -> None:
    """Log the setup token at start while setup is open (for browsers not on this machine)."""
    services = app.extensions["pryv"]
    if setup_closed(services):
        return
    log.warning(
        "no user exists yet: open /setup in a browser to create the first one; setup token: %s",
        setup_token(str(app.config["SECRET_KEY"])),
    )


def _problems(username: str, password: str, confirmation: str, token: str) -> list[str]:
    problems = []
    try:
        validate_username(username)
    except ValueError as error:
        problems.append(f"Username: {error}.")
    try:
        check_password(password)
    except ValueError:
        problems.append(f"Password: use at least {MIN_PASSWORD_LENGTH} characters.")
    else:
        if password != confirmation:
            problems.append("Password confirmation: the two passwords differ.")
    if token_required() and not _token_matches(token):
        problems.append("Setup token: it does not match the one in pryv's log.")
    return problems


def _token_matches(token: str) -> bool:
    """Check a setup token; a wrong one counts as a failed login of the client's address.

    :raises TooManyLoginAttempts: too many wrong tokens (or logins) from this address, or in all.
    """
    expected = _normalize_token(setup_token(str(current_app.config["SECRET_KEY"])))
    return get_services().authenticator.guess(
        SETUP_LIMIT_KEY,
        request.remote_addr or "",
        lambda: hmac.compare_digest(_normalize_token(token).encode(), expected.encode()),
    )


def setup_view() -> Response | str:
    """Show the setup form, or create the first user from it and log them in."""
    services = get_services()
    if setup_closed(services):
        raise NotFound("setup is done: this server already has users")
    if request.method == "POST":
        # CSRF is checked here rather than before the view, so a finished setup is 404 always.
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as error:
            raise CSRFError(error.args[0]) from None
        form = request.form
        username = form.get("username", "").strip()
        password = form.get("password", "")
        problems = _problems(
            username, password, form.get("confirmation", ""), form.get("token", "")
        )
        if not problems:
            claim(services, username)
            try:
                services.users.add(username, password)
            except Exception:
                services.registry.records.delete(SETUP_MARKER)  # let the operator try again
                raise
            log.info("first user %r created through the setup page", username)
            if services.permissions.source is not None:
                # The first user administers the server (with no permissions file, every user
                # may do everything anyway).
                services.permissions.edit(set_role(username, "admin"))
            services.audit.record(
                username, request.remote_addr or "", "user.add", username, via="setup"
            )
            log_in(username)
            return redirect(url_for("explorer.projects"))
        return render_template(
            "setup.html", problems=problems, username=username, token_required=token_required()
        )
    return render_template("setup.html", problems=[], username="", token_required=token_required())


def register(blueprint: Blueprint) -> None:
    """Add the setup page to the explorer blueprint."""
    blueprint.add_url_rule("/setup", "setup", setup_view, methods=["GET", "POST"])
