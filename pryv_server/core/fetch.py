"""An upstream file's first download: streamed to its client while it is spooled, checked, stored.

The bytes reach the client as they arrive; only bytes matching the page's sha256 are stored
(create-if-absent, under the same content-addressed key as an upload), and the last chunk is
held back until they match, so a mismatch or a broken transfer cuts the client's connection
short of the announced length: no client ever receives a whole file that failed the check.

Within a process, concurrent first requests wait for one download (``core/flight.py``); across
the processes and instances on one store, a :class:`Lease` marker makes the others wait for it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass

from pryv_server.core.upstream import Download
from pryv_server.core.upstream import UpstreamFile
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.errors import UpstreamMismatch
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)

# How long another process's first download is waited for before fetching the file here too,
# when its marker is older than LEASE_STALE (a crashed process), and how often the store is polled.
LEASE_WAIT = 60.0
LEASE_STALE = 900.0
POLL_INTERVAL = 0.2


@dataclass(frozen=True, slots=True)
class Stored:
    """An upstream file (or core metadata) in pryv's store."""

    key: str
    size: int
    etag: str


@dataclass
class Streaming:
    """An upstream file on its first download: its bytes reach the client as they arrive."""

    chunks: Iterator[bytes]
    close: Callable[[], None]
    size: int | None
    etag: str


class Tee:
    """Yield an upstream download's chunks while spooling and hashing them; store them if whole.

    ``finish`` is the single flight's: called once the file is stored (or with the error), so
    the requests waiting for this download read the stored file.
    """

    def __init__(
        self,
        download: Download,
        file: UpstreamFile,
        key: str,
        store: Storage,
        finish: Callable[..., None],
    ) -> None:
        self._download = download
        self._file = file
        self._key = key
        self._store = store
        self._finish = finish

    def __iter__(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        held = b""
        try:
            with tempfile.TemporaryFile() as spool:
                for chunk in self._download.chunks():
                    if held:
                        yield held
                    digest.update(chunk)
                    spool.write(chunk)
                    held = chunk
                if digest.hexdigest() != self._file.sha256:
                    raise UpstreamMismatch(
                        f"{self._file.filename} from upstream does not match the sha256 of its "
                        "page; nothing was kept"
                    )
                spool.seek(0)
                try:
                    self._store.write(self._key, spool)
                except ObjectExists:
                    pass  # another worker or instance stored the same bytes first
        except BaseException as error:
            if isinstance(error, UpstreamMismatch):
                log.error("%s", error)
            self._finish(error=error)
            raise
        finally:
            self._download.close()
        self._finish()
        if held:
            yield held

    def close(self) -> None:
        """End the flight when the server is done (a download never started or cut off)."""
        self._download.close()
        self._finish(error=ConnectionAbortedError("the client went away"))


class Lease:
    """Tell the other processes on one store that this one is fetching a file.

    A create-if-absent marker (:func:`layout.upstream_lease_key`): the process that writes it
    fetches, the others poll for the stored file for up to ``wait`` seconds before fetching it
    themselves (a leader that crashed leaves a marker that is ignored once ``stale`` old).
    """

    def __init__(
        self,
        store: Storage,
        key: str,
        *,
        clock: Callable[[], float],
        wait: float = LEASE_WAIT,
        stale: float = LEASE_STALE,
    ) -> None:
        self._store = store
        self._key = key
        self._clock = clock
        self._wait = wait
        self._stale = stale
        self.held = False

    def claim(self) -> bool:
        """Write the marker; False when another process holds a fresh one."""
        stamp = str(self._clock()).encode()
        try:
            self._store.write(self._key, io.BytesIO(stamp))
        except ObjectExists:
            if self._age() < self._stale:
                return False
            self._store.write(self._key, io.BytesIO(stamp), overwrite=True)  # its owner died
        except StorageError:
            log.warning("could not write the fetch marker %s; fetching anyway", self._key)
            return True
        self.held = True
        return True

    def await_stored(self, blob: str) -> int | None:
        """Poll for ``blob`` while the marker stands; its size, or None to fetch it here."""
        deadline = time.monotonic() + self._wait
        while time.monotonic() < deadline:
            try:
                return self._store.stat(blob).size
            except ObjectNotFound:
                pass
            try:
                self._store.stat(self._key)
            except ObjectNotFound:
                try:  # the other process finished or gave up: look once more
                    return self._store.stat(blob).size
                except ObjectNotFound:
                    return None
            time.sleep(POLL_INTERVAL)
        return None

    def release(self) -> None:
        """Remove the marker if this process wrote it."""
        if self.held:
            self.held = False
            try:
                self._store.delete(self._key)
            except StorageError:
                log.warning("could not remove the fetch marker %s", self._key)

    def _age(self) -> float:
        try:
            return self._clock() - float(self._store.read(self._key))
        except (ObjectNotFound, ValueError):
            return float("inf")
