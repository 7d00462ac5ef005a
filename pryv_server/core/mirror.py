"""The caching proxy of an upstream index: its pages and files, under pryv's rules.

Pages: an upstream project page is read through the :class:`~pryv_server.core.upstream.Upstream`
port and kept in memory and in the packages store (:func:`layout.upstream_page_key`), so every
worker and every instance on one bucket shares it; it is fresh for ``ttl`` seconds. When upstream
fails, the last copy is served *stale* (logged, and said in :attr:`MirrorPage.stale`); a name
never fetched fails with :class:`UpstreamError` (``502``), never a 404.

Files: fetched on the first download and streamed to that client while they are stored
(:mod:`pryv_server.core.fetch`: only bytes matching the page's sha256 are kept); later downloads
are served from the store. Core metadata (PEP 658) is small, read whole, checked the same way.

Which names may come from upstream is decided from memory: the snapshot's projects (local names
always win) and the :class:`~pryv_server.core.upstream.UpstreamPolicy`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime

from packaging.utils import NormalizedName

from pryv_server.core import layout
from pryv_server.core.fetch import Lease
from pryv_server.core.fetch import Stored
from pryv_server.core.fetch import Streaming
from pryv_server.core.fetch import Tee
from pryv_server.core.flight import SingleFlight
from pryv_server.core.flight import copy_error
from pryv_server.core.snapshot import Snapshot
from pryv_server.core.upstream import CachedPage
from pryv_server.core.upstream import MirrorPage
from pryv_server.core.upstream import Upstream
from pryv_server.core.upstream import UpstreamFile
from pryv_server.core.upstream import UpstreamPolicy
from pryv_server.core.upstream import parse_file
from pryv_server.core.upstream_controls import NO_CONTROLS
from pryv_server.core.upstream_controls import Controls
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import PackageNotFound
from pryv_server.errors import ProjectNotFound
from pryv_server.errors import StorageError
from pryv_server.errors import UpstreamBlocked
from pryv_server.errors import UpstreamError
from pryv_server.errors import UpstreamMismatch
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)

# After upstream failed, serve the stale copy this long before asking upstream again.
RETRY_AFTER = 30.0
# A follower waits this long for the leader's download before giving up.
FOLLOW_TIMEOUT = 600.0
# How often /simple/ re-reads which upstream pages the store holds (other instances' too).
LIST_INTERVAL = 60.0
# Upstream pages held in memory per process (each is re-read from the store when dropped).
MAX_HELD = 10_000


class Mirror:
    """Proxy ``upstream`` for the names ``policy`` permits and the snapshot does not hold."""

    def __init__(
        self,
        upstream: Upstream,
        store: Storage,
        policy: UpstreamPolicy,
        *,
        ttl: float,
        clock: Callable[[], float] = time.time,
        reserved: Callable[[NormalizedName], bool] = lambda name: False,
        controls: Callable[[], Controls] = lambda: NO_CONTROLS,
    ) -> None:
        self.upstream = upstream
        # An admin's blocks, pins and purges (core/upstream_controls.py), shared by instances.
        self.controls = controls
        # Names under a reserved namespace are treated as local ones: never from upstream. The
        # permissions' namespaces (core/access.py) are wired here by the composition root.
        self.reserved = reserved
        self.store = store
        self.policy = policy
        self.ttl = ttl
        self._clock = clock
        self._held: dict[NormalizedName, CachedPage] = {}
        self._offers: dict[NormalizedName, MirrorPage] = {}
        self._missing: dict[NormalizedName, float] = {}  # names upstream lacks, and since when
        self._stored_names: frozenset[NormalizedName] = frozenset()
        self._names: frozenset[NormalizedName] = frozenset()
        self._names_version = 0
        self._listed_at = float("-inf")
        self._retry_at: dict[NormalizedName, float] = {}
        self._pages: SingleFlight[tuple[CachedPage, bool]] = SingleFlight()
        self._files: SingleFlight[Stored] = SingleFlight()
        self._lock = threading.Lock()

    # Names ---------------------------------------------------------------------------------

    def listing(self) -> tuple[int, frozenset[NormalizedName]]:
        """Return the names of the upstream pages pryv holds, and a number that changes with them.

        Read from the store (every instance's pages) at most every :data:`LIST_INTERVAL`
        seconds, plus what this process fetched since; ``/simple/`` lists them.
        """
        now = self._clock()
        if now - self._listed_at >= LIST_INTERVAL:
            self._stored_names = frozenset(
                NormalizedName(key[len(layout.UPSTREAM_PREFIX) : -len(".json")])
                for info in self.store.list_objects(layout.UPSTREAM_PREFIX)
                if layout.is_upstream_page_key(key := info.key)
            )
            self._listed_at = now
        controls = self.controls()
        held = (n for n, e in self._held.items() if not controls.dropped(n, e.fetched))
        names = (self._stored_names | frozenset(held)) - controls.blocked
        if names != self._names:
            self._names, self._names_version = names, self._names_version + 1
        return self._names_version, self._names

    def known_upstream(self, name: NormalizedName) -> bool:
        """Say whether pryv holds an upstream page of ``name`` (fetched by any instance).

        Never asks upstream: an upload of a new private name must not reveal it to PyPI.
        """
        if name in self._held:
            return True
        try:
            self.store.stat(layout.upstream_page_key(name))
        except ObjectNotFound:
            return False
        return True

    def _check(self, snapshot: Snapshot, name: NormalizedName) -> None:
        if name in snapshot.by_project or self.reserved(name):
            raise ProjectNotFound(f"{name!r} is a project of this registry, never fetched upstream")
        if not self.policy.permits(name):
            raise ProjectNotFound(f"no project named {name!r} (upstream lookups of it are off)")
        if name in self.controls().blocked:
            raise UpstreamBlocked(
                f"{name!r} is blocked from upstream by an admin of this registry "
                "(pryv upstream unblock)"
            )

    # Pages ---------------------------------------------------------------------------------

    def page(self, snapshot: Snapshot, name: NormalizedName) -> MirrorPage:
        """Return what pryv offers of upstream's ``name``.

        :raises ProjectNotFound: a local or refused name, or upstream has no such project.
        :raises UpstreamError: upstream failed and pryv has no copy of this page.
        """
        self._check(snapshot, name)
        found = self.fresh(snapshot, name)
        if found is not None:
            return found
        if self._clock() - self._missing.get(name, float("-inf")) < self.ttl:
            raise ProjectNotFound(f"no project named {name!r} here or upstream")
        entry, stale = self._entry(name)
        offer = self._offer(entry, stale, pinned=name in self.controls().pinned)
        if not stale:
            self._offers[name] = offer  # bounded like _held: one per name held
        return offer

    def fresh(self, snapshot: Snapshot, name: NormalizedName) -> MirrorPage | None:
        """Return the page :meth:`page` would, when it is held, fresh and not local; else None.

        A few dict lookups and one clock read: the page cache in front of Flask asks it on every
        request for an upstream project page.
        """
        offer = self._offers.get(name)
        if offer is None or name in snapshot.by_project or self.reserved(name):
            return None
        held = self._held.get(name)
        now = self._clock()
        controls = self.controls()
        if (
            held is None
            or held.number != offer.token[0]
            or (now - held.fetched >= self.ttl and name not in controls.pinned)
            or now >= offer.valid_until
            or name in controls.blocked
            or controls.dropped(name, held.fetched)
            or offer.pinned != (name in controls.pinned)
        ):
            return None
        return offer

    def _offer(self, entry: CachedPage, stale: bool, *, pinned: bool) -> MirrorPage:
        """Apply the cooldown to ``entry``'s files, and say until when that answer holds."""
        now = self._clock()
        moment = datetime.fromtimestamp(now, UTC)
        offered = tuple(file for file in entry.files if self.policy.offers(file, moment))
        valid_until = float("inf")
        for file in entry.files:
            uploaded = file.uploaded()
            if uploaded is not None and not self.policy.offers(file, moment):
                valid_until = min(valid_until, uploaded.timestamp() + self.policy.min_age)
        return MirrorPage(
            entry.name,
            offered,
            entry.serial,
            stale,
            (entry.number, len(offered)),
            {file.filename: file for file in offered},
            valid_until,
            pinned and not stale,
        )

    def _entry(self, name: NormalizedName) -> tuple[CachedPage, bool]:
        now = self._clock()
        controls = self.controls()
        pinned = name in controls.pinned
        held = self._held.get(name)
        if held is not None and controls.dropped(name, held.fetched):
            held = None  # purged by an admin since it was fetched
        if held is not None and (pinned or now - held.fetched < self.ttl):
            return held, False
        copies = [
            copy
            for copy in (self._stored_entry(name), held)
            if copy is not None and not controls.dropped(name, copy.fetched)
        ]
        previous = max(copies, key=lambda copy: copy.fetched, default=None)
        if previous is not None and (pinned or now - previous.fetched < self.ttl):
            self._hold(previous)
            return previous, False
        if previous is not None and self._retry_at.get(name, 0.0) > now:
            return previous, True  # upstream failed moments ago: do not wait for it again
        return self._pages.run(name, lambda: self._refresh(name, previous), FOLLOW_TIMEOUT)

    def _refresh(
        self, name: NormalizedName, previous: CachedPage | None
    ) -> tuple[CachedPage, bool]:
        try:
            fetched = self.upstream.project_page(name)
        except UpstreamError as error:
            if previous is None:
                raise UpstreamError(
                    f"cannot look up {name!r} upstream ({error}) and no copy is cached; "
                    "try again later"
                ) from None
            self._retry_at[name] = self._clock() + RETRY_AFTER
            age = (self._clock() - previous.fetched) / 60
            log.warning("upstream failed, serving %r as cached %.0f min ago: %s", name, age, error)
            return previous, True
        if fetched is None:
            self._forget(name)
            raise ProjectNotFound(f"no project named {name!r} here or upstream")
        files = tuple(
            file
            for file in map(parse_file, fetched.document["files"])
            if file is not None and file.belongs_to(name)
        )
        meta = fetched.document.get("meta")
        serial = meta.get("_last-serial", 0) if isinstance(meta, dict) else 0
        entry = CachedPage(name, files, self._clock(), serial if isinstance(serial, int) else 0)
        try:
            self.store.write(
                layout.upstream_page_key(name), io.BytesIO(entry.to_json()), overwrite=True
            )
        except StorageError:
            log.exception("could not keep the upstream page of %r; it is held in memory only", name)
        self._retry_at.pop(name, None)
        self._hold(entry)
        return entry, False

    def _forget(self, name: NormalizedName) -> None:
        """Upstream has no ``name`` (never had, or removed it, as PyPI removes malware)."""
        if len(self._missing) >= MAX_HELD:
            self._missing.clear()
        self._missing[name] = self._clock()
        with self._lock:
            self._held.pop(name, None)
            self._offers.pop(name, None)
            self._stored_names = self._stored_names - {name}
        try:
            self.store.delete(layout.upstream_page_key(name))
        except StorageError:
            log.exception("could not remove the upstream page of %r", name)

    def _stored_entry(self, name: NormalizedName) -> CachedPage | None:
        try:
            return CachedPage.from_json(self.store.read(layout.upstream_page_key(name)))
        except ObjectNotFound:
            return None
        except (ValueError, KeyError, TypeError) as error:
            log.warning("ignoring the unreadable upstream page of %r: %s", name, error)
            return None

    def _hold(self, entry: CachedPage) -> None:
        with self._lock:
            if len(self._held) >= MAX_HELD and entry.name not in self._held:
                dropped = next(iter(self._held))
                self._held.pop(dropped)
                self._offers.pop(dropped, None)
            self._held[entry.name] = entry

    # Files ---------------------------------------------------------------------------------

    def file(self, snapshot: Snapshot, name: NormalizedName, filename: str) -> Stored | Streaming:
        """Return an offered upstream file: from the store, or streamed on its first download.

        :raises NotFound: a local or refused name, or a file the page does not offer.
        :raises UpstreamError: upstream failed; :class:`UpstreamMismatch` when its bytes differ.
        """
        file = self._offered(snapshot, name, filename)
        key = layout.blob_key(file.sha256, file.filename)
        for _attempt in range(3):
            try:
                return Stored(key, self.store.stat(key).size, file.sha256)
            except ObjectNotFound:
                pass
            flight, leader = self._files.claim(key)
            if leader:
                return self._lead(file, key, flight.finish)
            if not flight.wait(FOLLOW_TIMEOUT):
                raise UpstreamError(f"{filename} is still being fetched upstream; try again")
            if isinstance(flight.error, UpstreamError):
                raise copy_error(flight.error)
            # the leader's client went away before the end: try again, maybe as the leader
        raise UpstreamError(f"{filename} could not be fetched upstream; try again")

    def _lead(self, file: UpstreamFile, key: str, done: Callable[..., None]) -> Stored | Streaming:
        """Fetch ``file`` for this process, unless another process on the store is at it."""
        lease = Lease(self.store, layout.upstream_lease_key(file.sha256), clock=self._clock)

        def finish(**outcome: object) -> None:
            lease.release()
            done(**outcome)

        try:
            if not lease.claim() and (size := lease.await_stored(key)) is not None:
                finish()
                return Stored(key, size, file.sha256)
            return self._start(file, key, finish)
        except BaseException as error:
            finish(error=error)
            raise

    def _start(self, file: UpstreamFile, key: str, finish: Callable[..., None]) -> Streaming:
        download = self.upstream.open(file.url)
        if file.size is not None and download.length not in (None, file.size):
            download.close()
            raise UpstreamMismatch(
                f"upstream sent {download.length} bytes for {file.filename}, its page says "
                f"{file.size}; nothing was kept"
            )
        tee = Tee(download, file, key, self.store, finish)
        return Streaming(iter(tee), tee.close, file.size or download.length, file.sha256)

    def metadata(self, snapshot: Snapshot, name: NormalizedName, filename: str) -> Stored:
        """Return an offered upstream file's core metadata (PEP 658), fetched once, verified.

        :raises NotFound: no such file, or upstream serves no metadata for it.
        :raises UpstreamError: upstream failed; :class:`UpstreamMismatch` when the bytes differ.
        """
        file = self._offered(snapshot, name, filename)
        if not file.core_metadata:
            raise PackageNotFound(f"upstream serves no core metadata for {filename!r}")
        key = layout.core_metadata_key(layout.blob_key(file.sha256, file.filename))
        etag = file.metadata_sha256 or f"{file.sha256}-metadata"
        try:
            return Stored(key, self.store.stat(key).size, etag)
        except ObjectNotFound:
            pass

        def fetch() -> Stored:
            content = self.upstream.read_small(file.url + layout.METADATA_SUFFIX)
            expected = file.metadata_sha256
            if expected and hashlib.sha256(content).hexdigest() != expected:
                raise UpstreamMismatch(
                    f"the core metadata of {filename} does not match the sha256 of its "
                    "upstream page; nothing was kept"
                )
            try:
                self.store.write(key, io.BytesIO(content))
            except ObjectExists:
                pass  # another worker stored the same bytes
            return Stored(key, len(content), etag)

        return self._files.run(key, fetch, FOLLOW_TIMEOUT)

    def _offered(self, snapshot: Snapshot, name: NormalizedName, filename: str) -> UpstreamFile:
        file = self.page(snapshot, name).by_filename.get(filename)
        if file is None:
            raise PackageNotFound(f"{name!r} has no file {filename!r} here or upstream")
        return file
