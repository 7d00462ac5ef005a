"""A small set of JSON records under one key prefix, kept in memory and refreshed cheaply.

API tokens and project roles are a few hundred small records that every request may consult, so
they are read once and kept: a request pays a dict lookup, never a storage read. Each change
rewrites a marker object beside them; the set re-reads its records only when the marker's version
moved, checked at most every ``check_interval`` seconds (0: on every call, a ``stat`` on local
storage; a remote store uses ``index-ttl``, like the catalog). A process sees its own changes at
once (it calls :meth:`RecordSet.reload`); other instances on the same store within the interval.

Records are written one object per fact with create-if-absent or a conditional replace, so two
writers on two instances never lose each other's change (see ``core/layout.py``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage import Storage

log = logging.getLogger(__name__)

Record = dict[str, Any]


class RecordSet:
    """The JSON objects under ``prefix`` ending in ``.json``, with a change ``marker``."""

    def __init__(
        self,
        store: Storage,
        prefix: str,
        marker: str,
        *,
        check_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.marker = marker
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._records: Mapping[str, Record] = MappingProxyType({})
        self._seen: str | None = "\0never"
        self._checked_at = float("-inf")

    def current(self) -> Mapping[str, Record]:
        """Return the records by key, re-read first when the marker moved (checked per interval)."""
        now = self._clock()
        if now - self._checked_at >= self.check_interval:
            self._checked_at = now
            if self._marker_version() != self._seen:
                self.reload()
        return self._records

    def reload(self) -> None:
        """Read every record now (after this process changed one, or the marker moved)."""
        with self._lock:
            version = self._marker_version()
            records: dict[str, Record] = {}
            for info in self.store.list_objects(self.prefix):
                if not info.key.endswith(".json"):
                    continue
                record = self._read(info.key)
                if record is not None:
                    records[info.key] = record
            self._records = MappingProxyType(records)
            self._seen = version

    def read(self, key: str) -> tuple[Record, str] | None:
        """Read one record and its version from storage now (for a conditional replace)."""
        try:
            info = self.store.stat(key)
            content = self.store.read(key)
        except ObjectNotFound:
            return None
        return json.loads(content), info.version

    def create(self, key: str, record: Record) -> None:
        """Write a new record; :class:`~pryv_server.errors.ObjectExists` when the key is taken."""
        self.store.write(key, io.BytesIO(_encode(record)), overwrite=False)
        self.changed()

    def replace(self, key: str, record: Record, *, version: str | None) -> None:
        """Replace a record only while it is at ``version`` (ObjectChanged otherwise)."""
        self.store.replace(key, _encode(record), version=version)
        self.changed()

    def delete(self, key: str) -> None:
        """Remove a record (idempotent)."""
        self.store.delete(key)
        self.changed()

    def changed(self) -> None:
        """Move the marker so other processes re-read, and re-read here at once."""
        try:
            self.store.write(self.marker, io.BytesIO(os.urandom(16).hex().encode()), overwrite=True)
        except StorageError:
            log.exception("could not move %s; other instances see the change later", self.marker)
        self.reload()

    def _marker_version(self) -> str | None:
        try:
            return self.store.stat(self.marker).version
        except ObjectNotFound:
            return None

    def _read(self, key: str) -> Record | None:
        try:
            record = json.loads(self.store.read(key))
        except ObjectNotFound:
            return None  # removed while listing
        except ValueError as error:
            log.warning("skipping the unreadable record %s: %s", key, error)
            return None
        return record if isinstance(record, dict) else None


def _encode(record: Record) -> bytes:
    return json.dumps(record, sort_keys=True, indent=1).encode("utf-8")
