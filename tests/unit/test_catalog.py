"""Correctness of the catalog: other writers seen through the journal, stale entries, bad records."""

from __future__ import annotations

import io
import json

import pytest

from pryv_server.core.catalog import Catalog
from pryv_server.core.catalog import Snapshot
from pryv_server.core.layout import GENERATION_KEY
from pryv_server.core.layout import record_key
from pryv_server.storage import MemoryStorage
from tests.records import package


class CountingStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def stat(self, key):
        self.calls.append(f"stat {key}")
        return super().stat(key)

    def list_objects(self, prefix="", *, start_after=""):
        self.calls.append("list")
        return super().list_objects(prefix, start_after=start_after)

    def read(self, key):
        self.calls.append(f"read {key}")
        return super().read(key)


def put(storage: MemoryStorage, version: str, *, journal: bool = True) -> str:
    """Write a record as another process's publish does (record, then journal entry, marker)."""
    item = package(version)
    key = record_key(item.project, item.identity)
    storage.write(key, io.BytesIO(json.dumps(item.to_json()).encode()))
    if journal:
        Catalog(storage).published(key, item)
    return key


def filenames(index: Catalog) -> list[str]:
    return sorted(index.snapshot().by_filename)


def test_warm_requests_within_ttl_make_no_storage_calls() -> None:
    storage = CountingStorage()
    put(storage, "1.0")
    now = [0.0]
    index = Catalog(storage, ttl=5, check_interval=5, clock=lambda: now[0])
    assert filenames(index) == ["demo-1.0-py3-none-any.whl"]
    storage.calls.clear()
    for tick in range(10):
        now[0] = tick * 0.4
        index.snapshot()
    assert storage.calls == []


def test_another_writer_is_seen_through_the_generation_marker() -> None:
    storage = CountingStorage()
    put(storage, "1.0")
    now = [0.0]
    index = Catalog(storage, ttl=60, check_interval=0, clock=lambda: now[0])
    assert len(filenames(index)) == 1
    put(storage, "2.0")
    now[0] = 1
    assert filenames(index) == ["demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl"]


def test_an_entry_without_a_marker_change_is_read_within_ttl() -> None:
    storage = CountingStorage()
    put(storage, "1.0")
    now = [0.0]
    index = Catalog(storage, ttl=10, check_interval=0, clock=lambda: now[0])
    index.snapshot()
    item = package("2.0")
    key = record_key(item.project, item.identity)
    storage.write(key, io.BytesIO(json.dumps(item.to_json()).encode()))
    Catalog(storage, marker=False).published(key, item)  # journaled, but the marker stays
    now[0] = 5
    assert len(filenames(index)) == 1
    now[0] = 11
    assert len(filenames(index)) == 2


def test_a_record_written_without_a_journal_entry_is_not_served() -> None:
    """Only journaled changes count: an upload that died before its entry was never acknowledged."""
    storage = CountingStorage()
    put(storage, "1.0")
    index = Catalog(storage, ttl=0, check_interval=0)
    index.snapshot()
    put(storage, "2.0", journal=False)
    assert filenames(index) == ["demo-1.0-py3-none-any.whl"]


def test_catching_up_reads_only_the_journal_and_drops_deleted_records() -> None:
    storage = CountingStorage()
    first = put(storage, "1.0")
    now = [0.0]
    index = Catalog(storage, ttl=60, check_interval=0, clock=lambda: now[0])
    index.snapshot()
    put(storage, "2.0")
    storage.calls.clear()
    now[0] = 1
    assert len(filenames(index)) == 2
    reads = [call for call in storage.calls if call.startswith("read")]
    # the record came inline; the entry after it is probed (missing: nothing more to read)
    assert reads == ["read _journal/0000000000000002.json", "read _journal/0000000000000003.json"]
    storage.delete(first)
    Catalog(storage).changed(first)
    now[0] = 2
    assert filenames(index) == ["demo-2.0-py3-none-any.whl"]


def test_unreadable_records_are_skipped_not_fatal() -> None:
    storage = MemoryStorage()
    put(storage, "1.0")
    storage.write("demo/broken.json", io.BytesIO(b"{not json"))
    storage.write("demo/other-schema.json", io.BytesIO(b'{"schema": 99}'))
    index = Catalog(storage, ttl=60)
    assert filenames(index) == ["demo-1.0-py3-none-any.whl"]


def test_published_makes_own_publish_visible_at_once() -> None:
    storage = MemoryStorage()
    index = Catalog(storage, ttl=60, check_interval=60)
    assert filenames(index) == []
    item = package("3.0")
    index.published("demo/x.json", item)
    assert filenames(index) == ["demo-3.0-py3-none-any.whl"]
    assert index.snapshot().project("demo").latest.version.public == "3.0"


