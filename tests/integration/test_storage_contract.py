"""One behavioural suite, run unchanged against every Storage implementation."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pryv_server.errors import ObjectChanged
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage import LocalStorage
from pryv_server.storage import MemoryStorage
from pryv_server.storage import Storage
from tests.concurrency import all_at_once


@pytest.fixture(params=["memory", "local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "memory":
        yield MemoryStorage()
    elif request.param == "s3":
        from pryv_server.storage.s3 import S3Storage
        from pryv_server.storage.s3_client import ClientProvider

        s3 = request.getfixturevalue("s3")
        yield S3Storage(s3.bucket, "store", clients=ClientProvider())
    else:
        yield LocalStorage(tmp_path / "store")


def test_round_trip_and_stat(storage: Storage) -> None:
    info = storage.write("a/b/c.txt", io.BytesIO(b"hello"))
    assert (info.key, info.size) == ("a/b/c.txt", 5)
    assert storage.read("a/b/c.txt") == b"hello"
    with storage.open("a/b/c.txt") as stream:
        assert stream.read() == b"hello"
    assert storage.stat("a/b/c.txt") == info


def test_stat_and_listing_say_when_an_object_was_written(storage: Storage) -> None:
    """``pryv gc`` spares young objects by this time; S3's has a one-second resolution."""
    before = time.time()
    storage.write("when/k", io.BytesIO(b"x"))
    (listed,) = storage.list_objects("when/")
    for info in (storage.stat("when/k"), listed):
        assert before - 2 <= info.modified <= time.time() + 2


def test_create_if_absent_refuses_existing_key(storage: Storage) -> None:
    storage.write("k", io.BytesIO(b"first"))
    with pytest.raises(ObjectExists):
        storage.write("k", io.BytesIO(b"second"))
    assert storage.read("k") == b"first"


def test_overwrite_replaces_and_changes_version(storage: Storage) -> None:
    first = storage.write("k", io.BytesIO(b"first"))
    second = storage.write("k", io.BytesIO(b"other"), overwrite=True)
    assert storage.read("k") == b"other"
    assert first.version != second.version


def test_exactly_one_concurrent_creator_wins(storage: Storage) -> None:
    def contend(n: int) -> str:
        try:
            storage.write("race", io.BytesIO(f"writer {n}".encode() * 1000))
        except ObjectExists:
            return "lost"
        return f"won {n}"

    outcomes = all_at_once(16, contend)
    winners = [outcome for outcome in outcomes if outcome.startswith("won")]
    assert len(winners) == 1
    assert storage.read("race") == f"writer {winners[0].split()[1]}".encode() * 1000


def test_replace_writes_only_over_the_version_it_was_based_on(storage: Storage) -> None:
    first = storage.replace("doc", b"one", version=None)
    with pytest.raises(ObjectChanged):
        storage.replace("doc", b"again", version=None)  # it exists now
    second = storage.replace("doc", b"two", version=first.version)
    assert storage.read("doc") == b"two"
    with pytest.raises(ObjectChanged):
        storage.replace("doc", b"stale", version=first.version)
    assert storage.read("doc") == b"two"
    assert storage.stat("doc").version == second.version
    storage.delete("doc")
    with pytest.raises(ObjectChanged):
        storage.replace("doc", b"gone", version=second.version)


def test_read_change_replace_loses_no_update(storage: Storage) -> None:
    """Sixteen writers add one line each to a shared document, retrying when they lose."""
    storage.replace("lines", b"", version=None)

    def add_line(n: int) -> None:
        while True:
            version = storage.stat("lines").version
            content = storage.read("lines")
            try:
                storage.replace("lines", content + f"{n}\n".encode(), version=version)
                return
            except ObjectChanged:
                continue

    all_at_once(16, add_line)
    assert sorted(storage.read("lines").decode().split()) == sorted(str(n) for n in range(16))


def test_missing_objects_raise_object_not_found(storage: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        storage.read("nope")
    with pytest.raises(ObjectNotFound):
        storage.open("nope")
    with pytest.raises(ObjectNotFound):
        storage.stat("dir/nope")


def test_listing_by_prefix(storage: Storage) -> None:
    for key in ["p/one.json", "p/two.json", "q/three.json", "top"]:
        storage.write(key, io.BytesIO(key.encode()))
    assert sorted(info.key for info in storage.list_objects("p/")) == ["p/one.json", "p/two.json"]
    assert sorted(info.key for info in storage.list_objects()) == [
        "p/one.json",
        "p/two.json",
        "q/three.json",
        "top",
    ]
    assert list(storage.list_objects("missing/")) == []


def test_delete_is_idempotent(storage: Storage) -> None:
    storage.write("gone", io.BytesIO(b"x"))
    storage.delete("gone")
    storage.delete("gone")
    with pytest.raises(ObjectNotFound):
        storage.read("gone")


@pytest.mark.parametrize(
    "key", ["", "/abs", "a/../b", "..", "a//b", "a\\b", "a/\x00", "./a", "a/.", "x" * 1025]
)
def test_unsafe_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(StorageError):
        storage.write(key, io.BytesIO(b"x"))
    with pytest.raises(StorageError):
        storage.read(key)


class ExplodingStream(io.RawIOBase):
    def __init__(self) -> None:
        self.sent = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.sent > 3 * 1024 * 1024:
            raise OSError("client went away")
        buffer[: len(buffer)] = b"x" * len(buffer)
        self.sent += len(buffer)
        return len(buffer)


def test_a_failed_write_leaves_nothing_visible(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises((OSError, StorageError)):
        storage.write("partial/file.whl", io.BufferedReader(ExplodingStream()))
    with pytest.raises(ObjectNotFound):
        storage.read("partial/file.whl")
    assert list(storage.list_objects("partial/")) == []
    if isinstance(storage, LocalStorage):
        assert [p.name for p in (tmp_path / "store" / "partial").iterdir()] == []
