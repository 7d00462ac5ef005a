"""The API surface, declared once: one parent blueprint that every API blueprint hangs from.

The parent carries what every API request needs, so no API module repeats it:

* a state-changing request that a browser marks as sent by another site is refused (403);
* HTTP Basic authentication, which puts the caller's identity on ``flask.g.identity``;
* the exemption from the explorer's CSRF check (pip and twine send no CSRF token, and the API
  never reads the session cookie);
* no session at all: :func:`sessionless_prefixes` tells the explorer's session interface which
  paths are the API's, read from the routes themselves.

Endpoints are named under the parent (``api.simple.project``, ``api.download.download``).
``/health`` stays outside: load balancers call it without credentials.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Flask

from pryv_server.web import download
from pryv_server.web import health
from pryv_server.web import integrity
from pryv_server.web import json_api
from pryv_server.web import lifecycle
from pryv_server.web import proxy
from pryv_server.web import simple
from pryv_server.web import upload
from pryv_server.web import yank
from pryv_server.web.basic_auth import refuse_cross_site
from pryv_server.web.basic_auth import require_basic_user

blueprint = Blueprint("api", __name__)
blueprint.before_request(refuse_cross_site)  # before the password check, as a 403
blueprint.before_request(require_basic_user)
for child in (simple, upload, download, json_api, yank, proxy, lifecycle, integrity):
    blueprint.register_blueprint(child.blueprint)


def api_blueprints(app: Flask) -> list[Blueprint]:
    """Return the parent and every blueprint registered under it on ``app``."""
    return [
        registered
        for name, registered in app.blueprints.items()
        if isinstance(registered, Blueprint)
        and (name == blueprint.name or name.startswith(blueprint.name + "."))
    ]


def sessionless_prefixes(app: Flask) -> tuple[str, ...]:
    """Return the path prefixes of the API's routes and of ``/health``, which need no session.

    A route's prefix is its text up to the first variable part (``/simple/<project>/`` gives
    ``/simple/``). The root is left out: ``POST /`` is an upload, but ``GET /`` is the explorer's
    home page, and a session the upload never reads costs it nothing.
    """
    owners = {blueprint.name, health.blueprint.name, "metrics"}
    prefixes = {
        rule.rule.split("<", 1)[0]
        for rule in app.url_map.iter_rules()
        if rule.endpoint.split(".", 1)[0] in owners
    }
    prefixes.discard("/")
    return tuple(sorted(prefixes))