def test_adding_a_package_equals_rebuilding_the_snapshot() -> None:
    """The incremental path after a local publish must give exactly what a full build gives."""
    from pryv_server.core.catalog import Snapshot
    from pryv_server.core.layout import release_yank_key
    from pryv_server.core.overlays import YankState

    first, second, third = package("1.0"), package("2.0"), package("3.0")
    a, b, c = (record_key(item.project, item.identity) for item in (first, second, third))
    overlays = {
        release_yank_key("demo", "2.0"): YankState(yanked=True, reason="bad", user="u", time="t")
    }
    base = Snapshot.build(1, {a: first, b: second}, overlays)
    grown = base.with_changes({c: third})
    rebuilt = Snapshot.build(2, {a: first, b: second, c: third}, overlays)
    assert grown.generation == 2
    assert dict(grown.packages) == dict(rebuilt.packages)
    assert {k: sorted(v, key=lambda p: p.filename) for k, v in grown.by_project.items()} == {
        k: sorted(v, key=lambda p: p.filename) for k, v in rebuilt.by_project.items()
    }
    assert grown.by_filename == rebuilt.by_filename
    assert grown.by_filename["demo-2.0-py3-none-any.whl"].yanked
    assert grown.project("demo").latest.version.public == "3.0"
    assert base.project("demo").latest.version.public == "1.0"  # the old snapshot is unchanged


def test_a_build_applies_overlays_only_to_the_projects_they_name() -> None:
    """One yank anywhere made every file of a start look up its own yank and backfill."""
    from unittest.mock import patch

    from pryv_server.core import snapshot
    from pryv_server.core.layout import release_yank_key
    from pryv_server.core.layout import tombstone_key
    from pryv_server.core.overlays import Tombstone
    from pryv_server.core.overlays import YankState
    from tests.records import item

    files = [item("demo", "1.0"), item("gone", "1.0"), *(item(f"p{n}", "1.0") for n in range(50))]
    keys = {record_key(file.project, file.identity): file for file in files}
    gone = record_key(files[1].project, files[1].identity)
    overlays = {
        release_yank_key("demo", "1.0"): YankState(yanked=True, reason="bad", user="u", time="t"),
        tombstone_key("gone", files[1].identity): Tombstone(files[1].filename, "0", "k", None),
    }
    assert tombstone_key("gone", files[1].identity).endswith(gone)
    with patch.object(snapshot, "apply", wraps=snapshot.apply) as applied:
        built = Snapshot.build(1, keys, overlays)
    assert applied.call_count == 1  # demo's file: the others' projects have no overlay
    assert built.by_filename[files[0].filename].yanked
    assert "gone" not in built.by_project
    assert len(built.by_project) == 51


def test_workers_sharing_a_signal_see_each_others_uploads_at_once() -> None:
    """Records on S3 are checked every index-ttl, but the workers of one server tell each other."""
    records, signal = CountingStorage(), MemoryStorage()
    now = [0.0]
    worker_a = Catalog(records, ttl=300, check_interval=5, clock=lambda: now[0], signal=signal)
    worker_b = Catalog(records, ttl=300, check_interval=5, clock=lambda: now[0], signal=signal)
    assert filenames(worker_a) == filenames(worker_b) == []
    item = package("1.0")
    key = record_key(item.project, item.identity)
    records.write(key, io.BytesIO(json.dumps(item.to_json()).encode()))
    worker_a.published(key, item)
    now[0] = 0.1  # far less than check_interval
    assert filenames(worker_b) == ["demo-1.0-py3-none-any.whl"]
    records.calls.clear()
    now[0] = 0.2
    worker_b.snapshot()
    assert records.calls == []  # no new signal: no storage call within check_interval


def test_without_a_signal_other_workers_wait_for_check_interval() -> None:
    records = CountingStorage()
    now = [0.0]
    worker_b = Catalog(records, ttl=300, check_interval=5, clock=lambda: now[0])
    assert filenames(worker_b) == []
    put(records, "1.0")
    now[0] = 1
    assert filenames(worker_b) == []
    now[0] = 6
    assert filenames(worker_b) == ["demo-1.0-py3-none-any.whl"]


