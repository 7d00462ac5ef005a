"""Checkpoints of the catalog, so a new instance starts from a few objects, not one per file.

A checkpoint taken at journal entry ``seq`` holds every record the catalog keeps: package records,
overlays and the side records (API tokens, project roles, upstream controls) of the prefixes its
manifest ``covers``; a reader that keeps others ignores it. The manifest
(``_checkpoint/<seq>.json``) names its parts: **base** parts of up to :data:`PART_RECORDS` records
each, then a few **deltas**, each holding the keys changed over a stretch of the journal (with their
current record, or as deleted). Parts are content-addressed and written once. A start reads the
newest manifest, its parts, then follows the journal after ``seq``.

Writing stays cheap as the registry grows, the way a log-structured merge tree does it: a checkpoint
adds one small delta with the keys changed since the previous checkpoint, then merges the newest
deltas while the one before is less than :data:`MERGE_FACTOR` times larger, so their sizes fall
geometrically and there are at most about ``log4(FOLD_AFTER / 5)`` of them (7). Once the deltas hold
:data:`FOLD_AFTER` keys they fold into a **run**: one part with those keys' current records (or
their deletion), appended to the base. The base itself is written whole again only when its parts
and runs hold more than :data:`COMPACT_FACTOR` times the records that exist (keys changed again, or
deleted, since an older run or the base held them). A key is thus rewritten a handful of times on
its way into larger deltas and once into a run; a registry that only grows never rewrites its base
(each such rewrite encoded every record again: 1.4 s of CPU at 60,000 files, and a change cost more
the larger the registry). A start costs about ``12 + files / 10,000`` requests (up to twice that
many records to read right before a compaction), and a checkpoint one or two small writes.

An instance claims the checkpoint's number with a create-if-absent write first, so two instances
never both write one; one that dies after its claim only leaves the next number to someone else.
A damaged or missing checkpoint only costs a slower start: the catalog then lists every record,
as it did before checkpoints existed. Old manifests, claims and parts are removed once
:data:`KEEP` newer manifests exist: a start reading one of them when it goes retries.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import replace
from typing import Any
from typing import TypeVar

from pryv_server.core.layout import CHECKPOINT_PREFIX
from pryv_server.core.layout import checkpoint_claim_key
from pryv_server.core.layout import checkpoint_key
from pryv_server.core.layout import checkpoint_part_key
from pryv_server.core.layout import checkpoint_seq
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.storage.base import Storage

# 3: side records (tokens, project roles, upstream controls) are in it, their prefixes named
# 4: runs appended to the base (a base part may hold deletions)
# 5: package records as the catalog holds them (``Package.to_held``: the metadata as one text)
SCHEMA = 5
# Older schemas a start still reads (records as stored); the next checkpoint rewrites the base
READABLE = frozenset({4, SCHEMA})
PART_RECORDS = 10_000
FOLD_AFTER = 10_000
MERGE_FACTOR = 4
COMPACT_FACTOR = 2
KEEP = 2  # manifests kept (with their parts); older ones are removed
_T = TypeVar("_T")

# key -> the record's JSON object (as stored), or None for a key that no longer exists
ObjectOf = Callable[[str], Any | None]
# A part's records (key -> JSON object) -> what the reader keeps of them (see Checkpoints.load)
Decode = Callable[[dict[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Delta:
    """One delta part: its key in the store and the record keys it holds."""

    part: str
    keys: frozenset[str]


@dataclass(frozen=True)
class Manifest:
    """What one checkpoint is made of: its base, the runs appended to it, then its deltas."""

    seq: int
    base: tuple[str, ...]
    deltas: tuple[Delta, ...]
    # the prefixes of the side records it holds (see :mod:`pryv_server.core.side_records`)
    covers: frozenset[str] = frozenset()
    runs: tuple[str, ...] = ()
    # the checkpoint that wrote the base: parts are content-addressed, so equal part keys alone
    # could name the same records written at two moments, with other changes in between
    base_seq: int = 0
    # the records and deletions its base and runs hold, stale ones included
    entries: int = 0
    schema: int = SCHEMA  # of its base and runs (an older one is rewritten at the next checkpoint)

    @property
    def current(self) -> bool:
        """Say whether it is of this pryv's schema (else a start decodes its records as stored)."""
        return self.schema == SCHEMA


