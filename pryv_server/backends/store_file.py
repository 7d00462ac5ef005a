"""Users files kept in a store (S3): the bridge between ``auth`` and ``storage``.

``auth`` reads ``users.json`` and ``.htpasswd`` through its small ``FileSource`` protocol and must
not import ``storage``; this adapter, built by a remote backend's connector, lets it read a file
from any store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pryv_server.errors import ObjectNotFound
from pryv_server.storage.base import Storage


class StorageFileSource:
    """One object of a store seen as a file whose version is the object's change token (ETag).

    Asking S3 for the ETag costs a HEAD, and the user stores ask on every request, so the answer
    is reused for ``check_interval`` seconds: an edit of the file is seen within that time.
    """

    def __init__(
        self,
        storage: Storage,
        key: str,
        *,
        name: str,
        check_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.key = key
        self.name = name
        self.check_interval = check_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._version: str | None = None
        self._checked_at = float("-inf")

    def version(self) -> str | None:
        """Return the ETag, asking the store at most once per ``check_interval``."""
        now = self._clock()
        with self._lock:
            if now - self._checked_at < self.check_interval:
                return self._version
        try:
            version: str | None = self.storage.stat(self.key).version
        except ObjectNotFound:
            version = None
        with self._lock:
            self._version, self._checked_at = version, now
        return version

    def read(self) -> bytes | None:
        """Read the whole object; None when it does not exist."""
        try:
            return self.storage.read(self.key)
        except ObjectNotFound:
            return None

    def snapshot(self) -> tuple[bytes | None, str | None]:
        """Ask the store for the version now (a HEAD), then read the object."""
        try:
            version: str | None = self.storage.stat(self.key).version
        except ObjectNotFound:
            version = None
        return self.read(), version

    def write(self, content: bytes, *, version: str | None) -> None:
        """Replace the object in one conditional PUT, and forget the cached version.

        :raises ObjectChanged: the object is no longer at ``version``.
        """
        try:
            self.storage.replace(self.key, content, version=version)
        finally:
            with self._lock:
                self._checked_at = float("-inf")
        with self._lock:
            self._checked_at = float("-inf")

    def describe(self) -> str:
        """Return the object's URL."""
        return self.name
