"""The index as app.py builds it for S3: the marker is checked once per index-ttl, not per request."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from pryv_server.app import REMOTE_RELIST_SECONDS
from pryv_server.app import open_catalog
from pryv_server.config import Settings
from pryv_server.config import parse_location
from pryv_server.core import Catalog
from pryv_server.core import Registry
from pryv_server.core import Upload
from pryv_server.core.layout import GENERATION_KEY
from pryv_server.storage import MemoryStorage
from pryv_server.storage import ObjectInfo
from tests.dists import make_wheel


class CountingStorage(MemoryStorage):
    """MemoryStorage that counts the calls an S3 store would pay a request for."""

    def __init__(self) -> None:
        super().__init__()
        self.stats = 0
        self.lists = 0

    def stat(self, key: str) -> ObjectInfo:
        self.stats += 1
        return super().stat(key)

    def list_objects(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self.lists += 1
        return super().list_objects(prefix)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def s3_index(records: CountingStorage, ttl: float, clock: Clock):  # type: ignore[no-untyped-def]
    settings = Settings(
        projects_path=parse_location("s3://bucket/projects"),
        packages_path=parse_location("s3://bucket/packages"),
        users_path=parse_location("s3://bucket/users.json"),
        index_ttl=ttl,
    )
    index = open_catalog(records, settings)
    index._clock = clock  # the test drives time
    return index


def test_s3_index_checks_the_marker_once_per_ttl_and_relists_only_on_change() -> None:
    records, clock = CountingStorage(), Clock()
    index = s3_index(records, 5.0, clock)
    assert (index.check_interval, index.ttl) == (5.0, REMOTE_RELIST_SECONDS)
    assert index.loaders > 1
    index.snapshot()
    assert (records.stats, records.lists) == (1, 1)
    for _ in range(100):
        clock.now += 0.03  # three seconds of requests
        index.snapshot()
    assert (records.stats, records.lists) == (1, 1)
    clock.now += 2.5
    index.snapshot()  # the marker did not move: one HEAD, no relist
    assert (records.stats, records.lists) == (2, 1)
    records.write(GENERATION_KEY, io.BytesIO(b"another instance published"), overwrite=True)
    clock.now += 5.0
    index.snapshot()
    assert (records.stats, records.lists) == (3, 2)
    clock.now += REMOTE_RELIST_SECONDS
    index.snapshot()  # the safety net: a full relist even without a marker change
    assert (records.stats, records.lists) == (4, 3)


def test_local_index_is_unchanged() -> None:
    settings = Settings(
        projects_path=parse_location("/tmp/p"),
        packages_path=parse_location("/tmp/b"),
        users_path=parse_location("/tmp/u.json"),
        index_ttl=7.0,
    )
    index = open_catalog(MemoryStorage(), settings)
    assert (index.check_interval, index.ttl, index.loaders) == (0.0, 7.0, 1)


class SlowReads(MemoryStorage):
    """MemoryStorage whose reads take a while, recording how many overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.active = 0
        self.most = 0
        self._count_lock = threading.Lock()

    def read(self, key: str) -> bytes:
        with self._count_lock:
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            time.sleep(0.01)
            return super().read(key)
        finally:
            with self._count_lock:
                self.active -= 1


def test_index_loads_records_in_parallel_with_the_same_result(tmp_path: Path) -> None:
    records = SlowReads()
    registry = Registry(records, MemoryStorage(), Catalog(records))
    for n in range(24):
        wheel = make_wheel(tmp_path, "many", f"1.{n}")
        with wheel.open("rb") as content:
            registry.publish(Upload(wheel.name, content, "alice"))
    serial = Catalog(records, loaders=1).snapshot()
    assert records.most == 1
    parallel = Catalog(records, loaders=8).snapshot()
    assert records.most > 1
    assert dict(parallel.packages) == dict(serial.packages)
    assert len(parallel.packages) == 24
