"""The HTTP layer: thin blueprints that parse requests, call core and render."""

from __future__ import annotations

from flask import Flask

from pryv_server.web import download
from pryv_server.web import explorer
from pryv_server.web import health
from pryv_server.web import json_api
from pryv_server.web import simple
from pryv_server.web import upload
from pryv_server.web import yank
from pryv_server.web.access_log import install_access_log
from pryv_server.web.basic_auth import harden
from pryv_server.web.basic_auth import relative_redirects
from pryv_server.web.errors import register_error_handlers
from pryv_server.web.page_cache import SimplePageCache


def register_blueprints(app: Flask) -> None:
    """Mount the API blueprints and the error handlers on ``app``."""
    app.register_blueprint(simple.blueprint)
    app.register_blueprint(upload.blueprint)
    app.register_blueprint(download.blueprint)
    app.register_blueprint(json_api.blueprint)
    app.register_blueprint(yank.blueprint)
    app.register_blueprint(health.blueprint)
    register_error_handlers(app)
    app.wsgi_app = SimplePageCache(app.wsgi_app, app.extensions["pryv"])  # type: ignore[method-assign]
    install_access_log(app)
    api_blueprints = (
        simple.blueprint,
        upload.blueprint,
        download.blueprint,
        json_api.blueprint,
        yank.blueprint,
    )
    explorer.init_app(app, api_blueprints=api_blueprints)
    app.after_request(relative_redirects)
    app.after_request(harden)
