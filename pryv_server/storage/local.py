"""Local filesystem storage: one directory, atomic writes by temp file + link/replace."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from typing import BinaryIO

from pryv_server.durable import TEMP_PREFIX
from pryv_server.durable import fsync_directory
from pryv_server.durable import synced_temp_file
from pryv_server.errors import ObjectChanged
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.errors import StorageFull
from pryv_server.storage.base import CHUNK_SIZE
from pryv_server.storage.base import ObjectInfo
from pryv_server.storage.base import validate_key

# Every write starts as a file in this one folder below the root, so finding the leftovers of dead
# writers reads one folder, not the whole tree (75,000 folders at 60,000 packages).
TEMP_FOLDER = ".tmp"
# A temp file untouched for this long belongs to a writer that died (kill -9, power cut): a live
# writer copies an already received upload at disk speed and touches its file continuously, so an
# hour without a write cannot be a live writer, even on another server sharing the folder.
STALE_TEMP_AGE = 3600.0
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
# A folder modified this recently may change again within the same mtime tick without its mtime
# moving, so its listing is not cached until it has been quiet this long (git's "racy" rule).
RACY_SECONDS = 2.0

log = logging.getLogger(__name__)


class LocalStorage:
    """Objects as files below ``root``.

    A write goes to a ``.tmp-*`` file in the root's ``.tmp`` folder, is fsynced, then published
    with ``os.link`` (create-if-absent: the kernel lets exactly one link win) or ``os.replace``
    (overwrite). Readers therefore see nothing or the whole file. Hard links need a filesystem that
    supports them (any POSIX local filesystem; not FAT), and the whole root on one filesystem.
    """

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        self.root = Path(root)
        self._root = str(self.root)
        self._temp_folder = os.path.join(self._root, TEMP_FOLDER)
        self._listings: dict[str, _Listing] = {}
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        if not self.root.is_dir():
            raise StorageError(f"{self.root} is not a directory")

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _file(self, key: str) -> str:
        # A string path for the hot calls: pathlib costs more than the syscall (start-up reads
        # every record, every request stats the generation marker).
        return os.path.join(self._root, validate_key(key))

    def open(self, key: str) -> BinaryIO:
        """Open the file for reading."""
        try:
            return open(self._file(key), "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as error:
            raise StorageError(f"cannot open {key}: {error.strerror}") from error

    def read(self, key: str) -> bytes:
        """Read the whole file."""
        with self.open(key) as stream:
            return stream.read()

    def write(
        self, key: str, data: IO[bytes], *, overwrite: bool = False, durable: bool = True
    ) -> ObjectInfo:
        """Copy ``data`` to a temp file beside the target, fsync it, then link or replace it.

        Without ``durable`` neither the file nor its folder is fsynced: for hints a crash may
        lose (the generation marker, rendered descriptions), two fsyncs each of an upload's.
        """
        target = self._path(key)
        if not overwrite and target.exists():
            raise ObjectExists(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.makedirs(self._temp_folder, exist_ok=True)
            with synced_temp_file(
                self._temp_folder,
                lambda temp: shutil.copyfileobj(data, temp, CHUNK_SIZE),
                sync=durable,
            ) as temp_name:
                self._publish(temp_name, target, key, overwrite=overwrite)
            if durable:
                fsync_directory(target.parent)
        except OSError as error:
            raise _write_error(key, error) from error
        return self.stat(key)

    def replace(self, key: str, content: bytes, *, version: str | None) -> ObjectInfo:
        """Compare and write while holding an exclusive ``flock`` on the key's lock file.

        Every writer of the key, in any process on this machine, takes the same lock (a file in
        the ``.tmp`` folder named by a digest of the key), so the version read under the lock is
        the one the new file replaces.
        """
        os.makedirs(self._temp_folder, exist_ok=True)
        digest = hashlib.sha256(validate_key(key).encode("utf-8", "surrogatepass")).hexdigest()
        lock_path = os.path.join(self._temp_folder, f"lock-{digest[:32]}")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current: str | None = self.stat(key).version
            except ObjectNotFound:
                current = None
            if current != version:
                raise ObjectChanged(key)
            return self.write(key, io.BytesIO(content), overwrite=version is not None)

    @staticmethod
    def _publish(temp_name: str, target: Path, key: str, *, overwrite: bool) -> None:
        if overwrite:
            os.replace(temp_name, target)
            return
        try:
            os.link(temp_name, target)
        except FileExistsError:
            raise ObjectExists(key) from None

    def stat(self, key: str) -> ObjectInfo:
        """Describe the file; the version token changes with every replacement."""
        try:
            return _info(key, os.stat(self._file(key)))
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    def delete(self, key: str) -> None:
        """Unlink the file if it exists."""
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self._path(key).unlink()

    def sweep_temp_files(self, older_than: float = STALE_TEMP_AGE) -> int:
        """Delete ``.tmp-*`` files left by dead writers; return how many were removed.

        Only files not modified for ``older_than`` seconds go (see :data:`STALE_TEMP_AGE`), so a
        writer still at work in another process is never disturbed. Called once at start.
        """
        deadline = time.time() - older_than
        removed = 0
        try:
            entries = list(os.scandir(self._temp_folder))
        except FileNotFoundError:
            return 0
        for entry in entries:
            if not entry.name.startswith(TEMP_PREFIX):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime < deadline:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # its writer finished or another sweeper won
        if removed:
            log.info("removed %d stale temporary files from %s", removed, self.root)
        return removed

    def list_objects(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        """Walk the tree below the prefix's folder, skipping temp files.

        A folder whose mtime has not moved since it was last read is not read again: every way
        pryv changes a folder (link, replace, unlink) moves its mtime. This turns the relist that
        follows each upload from a scan of every record (46 ms at 6,000 files, ten times that at
        60,000) into one ``stat`` per folder. Files edited in place by hand are not noticed;
        replace them instead (editors and ``cp`` to a new name then ``mv`` do).
        """
        folder, _, _ = prefix.rpartition("/")
        start = self._path(folder) if folder else self.root
        for info in self._walk(start, folder, start_after):
            if info.key.startswith(prefix) and info.key > start_after:
                yield info

    def _walk(self, folder: Path, key_prefix: str, start_after: str) -> Iterator[ObjectInfo]:
        listing = self._listing(folder, key_prefix, start_after)
        yield from listing.files
        for name in listing.folders:
            key = f"{key_prefix}/{name}" if key_prefix else name
            yield from self._walk(folder / name, key, start_after)

    def _listing(self, folder: Path, key_prefix: str, start_after: str) -> _Listing:
        """One folder's listing: cached while its mtime stands still, else scanned again.

        A folder still changing (the journal's, under a stream of uploads) is never cached, so
        its scan stats only the files after ``start_after``: a follower reading the two newest
        of 600 entries stats two files, not 600 (1.3 ms per upload at 60 uploads a second).
        """
        try:
            stat = folder.stat()
        except (FileNotFoundError, NotADirectoryError):
            return _Listing((), (), ())
        signature = (stat.st_ino, stat.st_mtime_ns)
        cached = self._listings.get(str(folder))
        if cached is not None and cached.signature == signature:
            return cached
        if time.time_ns() - stat.st_mtime_ns <= RACY_SECONDS * 1e9:
            return _scan(folder, key_prefix, signature, start_after)
        listing = _scan(folder, key_prefix, signature, "")
        self._listings[str(folder)] = listing
        return listing


def _write_error(key: str, error: OSError) -> StorageError:
    if error.errno in _FULL_ERRNOS:
        return StorageFull(f"cannot write {key}: {error.strerror} (the disk is full)")
    return StorageError(f"cannot write {key}: {error.strerror or error}")


def _info(key: str, stat: os.stat_result) -> ObjectInfo:
    # The inode changes with every os.replace, so a rewrite within one mtime tick is still seen.
    version = f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"
    return ObjectInfo(key, stat.st_size, version, stat.st_mtime)


@dataclass(frozen=True, slots=True)
class _Listing:
    """One folder's files and sub-folders, as read when its (inode, mtime) was ``signature``."""

    signature: tuple[int, int] | tuple[()]
    files: tuple[ObjectInfo, ...]
    folders: tuple[str, ...]


def _scan(folder: Path, key_prefix: str, signature: tuple[int, int], start_after: str) -> _Listing:
    """List ``folder``, with the stat of every file whose key sorts after ``start_after``."""
    files: list[ObjectInfo] = []
    folders: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return _Listing((), (), ())
    for entry in entries:
        if entry.name.startswith(TEMP_PREFIX) or entry.name == TEMP_FOLDER:
            continue
        key = f"{key_prefix}/{entry.name}" if key_prefix else entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.name)
            elif key > start_after and entry.is_file(follow_symlinks=False):
                files.append(_info(key, entry.stat(follow_symlinks=False)))
        except FileNotFoundError:
            continue  # removed while we listed it
    return _Listing(signature, tuple(files), tuple(folders))
