"""Where a users file lives: a small text file that can be read, versioned and replaced.

The user stores read through this protocol so that ``users.json`` and ``.htpasswd`` work the same
on the local disk and (through an adapter built in ``app.py``) on S3, without ``auth`` importing
``storage``.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any
from typing import Protocol

from pryv_server.durable import fsync_directory
from pryv_server.durable import synced_temp_file
from pryv_server.errors import ConfigError
from pryv_server.errors import ObjectChanged


def json_object(
    content: bytes | None, where: str, expected: str = "a JSON object"
) -> dict[str, Any]:
    """Parse a file that must hold one JSON object (the users file, the permissions file).

    An empty or absent file is an empty object. Anything else that is not an object is a
    ``ConfigError`` that names the file: one line an operator can act on.
    """
    if not content or not content.strip():
        return {}
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as error:
        raise ConfigError(f"{where}: not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: expected {expected}")
    return document


class FileSource(Protocol):
    """A whole-file text source with a cheap change token."""

    def version(self) -> str | None:
        """Return a token that changes whenever the content does; None when the file is absent."""
        ...

    def read(self) -> bytes | None:
        """Return the content, or None when the file is absent."""
        ...

    def snapshot(self) -> tuple[bytes | None, str | None]:
        """Return the content and the version it has, read now (never from a cache).

        The version is read first: if the file changes between the two reads, a write based on
        this snapshot fails its condition and is retried, so nothing is lost.
        """
        ...

    def write(self, content: bytes, *, version: str | None) -> None:
        """Replace the content atomically, only if the file is still at ``version``.

        :param version: the version of the snapshot the content was derived from (None: the
            file was absent).
        :raises ObjectChanged: another writer changed the file since that snapshot.
        """
        ...

    def describe(self) -> str:
        """Name the file for messages."""
        ...


class LocalFileSource:
    """A file on the local disk; the version is its inode, mtime and size."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def version(self) -> str | None:
        """Stat the file (about a microsecond), so edits are seen on the next request."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"

    def read(self) -> bytes | None:
        """Read the whole file."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def snapshot(self) -> tuple[bytes | None, str | None]:
        """Stat, then read."""
        version = self.version()
        return self.read(), version

    def write(self, content: bytes, *, version: str | None) -> None:
        """Under an exclusive lock, compare the version, then replace the file.

        Every writer on this machine (gunicorn workers, ``pryv user add``) takes the same
        ``flock`` on a lock file beside the users file, so two of them cannot both write over
        one version and lose the other's user.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.version() != version:
                raise ObjectChanged(str(self.path))
            self._replace(content)

    def _replace(self, content: bytes) -> None:
        """Write a private temp file beside the target, then rename it over the target."""
        # 0600: the file holds password hashes.
        with synced_temp_file(
            self.path.parent, lambda temp: temp.write(content), mode=0o600
        ) as temp:
            os.replace(temp, self.path)
        fsync_directory(self.path.parent)

    def describe(self) -> str:
        """Return the path."""
        return str(self.path)
