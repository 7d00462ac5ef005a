"""The catalog: every published file in memory, kept current by following a change journal.

Serving ``/simple/<project>/`` must not list the store. The catalog keeps every parsed record and
hands out immutable :class:`Snapshot` objects. Every write it must see is followed by an entry of
the change journal (:mod:`pryv_server.core.journal`), so catching up with other writers (other
gunicorn workers, other instances on one bucket) reads what changed, never every record. A new
process starts from the newest checkpoint (:mod:`pryv_server.core.checkpoints`) and the entries
after it; a store with neither (one written before the journal existed) is listed once, whole,
and gets its first checkpoint.

When to look for changes: on a local store, a generation marker that every write rewrites is
stat'ed on every request (about a microsecond), and the journal is read when it moved or ``ttl``
passed. On S3 a stat is a request, so the journal is listed every ``check_interval`` instead: an
idle instance makes one request per interval. The worker processes of one server also share a
local ``signal`` marker, so the others see an upload at once whichever worker took it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pryv_server.core import overlays
from pryv_server.core.checkpoints import Checkpoints
from pryv_server.core.checkpoints import Manifest
from pryv_server.core.journal import KEEP_FOR
from pryv_server.core.journal import Journal
from pryv_server.core.journal import JournalGap
from pryv_server.core.layout import GENERATION_KEY
from pryv_server.core.layout import is_overlay_key
from pryv_server.core.layout import is_record_key
from pryv_server.core.models import Package
from pryv_server.core.overlays import Overlay
from pryv_server.core.snapshot import Snapshot
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage.base import Storage

__all__ = ["CHECKPOINT_EVERY", "LOCAL_CHECKPOINT_EVERY", "Catalog", "Snapshot"]

log = logging.getLogger(__name__)

# Journal entries between checkpoints: a start reads at most about this many entries. On S3 each
# entry read is a billed request, so few; on a local disk reading one costs about 30 µs (1,000 in
# 30 ms), and a checkpoint (a delta, a manifest, adopting another worker's) every 5 uploads cost
# a fifth of the upload rate, every 50 still 9% (600 uploads in process: 146 -> 160 per CPU-s).
CHECKPOINT_EVERY = 5
LOCAL_CHECKPOINT_EVERY = 1000
# Reloads from a checkpoint one catch-up tries when the entries after it keep vanishing.
RELOAD_ATTEMPTS = 3

Record = Package | Overlay


class Catalog:
    """Keep a :class:`Snapshot` of the records storage current, cheaply.

    :param ttl: with a marker, read the journal at least this often even if it did not move.
    :param check_interval: how often to stat the marker (0: on every request), or, without
        one, how often to list the journal.
    :param marker: whether the records store has a cheap generation marker (local disk: yes;
        S3: no, its stat is a billed request).
    :param loaders: threads reading records in parallel (1 for a local disk; S3 answers each
        GET in tens of milliseconds, so a cold start without a checkpoint needs several).
    :param signal: a cheap local store shared by the worker processes of one server.
    :param checkpoint_every: journal entries after which this instance takes a checkpoint.
    :param keep_entries_for: seconds a journal entry stays after a checkpoint covers it.
    """

    def __init__(
        self,
        records: Storage,
        *,
        ttl: float = 5.0,
        check_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        loaders: int = 1,
        signal: Storage | None = None,
        marker: bool = True,
        checkpoint_every: int = CHECKPOINT_EVERY,
        keep_entries_for: float = KEEP_FOR,
    ) -> None:
        self.records = records
        self.signal = signal
        self.ttl = ttl
        self.check_interval = check_interval
        self.loaders = loaders
        self.marker = marker
        self.checkpoint_every = checkpoint_every
        self.journal = Journal(records, readers=loaders, keep_for=keep_entries_for, probe=marker)
        self.checkpoints = Checkpoints(records, readers=loaders)
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = Snapshot.build(0, {})
        self._started = False
        self._applied = 0  # every journal entry up to this one is in the snapshot
        self._forgot_at = float("-inf")  # when this process last removed covered entries
        self._head = 0  # the highest entry number this process knows of
        self._own: set[int] = set()  # entries this process wrote and applied when writing
        self._manifest: Manifest | None = None  # the newest checkpoint we know, with its deltas
        self._fresh: set[str] = set()  # keys changed since that checkpoint...
        self._fresh_since = 0  # ...or, with none, since this journal entry
        self._watched: dict[str, int] = {}  # key prefix -> changes seen under it (see watch)
        self._signal_seen: str | None = None
        self._marker_seen: str | None = "\0unknown"
        self._followed_at = float("-inf")
        self._checked_at = float("-inf")
        # Told how long each catch-up with the journal took, in seconds (the web layer's metrics).
        self.on_relist: Callable[[float], None] | None = None

    # Reading ------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Return a current snapshot, reading the journal first if others may have written."""
        now = self._clock()
        signal = _marker_of(self.signal) if self.signal is not None else None
        if signal != self._signal_seen or now - self._checked_at >= self.check_interval:
            self._refresh(now, force=signal != self._signal_seen)
            self._signal_seen = signal
        return self._snapshot

    def watch(self, prefix: str) -> Callable[[], int]:
        """Return a counter that moves whenever a journal entry names a key under ``prefix``.

        Small records kept beside the catalog (API tokens, project roles) re-read themselves
        when it moves: they ride on the check every request makes anyway (see :meth:`noted`),
        and an upload, which names no such key, makes them read nothing.
        """
        self._watched.setdefault(prefix, 0)
        return lambda: self._watched[prefix]

    def latest(self) -> Snapshot:
        """Return the snapshot as this process last saw it (its own writes included).

        Costs nothing: for checks that a create-if-absent write backs up anyway.
        """
        return self._snapshot

    def _refresh(self, now: float, *, force: bool) -> None:
        """Read the journal if the marker moved (or there is none, or ``force``).

        The common case, a marker that has not moved, takes no lock: with one, every request of
        a worker's threads queued behind one ``stat``. A thread that finds a catch-up under way
        waits for it instead of serving the snapshot being replaced: a request that arrives
        after an upload or a yank must see it.
        """
        marker = _marker_of(self.records) if self.marker else None
        if self._due(marker, now, force=force):
            with self._lock:  # unless another thread caught up meanwhile
                if self._followed_at < now and self._due(marker, now, force=force):
                    self._catch_up()
                    self._marker_seen = marker
                    self._followed_at = now
        self._checked_at = max(self._checked_at, now)

    def _due(self, marker: str | None, now: float, *, force: bool) -> bool:
        return (
            force
            or not self._started
            or not self.marker
            or marker != self._marker_seen
            or now - self._followed_at >= self.ttl
        )

    def _catch_up(self) -> None:
        started = time.perf_counter()
        try:
            self._follow()
        finally:
            if self.on_relist is not None:
                self.on_relist(time.perf_counter() - started)

    def _follow(self) -> None:
        if not self._started:
            self._start()
        for attempt in range(1, RELOAD_ATTEMPTS + 1):
            try:
                entries = self.journal.read_after(self._applied)
                break
            except JournalGap as gap:
                if attempt == RELOAD_ATTEMPTS:
                    # Serve what we have (our own writes included) rather than fail the request;
                    # the next check tries again.
                    log.warning("the catalog could not catch up: %s", gap)
                    return
                log.info("reloading the catalog from a checkpoint: %s", gap)
                self._start()
        changes: dict[str, Record | None] = {}
        reread: set[str] = set()
        for entry in entries:
            keys = [key for key in entry.keys if is_record_key(key) or is_overlay_key(key)]
            self._fresh.update(keys)  # not the keys of :meth:`noted` entries
            if len(keys) < len(entry.keys):
                self._saw_noted(entry.keys)
            if entry.seq in self._own:
                self._own.discard(entry.seq)
                continue
            for key in keys:
                if key in entry.records:
                    changes[key] = _decode(key, entry.records[key])
                    reread.discard(key)
                else:
                    reread.add(key)
        again = sorted(reread)
        changes.update(zip(again, self._load_all(again), strict=True))
        if changes:
            self._snapshot = self._snapshot.with_changes(changes)
        if entries:
            self._applied = entries[-1].seq
            self._head = max(self._head, self._applied)
        if self._applied - (self._manifest.seq if self._manifest else 0) >= self.checkpoint_every:
            self._checkpoint()

    def _start(self) -> None:
        """Load the newest checkpoint, or list every record when there is none (or it fails)."""
        newest = self.checkpoints.newest()
        if newest is not None:
            try:
                loaded = self.checkpoints.load(newest)
            except (ObjectNotFound, ValueError, KeyError, TypeError) as error:
                log.warning(
                    "the checkpoint %d cannot be read (%s); listing every record", newest, error
                )
            else:
                records = {key: _decode(key, value) for key, value in loaded.objects.items()}
                self._reset(records, loaded.manifest.seq, loaded.manifest)
                return
        head = self.journal.head()  # entries after it are read again: replaying is harmless
        listed = [
            info.key
            for info in self.records.list_objects()
            if is_record_key(info.key) or is_overlay_key(info.key)
        ]
        loaded_records = dict(zip(listed, self._load_all(listed), strict=True))
        self._reset(loaded_records, head, None)

    def _reset(
        self,
        records: dict[str, Record | None],
        applied: int,
        manifest: Manifest | None,
    ) -> None:
        present = {key: value for key, value in records.items() if value is not None}
        packages = {k: v for k, v in present.items() if isinstance(v, Package)}
        overlaid = {k: v for k, v in present.items() if not isinstance(v, Package)}
        self._snapshot = Snapshot.build(self._snapshot.generation + 1, packages, overlaid).inherit(
            self._snapshot
        )
        self._applied = applied
        self._head = max(self._head, applied)
        # A reset replaces the snapshot our own writes were applied to: the entries after
        # ``applied`` (ours included) must all be read again, none skipped.
        self._own = set()
        self._manifest = manifest
        self._fresh = set()
        self._fresh_since = applied
        self._started = True
        for prefix in self._watched:  # entries before ``applied`` are never read: read again
            self._watched[prefix] += 1

    def _load_all(self, keys: list[str]) -> list[Record | None]:
        if self.loaders <= 1 or len(keys) < 2:
            return [self._load(key) for key in keys]
        with ThreadPoolExecutor(max_workers=min(self.loaders, len(keys))) as pool:
            return list(pool.map(self._load, keys))

    def _load(self, key: str) -> Record | None:
        try:
            return _decode(key, json.loads(self.records.read(key)))
        except ObjectNotFound:
            return None  # deleted since it was listed or journaled
        except ValueError as error:
            log.warning("skipping the unreadable record %s: %s", key, error)
            return None

    # Checkpoints --------------------------------------------------------------------------

    def _checkpoint(self) -> None:
        """Take a checkpoint at the entry we have applied, unless someone else just did."""
        try:
            newest = self.checkpoints.newest()
            known = self._manifest.seq if self._manifest else 0
            if newest is not None and newest > known:
                self._adopt(newest)
            if newest is not None and newest > self._applied - self.checkpoint_every:
                return
            written = self.checkpoints.write(
                self._applied,
                previous=self._manifest,
                fresh=self._fresh,
                keys=lambda: [*self._snapshot.packages, *self._snapshot.overlays],
                object_of=self._object_of,
            )
            if written is not None:
                self._manifest = written
                self._fresh = set()
                self._fresh_since = written.seq
                covered = self.checkpoints.collect(written)
                now = self._clock()
                # Entries are kept a while anyway (Journal.keep_for): removing them at most twice
                # per that time spares a listing of the whole journal at every checkpoint.
                if covered is not None and now - self._forgot_at >= self.journal.keep_for / 2:
                    self.journal.forget_through(covered)
                    self._forgot_at = now
        except StorageError:
            log.exception("could not take a checkpoint; the next catch-up tries again")

    def _adopt(self, seq: int) -> None:
        """Build on another instance's newer checkpoint (reading its deltas, not its base).

        Only when our fresh keys cover every change after it: they hold the keys changed since
        our own older checkpoint (or our start), so a checkpoint taken before that point would
        lose the changes in between. Then we keep ours, and write a new base if it comes to us.
        """
        if seq > self._applied or seq < self._fresh_since:
            return  # it covers entries we have not read yet, or misses some we did not note
        with contextlib.suppress(ObjectNotFound, ValueError, KeyError, TypeError):
            self._manifest = self.checkpoints.load(seq, base=False).manifest

    def _object_of(self, key: str) -> Any | None:
        record = self._snapshot.packages.get(key)
        if record is not None:
            return record.to_json()
        overlay = self._snapshot.overlays.get(key)
        return json.loads(overlays.encode(overlay)) if overlay is not None else None

    # Writing ------------------------------------------------------------------------------

    def published(self, key: str, package: Package) -> None:
        """Journal a package record this process just wrote, and show it here at once."""
        self._journaled([key], {key: package.to_json()}, {key: package})

    def changed(self, key: str, *more: str) -> None:
        """Journal records this process just wrote, replaced or removed, and re-read them."""
        keys = [key, *more]
        self._journaled(keys, {}, dict(zip(keys, self._load_all(keys), strict=True)))

    def noted(self, key: str) -> None:
        """Journal a change of a record kept outside the catalog (an API token, a project role).

        The catalog itself skips such keys; the entry only moves :attr:`applied` in every
        process that catches up, which makes their followers re-read.
        """
        seq = self.journal.append([key], {}, after=self._head)
        with self._lock:
            self._own.add(seq)
            self._head = max(self._head, seq)
            self._saw_noted([key])
        self._bump()

    def _saw_noted(self, keys: Iterable[str]) -> None:
        for prefix in self._watched:
            if any(key.startswith(prefix) for key in keys):
                self._watched[prefix] += 1

    def _journaled(
        self, keys: list[str], inline: dict[str, Any], changes: dict[str, Record | None]
    ) -> None:
        seq = self.journal.append(keys, inline, after=self._head)
        with self._lock:
            self._own.add(seq)
            self._head = max(self._head, seq)
            self._snapshot = self._snapshot.with_changes(changes)
        self._bump()

    def _bump(self) -> None:
        """Tell the other processes of this machine (and, on local disk, all) to catch up."""
        stores = (self.records if self.marker else None, self.signal)
        for store in stores:
            if store is None:
                continue
            try:
                marker = io.BytesIO(os.urandom(16).hex().encode())
                store.write(GENERATION_KEY, marker, overwrite=True, durable=False)
            except StorageError:
                log.exception("could not update the generation marker; others see it within ttl")


def _decode(key: str, record: Any) -> Record | None:
    """Turn a stored record's JSON object into a package or an overlay (None if unreadable)."""
    try:
        if is_overlay_key(key):
            return overlays.decode_record(key, record)
        return Package.from_json(record)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("skipping the unreadable record %s: %s", key, error)
        return None


def _marker_of(store: Storage) -> str | None:
    try:
        return store.stat(GENERATION_KEY).version
    except ObjectNotFound:
        return None
