"""In-memory storage with the same semantics as the real ones, for tests and demos."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import IO
from typing import BinaryIO

from pryv_server.errors import ObjectChanged
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.storage.base import ObjectInfo
from pryv_server.storage.base import validate_key


class MemoryStorage:
    """A dict of key to bytes behind a lock."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._written: dict[str, float] = {}  # key -> when (ObjectInfo.modified)
        self._clock = clock
        self._lock = threading.Lock()
        self._counter = 0

    def _info(self, key: str) -> ObjectInfo:
        content, version = self._objects[key]
        return ObjectInfo(key, len(content), version, self._written.get(key, 0.0))

    def _store(self, key: str, content: bytes) -> ObjectInfo:
        self._counter += 1
        digest = hashlib.md5(content, usedforsecurity=False).hexdigest()
        self._objects[key] = (content, f"{self._counter}-{digest}")
        self._written[key] = self._clock()
        return self._info(key)

    def open(self, key: str) -> BinaryIO:
        """Return a BytesIO over the stored bytes."""
        return io.BytesIO(self.read(key))

    def read(self, key: str) -> bytes:
        """Return the stored bytes."""
        with self._lock:
            try:
                return self._objects[validate_key(key)][0]
            except KeyError:
                raise ObjectNotFound(key) from None

    def write(
        self, key: str, data: IO[bytes], *, overwrite: bool = False, durable: bool = True
    ) -> ObjectInfo:
        """Read ``data`` fully, then store it in one step under the lock (``durable`` is moot)."""
        validate_key(key)
        content = data.read()
        with self._lock:
            if not overwrite and key in self._objects:
                raise ObjectExists(key)
            return self._store(key, content)

    def replace(self, key: str, content: bytes, *, version: str | None) -> ObjectInfo:
        """Compare the version and store under the lock, in one step."""
        validate_key(key)
        with self._lock:
            current = self._objects.get(key)
            if (current[1] if current else None) != version:
                raise ObjectChanged(key)
            return self._store(key, content)

    def stat(self, key: str) -> ObjectInfo:
        """Describe the stored object."""
        with self._lock:
            try:
                return self._info(validate_key(key))
            except KeyError:
                raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        """Forget the object."""
        with self._lock:
            self._objects.pop(validate_key(key), None)
            self._written.pop(key, None)

    def list_objects(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        """Yield a snapshot of the matching objects."""
        with self._lock:
            snapshot = [
                self._info(key)
                for key in self._objects
                if key.startswith(prefix) and key > start_after
            ]
        yield from snapshot
