"""What keeps an explorer session valid: the user's current password hash and their last logout.

Sessions are Flask's signed cookies, which the server cannot delete, so a session carries two
facts that are checked on every page:

* a **credential fingerprint**, an HMAC under the secret key of the user's stored password hash.
  A password change, or removing the user and creating them again (a new salt), changes the hash
  and ends every session at once, with no state anywhere;
* the **login time**, compared with the user's **logout time**: one tiny object per user in the
  projects store (:func:`pryv_server.core.layout.logout_key`), written by logout. Every worker and
  every instance reads the same store, so a logout ends all of that user's sessions everywhere,
  including a copy of the cookie an attacker took.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time

from flask import current_app

from pryv_server.core.layout import logout_key
from pryv_server.errors import ObjectNotFound
from pryv_server.web.services import Services

_FINGERPRINT_CONTEXT = b"pryv session credential\0"


def fingerprint(services: Services, username: str) -> str | None:
    """Return the HMAC of the user's stored hash (None for an unknown user)."""
    stored = services.users.stored_hash(username)
    if stored is None:
        return None
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    message = _FINGERPRINT_CONTEXT + username.encode("utf-8", "surrogatepass") + b"\0"
    message += stored.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def logged_out_at(services: Services, username: str) -> float:
    """Return when the user last logged out (0 when never)."""
    try:
        content = services.registry.records.read(logout_key(username))
        return float(json.loads(content)["logout"])
    except ObjectNotFound:
        return 0.0
    except (ValueError, KeyError, TypeError):
        return float("inf")  # a damaged record ends sessions rather than keeping them


def end_sessions(services: Services, username: str) -> None:
    """Record a logout: every session of ``username`` started before now is over."""
    body = json.dumps({"logout": time.time()}).encode() + b"\n"
    services.registry.records.write(logout_key(username), io.BytesIO(body), overwrite=True)


def is_valid(services: Services, username: str, print_: object, logged_in_at: object) -> bool:
    """Say whether a session's fingerprint and login time still hold for ``username``."""
    expected = fingerprint(services, username)
    if expected is None or not isinstance(print_, str):
        return False
    if not hmac.compare_digest(print_.encode(), expected.encode()):
        return False
    if not isinstance(logged_in_at, (int, float)):
        return False
    return logged_in_at > logged_out_at(services, username)
