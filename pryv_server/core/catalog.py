"""The catalog: every published file in memory, kept current by following a change journal.

Serving ``/simple/<project>/`` must not list the store: the catalog keeps every parsed record and
hands out immutable :class:`Snapshot` objects. Every write it must see is followed by an entry of
the change journal (:mod:`pryv_server.core.journal`), so catching up with other writers reads
what changed, never every record. A process starts from the newest checkpoint
(:mod:`pryv_server.core.checkpoints`) and the entries after it; a store with neither is listed
once, whole, and gets its first checkpoint.

When to look for changes: on a local store, a generation marker that every write rewrites is
stat'ed on every request (about a microsecond), and the journal is read when it moved or ``ttl``
passed. On S3 a stat is a request, so the journal is listed every ``check_interval`` instead: an
idle instance makes one request per interval. The worker processes of one server also share a
local ``signal`` marker, so the others see an upload at once whichever worker took it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from functools import partial
from typing import Any

from pryv_server.core import generation
from pryv_server.core import overlays
from pryv_server.core.checkpoints import Checkpoints
from pryv_server.core.checkpoints import Manifest
from pryv_server.core.journal import KEEP_FOR
from pryv_server.core.journal import Journal
from pryv_server.core.journal import JournalGap
from pryv_server.core.layout import is_overlay_key
from pryv_server.core.layout import is_record_key
from pryv_server.core.models import Package
from pryv_server.core.overlays import Overlay
from pryv_server.core.record_reader import Record
from pryv_server.core.record_reader import RecordReader
from pryv_server.core.side_records import SideRecord
from pryv_server.core.side_records import SideRecords
from pryv_server.core.snapshot import Snapshot
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage.base import Storage

__all__ = ["CHECKPOINT_EVERY", "LOCAL_CHECKPOINT_EVERY", "Catalog", "Snapshot"]

log = logging.getLogger(__name__)

# Journal entries between checkpoints (a start reads at most about this many). On S3 each read is
# a billed request; locally one costs 30 µs, and a checkpoint every 5 uploads cost a fifth of the
# upload rate, every 50 still 9% (600 uploads in process: 146 -> 160 per CPU-s).
CHECKPOINT_EVERY = 5
LOCAL_CHECKPOINT_EVERY = 1000
# Reloads from a checkpoint one catch-up tries when the entries after it keep vanishing.
RELOAD_ATTEMPTS = 3


class Catalog:
    """Keep a :class:`Snapshot` of the records storage current, cheaply.

    :param ttl: with a marker, read the journal at least this often even if it did not move.
    :param check_interval: how often to stat the marker (0: on every request), or, without
        one, how often to list the journal.
    :param marker: whether the records store has a cheap generation marker (local disk: yes;
        S3: no, its stat is a billed request).
    :param loaders: threads reading records at once (1 for a disk; several for S3's slow GETs).
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
        self.reader = RecordReader(records, side=lambda key: self._side.holds(key), loaders=loaders)
        self._decoded = partial(self.reader.decode_all, kept=self._kept)  # a checkpoint's parts
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot = Snapshot.build(0, {})
        self._side = SideRecords()  # tokens, project roles... (see watch); replaced with _snapshot
        self._started = False
        self._applied = 0  # every journal entry up to this one is in the snapshot
        self._forgot_at = float("-inf")  # when this process last removed covered entries
        self._head = 0  # the highest entry number this process knows of
        self._own: set[int] = set()  # entries this process wrote and applied when writing
        self._manifest: Manifest | None = None  # the newest checkpoint we know, with its deltas
        self._fresh: set[str] = set()  # keys changed since that checkpoint...
        self._fresh_since = 0  # ...or, with none, since this journal entry
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
        signal = generation.current(self.signal) if self.signal is not None else None
        if signal != self._signal_seen or now - self._checked_at >= self.check_interval:
            self._refresh(now, force=signal != self._signal_seen)
            self._signal_seen = signal
        return self._snapshot

    def watch(self, prefix: str) -> None:
        """Keep the side records under ``prefix`` (see :mod:`~pryv_server.core.side_records`).

        Only before the first snapshot: a start reads them from the checkpoint or the listing,
        and a prefix watched later would be in neither until the next restart.

        :raises RuntimeError: the catalog started already.
        """
        if prefix in self._side.prefixes:
            return
        if self._started:
            raise RuntimeError(
                f"the catalog started already: watch {prefix!r} before its first snapshot "
                "(build every store of side records before serving)"
            )
        self._side = self._side.watching(prefix)

    def side(self, prefix: str, *, fresh: bool = False) -> Mapping[str, SideRecord]:
        """Return the side records under ``prefix``, by key; no storage I/O once started.

        The same object until one of them changes. ``fresh`` first makes :meth:`snapshot`'s
        check; without it they are as this process last saw them (its own changes included).
        """
        if fresh or not self._started:
            self.snapshot()
        return self._side.under(prefix)

    def latest(self) -> Snapshot:
        """Return this process's last snapshot, at no cost: for checks a conditional write backs."""
        return self._snapshot

    def _refresh(self, now: float, *, force: bool) -> None:
        """Read the journal if the marker moved (or there is none, or ``force``).

        The common case, a marker that has not moved, takes no lock: with one, every request of
        a worker's threads queued behind one ``stat``. A thread that finds a catch-up under way
        waits for it instead of serving the snapshot being replaced: a request that arrives
        after an upload or a yank must see it.
        """
        marker = generation.current(self.records) if self.marker else None
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
        if starting := not self._started:
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
                self._start(behind=True)
        changes: dict[str, Record | None] = {}
        reread: set[str] = set()
        for entry in entries:
            keys = [key for key in entry.keys if self._kept(key)]
            self._fresh.update(keys)
            if entry.seq in self._own:
                self._own.discard(entry.seq)
                continue
            for key in keys:
                if key in entry.records:
                    changes[key] = self.reader.decode(key, entry.records[key])
                    reread.discard(key)
                else:
                    reread.add(key)
        again = sorted(reread)
        changes.update(zip(again, self.reader.load_all(again), strict=True))
        if changes:
            self._apply(changes)
        if entries:
            self._applied = entries[-1].seq
            self._head = max(self._head, self._applied)
        behind = self._applied - (held.seq if (held := self._manifest) else 0)
        # ...or at once after a start from an older schema's base (decoded slowly) and entries
        if behind >= self.checkpoint_every or (starting and behind and held and not held.current):
            self._checkpoint()

    def _start(self, *, behind: bool = False) -> None:
        """Load the newest checkpoint, or list every record when there is none (or it fails).

        ``behind``: the entries after ours are gone; if we hold the newest checkpoint's base, its
        new runs and deltas bring us to it (:meth:`Checkpoints.deltas_over`).
        """
        newest, needs = self.checkpoints.newest(), self._side.prefixes
        if behind and self._manifest and newest is not None and newest > self._applied:
            held = self._manifest
            over = self.checkpoints.deltas_over(newest, held, needs=needs, decode=self._decoded)
            if over is not None:  # (a key it does not keep maps to None: removing it is a no-op)
                self._apply(over.objects)
                self._restarted(newest, over.manifest)
                return
        if newest is not None:
            try:
                loaded = self.checkpoints.load(newest, needs=needs, decode=self._decoded)
            except (ObjectNotFound, ValueError, KeyError, TypeError) as error:
                log.warning("checkpoint %d is unreadable (%s); listing every record", newest, error)
            else:
                self._reset(loaded.objects, loaded.manifest.seq, loaded.manifest)
                return
        head = self.journal.head()  # entries after it are read again: replaying is harmless
        listed = [info.key for info in self.records.list_objects() if self._kept(info.key)]
        loaded_records = dict(zip(listed, self.reader.load_all(listed), strict=True))
        self._reset(loaded_records, head, None)

    def _reset(
        self,
        records: dict[str, Record | None],
        applied: int,
        manifest: Manifest | None,
    ) -> None:
        present = {key: value for key, value in records.items() if value is not None}
        packages = {k: v for k, v in present.items() if isinstance(v, Package)}
        overlaid = {k: v for k, v in present.items() if not isinstance(v, Package | dict)}
        self._snapshot = Snapshot.build(self._snapshot.generation + 1, packages, overlaid).inherit(
            self._snapshot
        )
        self._side = self._side.replaced((k, v) for k, v in present.items() if isinstance(v, dict))
        self._restarted(applied, manifest)

    def _restarted(self, applied: int, manifest: Manifest | None) -> None:
        self._applied = applied
        self._head = max(self._head, applied)
        # A reset replaces the snapshot our own writes were applied to: the entries after
        # ``applied`` (ours included) must all be read again, none skipped.
        self._own = set()
        self._manifest = manifest
        self._fresh = set()
        self._fresh_since = applied
        self._started = True

    def _kept(self, key: str) -> bool:
        """Say whether the catalog keeps ``key``: a package record, an overlay, a side record."""
        return is_record_key(key) or is_overlay_key(key) or self._side.holds(key)

    def _apply(self, changes: Mapping[str, Record | None]) -> None:
        side: dict[str, SideRecord | None] = {}
        rest: dict[str, Package | Overlay | None] = {}
        for key, value in changes.items():
            if self._side.holds(key):
                side[key] = value if isinstance(value, dict) else None
            elif not isinstance(value, dict):
                rest[key] = value
        if rest:
            self._snapshot = self._snapshot.with_changes(rest)
        self._side = self._side.with_changes(side)

    # Checkpoints --------------------------------------------------------------------------

    def _checkpoint(self) -> None:
        """Take a checkpoint at the entry we have applied, unless someone else just did."""
        try:
            newest, held, needs = self.checkpoints.newest(), self._manifest, self._side.prefixes
            newer = newest is not None and newest > (held.seq if held else 0)
            ours = held is None or held.current  # (one of an older schema is to be replaced)
            usable = self.checkpoints.readable(newest or 0, needs=needs) if newer else ours
            if usable and newest is not None and newest > self._applied - self.checkpoint_every:
                return  # a recent one exists (an unreadable one, of an older schema, does not)
            if newer and usable:
                self._adopt(newest or 0)  # ours is due now: build on it (its deltas read once)
            written = self.checkpoints.write(
                self._applied,
                previous=self._manifest,
                fresh=self._fresh,
                keys=self._keys,
                object_of=self._object_of,
                covers=self._side.prefixes,
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

        Only when our fresh keys (changed since our own older checkpoint, or our start) cover
        every change after it; else, or when it cannot be read meanwhile, ours stands alone.
        """
        if seq > self._applied or seq < self._fresh_since:
            return  # it covers entries we have not read yet, or misses some we did not note
        try:
            loaded = self.checkpoints.load(seq, base=False, needs=self._side.prefixes)
        except (ObjectNotFound, ValueError, KeyError, TypeError):
            return
        self._manifest = loaded.manifest

    def _keys(self) -> list[str]:
        return [*self._snapshot.packages, *self._snapshot.overlays, *self._side.keys()]

    def _object_of(self, key: str) -> Any | None:
        record = self._snapshot.packages.get(key)
        if record is not None:
            return record.to_held()
        overlay = self._snapshot.overlays.get(key)
        if overlay is not None:
            return json.loads(overlays.encode(overlay))
        return self._side.get(key)

    # Writing ------------------------------------------------------------------------------

    def published(self, key: str, package: Package) -> None:
        """Journal a package record this process just wrote, and show it here at once."""
        held = package.without_description()  # as every reader of the record holds it
        self._journaled([key], {key: held.to_json()}, lambda: {key: held})

    def changed(self, key: str, *more: str) -> None:
        """Journal records this process just wrote, replaced or removed, and re-read them.

        They are read after the entry is written, under the lock catching up takes: a later
        write by another process has a later entry, which this process reads when it next
        catches up. (Read before, a value another process replaced in between was kept.)
        """
        keys = [key, *more]
        self._journaled(keys, {}, lambda: dict(zip(keys, self.reader.load_all(keys), strict=True)))

    def _journaled(
        self,
        keys: list[str],
        inline: dict[str, Any],
        changes: Callable[[], dict[str, Record | None]],
    ) -> None:
        seq = self.journal.append(keys, inline, after=self._head)
        with self._lock:
            self._own.add(seq)
            self._head = max(self._head, seq)
            self._apply(changes())
        self._bump()

    def _bump(self) -> None:
        """Tell the other processes of this machine (and, on local disk, all) to catch up."""
        for store in (self.records if self.marker else None, self.signal):
            if store is not None:
                generation.bump(store)
