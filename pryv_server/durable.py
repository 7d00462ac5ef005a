"""Durable local files: the one way pryv writes a file that must never be seen half-written.

A writer fills a private temp file in the target's folder (or a folder on the same file system),
fsyncs it, renames or links it into place, then fsyncs the folder so the new name survives a power
cut. The records and package stores (``storage.local``) and the users file (``auth.source``) both
write this way; only how the temp file is published (link if absent, or replace) is theirs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# Temp files start with this, so sweeps and listings can recognise and skip them.
TEMP_PREFIX = ".tmp-"


@contextlib.contextmanager
def synced_temp_file(
    folder: str | os.PathLike[str],
    fill: Callable[[BinaryIO], object],
    *,
    mode: int | None = None,
    sync: bool = True,
) -> Iterator[str]:
    """Yield the path of a temp file in ``folder`` holding what ``fill`` wrote, fsynced.

    ``sync=False`` skips the fsync, for a file a crash may lose (it is still never seen half
    written: the rename or link publishes it whole).

    The caller renames or links it into place inside the ``with`` block; whatever is left at
    the end (a failure, or a link that kept the temp name) is removed.
    """
    descriptor, temp_name = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(descriptor, "wb") as temp:
            fill(temp)
            temp.flush()
            if sync:
                os.fsync(temp.fileno())
        if mode is not None:
            os.chmod(temp_name, mode)
        yield temp_name
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)


def fsync_directory(folder: str | os.PathLike[str]) -> None:
    """Make a new directory entry durable (file systems that cannot fsync a folder are skipped)."""
    try:
        descriptor = os.open(Path(folder), os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in {errno.EINVAL, errno.EBADF}:
            raise
    finally:
        os.close(descriptor)
