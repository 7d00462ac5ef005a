"""The storage interface: bytes under string keys, with atomic, create-if-absent writes.

Storage knows nothing of packages. The invariants every implementation keeps (and the shared
contract test suite checks) are:

* **atomic visibility**: a reader sees no object or the whole object, never a part of one;
* **create-if-absent**: ``write(..., overwrite=False)`` lets exactly one of several concurrent
  writers of a key win; the others get :class:`~pryv_server.errors.ObjectExists`;
* **compare-and-swap**: ``replace(key, content, version=v)`` writes only while the object is still
  at version ``v`` (or still absent, for ``None``); of several writers based on one version,
  exactly one wins and the others get :class:`~pryv_server.errors.ObjectChanged`, so a shared
  small document (a users file) is updated by read, change, conditional write, retry;
* **streaming**: writes read the source in chunks and reads return a file object, so memory does
  not grow with object size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import IO
from typing import BinaryIO
from typing import Protocol
from typing import runtime_checkable

from pryv_server.errors import StorageError

CHUNK_SIZE = 1024 * 1024
MAX_KEY_BYTES = 1024
# The one key a store writes on its own (S3 checks If-None-Match at start). storage sits below
# core and cannot import core/layout.py, which re-exports this name in its tree of every key.
WRITE_PROBE_KEY = "_conditional-write-probe"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a listing or stat tells about one object.

    ``version`` is an opaque change token: two different contents of one key never share it while
    both could be observed (S3: the ETag; local: inode, mtime and size). ``modified`` is when the
    object was last written, in seconds since the epoch (0.0: unknown); ``pryv gc`` spares
    objects younger than its safety margin by it.
    """

    key: str
    size: int
    version: str
    modified: float = field(default=0.0, compare=False)  # what a write returns may not know it


class Storage(Protocol):
    """Bytes under relative POSIX keys; see the module docstring for the invariants."""

    def open(self, key: str) -> BinaryIO:
        """Open the object for streaming reads; the caller closes it.

        :raises ObjectNotFound: no object under ``key``.
        """
        ...

    def read(self, key: str) -> bytes:
        """Return the whole object; for small objects such as records.

        :raises ObjectNotFound: no object under ``key``.
        """
        ...

    def write(
        self, key: str, data: IO[bytes], *, overwrite: bool = False, durable: bool = True
    ) -> ObjectInfo:
        """Store ``data`` (read to its end in chunks) under ``key`` atomically.

        :param overwrite: replace an existing object; when false, exactly one of several
            concurrent writers wins.
        :param durable: when false the object is only a hint (a "something changed" marker)
            that a crash may lose or roll back; a local disk then skips its two fsyncs.
        :raises ObjectExists: ``overwrite`` is false and the key exists.
        """
        ...

    def replace(self, key: str, content: bytes, *, version: str | None) -> ObjectInfo:
        """Store a small object only if the current one is still at ``version``.

        :param version: the version token of the object the new content was derived from
            (``ObjectInfo.version``), or None when it was absent.
        :raises ObjectChanged: the object is at another version (or exists, or is gone).
        """
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Describe one object.

        :raises ObjectNotFound: no object under ``key``.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the object if it exists (idempotent)."""
        ...

    def list_objects(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with ``prefix`` (recursive, in no given order).

        :param start_after: only keys that sort after this one (S3 skips the others on its side,
            so following an append-only series of ordered keys costs one request).
        """
        ...


@runtime_checkable
class Presigner(Protocol):
    """An optional capability: hand out short-lived URLs that read an object without pryv.

    Only stores reachable by the clients have it (S3); callers check with ``isinstance``.
    """

    def presigned_url(self, key: str) -> str:
        """Return a URL that GETs the object for a limited time without other credentials."""
        ...


_FORBIDDEN_CHARACTER = re.compile(r"[\x00-\x1f\x7f\\]")
_BAD_SEGMENT = re.compile(r"(?:^|/)\.{0,2}(?:/|$)")  # an empty, "." or ".." segment


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative POSIX key, else raise :class:`StorageError`.

    This is the one path-traversal guard every implementation calls: no leading ``/``, no empty,
    ``.`` or ``..`` segments, no backslash or control character, at most 1,024 bytes.
    """
    if not key or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise StorageError(
            f"invalid storage key {key!r}: empty or longer than {MAX_KEY_BYTES} bytes"
        )
    if _FORBIDDEN_CHARACTER.search(key):
        raise StorageError(f"invalid storage key {key!r}: backslash or control character")
    if _BAD_SEGMENT.search(key):
        raise StorageError(f"invalid storage key {key!r}: empty, '.' or '..' segment")
    return key
