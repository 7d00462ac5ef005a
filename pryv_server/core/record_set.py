"""A small set of JSON records under one key prefix, kept in the catalog and written one by one.

API tokens, project roles and upstream controls are records every request may consult, so a
request must pay a dict lookup, never a storage read. They ride in the catalog as side records
(:mod:`pryv_server.core.side_records`): in its checkpoints, so a start reads them with the
catalog, and in its journal, so a change costs the other processes the keys its entry names. This
process sees its own change at once (:meth:`Catalog.changed` re-reads the key), the other workers
and instances with their next catalog check (a ``stat`` locally, a journal listing per
``index-ttl`` on S3).

Records are written one object per fact with create-if-absent or a conditional replace, so two
writers on two instances never lose each other's change (see ``core/layout.py``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

from pryv_server.core.catalog import Catalog
from pryv_server.core.side_records import SideRecord
from pryv_server.errors import ObjectNotFound
from pryv_server.storage import Storage

Record = SideRecord


class RecordSet:
    """The JSON objects under ``prefix`` ending in ``.json``, as the catalog holds them.

    :param catalog: the catalog of ``store``; the set is watched at once, so it must be built
        before the catalog's first snapshot.
    :param fresh: make the catalog's per-request check before each :meth:`current` (for a
        check that may come before anything else reads the catalog, as a token's does).
    """

    def __init__(
        self, store: Storage, prefix: str, catalog: Catalog, *, fresh: bool = False
    ) -> None:
        self.store = store
        self.prefix = prefix
        self._catalog = catalog
        self._fresh = fresh
        catalog.watch(prefix)

    def current(self) -> Mapping[str, Record]:
        """Return the records by key: the same object until one of them changes."""
        return self._catalog.side(self.prefix, fresh=self._fresh)

    def refresh(self) -> Mapping[str, Record]:
        """Catch the catalog up first if it is due (listings that must show others' changes)."""
        return self._catalog.side(self.prefix, fresh=True)

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
        self._catalog.changed(key)

    def replace(self, key: str, record: Record, *, version: str | None) -> None:
        """Replace a record only while it is at ``version`` (ObjectChanged otherwise)."""
        self.store.replace(key, _encode(record), version=version)
        self._catalog.changed(key)

    def delete(self, key: str) -> None:
        """Remove a record (idempotent)."""
        self.store.delete(key)
        self._catalog.changed(key)


def _encode(record: Record) -> bytes:
    return json.dumps(record, sort_keys=True, indent=1).encode("utf-8")
