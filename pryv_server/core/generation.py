"""The generation marker: an object every change rewrites, so "anything new?" is one stat.

On a local disk every request stats it (about a microsecond) instead of reading the journal; the
workers of one server share another in a private temp folder, so an upload through one worker is
seen by the next request to any. It is a hint: rewritten without fsync, and a marker lost in a
crash only delays a catch-up until ``index-ttl``.
"""

from __future__ import annotations

import io
import logging
import os

from pryv_server.core.layout import GENERATION_KEY
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)


def current(store: Storage) -> str | None:
    """Return the marker's version token (None while there is none): it moves with every bump."""
    try:
        return store.stat(GENERATION_KEY).version
    except ObjectNotFound:
        return None


def bump(store: Storage) -> None:
    """Rewrite the marker; a store that refuses is logged (others then see the change at ttl)."""
    try:
        marker = io.BytesIO(os.urandom(16).hex().encode())
        store.write(GENERATION_KEY, marker, overwrite=True, durable=False)
    except StorageError:
        log.exception("could not update the generation marker; others see it within ttl")
