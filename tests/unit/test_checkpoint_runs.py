"""Checkpoint runs: a growing registry appends to its base instead of rewriting it whole.

Once a checkpoint's deltas hold ``FOLD_AFTER`` keys they fold into a run appended to the base
(core/checkpoints.py). The base used to be rewritten then, every record encoded again: the cost
of a change grew with the registry, and the slowest uploads waited seconds for it at 60,000
files. A compaction still rewrites the base once runs hold twice the records that exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO
from unittest.mock import patch

import pytest

from pryv_server.core import Catalog
from pryv_server.core import checkpoints
from pryv_server.core.layout import CHECKPOINT_PARTS_PREFIX
from pryv_server.storage import MemoryStorage
from pryv_server.storage import ObjectInfo
from tests.records import publish
from tests.records import seed

FOLD_AFTER = 50
PART_RECORDS = 40


class PartRecords(MemoryStorage):
    """Counts the records written into checkpoint parts, and the parts read."""

    def __init__(self) -> None:
        super().__init__()
        self.records_written = 0
        self.parts_read: list[str] = []

    def write(
        self, key: str, data: IO[bytes], *, overwrite: bool = False, durable: bool = True
    ) -> ObjectInfo:
        info = super().write(key, data, overwrite=overwrite, durable=durable)
        if key.startswith(CHECKPOINT_PARTS_PREFIX):
            self.records_written += len(json.loads(super().read(key))["records"])
        return info

    def read(self, key: str) -> bytes:
        if key.startswith(CHECKPOINT_PARTS_PREFIX):
            self.parts_read.append(key)
        return super().read(key)


@pytest.fixture(autouse=True)
def small_parts() -> Iterator[None]:
    with (
        patch.object(checkpoints, "FOLD_AFTER", FOLD_AFTER),
        patch.object(checkpoints, "PART_RECORDS", PART_RECORDS),
    ):
        yield


def newest(records: MemoryStorage) -> checkpoints.Loaded:
    store = checkpoints.Checkpoints(records)
    return store.load(store.newest() or 0)


@pytest.mark.parametrize("files", [200, 2_000])
def test_a_change_costs_the_same_records_written_whatever_the_registry_size(files: int) -> None:
    """1,000 uploads: each record is written into a few deltas and one run. With the base
    rewritten every FOLD_AFTER changes, this was 16 records a change at 200 files, 60 at 2,000."""
    records = PartRecords()
    seeded = seed(records, files)
    writer = Catalog(records, checkpoint_every=5)
    writer.snapshot()
    for n in range(5):
        publish(records, writer, "first", f"1.{n}")
    writer.snapshot()
    first = newest(records).manifest
    records.records_written = 0
    for n in range(1_000):
        publish(records, writer, f"new{n % 300}", f"2.{n}")
        if n == 500:  # files of the base deleted: a run holds their deletion
            for key in seeded[:3]:
                records.delete(key)
            writer.changed(*seeded[:3])
        writer.snapshot()
    last = newest(records)
    assert (last.manifest.base_seq, last.manifest.base) == (first.base_seq, first.base)
    folds = len(last.manifest.runs)  # a run is one part: a start reads one per FOLD_AFTER changes
    assert 1_000 // FOLD_AFTER - 2 <= folds <= 1_000 // FOLD_AFTER
    assert records.records_written < 8 * 1_000
    assert not set(seeded[:3]) & set(last.objects), "deleted files came back"
    assert set(last.objects) <= set(writer.snapshot().packages)
    assert len(last.objects) > files - 3 + 5 + 1_000 - 5  # the last entries come after it
    assert set(Catalog(records).snapshot().packages) == set(writer.snapshot().packages)


def test_runs_carry_deletions_and_compact_once_mostly_stale() -> None:
    """Files published then deleted leave deletions in runs; once the base and runs hold more
    than twice the records that exist, the next fold rewrites the base instead."""
    records = PartRecords()
    seed(records, 100)
    writer = Catalog(records, checkpoint_every=5)
    writer.snapshot()
    for n in range(5):
        publish(records, writer, "first", f"1.{n}")
    writer.snapshot()
    started = newest(records).manifest.base_seq
    deletions = 0
    for n in range(600):
        key = publish(records, writer, "churn", f"3.{n}")
        records.delete(key)
        writer.changed(key)
        writer.snapshot()
        runs = newest(records).manifest.runs
        deletions += sum(len(json.loads(records.read(part))["deleted"]) for part in runs)
    last = newest(records)
    live = len(writer.snapshot().packages)
    assert live == 105
    assert deletions, "no run held a deletion"
    assert last.manifest.base_seq > started, "the base was never compacted"
    limit = checkpoints.COMPACT_FACTOR * max(live, PART_RECORDS)
    assert last.manifest.entries <= limit
    assert set(last.objects) == set(writer.snapshot().packages)
    assert set(Catalog(records).snapshot().packages) == set(writer.snapshot().packages)


def test_a_follower_behind_reads_only_the_runs_and_deltas_it_does_not_hold() -> None:
    """It held the base and a run; the writer appended more runs meanwhile: catching up reads
    those and the deltas, not the base again (before, every fold rewrote the base, and a
    follower read it whole)."""
    records = PartRecords()
    seed(records, 200)
    writer = Catalog(records, marker=False, checkpoint_every=5, keep_entries_for=0)
    writer.snapshot()
    for n in range(FOLD_AFTER + 10):
        publish(records, writer, "early", f"1.{n}")
        writer.snapshot()
    held = newest(records).manifest
    assert held.runs, "no run yet: the test would not test runs"
    follower = Catalog(records, marker=False, ttl=0, checkpoint_every=10_000)
    follower.snapshot()  # starts from that checkpoint
    for n in range(3 * FOLD_AFTER):
        publish(records, writer, f"late{n % 7}", f"1.{n}")
        writer.snapshot()  # checkpoints; the entries they cover are removed at once
    now = newest(records).manifest
    assert len(now.runs) > len(held.runs)
    records.parts_read.clear()
    found = follower.snapshot().packages  # a gap: the entries after its own are gone
    assert set(found) == set(writer.snapshot().packages)
    again = [part for part in records.parts_read if part in (*held.base, *held.runs)]
    assert not again, f"read {len(again)} parts of the base and runs it already held"


@pytest.mark.parametrize("records", [PART_RECORDS - 1, PART_RECORDS, 2 * PART_RECORDS + 1])
def test_a_base_counts_every_record_it_holds(records: int) -> None:
    """The count decides when the base is compacted: a base of exactly a part's worth of records
    was counted one part short (0 of 40), so compaction came a part's worth late."""
    objects = {f"projects/p/{n:03d}.json": {"n": n} for n in range(records)}
    manifest = checkpoints.Checkpoints(MemoryStorage()).write(
        1, previous=None, fresh=set(), keys=lambda: objects, object_of=objects.get
    )
    assert manifest is not None
    assert manifest.entries == records
