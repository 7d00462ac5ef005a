"""``pryv gc``: what it collects, what it spares, and why an upload in flight survives it."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import IO

import pytest

from pryv_server.core import gc
from pryv_server.core import layout
from pryv_server.core.catalog import Catalog
from pryv_server.core.publish import Upload
from pryv_server.core.registry import Registry
from pryv_server.errors import ObjectExists
from pryv_server.storage import MemoryStorage
from pryv_server.storage.base import ObjectInfo
from tests.attestations import attestation_of
from tests.dists import make_wheel

MARGIN = 3600.0
ORPHAN = layout.blob_key("ab" * 32, "lost-1.0-py3-none-any.whl")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def build(clock: Clock, blobs: MemoryStorage | None = None) -> Registry:
    records = MemoryStorage(clock=clock)
    return Registry(records, blobs or MemoryStorage(clock=clock), Catalog(records, ttl=0))


def publish(registry: Registry, path: Path) -> None:
    with path.open("rb") as content:
        registry.publish(Upload(path.name, content, "alice"))


def collect(registry: Registry, clock: Clock, **options: bool) -> gc.Collected:
    return gc.collect(
        registry.records, registry.blobs, registry.catalog, margin=MARGIN, clock=clock, **options
    )


def stored(storage: MemoryStorage) -> set[str]:
    return {info.key for info in storage.list_objects()}


def test_gc_frees_old_orphans_only(clock: Clock, tmp_path: Path) -> None:
    registry = build(clock)
    registry.blobs.write(ORPHAN, io.BytesIO(b"crashed upload"))
    publish(registry, make_wheel(tmp_path, "demo", "1.0", description="# Demo"))
    kept = stored(registry.blobs) - {ORPHAN}
    assert len(kept) == 3  # the wheel, its metadata, its rendered description

    clock.now += MARGIN - 1
    young = collect(registry, clock)
    assert (young.freed, young.spared_young) == ([], 1)

    clock.now += 2
    assert collect(registry, clock, dry_run=True).freed == [("packages", ORPHAN, 14)]
    assert ORPHAN in stored(registry.blobs)
    report = collect(registry, clock)
    assert report.freed == [("packages", ORPHAN, 14)]
    assert report.freed_bytes == 14
    assert stored(registry.blobs) == kept
    assert collect(registry, clock).freed == []


def test_gc_collects_what_a_half_done_deletion_left(clock: Clock, tmp_path: Path) -> None:
    registry = build(clock)
    wheel = make_wheel(tmp_path, "demo", "1.0")
    publish(registry, wheel)
    (record_key,) = [k for k in stored(registry.records) if layout.is_record_key(k)]
    record = registry.records.read(record_key)
    registry.lifecycle.delete("demo", "1.0", reason="leak")
    registry.records.write(record_key, io.BytesIO(record))  # as if the deletion had crashed
    package = json.loads(record)
    registry.blobs.write(package["blob_key"], io.BytesIO(wheel.read_bytes()))
    clock.now += MARGIN + 1
    report = collect(registry, clock)
    assert ("projects", record_key, 0) in report.freed
    assert ("packages", package["blob_key"], wheel.stat().st_size) in report.freed
    assert record_key not in stored(registry.records)


def test_gc_spares_an_object_rewritten_after_it_was_listed(clock: Clock) -> None:
    blobs = MemoryStorage(clock=clock)
    listed = blobs.write(ORPHAN, io.BytesIO(b"old"))
    blobs.write(ORPHAN, io.BytesIO(b"repaired"), overwrite=True)
    assert not gc._delete_if_unchanged(blobs, listed)
    assert blobs.read(ORPHAN) == b"repaired"
    assert not gc._delete_if_unchanged(blobs, ObjectInfo("gone", 1, "v"))


class CollectedAtTheWrongInstant(MemoryStorage):
    """A store where ``gc`` removes an existing orphan right after an upload found it there."""

    def write(
        self, key: str, data: IO[bytes], *, overwrite: bool = False, durable: bool = True
    ) -> ObjectInfo:
        try:
            return super().write(key, data, overwrite=overwrite, durable=durable)
        except ObjectExists:
            self.delete(key)
            raise


def test_an_upload_restores_a_blob_collected_while_it_committed(
    clock: Clock, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0")
    key = layout.blob_key(hashlib.sha256(wheel.read_bytes()).hexdigest(), wheel.name)
    blobs = CollectedAtTheWrongInstant(clock=clock)
    blobs.write(key, io.BytesIO(wheel.read_bytes()))  # an old orphan of this very file
    registry = build(clock, blobs)
    publish(registry, wheel)
    assert blobs.read(key) == wheel.read_bytes()


def test_gc_keeps_a_visible_files_provenance_and_frees_an_orphan_one(
    clock: Clock, tmp_path: Path
) -> None:
    """PEP 740: a file's provenance object is referenced by its record; a lost one is not."""
    registry = build(clock)
    wheel = make_wheel(tmp_path, "demo", "1.0")
    with wheel.open("rb") as content:
        field = json.dumps([attestation_of(wheel)])
        registry.publish(Upload(wheel.name, content, "alice", attestations=field))
    kept = {key for key in stored(registry.blobs) if "/provenance-" in key}
    lost = layout.provenance_key("cd" * 32, "ef" * 32)
    registry.blobs.write(lost, io.BytesIO(b"{}"), overwrite=False)
    clock.now += MARGIN + 1
    report = collect(registry, clock)
    assert [key for _, key, _ in report.freed] == [lost]
    assert len(kept) == 1
    assert kept <= stored(registry.blobs)
