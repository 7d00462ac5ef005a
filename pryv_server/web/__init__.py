"""The HTTP layer: thin blueprints that parse requests, call core and render."""

from __future__ import annotations

from flask import Flask

from pryv_server.web import api
from pryv_server.web import explorer
from pryv_server.web import health
from pryv_server.web import metrics
from pryv_server.web.access_log import install_access_log
from pryv_server.web.basic_auth import harden
from pryv_server.web.basic_auth import relative_redirects
from pryv_server.web.client_address import TrustedProxies
from pryv_server.web.errors import register_error_handlers
from pryv_server.web.fast_downloads import FastDownloads
from pryv_server.web.page_cache import SimplePageCache


def register_blueprints(app: Flask) -> None:
    """Mount the API, ``/health``, the explorer and the error handlers on ``app``."""
    app.register_blueprint(api.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(metrics.blueprint)
    register_error_handlers(app)
    services = app.extensions["pryv"]
    app.wsgi_app = SimplePageCache(app.wsgi_app, services)  # type: ignore[method-assign]
    app.wsgi_app = FastDownloads(app.wsgi_app, services)  # type: ignore[method-assign]
    install_access_log(app, services.metrics.observe_request)
    explorer.init_app(
        app, csrf_exempt=api.api_blueprints(app), sessionless=api.sessionless_prefixes(app)
    )
    app.after_request(relative_redirects)
    # Every answer outside the explorer (the API's, /health, Werkzeug's redirects and unmatched
    # 404s, which belong to no blueprint) gets the API's headers.
    app.after_request(harden)
    proxies = app.extensions["pryv"].settings.trusted_proxies
    if proxies:  # outermost: every layer below sees the client's address
        app.wsgi_app = TrustedProxies(app.wsgi_app, proxies)  # type: ignore[method-assign]
