"""Where a users file lives: a small text file that can be read, versioned and replaced.

The user stores read through this protocol so that ``users.json`` and ``.htpasswd`` work the same
on the local disk and (through an adapter built in ``app.py``) on S3, without ``auth`` importing
``storage``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


class FileSource(Protocol):
    """A whole-file text source with a cheap change token."""

    def version(self) -> str | None:
        """Return a token that changes whenever the content does; None when the file is absent."""
        ...

    def read(self) -> bytes | None:
        """Return the content, or None when the file is absent."""
        ...

    def write(self, content: bytes) -> None:
        """Replace the content atomically."""
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

    def write(self, content: bytes) -> None:
        """Write to a private temp file beside the target, then rename it over the target."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp_name = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
        try:
            with os.fdopen(descriptor, "wb") as temp:
                temp.write(content)
                temp.flush()
                os.fsync(temp.fileno())
            os.chmod(temp_name, 0o600)  # the file holds password hashes
            os.replace(temp_name, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)

    def describe(self) -> str:
        """Return the path."""
        return str(self.path)
