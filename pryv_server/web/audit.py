"""Record the request's writes in the audit log: who (the identity), from where, what."""

from __future__ import annotations

from typing import Any

from flask import g
from flask import request

from pryv_server.auth import Identity
from pryv_server.web.services import get_services


def who(identity: Identity) -> str:
    """Name an identity in the log: the user, and the token when one was used."""
    token = identity.token
    return identity.name if token is None else f"{identity.name} (token {token.id})"


def audit(action: str, target: str, **details: Any) -> None:
    """Append one event for the current request's identity and client address."""
    identity: Identity | None = g.get("identity")
    name = who(identity) if identity is not None else "-"
    get_services().audit.record(name, request.remote_addr or "", action, target, **details)
