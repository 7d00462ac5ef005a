"""``GET /health``: can this instance serve? Answered without credentials, for load balancers.

Each check proves what a request would need:

* ``projects-storage`` and ``packages-storage``: a small probe object is written (replacing the
  previous one) and read back, so a store that went read-only, full or unreachable fails here
  before an upload fails on it;
* ``users``: the users file (``users.json`` or ``.htpasswd``) loads and parses.

The answer is JSON, ``200`` when every check passes and ``503`` otherwise. It names no path or
bucket (anyone may call it); the reason of a failure goes to the error log.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from importlib import metadata

from flask import Blueprint
from flask import Response
from flask import jsonify

from pryv_server.storage import Storage
from pryv_server.web.services import get_services

log = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)

PROBE_KEY = "_health"


def _version() -> str:
    # Not pryv_server.__version__: the package root lazily imports the app, a layer above web.
    try:
        return metadata.version("pryv")
    except metadata.PackageNotFoundError:  # a source checkout that was never installed
        return "unknown"


def probe_storage(storage: Storage) -> dict[str, object]:
    """Write and read back the probe object; a failure raises."""
    storage.write(PROBE_KEY, io.BytesIO(b"ok\n"), overwrite=True)
    if storage.read(PROBE_KEY) != b"ok\n":
        raise OSError("the probe object read back differs from what was written")
    return {}


def _run(name: str, check: Callable[[], dict[str, object]]) -> dict[str, object]:
    try:
        details = check()
    except Exception as error:  # a health check reports every failure rather than raising
        log.error("health check %s failed: %s", name, error, exc_info=error)
        return {"ok": False, "error": f"{name} is unavailable (see the server log)"}
    return {"ok": True, **details}


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    """Run every check; answer 200 when all pass, 503 otherwise."""
    services = get_services()
    checks = {
        "projects-storage": _run(
            "projects-storage", lambda: probe_storage(services.registry.records)
        ),
        "packages-storage": _run(
            "packages-storage", lambda: probe_storage(services.registry.blobs)
        ),
        "users": _run("users", lambda: {"count": len(services.users.usernames())}),
    }
    healthy = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "version": _version(), "checks": checks}
    response = jsonify(body)
    response.cache_control.no_store = True
    return response, 200 if healthy else 503
