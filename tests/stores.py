"""Stores that count what an object store would bill, and a catalog driven as on S3.

Every call of :class:`CountingStorage` below is one billed request on S3 (a listing, one per
1,000 keys), so a test asserts the requests the design promises (docs/storage-s3.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from pryv_server.app import open_catalog
from pryv_server.config import Settings
from pryv_server.config import parse_location
from pryv_server.core import Catalog
from pryv_server.storage import MemoryStorage
from pryv_server.storage import ObjectInfo


class CountingStorage(MemoryStorage):
    """MemoryStorage that counts the calls an S3 store would pay a request for."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0
        self._count = threading.Lock()

    def _paid(self) -> None:
        with self._count:
            self.requests += 1

    def stat(self, key: str) -> ObjectInfo:
        self._paid()
        return super().stat(key)

    def read(self, key: str) -> bytes:
        self._paid()
        return super().read(key)

    def write(self, key, data, *, overwrite=False, durable=True):  # type: ignore[no-untyped-def]
        self._paid()
        return super().write(key, data, overwrite=overwrite, durable=durable)

    def delete(self, key: str) -> None:
        self._paid()
        super().delete(key)

    def list_objects(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        listed = list(super().list_objects(prefix, start_after=start_after))
        for _ in range(max(1, -(-len(listed) // 1000))):  # S3 pages 1,000 keys
            self._paid()
        return iter(listed)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def s3_catalog(records: MemoryStorage, clock: Clock, ttl: float = 5.0) -> Catalog:
    """Open a catalog as ``pryv start`` does on S3 (a journal listing per ``ttl``), one worker."""
    settings = Settings(
        projects_path=parse_location("s3://bucket/projects"),
        packages_path=parse_location("s3://bucket/packages"),
        users_path=parse_location("s3://bucket/users.json"),
        index_ttl=ttl,
    )
    catalog = open_catalog(records, settings)
    catalog._clock = clock  # the test drives time
    catalog.signal = None  # one worker
    return catalog
