"""The HTTP layer: thin blueprints that parse requests, call core and render."""

from __future__ import annotations

from flask import Flask
from flask import redirect
from werkzeug.wrappers import Response

from pryv_server.web import download
from pryv_server.web import simple
from pryv_server.web import upload
from pryv_server.web.errors import register_error_handlers
from pryv_server.web.security import relative_redirects


def register_blueprints(app: Flask) -> None:
    """Mount the API blueprints and the error handlers on ``app``."""
    app.register_blueprint(simple.blueprint)
    app.register_blueprint(upload.blueprint)
    app.register_blueprint(download.blueprint)
    register_error_handlers(app)
    app.after_request(relative_redirects)

    @app.get("/")
    def home() -> Response:
        return redirect("/simple/")
