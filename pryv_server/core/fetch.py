"""An upstream file's first download: streamed to its client while it is spooled, checked, stored.

The bytes reach the client as they arrive; only bytes matching the page's sha256 are stored
(create-if-absent, under the same content-addressed key as an upload), and the last chunk is
held back until they match, so a mismatch or a broken transfer cuts the client's connection
short of the announced length: no client ever receives a whole file that failed the check.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass

from pryv_server.core.upstream import Download
from pryv_server.core.upstream import UpstreamFile
from pryv_server.errors import ObjectExists
from pryv_server.errors import UpstreamMismatch
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)


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
