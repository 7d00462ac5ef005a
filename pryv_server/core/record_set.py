"""A small set of JSON records under one key prefix, kept in memory and refreshed cheaply.

API tokens and project roles are a few hundred small records that every request may consult, so
they are read once and kept: a request pays a dict lookup, never a storage read. A change is
journaled (``bump``: the catalog's change journal), and the set re-reads its records when the
catalog's last applied entry (``version``, which the catalog follows on every request: a ``stat``
locally, a journal listing per ``index-ttl`` on S3) is not the one it last read at. So a process
sees its own changes at once (it re-reads after writing), the other workers and instances with
the next catalog check, and no request pays an extra storage read.

Records are written one object per fact with create-if-absent or a conditional replace, so two
writers on two instances never lose each other's change (see ``core/layout.py``).
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pryv_server.errors import ObjectNotFound
from pryv_server.storage import Storage

log = logging.getLogger(__name__)

Record = dict[str, Any]
_NEVER = object()


class RecordSet:
    """The JSON objects under ``prefix`` ending in ``.json``, re-read when ``version()`` moves.

    :param version: the change token to follow (the catalog's generation marker), no I/O.
    :param bump: moves that token for every process, for a changed key (journals it).
    """

    def __init__(
        self,
        store: Storage,
        prefix: str,
        *,
        version: Callable[[], object],
        bump: Callable[[str], None],
    ) -> None:
        self.store = store
        self.prefix = prefix
        self._version = version
        self._bump = bump
        self._lock = threading.Lock()
        self._records: Mapping[str, Record] = MappingProxyType({})
        self._seen: object = _NEVER

    def current(self) -> Mapping[str, Record]:
        """Return the records by key, re-read first when the followed version moved."""
        if self._version() != self._seen:
            self.reload()
        return self._records

    def reload(self) -> None:
        """Read every record now (after this process changed one, or the version moved)."""
        with self._lock:
            seen = self._version()  # before listing: a change meanwhile is read again later
            records: dict[str, Record] = {}
            for info in self.store.list_objects(self.prefix):
                if info.key.endswith(".json"):
                    record = self._read(info.key)
                    if record is not None:
                        records[info.key] = record
            self._records = MappingProxyType(records)
            self._seen = seen

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
        self.changed(key)

    def replace(self, key: str, record: Record, *, version: str | None) -> None:
        """Replace a record only while it is at ``version`` (ObjectChanged otherwise)."""
        self.store.replace(key, _encode(record), version=version)
        self.changed(key)

    def delete(self, key: str) -> None:
        """Remove a record (idempotent)."""
        self.store.delete(key)
        self.changed(key)

    def changed(self, key: str) -> None:
        """Tell every process (journal the key), and re-read here at once."""
        self._bump(key)
        self.reload()

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
