"""The web explorer: first-run setup, login, the projects list and the project pages.

Every page needs a logged-in user (a signed session cookie, HttpOnly, SameSite=Lax, Secure over
HTTPS), except the pages that only read when ``[permissions] anonymous-read`` is on; while no
user exists every page leads to the setup form instead. Every form carries a
CSRF token (Flask-WTF); the API blueprints are exempt because they authenticate each request with
HTTP Basic and never read the session. Pages are sent with a strict Content-Security-Policy: our
own scripts and styles only, nothing inline, no framing.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint
from flask import Flask
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response

from pryv_server.web.explorer import admin
from pryv_server.web.explorer import auth
from pryv_server.web.explorer import managing
from pryv_server.web.explorer import projects
from pryv_server.web.explorer import rendering
from pryv_server.web.explorer import roles
from pryv_server.web.explorer import setup
from pryv_server.web.explorer import tokens
from pryv_server.web.explorer import upstream_controls
from pryv_server.web.explorer import use
from pryv_server.web.explorer import yanking
from pryv_server.web.services import get_services

# Scripts, styles and images from this server only; no inline script, no plugins, no framing.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# With [server] external-images (the default), descriptions show https images from any host, as
# PyPI does (badges): images cannot run script, and Referrer-Policy keeps page URLs to us.
EXTERNAL_IMAGES_POLICY = CONTENT_SECURITY_POLICY.replace(
    "img-src 'self' data:", "img-src 'self' data: https:"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _add_security_headers(response: Response) -> Response:
    external = get_services().settings.external_images
    policy = EXTERNAL_IMAGES_POLICY if external else CONTENT_SECURITY_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    # Pages show private package data: keep them out of shared caches and the back-forward cache
    # of a logged-out browser. Downloads set their own caching.
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def build_blueprint() -> Blueprint:
    """Create the ``explorer`` blueprint with every page, the login gate and the headers."""
    blueprint = Blueprint("explorer", __name__)
    blueprint.before_request(auth.require_user)
    blueprint.after_request(_add_security_headers)
    blueprint.context_processor(auth.template_context)
    blueprint.add_app_template_filter(rendering.human_size, "human_size")
    blueprint.add_app_template_filter(rendering.human_time, "human_time")
    blueprint.add_app_template_filter(rendering.safe_url, "safe_url")
    auth.register(blueprint)
    setup.register(blueprint)
    projects.register(blueprint)
    yanking.register(blueprint)
    use.register(blueprint)
    managing.register(blueprint)
    tokens.register(blueprint)
    roles.register(blueprint)
    admin.register(blueprint)
    upstream_controls.register(blueprint)
    return blueprint


def init_app(app: Flask, *, csrf_exempt: Iterable[Blueprint], sessionless: tuple[str, ...]) -> None:
    """Mount the explorer on ``app``: blueprint, CSRF protection, session cookie rules.

    ``csrf_exempt`` are the API's blueprints: they use HTTP Basic only, and twine and pip send no
    CSRF token. Paths starting with one of ``sessionless`` never open the session.
    """
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # tokens live as long as the session
    csrf = CSRFProtect(app)
    for blueprint in csrf_exempt:
        csrf.exempt(blueprint)
    # The setup view checks CSRF itself, after answering 404 once a user exists.
    csrf.exempt(setup.setup_view)
    app.session_interface = auth.ExplorerSessionInterface(sessionless)
    app.register_blueprint(build_blueprint())
    setup.announce_setup_token(app)
