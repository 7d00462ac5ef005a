"""Remember successful password checks, so an authenticated request costs microseconds.

A bcrypt check costs about 0.3 s and pip sends dozens of requests per install. Successes are
cached under an HMAC of user and password keyed by a per-process secret (the cache never holds a
password or a reusable hash), bounded in size and age, and dropped whenever the users file
changes. A failed check is never cached: every wrong password pays the full verification.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from pryv_server.auth.stores import UserStore


@dataclass
class CachedVerifier:
    """Wrap a :class:`UserStore` with a bounded, expiring cache of successful checks."""

    store: UserStore
    max_entries: int = 1024
    max_age: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _secret: bytes = field(default_factory=lambda: os.urandom(32), init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _entries: OrderedDict[bytes, float] = field(default_factory=OrderedDict, init=False)
    _version: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._version = self.store.version()

    def _key(self, username: str, password: str) -> bytes:
        message = (
            username.encode("utf-8", "surrogatepass")
            + b"\0"
            + password.encode("utf-8", "surrogatepass")
        )
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def verify(self, username: str, password: str) -> bool:
        """Answer from the cache when possible, otherwise ask the store (and cache a success)."""
        key = self._key(username, password)
        version = self.store.version()
        now = self.clock()
        if self._cached(key, version, now):
            return True
        if not self.store.verify(username, password):
            return False
        with self._lock:
            if self._version == version:
                self._entries[key] = now + self.max_age
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return True

    def is_cached(self, username: str, password: str) -> bool:
        """Say whether ``verify`` would succeed from the cache alone, without a hash check."""
        return self._cached(self._key(username, password), self.store.version(), self.clock())

    def _cached(self, key: bytes, version: str | None, now: float) -> bool:
        with self._lock:
            if version != self._version:
                self._entries.clear()
                self._version = version
            expires = self._entries.get(key)
            return expires is not None and expires > now
