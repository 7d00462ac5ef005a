"""Credentials for the tests: the integration user, its users file, the one Basic-header builder.

The end-to-end tests' user (``carol``) is in ``tests/e2e/servers.py``; both build their headers
with :func:`basic_header`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

USER = "alice"
PASSWORD = "wonderland"


def basic_header(user: str, password: str) -> str:
    """Return the ``Authorization`` value HTTP Basic sends for ``user`` and ``password``."""
    return raw_basic_header(f"{user}:{password}".encode())


def raw_basic_header(token: bytes) -> str:
    """Return a Basic ``Authorization`` value carrying any bytes (malformed ones included)."""
    return "Basic " + base64.b64encode(token).decode("ascii")


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    """Return the headers of a request with Basic credentials (the integration user's)."""
    return {"Authorization": basic_header(user, password)}


def write_users(path: Path, users: dict[str, str]) -> None:
    """Write a users.json with the docs' SHA-256 entries (fast to check, unlike bcrypt)."""
    document = {
        name: {"password": hashlib.sha256(pw.encode()).hexdigest()} for name, pw in users.items()
    }
    path.write_text(json.dumps(document))