@dataclass(frozen=True)
class Loaded:
    """A checkpoint read back: its manifest (deltas with their keys) and every record (decoded)."""

    manifest: Manifest
    objects: dict[str, Any]


class Checkpoints:
    """Read and write the catalog's checkpoints in one store."""

    def __init__(self, store: Storage, *, readers: int = 1) -> None:
        self.store = store
        self.readers = readers

    def newest(self) -> int | None:
        """Return the seq of the newest manifest (one listing), or None when there is none."""
        return max(self._manifests(), default=None)

    def load(
        self,
        seq: int,
        *,
        base: bool = True,
        needs: frozenset[str] = frozenset(),
        decode: Decode = dict,
    ) -> Loaded:
        """Read the manifest at ``seq`` and its parts (only the deltas unless ``base``).

        :param needs: the side record prefixes the reader keeps: the checkpoint must hold them.
        :param decode: turns each part's records into what the reader keeps, as soon as that part
            is read: then only one part's JSON objects are alive at a time. (Holding every part's
            at once left a 60,000-file start at 313 MB of RSS, 204 MB now.)
        :raises ObjectNotFound: a part or the manifest was removed meanwhile.
        :raises ValueError: a damaged manifest or part (also KeyError, TypeError), or one that
            lacks side records the reader keeps.
        """
        manifest = self._manifest(seq, needs)
        bulk = (*manifest.base, *manifest.runs) if base else ()
        return self._read(manifest, bulk, decode, track_bulk=False)[0]

    def deltas_over(
        self,
        seq: int,
        held: Manifest,
        *,
        needs: frozenset[str] = frozenset(),
        decode: Decode = dict,
    ) -> Loaded | None:
        """Read the checkpoint at ``seq`` without what ``held`` already has; None when it cannot.

        For a reader that holds the catalog as of checkpoint ``held`` and fell behind the
        journal: while the base is the one ``held`` names, the runs appended since and the
        deltas hold every key changed since ``held``'s runs, so applying them gives exactly the
        checkpoint's content. A few requests, where the base costs one per 10,000 files. The
        objects map every such key to its object (``decode``'d, see :meth:`load`), or to None
        when deleted or not kept by ``decode``.
        """
        try:
            manifest = self._manifest(seq, needs)
            same_base = (manifest.base_seq, manifest.base) == (held.base_seq, held.base)
            if not same_base or manifest.runs[: len(held.runs)] != held.runs:
                return None
            new_runs = manifest.runs[len(held.runs) :]
            loaded, changed = self._read(manifest, new_runs, decode, track_bulk=True)
        except (ObjectNotFound, ValueError, KeyError, TypeError):
            return None
        return Loaded(loaded.manifest, {key: loaded.objects.get(key) for key in changed})

    def _read(
        self, manifest: Manifest, bulk: tuple[str, ...], decode: Decode, *, track_bulk: bool
    ) -> tuple[Loaded, set[str]]:
        """Apply ``bulk`` (base parts or runs) then the deltas, in order, as :meth:`load` says.

        Also returns the keys of the deltas read, and of ``bulk`` when ``track_bulk`` (a whole
        start does not need them: at a million files, a set of every key).
        """
        delta_parts = [delta.part for delta in manifest.deltas]
        tracked = frozenset((*(bulk if track_bulk else ()), *delta_parts))

        def read(key: str) -> tuple[frozenset[str], Mapping[str, Any], list[str]]:
            records, deleted = self._read_part(key)
            keys = frozenset(records).union(deleted) if key in tracked else frozenset()
            return keys, decode(records), deleted

        parts = self._map(read, (*bulk, *delta_parts))
        objects: dict[str, Any] = {}
        changed: set[str] = set()
        for keys, decoded, deleted in parts:
            objects.update(decoded)
            for key in deleted:
                objects.pop(key, None)
            changed |= keys
        deltas = tuple(
            Delta(part, keys)
            for part, (keys, _, _) in zip(delta_parts, parts[len(bulk) :], strict=True)
        )
        return Loaded(replace(manifest, deltas=deltas), objects), changed

    def readable(self, seq: int, *, needs: frozenset[str] = frozenset()) -> bool:
        """Say whether the checkpoint at ``seq`` is one to build on (its manifest only).

        Another instance's newer checkpoint is checked this way at each of this instance's
        checkpoint turns; its deltas are read only when this instance writes one on top of it
        (on S3, one request instead of one per delta at every turn). One of an older schema is
        not: a start still reads it, but the next checkpoint replaces it with a new base.
        """
        try:
            return self._manifest(seq, needs).current
        except (ObjectNotFound, ValueError, KeyError, TypeError):
            return False

    def _manifest(self, seq: int, needs: frozenset[str]) -> Manifest:
        """Read the manifest at ``seq`` (its deltas' keys are not known until they are read)."""
        body = json.loads(self.store.read(checkpoint_key(seq)))
        if body.get("schema") not in READABLE or body["seq"] != seq:
            raise ValueError(f"the checkpoint manifest {seq} is not of schema {SCHEMA}")
        covers = frozenset(str(prefix) for prefix in body["covers"])
        if not needs <= covers:
            raise ValueError(f"it lacks the records under {', '.join(sorted(needs - covers))}")
        return Manifest(
            seq,
            base=tuple(str(part) for part in body["base"]),
            deltas=tuple(Delta(str(part), frozenset()) for part in body["deltas"]),
            covers=covers,
            runs=tuple(str(part) for part in body["runs"]),
            base_seq=int(body["base_seq"]),
            entries=int(body["entries"]),
            schema=int(body["schema"]),
        )

    def write(
        self,
        seq: int,
        *,
        previous: Manifest | None,
        fresh: set[str],
        keys: Callable[[], Iterable[str]],
        object_of: ObjectOf,
        covers: frozenset[str] = frozenset(),
    ) -> Manifest | None:
        """Take the checkpoint at ``seq``, or return None when another instance claimed it.

        :param previous: the newest checkpoint this instance knows (None: write a new base).
        :param fresh: every key changed since ``previous``.
        :param keys: every key of the catalog (read only when the base is rewritten).
        :param object_of: a key's current record as a JSON object, None if it is gone.
        :param covers: the prefixes of the side records among ``keys``: a start that keeps
            others cannot use this checkpoint.
        """
        try:
            self.store.write(checkpoint_claim_key(seq), io.BytesIO(b""), overwrite=False)
        except ObjectExists:
            return None
        deltas = list(previous.deltas) if previous else []
        pending = set(fresh)
        while deltas and len(deltas[-1].keys) < MERGE_FACTOR * max(len(pending), 1):
            pending |= deltas.pop().keys  # the newest deltas fold into the new one
        held = sum(len(d.keys) for d in deltas)
        if previous is None or not previous.current or not covers <= previous.covers:
            manifest = self._write_base(seq, list(keys()), object_of, covers)
        elif len(pending) + held > FOLD_AFTER:
            changed = pending.union(*(delta.keys for delta in deltas))
            every = list(keys())
            if previous.entries + len(changed) > COMPACT_FACTOR * max(len(every), PART_RECORDS):
                manifest = self._write_base(seq, every, object_of, covers)
            else:  # the deltas fold into a run: one part, like a delta over all of them
                run = self._write_delta(changed, object_of).part
                manifest = replace(
                    previous,
                    seq=seq,
                    deltas=(),
                    covers=covers,
                    runs=(*previous.runs, run),
                    entries=previous.entries + len(changed),
                )
        else:
            delta = self._write_delta(pending, object_of)
            manifest = replace(previous, seq=seq, deltas=(*deltas, delta), covers=covers)
        body = {
            "schema": SCHEMA,
            "seq": seq,
            "base": list(manifest.base),
            "base_seq": manifest.base_seq,
            "runs": list(manifest.runs),
            "entries": manifest.entries,
            "deltas": [delta.part for delta in manifest.deltas],
            "covers": sorted(covers),
        }
        self._put(checkpoint_key(seq), _dump(body))
        return manifest

    def collect(self, written: Manifest | None = None) -> int | None:
        """Remove what only manifests older than the newest :data:`KEEP` need.

        Returns the oldest kept checkpoint's seq: journal entries up to it are no longer needed
        by anyone (None while fewer than :data:`KEEP` checkpoints exist). ``written``, the
        manifest this instance just wrote, is not read back.

        Only parts that an old manifest names and no kept one does are removed: a part with no
        manifest yet may belong to a checkpoint being written right now. One listing finds both
        the manifests and the claims and manifests to remove.
        """
        listing = [info.key for info in self.store.list_objects(CHECKPOINT_PREFIX)]
        numbers = (checkpoint_seq(key) for key in listing)
        manifests = sorted((number for number in numbers if number is not None), reverse=True)
        if len(manifests) < KEEP:
            return None
        kept, old = manifests[:KEEP], manifests[KEEP:]
        needed: set[str] = set()
        for seq in kept:
            needed.update(self._parts_of(seq, written))
        parts: set[str] = set()
        for seq in old:
            with contextlib.suppress(ObjectNotFound, ValueError, KeyError, TypeError):
                parts.update(self._parts_of(seq, written))
        doomed = sorted(parts - needed)
        for key in listing:
            number = key[len(CHECKPOINT_PREFIX) :].partition(".")[0]
            if number.isdigit() and int(number) < kept[-1]:
                doomed.append(key)
        for key in doomed:
            self.store.delete(key)
        return kept[-1]

    def _parts_of(self, seq: int, known: Manifest | None) -> list[str]:
        if known is not None and known.seq == seq:
            return [*known.base, *known.runs, *(delta.part for delta in known.deltas)]
        body = json.loads(self.store.read(checkpoint_key(seq)))  # maybe of an older schema
        return [str(part) for part in (*body["base"], *body.get("runs", ()), *body["deltas"])]

    def _write_base(
        self, seq: int, keys: Iterable[str], object_of: ObjectOf, covers: frozenset[str]
    ) -> Manifest:
        parts: list[str] = []
        chunk: dict[str, Any] = {}
        entries = 0
        for key in sorted(keys):
            record = object_of(key)
            if record is None:
                continue
            chunk[key] = record
            entries += 1
            if len(chunk) >= PART_RECORDS:
                parts.append(self._write_part(chunk, []))
                chunk = {}
        if chunk or not parts:
            parts.append(self._write_part(chunk, []))
        return Manifest(seq, tuple(parts), (), covers, runs=(), base_seq=seq, entries=entries)

    def _write_delta(self, keys: set[str], object_of: ObjectOf) -> Delta:
        records: dict[str, Any] = {}
        deleted: list[str] = []
        for key in sorted(keys):
            record = object_of(key)
            if record is None:
                deleted.append(key)
            else:
                records[key] = record
        return Delta(self._write_part(records, deleted), frozenset(keys))

    def _write_part(self, records: Mapping[str, Any], deleted: list[str]) -> str:
        content = _dump({"schema": SCHEMA, "records": dict(records), "deleted": deleted})
        key = checkpoint_part_key(content)
        self._put(key, content)
        return key

    def _put(self, key: str, content: bytes) -> None:
        try:
            self.store.write(key, io.BytesIO(content), overwrite=False)
        except ObjectExists:
            pass  # parts are content-addressed: the same bytes are already there

    def _manifests(self) -> list[int]:
        numbers = (checkpoint_seq(info.key) for info in self.store.list_objects(CHECKPOINT_PREFIX))
        return [number for number in numbers if number is not None]

    def _read_part(self, key: str) -> tuple[dict[str, Any], list[str]]:
        body = json.loads(self.store.read(key))
        if body.get("schema") not in READABLE:
            raise ValueError(f"the checkpoint part {key} is not of schema {SCHEMA}")
        return dict(body["records"]), [str(key) for key in body.get("deleted") or ()]

    def _map(self, read: Callable[[str], _T], keys: tuple[str, ...]) -> list[_T]:
        if self.readers <= 1 or len(keys) < 2:
            return [read(key) for key in keys]
        with ThreadPoolExecutor(max_workers=min(self.readers, len(keys))) as pool:
            return list(pool.map(read, keys))


def _dump(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