class GatedStorage(MemoryStorage):
    """A store whose listings and reads wait for a gate, to hold one thread inside a catch-up."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def list_objects(self, prefix="", *, start_after=""):
        self.entered.set()
        self.gate.wait(timeout=10)
        return super().list_objects(prefix, start_after=start_after)

    def read(self, key: str) -> bytes:
        self.entered.set()
        self.gate.wait(timeout=10)
        return super().read(key)


def test_a_request_during_another_threads_relist_waits_for_it() -> None:
    """A yank or upload made before a request must be served, even while another thread relists."""
    import threading

    records = GatedStorage()
    put(records, "1.0")
    index = Catalog(records, ttl=60, check_interval=0)
    assert filenames(index) == ["demo-1.0-py3-none-any.whl"]
    put(records, "2.0")
    records.entered.clear()
    records.gate.clear()
    first = threading.Thread(target=index.snapshot)
    first.start()
    assert records.entered.wait(timeout=10)  # the first thread is inside its relist
    seen: list[list[str]] = []
    second = threading.Thread(target=lambda: seen.append(filenames(index)))
    second.start()
    second.join(timeout=0.2)
    assert second.is_alive()  # waiting for the relist, not serving the old snapshot
    records.gate.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert seen == [["demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl"]]


def test_an_unchanged_marker_is_checked_without_waiting_for_the_lock() -> None:
    """Warm requests of one worker's threads must not queue behind each other's marker check."""
    records = CountingStorage()
    put(records, "1.0")
    index = Catalog(records, ttl=60, check_interval=0)
    assert filenames(index) == ["demo-1.0-py3-none-any.whl"]
    records.calls.clear()
    import threading

    seen: list[list[str]] = []
    with index._lock:  # as if another thread were inside a refresh
        reader = threading.Thread(target=lambda: seen.append(filenames(index)), daemon=True)
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the request waited for the lock"
    assert seen == [["demo-1.0-py3-none-any.whl"]]
    assert records.calls == [f"stat {GENERATION_KEY}"]


def _other(version: str, project: str = "other"):
    from dataclasses import replace

    item = package(version)
    filename = f"{project}-{version}-py3-none-any.whl"
    return replace(item, project=project, filename=filename, identity=filename)


def test_an_upload_keeps_the_projects_of_every_other_project() -> None:
    """A project is assembled again only when its own files change (pages: tests/unit/test_pages)."""
    records = MemoryStorage()
    put(records, "1.0")
    other = _other("1.0")
    records.write(
        record_key("other", other.identity), io.BytesIO(json.dumps(other.to_json()).encode())
    )
    index = Catalog(records, ttl=60, check_interval=0)
    first = index.snapshot()
    assembled, demo = first.project("other"), first.project("demo")

    item = package("2.0")  # this process publishes
    key = record_key(item.project, item.identity)
    records.write(key, io.BytesIO(json.dumps(item.to_json()).encode()))
    index.published(key, item)
    second = index.snapshot()
    assert second.project("other") is assembled
    assert second.project("demo") is not demo  # its own project changed
    assert second.by_project["other"] is first.by_project["other"]

    put(records, "3.0")  # another worker publishes: this one reads its journal entry
    third = index.snapshot()
    assert len(third.by_project["demo"]) == 3
    assert third.project("other") is assembled


def test_records_read_again_in_one_catch_up_keep_their_own_keys() -> None:
    """Several overlays changed in one batch: each value must land on its own key."""
    from pryv_server.core.layout import file_yank_key
    from pryv_server.core.layout import release_yank_key
    from pryv_server.core.overlays import YankState
    from pryv_server.core.overlays import encode

    storage = MemoryStorage()
    from dataclasses import replace

    wheel = package("1.0")
    sdist = replace(wheel, filename="demo-1.0.tar.gz", identity="demo-1.0.tar.gz", kind="sdist")
    for item in (wheel, sdist):
        storage.write(
            record_key(item.project, item.identity), io.BytesIO(json.dumps(item.to_json()).encode())
        )
    index = Catalog(storage, ttl=0)
    index.snapshot()
    writer = Catalog(storage)
    keys = [
        release_yank_key("demo", "1.0"),
        file_yank_key("demo", "1.0", wheel.identity),
        file_yank_key("demo", "1.0", sdist.identity),
    ]
    states = [
        YankState(yanked=True, reason="release"),
        YankState(yanked=True, reason="wheel only"),
        YankState(yanked=False),
    ]
    for key, state in zip(keys, states, strict=True):
        storage.write(key, io.BytesIO(encode(state)))
    writer.changed(*keys)
    found = index.snapshot().by_filename
    assert found[wheel.filename].yanked_reason == "wheel only"
    assert not found[sdist.filename].yanked


def test_side_records_change_only_when_an_entry_names_one_of_their_keys() -> None:
    """API tokens are parsed again on a token change, not after every upload."""
    storage = MemoryStorage()
    follower = Catalog(storage, ttl=0)
    follower.watch("_tokens/")
    seen = follower.side("_tokens/")
    put(storage, "1.0")  # an upload elsewhere
    follower.snapshot()
    assert follower.side("_tokens/") is seen
    storage.write("_tokens/abc.json", io.BytesIO(b'{"id": "abc"}'))
    writer = Catalog(storage)
    writer.watch("_tokens/")
    writer.changed("_tokens/abc.json")  # a token created elsewhere
    assert follower.side("_tokens/", fresh=True) == {"_tokens/abc.json": {"id": "abc"}}
    storage.delete("_tokens/abc.json")
    writer.changed("_tokens/abc.json")
    assert follower.side("_tokens/", fresh=True) == {}


def test_a_prefix_watched_after_the_catalog_started_is_refused() -> None:
    catalog = Catalog(MemoryStorage())
    catalog.watch("_roles/")
    catalog.snapshot()
    catalog.watch("_roles/")  # already kept: nothing to do
    with pytest.raises(RuntimeError, match=r"watch '_tokens/' before its first snapshot"):
        catalog.watch("_tokens/")
