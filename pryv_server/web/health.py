"""``GET /health``: can this instance serve? Answered without credentials, for load balancers.

Each check proves what a request would need:

* ``projects-storage`` and ``packages-storage``: a small probe object is written (replacing the
  previous one) and read back, so a store that went read-only, full or unreachable fails here
  before an upload fails on it;
* ``users``: the users file (``users.json`` or ``.htpasswd``) loads and parses.

The answer is JSON, ``200`` when every check passes and ``503`` otherwise. Anyone may call it, so
it names no path or bucket, no user count (zero would tell an outsider that setup is open) and no
version (which would tell which published flaws apply); the reason of a failure goes to the error
log. A process reuses its
last result for up to a second, so polling /health cannot flood the stores with writes.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import jsonify
from flask.blueprints import BlueprintSetupState

from pryv_server.core.layout import HEALTH_PROBE_KEY
from pryv_server.storage import Storage
from pryv_server.web.services import Services

log = logging.getLogger(__name__)

blueprint = Blueprint("health", __name__)

CACHE_KEY = "pryv.health"
HEALTH_TTL = 1.0  # seconds a result is reused


def probe_storage(storage: Storage) -> dict[str, object]:
    """Write and read back the probe object; a failure raises."""
    storage.write(HEALTH_PROBE_KEY, io.BytesIO(b"ok\n"), overwrite=True)
    if storage.read(HEALTH_PROBE_KEY) != b"ok\n":
        raise OSError("the probe object read back differs from what was written")
    return {}


def _run(name: str, check: Callable[[], dict[str, object]]) -> dict[str, object]:
    try:
        details = check()
    except Exception as error:  # a health check reports every failure rather than raising
        log.error("health check %s failed: %s", name, error, exc_info=error)
        return {"ok": False, "error": f"{name} is unavailable (see the server log)"}
    return {"ok": True, **details}


class CachedChecks:
    """Run the checks at most once per ``ttl`` seconds per process.

    /health needs no credentials and writes a probe object, so a caller hammering it must not
    turn into a storm of writes and fsyncs; load balancers poll every few seconds anyway.
    """

    def __init__(
        self,
        run: Callable[[], dict[str, dict[str, object]]],
        ttl: float = HEALTH_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._result: dict[str, dict[str, object]] | None = None
        self._at = float("-inf")

    def get(self) -> dict[str, dict[str, object]]:
        """Return fresh or recent check results."""
        with self._lock:
            now = self._clock()
            if self._result is None or now - self._at >= self.ttl:
                self._result = self._run()
                self._at = now
            return self._result


def run_checks(services: Services) -> dict[str, dict[str, object]]:
    """Run every check against one app's services."""
    return {
        "projects-storage": _run(
            "projects-storage", lambda: probe_storage(services.registry.records)
        ),
        "packages-storage": _run(
            "packages-storage", lambda: probe_storage(services.registry.blobs)
        ),
        "users": _run("users", lambda: _load_users(services)),
    }


def _load_users(services: Services) -> dict[str, object]:
    services.users.usernames()  # loads and parses the file; how many there are is not said
    return {}


@blueprint.record_once
def _install_cache(state: BlueprintSetupState) -> None:
    app = state.app
    app.extensions[CACHE_KEY] = CachedChecks(lambda: run_checks(app.extensions["pryv"]))


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    """Run every check (or reuse a result under a second old); 200 when all pass, 503 otherwise."""
    cache: CachedChecks = current_app.extensions[CACHE_KEY]
    checks = cache.get()
    healthy = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    response = jsonify(body)
    response.cache_control.no_store = True
    return response, 200 if healthy else 503
