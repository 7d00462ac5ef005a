"""The reference pryv's read path is measured against: a minimal Flask app serving fixed pages.

It holds the pre-rendered simple pages that the harness writes for nginx (``--ingest static``)
in memory and returns them as they are, after a constant-time HTTP Basic check, so it does the
least a Flask app serving the same bytes can do. Run it under the same gunicorn settings as
``pryv start`` (``bench/run.sh`` does).
"""

from __future__ import annotations

import base64
import hmac
import os
from pathlib import Path

from flask import Flask
from flask import Response
from flask import abort
from flask import request
from flask import send_from_directory

JSON = "application/vnd.pypi.simple.v1+json"


def load_pages(root: Path) -> dict[tuple[str, str], bytes]:
    """Read every ``simple/**/index.{html,json}`` below ``root`` into memory."""
    pages: dict[tuple[str, str], bytes] = {}
    simple = root / "simple"
    for folder, _, names in os.walk(simple):
        project = os.path.relpath(folder, simple).strip(".")
        for name in names:
            kind = "json" if name.endswith(".json") else "html"
            pages[(project, kind)] = (Path(folder) / name).read_bytes()
    return pages


def create_app(root: str, user: str = "bench", password: str = "bench") -> Flask:
    """Serve the pages rendered below ``root`` to ``user:password``."""
    app = Flask(__name__)
    pages = load_pages(Path(root))
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    @app.before_request
    def authenticate() -> Response | None:
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return Response("authentication required\n", 401, {"WWW-Authenticate": "Basic"})
        return None

    @app.get("/simple/")
    @app.get("/simple/<project>/")
    def page(project: str = "") -> Response:
        kind = "json" if JSON in request.headers.get("Accept", "") else "html"
        body = pages.get((project, kind))
        if body is None:
            abort(404)
        return Response(body, mimetype=JSON if kind == "json" else "text/html")

    @app.get("/packages/<path:filename>")
    def package(filename: str) -> Response:
        return send_from_directory(Path(root) / "packages", filename)

    return app
