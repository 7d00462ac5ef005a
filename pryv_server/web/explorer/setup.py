"""First-run setup: create the first user from the browser, then never again.

``/setup`` exists only while no user is configured; afterwards it answers 404 whatever is posted.
When pryv listens on an address other than loopback, anyone on the network could reach the form
before the operator does, so the form then also asks for a setup token that ``pryv start`` writes
to its log. The token is derived from the secret key with HMAC, so every gunicorn worker (which
share the key) agrees on it without any shared state, and it is useless once a user exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging

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
from pryv_server.errors import NotFound
from pryv_server.web.explorer.auth import has_users
from pryv_server.web.explorer.auth import log_in
from pryv_server.web.services import get_services

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
_TOKEN_CONTEXT = b"pryv first-run setup token"


def setup_token(secret_key: str) -> str:
    """Derive the one-time setup token from the secret key (``XXXX-XXXX-XXXX-XXXX``)."""
    digest = hmac.new(secret_key.encode("utf-8"), _TOKEN_CONTEXT, hashlib.sha256).digest()
    text = base64.b32encode(digest).decode("ascii")[:16]
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


def _normalize_token(token: str) -> str:
    return "".join(char for char in token.upper() if char.isalnum())


def is_loopback(host: str) -> bool:
    """Say whether ``host`` (the address pryv listens on) is reachable from this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume the network can reach it


def token_required() -> bool:
    """Say whether the setup form must ask for the token (pryv listens beyond loopback)."""
    return not is_loopback(get_services().settings.host)


def announce_setup_token(app: Flask) -> None:
    """Log the setup token at start when setup is open to the network (no user yet)."""
    services = app.extensions["pryv"]
    if is_loopback(services.settings.host) or services.users.usernames():
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
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Password: use at least {MIN_PASSWORD_LENGTH} characters.")
    elif password != confirmation:
        problems.append("Password confirmation: the two passwords differ.")
    if token_required():
        expected = _normalize_token(setup_token(str(current_app.config["SECRET_KEY"])))
        if not hmac.compare_digest(_normalize_token(token).encode(), expected.encode()):
            problems.append("Setup token: it does not match the one in pryv's log.")
    return problems


def setup_view() -> Response | str:
    """Show the setup form, or create the first user from it and log them in."""
    if has_users():
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
            get_services().users.add(username, password)
            log.info("first user %r created through the setup page", username)
            log_in(username)
            return redirect(url_for("explorer.projects"))
        return render_template(
            "setup.html", problems=problems, username=username, token_required=token_required()
        )
    return render_template("setup.html", problems=[], username="", token_required=token_required())


def register(blueprint: Blueprint) -> None:
    """Add the setup page to the explorer blueprint."""
    blueprint.add_url_rule("/setup", "setup", setup_view, methods=["GET", "POST"])
