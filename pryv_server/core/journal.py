"""The catalog's change journal: one object per change, under keys that sort in the order made.

Every write the catalog must see (a package record, a yank, a backfilled metadata record) is
followed by one journal entry naming the keys it changed. An instance that knows the catalog as of
entry ``n`` catches up with one listing of the keys after ``n`` (``start_after``: one request on
S3 however large the registry) and one read per new entry, instead of relisting every record.

Entry numbers are allocated by create-if-absent: a writer tries the entry after the newest it
knows, and on a conflict the next one, so of several instances racing for one number exactly one
wins and no entry is lost or overwritten. Entry ``n + 1`` is only ever created after entry ``n``
exists, so a follower that sees a hole knows the entries below it were removed (they are once a
checkpoint covers them, see :mod:`pryv_server.core.checkpoints`) and reloads from a checkpoint.
A writer lists the newest numbers before it writes, so it never reuses a removed one (only a
writer stalled between that listing and its write for longer than two checkpoints, about ten
changes by others, could; it would have to stall for that long between two requests).

An entry names keys; a follower reads their current content again (an overlay can be replaced
between its write and its entry, and two writers' entries may land in either order). A package
record is written once and never changes, so its entry carries it inline and costs no extra read.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterable
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from pryv_server.core.checkpoints import Checkpoints
from pryv_server.core.layout import JOURNAL_PREFIX
from pryv_server.core.layout import journal_key
from pryv_server.core.layout import journal_seq
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.storage.base import Storage

ENTRY_SCHEMA = 1
# Seconds an entry is kept after a checkpoint covers it: a follower less far behind never reloads.
KEEP_FOR = 10.0


class JournalGap(Exception):
    """Entries this follower has not read were removed: reload from a checkpoint."""


@dataclass(frozen=True)
class Entry:
    """One change: the keys it touched, and the once-written records among them, inline."""

    seq: int
    keys: tuple[str, ...]
    records: Mapping[str, Any] = field(default_factory=dict)  # key -> record JSON object

    def encode(self) -> bytes:
        """Serialize for the store (the seq is the key, not the content)."""
        body = {"schema": ENTRY_SCHEMA, "keys": list(self.keys), "records": dict(self.records)}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, seq: int, content: bytes) -> Entry:
        """Parse a stored entry; raises ValueError/KeyError/TypeError on a damaged one."""
        body = json.loads(content)
        if body.get("schema") != ENTRY_SCHEMA:
            raise ValueError(f"unsupported journal entry schema {body.get('schema')!r}")
        return cls(seq, tuple(str(key) for key in body["keys"]), dict(body.get("records") or {}))


class Journal:
    """Append entries to, and read them back from, the ``_journal/`` keys of one store.

    :param probe: find new entries by reading the next numbers until one is missing, listing
        only when the very next one is. On a local disk a listing reads every entry kept (about
        1 µs each, and under a stream of uploads a thousand are kept); on S3 a read is a request
        like a listing, and an idle check would pay two.
    """

    def __init__(
        self, store: Storage, *, readers: int = 1, keep_for: float = KEEP_FOR, probe: bool = False
    ) -> None:
        self.store = store
        self.readers = readers
        self.keep_for = keep_for
        self.probe = probe
        self._appending = threading.Lock()
        self._appended = 0  # the newest entry this process wrote

    def append(
        self, keys: Iterable[str], records: Mapping[str, Any] | None = None, *, after: int
    ) -> int:
        """Write one entry with the first free number above every existing one; return it.

        ``after`` is the newest number this writer knows; one listing finds any newer. Trying
        ``after + 1`` blindly is not enough: entries a checkpoint covers are removed, and a
        writer that fell behind would then reuse a removed number that every follower has
        already passed, so its change would never be seen.
        """
        entry = Entry(0, tuple(keys), dict(records or {}))
        content = entry.encode()
        # One append at a time per process: its threads would otherwise all list the same head
        # and race for one number, and every loser writes (and fsyncs) its entry again. With
        # eight uploads at once that was most of the journal's writes.
        with self._appending:
            seq = self._next_free(max(after, self._appended))
            while True:
                try:
                    self.store.write(journal_key(seq), io.BytesIO(content), overwrite=False)
                    self._appended = seq
                    return seq
                except ObjectExists:
                    seq += 1  # another process took it; its entry is read when we follow

    def _next_free(self, after: int) -> int:
        """Return the number after the newest entry (``after`` is one this writer knows).

        Probing reads up from ``after + 1`` to the first missing number. That one is free
        unless it is a removed one, and only numbers a checkpoint covers are removed: above the
        newest checkpoint it is safe, else one listing of the journal decides.
        """
        if self.probe:
            seq = after + 1
            while self._exists(seq):
                seq += 1
            if seq > (Checkpoints(self.store).newest() or 0):
                return seq
        return self.head(after) + 1

    def head(self, after: int = 0) -> int:
        """Return the highest entry number (``after`` when there is none above it)."""
        return max(self._numbers_after(after), default=after)

    def read_after(self, seq: int) -> list[Entry]:
        """Return the entries after ``seq``, in order.

        :raises JournalGap: the entry after ``seq`` is gone while later ones exist.
        """
        if self.probe:
            # Entry n + 1 is created only once n exists, so the entries after ``seq`` are the
            # numbers read until one is missing; when the first is, a listing tells nothing
            # new from a gap.
            probed: list[Entry] = []
            while (entry := self._read(seq + len(probed) + 1)) is not None:
                probed.append(entry)
            if probed:
                return probed
        listed = sorted(self._numbers_after(seq))
        if not listed:
            return []
        if listed[0] != seq + 1 and not self._exists(seq + 1):
            raise JournalGap(f"journal entries {seq + 1} to {listed[0] - 1} were removed")
        # A listing taken while entries are created may miss one and show a later one (a local
        # folder is read in hash order): an entry between two listed ones exists, so read every
        # number up to the newest listed. A missed entry used to look like a removed one (a
        # needless reload of the whole catalog, seconds at 60,000 files) or, between two listed
        # ones, was skipped: its change lost to this process until it restarted.
        numbers = list(range(seq + 1, listed[-1] + 1))
        if self.readers > 1 and len(numbers) > 1:
            with ThreadPoolExecutor(max_workers=min(self.readers, len(numbers))) as pool:
                loaded = list(pool.map(self._read, numbers))
        else:
            loaded = [self._read(number) for number in numbers]
        entries = []
        for number, entry in zip(numbers, loaded, strict=True):
            if entry is None:
                # The collector removed it after a checkpoint covered it: only that checkpoint
                # holds its change now. Skipping it (as pryv did for the first entry read) moved
                # the follower past a change it never applied, lost until its next restart.
                raise JournalGap(f"journal entry {number} was removed while being read")
            entries.append(entry)
        return entries

    def forget_through(self, seq: int) -> int:
        """Remove the entries up to ``seq`` (a checkpoint covers them) older than ``keep_for``.

        A follower a little behind then reads the entries it missed instead of reloading a
        checkpoint: under a stream of uploads a checkpoint is taken every few changes, faster
        than a lagging worker reloads one, and removing every covered entry at once made it
        find its next entries gone again after each reload (127 of 6,001 uploads of the
        harness's bulk load answered 500). Ten seconds cover a reload of 100,000 files (about 5 s);
        longer kept so many entries that listing the journal slowed every upload. Returns how
        many were removed.
        """
        removed = 0
        young = time.time() - self.keep_for
        for info in list(self.store.list_objects(JOURNAL_PREFIX)):
            number = journal_seq(info.key)
            if number is not None and number <= seq and info.modified < young:
                self.store.delete(info.key)
                removed += 1
        return removed

    def _numbers_after(self, seq: int) -> list[int]:
        start = journal_key(seq) if seq > 0 else ""
        numbers = (
            journal_seq(info.key)
            for info in self.store.list_objects(JOURNAL_PREFIX, start_after=start)
        )
        return [number for number in numbers if number is not None and number > seq]

    def _exists(self, seq: int) -> bool:
        try:
            self.store.stat(journal_key(seq))
        except ObjectNotFound:
            return False
        return True

    def _read(self, seq: int) -> Entry | None:
        try:
            return Entry.decode(seq, self.store.read(journal_key(seq)))
        except ObjectNotFound:
            return None
        except (ValueError, KeyError, TypeError) as error:
            raise JournalGap(f"journal entry {seq} is unreadable: {error}") from None
