"""What the catalog costs an object store, counted in requests (issue: many instances, one bucket).

A request-counting store stands in for S3: every call below is one billed request there. The
figures asserted are the design's (docs/storage-s3.md): an idle instance makes one request per
index-ttl, catching up after K changes costs O(K), and a start costs a few requests plus one per
10,000 files.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from pryv_server.app import open_catalog
from pryv_server.config import Settings
from pryv_server.config import parse_location
from pryv_server.core import Catalog
from pryv_server.core import Registry
from pryv_server.core import Upload
from pryv_server.core import checkpoints
from pryv_server.core.layout import CHECKPOINT_PARTS_PREFIX
from pryv_server.core.layout import CHECKPOINT_PREFIX
from pryv_server.core.layout import JOURNAL_PREFIX
from pryv_server.core.record_reader import RecordReader
from pryv_server.errors import StorageError
from pryv_server.storage import MemoryStorage
from pryv_server.storage import ObjectInfo
from tests.concurrency import all_at_once
from tests.dists import make_wheel
from tests.records import item
from tests.records import publish
from tests.records import seed
from tests.stores import Clock
from tests.stores import CountingStorage
from tests.stores import s3_catalog


def test_an_idle_instance_makes_one_request_per_index_ttl() -> None:
    records, clock = CountingStorage(), Clock()
    catalog = s3_catalog(records, clock)
    catalog.snapshot()
    records.requests = 0
    for _ in range(200):
        clock.now += 0.25  # fifty seconds of requests: ten index-ttls
        catalog.snapshot()
    assert records.requests == 10


def test_catching_up_after_k_uploads_costs_about_k_requests() -> None:
    records, clock = CountingStorage(), Clock()
    reader = s3_catalog(records, clock)
    writer = Catalog(records, marker=False, checkpoint_every=10_000)
    reader.snapshot()
    for k in range(25):
        publish(records, writer, "demo", f"1.{k}")
    records.requests = 0
    clock.now += 5.0
    assert len(reader.snapshot().by_filename) == 25
    assert records.requests <= 25 + 10  # a listing, a read per entry, maybe a checkpoint


def test_a_cold_start_reads_a_checkpoint_not_every_record() -> None:
    records = CountingStorage()
    seed(records, 25_000)
    first = Catalog(records, marker=False, loaders=1)
    first.snapshot()  # no checkpoint yet: lists and reads every record, once
    for n in range(checkpoints.FOLD_AFTER // 1000):
        publish(records, first, "late", f"2.{n}")
    first.snapshot()  # catching up may take the first checkpoint
    assert any(info.key.startswith(CHECKPOINT_PREFIX) for info in records.list_objects())
    records.requests = 0
    second = Catalog(records, marker=False)
    snapshot = second.snapshot()
    assert len(snapshot.by_filename) == 25_000 + checkpoints.FOLD_AFTER // 1000
    assert records.requests <= 20 + 25_000 // 10_000


def test_uploads_through_four_instances_at_once_lose_nothing_and_converge() -> None:
    records, clock = CountingStorage(), Clock()
    instances = [s3_catalog(records, clock) for _ in range(4)]
    for instance in instances:
        instance.checkpoint_every = 7  # take checkpoints while racing
        instance.snapshot()

    def upload(n: int) -> str:
        return publish(records, instances[n % 4], f"race{n % 5}", f"1.{n}")

    keys = all_at_once(40, upload)
    clock.now += 5.0
    seen = [set(instance.snapshot().packages) for instance in instances]
    assert all(found == set(keys) for found in seen)
    late = Catalog(records, marker=False)
    assert set(late.snapshot().packages) == set(keys)


def test_a_damaged_checkpoint_only_costs_a_full_listing() -> None:
    records = MemoryStorage()
    writer = Catalog(records, checkpoint_every=2)
    for n in range(6):
        publish(records, writer, "demo", f"1.{n}")
        writer.snapshot()
    manifests = [i.key for i in records.list_objects(CHECKPOINT_PREFIX) if i.key.endswith(".json")]
    assert manifests
    for key in manifests:
        records.write(key, io.BytesIO(b"{damaged"), overwrite=True)
    assert len(Catalog(records).snapshot().by_filename) == 6


def test_a_follower_behind_removed_journal_entries_reloads_from_a_checkpoint() -> None:
    records = MemoryStorage()
    writer = Catalog(records, checkpoint_every=2, keep_entries_for=0)
    follower = Catalog(records, ttl=0)
    follower.snapshot()
    for n in range(12):
        publish(records, writer, "demo", f"1.{n}")
        writer.snapshot()
    assert not any(
        info.key.endswith("0000000000000001.json") for info in records.list_objects(JOURNAL_PREFIX)
    )  # covered by checkpoints, removed
    assert len(follower.snapshot().by_filename) == 12


def test_covered_entries_stay_a_while_so_a_follower_a_little_behind_never_reloads() -> None:
    """Under a stream of uploads checkpoints come every few changes: removing the entries they
    cover at once made a lagging worker reload, find its next entries gone again, and fail the
    request (127 of 6,001 uploads of the harness's bulk load answered 500)."""
    records = MemoryStorage()
    writer = Catalog(records, checkpoint_every=2)
    follower = Catalog(records, ttl=0)
    follower.snapshot()
    for n in range(12):
        publish(records, writer, "demo", f"1.{n}")
        writer.snapshot()
    assert any(
        info.key.endswith("0000000000000001.json") for info in records.list_objects(JOURNAL_PREFIX)
    )  # covered by checkpoints, but younger than keep_entries_for
    with patch.object(follower, "_start", side_effect=AssertionError("reloaded")):
        assert len(follower.snapshot().by_filename) == 12


def test_a_yank_replaced_by_another_instance_converges_whatever_the_entry_order(
    tmp_path: Path,
) -> None:
    records, blobs = MemoryStorage(), MemoryStorage()
    one = Registry(records, blobs, Catalog(records, ttl=0))
    two = Registry(records, blobs, Catalog(records, ttl=0))
    wheel = make_wheel(tmp_path, "demo", "1.0")
    with wheel.open("rb") as content:
        one.publish(Upload(wheel.name, content, "alice"))
    one.yank("demo", "1.0", reason="broken build")
    two.yank("demo", "1.0", undo=True)
    one.yank("demo", "1.0", reason="really broken")
    for registry in (one, two, Registry(records, blobs, Catalog(records))):
        release = registry.get_project("demo").release("1.0")
        assert release is not None
        assert release.yanked
        assert release.packages[0].yank.reason == "really broken"


@pytest.mark.parametrize("files", [1, 9_999, 10_001])
def test_checkpoint_parts_hold_at_most_ten_thousand_records(files: int) -> None:
    records = MemoryStorage()
    seed(records, files)
    writer = Catalog(records, checkpoint_every=1)
    writer.snapshot()
    publish(records, writer, "tail", "9.9")
    writer.snapshot()
    loaded = checkpoints.Checkpoints(records).load(checkpoints.Checkpoints(records).newest() or 0)
    assert len(loaded.manifest.base) == max(1, -(-(files + 1) // checkpoints.PART_RECORDS))
    assert len(loaded.objects) == files + 1


def test_records_load_in_parallel_with_the_same_result() -> None:
    class SlowReads(MemoryStorage):
        def __init__(self) -> None:
            super().__init__()
            self.active = self.most = 0
            self._count = threading.Lock()

        def read(self, key: str) -> bytes:
            with self._count:
                self.active += 1
                self.most = max(self.most, self.active)
            try:
                time.sleep(0.005)
                return super().read(key)
            finally:
                with self._count:
                    self.active -= 1

    records = SlowReads()
    seed(records, 24)
    serial = Catalog(records, loaders=1).snapshot()
    assert records.most == 1
    parallel = Catalog(records, loaders=8).snapshot()
    assert records.most > 1
    assert dict(parallel.packages) == dict(serial.packages)
    assert len(parallel.packages) == 24


def test_local_catalog_keeps_its_marker_and_ttl() -> None:
    settings = Settings(
        projects_path=parse_location("/tmp/p"),
        packages_path=parse_location("/tmp/b"),
        users_path=parse_location("/tmp/u.json"),
        index_ttl=7.0,
    )
    catalog = open_catalog(MemoryStorage(), settings)
    assert (catalog.check_interval, catalog.ttl, catalog.marker, catalog.loaders) == (
        0.0,
        7.0,
        True,
        1,
    )


def test_an_upload_that_died_before_its_journal_entry_is_journaled_by_its_retry(
    tmp_path: Path,
) -> None:
    class NoJournal(MemoryStorage):
        broken = True

        def write(self, key, data, *, overwrite=False, durable=True):  # type: ignore[no-untyped-def]
            if self.broken and key.startswith(JOURNAL_PREFIX):
                raise StorageError("the instance died here")
            return super().write(key, data, overwrite=overwrite, durable=durable)

    records, blobs = NoJournal(), MemoryStorage()
    wheel = make_wheel(tmp_path, "demo", "1.0")
    registry = Registry(records, blobs, Catalog(records))
    other = Catalog(records, ttl=0)  # another instance, already running
    other.snapshot()
    with wheel.open("rb") as content, pytest.raises(StorageError):
        registry.publish(Upload(wheel.name, content, "alice"))  # never acknowledged
    assert dict(other.snapshot().packages) == {}
    records.broken = False
    retry = Registry(records, blobs, Catalog(records))  # the client retries, maybe elsewhere
    with wheel.open("rb") as content:
        assert not retry.publish(Upload(wheel.name, content, "alice")).created
    assert [p.filename for p in other.snapshot().packages.values()] == [wheel.name]


def test_checkpoints_stay_few_and_cheap_while_the_registry_grows() -> None:
    """Deltas merge as they age: 2,000 uploads leave a few deltas (without merging, 399), and
    each record is written about nine times on its way into larger ones (one delta for
    everything since the base rewrote about 200 records per upload)."""

    class PartBytes(MemoryStorage):
        written = 0

        def write(self, key, data, *, overwrite=False, durable=True):  # type: ignore[no-untyped-def]
            info = super().write(key, data, overwrite=overwrite, durable=durable)
            if key.startswith("_checkpoint-parts/"):
                PartBytes.written += info.size
            return info

    records = PartBytes()
    writer = Catalog(records, checkpoint_every=5)
    writer.snapshot()
    for n in range(2000):
        publish(records, writer, f"p{n % 40}", f"1.{n}")
        writer.snapshot()
    newest = checkpoints.Checkpoints(records).newest()
    assert newest is not None
    loaded = checkpoints.Checkpoints(records).load(newest)
    assert len(loaded.manifest.deltas) <= 8
    assert len(loaded.objects) >= 1995
    one_record = len(json.dumps(item("p1", "1.1").to_json()))
    assert PartBytes.written < 2000 * one_record * 12


def test_an_instance_started_by_listing_never_builds_on_an_older_checkpoint() -> None:
    """Its fresh keys start at its own start: a delta on an older checkpoint would lose the
    uploads made between that checkpoint and the start."""
    records = MemoryStorage()
    early = Catalog(records, checkpoint_every=2)
    for n in range(4):
        publish(records, early, "demo", f"1.{n}")
        early.snapshot()  # checkpoints at 2 and 4
    for n in range(4, 7):
        publish(records, Catalog(records, checkpoint_every=10_000), "demo", f"1.{n}")
    late = Catalog(records, checkpoint_every=2)
    with patch.object(checkpoints.Checkpoints, "load", side_effect=ValueError("damaged")):
        late.snapshot()  # the checkpoint cannot be read: it lists every record
    for n in range(7, 9):
        publish(records, late, "demo", f"1.{n}")
        late.snapshot()  # its own checkpoint must not be a delta on checkpoint 4
    assert len(Catalog(records).snapshot().by_filename) == 9


def test_own_changes_after_a_checkpoint_survive_a_reload_from_it() -> None:
    """A process that falls behind reloads from a checkpoint: its own later uploads, which that
    checkpoint does not hold, must be read again from the journal, not skipped as already seen."""
    records = MemoryStorage()
    writer = Catalog(records, checkpoint_every=2)
    laggard = Catalog(records, ttl=0, checkpoint_every=10_000)
    laggard.snapshot()
    for n in range(10):
        publish(records, writer, "demo", f"1.{n}")
        writer.snapshot()  # checkpoints, and the entries they cover are removed
    publish(records, laggard, "mine", "1.0")  # after the newest checkpoint
    found = laggard.snapshot().by_filename  # a gap: it reloads from the newest checkpoint
    assert "mine-1.0-py3-none-any.whl" in found
    assert len(found) == 11


def test_a_checkpoint_lists_the_checkpoints_twice_and_rereads_no_manifest_it_wrote() -> None:
    """One listing to find the newest checkpoint, one to collect the old ones; the manifest just
    written is not read back (it is known). Before: three listings and one more read."""

    class Calls(CountingStorage):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple[str, str]] = []

        def read(self, key: str) -> bytes:
            self.calls.append(("read", key))
            return super().read(key)

        def list_objects(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
            self.calls.append(("list", prefix))
            return super().list_objects(prefix, start_after=start_after)

    records = Calls()
    writer = Catalog(records, checkpoint_every=1)
    writer.snapshot()
    for n in range(4):  # enough checkpoints that collecting removes some
        publish(records, writer, "p", f"1.{n}")
        writer.snapshot()
    records.calls.clear()
    publish(records, writer, "p", "2.0")
    writer.snapshot()
    newest = checkpoints.Checkpoints(records).newest()
    listings = [call for call in records.calls if call == ("list", checkpoints.CHECKPOINT_PREFIX)]
    # the two of the checkpoint, the append's (a probed number above every checkpoint was never
    # removed), and this test's newest()
    assert len(listings) == 4
    assert ("read", checkpoints.checkpoint_key(newest or 0)) not in records.calls


def test_a_follower_reads_another_instances_deltas_only_when_its_own_checkpoint_is_due() -> None:
    """While the writer keeps checkpoints recent, a follower's checkpoint turn reads the newest
    manifest only (one request). Before, each turn read every delta part of it: up to seven
    more requests, and 29 ms of JSON at 6,000 changes."""

    class Reads(CountingStorage):
        def __init__(self) -> None:
            super().__init__()
            self.parts_read = 0

        def read(self, key: str) -> bytes:
            if key.startswith(CHECKPOINT_PARTS_PREFIX):
                self.parts_read += 1
            return super().read(key)

    records, clock = Reads(), Clock()
    writer, follower = s3_catalog(records, clock), s3_catalog(records, clock)
    writer.snapshot()
    follower.snapshot()
    for n in range(40):
        publish(records, writer, f"p{n}", "1.0")
        writer.snapshot()  # the writer takes a checkpoint every 5 entries
        clock.now += 5
        follower.snapshot()  # catches up; its own checkpoint turn finds the writer's, recent
    assert len(follower.snapshot().packages) == 40
    assert records.parts_read == 0


class PartReads(CountingStorage):
    """Counts the checkpoint parts read, by key."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def read(self, key: str) -> bytes:
        if key.startswith(CHECKPOINT_PARTS_PREFIX):
            self.parts.append(key)
        return super().read(key)


def test_a_follower_behind_removed_entries_reads_only_the_new_deltas_over_the_same_base() -> None:
    """Catching up must cost O(changes), never the whole catalog again: at 1,000,000 files an
    instance nobody asked for a while read all 100 base parts (109 requests for 16 uploads)."""
    records = PartReads()
    seed(records, 40)
    writer = Catalog(records, marker=False, checkpoint_every=2, keep_entries_for=0)
    with patch.object(checkpoints, "PART_RECORDS", 5):
        writer.snapshot()
        for n in range(2):
            publish(records, writer, "early", f"1.{n}")
        writer.snapshot()  # the first checkpoint: a base of 9 parts
        follower = Catalog(records, marker=False, ttl=0, checkpoint_every=10_000)
        follower.snapshot()  # starts from it
        for n in range(12):
            publish(records, writer, "late", f"1.{n}")
            writer.snapshot()  # checkpoints; the entries they cover are removed at once
        newest = checkpoints.Checkpoints(records).load(
            checkpoints.Checkpoints(records).newest() or 0, base=False
        )
        assert len(newest.manifest.base) == 9
        records.parts.clear()
        found = follower.snapshot().by_filename  # a gap: the entries after its own are gone
    assert set(found) == set(writer.snapshot().by_filename)
    assert len(found) == 40 + 2 + 12
    base_reads = [part for part in records.parts if part in newest.manifest.base]
    assert not base_reads, f"read {len(base_reads)} base parts it already held"


def test_a_start_decodes_each_checkpoint_part_before_reading_the_next() -> None:
    """Only one part's JSON objects may be alive at a time: holding every part's until all were
    read left a 60,000-file start 110 MB of freed but fragmented heap (RSS 313 -> 204 MB)."""
    records = PartReads()
    seed(records, 40)
    writer = Catalog(records, checkpoint_every=1)
    with patch.object(checkpoints, "PART_RECORDS", 5):
        writer.snapshot()
        publish(records, writer, "tail", "9.9")
        writer.snapshot()  # a checkpoint of 9 base parts
        events: list[str] = []
        real_decode = RecordReader.decode_all

        def decode_all(reader: RecordReader, objects: Any, kept: Any) -> Any:
            events.append(f"decoded after {len(records.parts)} parts read")
            return real_decode(reader, objects, kept)

        records.parts.clear()
        with patch.object(RecordReader, "decode_all", decode_all):
            found = Catalog(records).snapshot().by_filename
    assert len(found) == 41
    assert len(records.parts) >= 9
    assert events == [f"decoded after {n} parts read" for n in range(1, len(records.parts) + 1)]


def test_instances_racing_for_one_checkpoint_write_it_once() -> None:
    """Every instance that finds the checkpoint stale tries to take it; the create-if-absent claim
    lets exactly one write its parts and manifest, the others return None and write nothing."""
    records = MemoryStorage()
    seed(records, 50)
    keys = [info.key for info in records.list_objects() if not info.key.startswith("_")]

    def take(_: int) -> checkpoints.Manifest | None:
        return checkpoints.Checkpoints(records).write(
            7, previous=None, fresh=set(keys), keys=lambda: keys, object_of=lambda key: {"k": key}
        )

    written = all_at_once(8, take)
    assert sum(manifest is not None for manifest in written) == 1
    manifests = list(records.list_objects(CHECKPOINT_PREFIX))
    assert [info.key for info in manifests if info.key.endswith(".json")] == [
        checkpoints.checkpoint_key(7)
    ]
    parts = list(records.list_objects(CHECKPOINT_PARTS_PREFIX))
    assert len(parts) == 1
