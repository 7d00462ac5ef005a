"""LocalStorage's folder-listing cache never hides a change pryv makes."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from pryv_server.storage import LocalStorage
from pryv_server.storage import local


def keys(storage: LocalStorage) -> list[str]:
    return sorted(info.key for info in storage.list_objects())


def age(folder: Path, seconds: float = 60) -> None:
    """Make a folder look quiet for a while, so that its listing may be cached."""
    stamp = time.time_ns() - int(seconds * 1e9)
    os.utime(folder, ns=(stamp, stamp))


def test_changes_in_a_cached_folder_are_seen(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("p/a.json", io.BytesIO(b"a"))
    age(tmp_path / "p")
    age(tmp_path)
    assert keys(storage) == ["p/a.json"]
    assert str(tmp_path / "p") in storage._listings  # cached now
    storage.write("p/b.json", io.BytesIO(b"b"))  # link: the folder's mtime moves
    assert keys(storage) == ["p/a.json", "p/b.json"]
    age(tmp_path / "p")
    assert keys(storage) == ["p/a.json", "p/b.json"]
    storage.delete("p/a.json")
    assert keys(storage) == ["p/b.json"]
    age(tmp_path / "p")
    before = next(storage.list_objects("p/b.json"))
    storage.write("p/b.json", io.BytesIO(b"changed"), overwrite=True)
    after = next(storage.list_objects("p/b.json"))
    assert (before.version != after.version, after.size) == (True, 7)
    storage.write("q/c.json", io.BytesIO(b"c"))  # a new folder in the root
    assert keys(storage) == ["p/b.json", "q/c.json"]


def test_recently_modified_folders_are_not_cached(tmp_path: Path) -> None:
    """Two changes within one mtime tick must both be seen: a fresh folder is always re-read."""
    storage = LocalStorage(tmp_path)
    storage.write("p/a.json", io.BytesIO(b"a"))
    assert keys(storage) == ["p/a.json"]
    assert str(tmp_path / "p") not in storage._listings
    stamp = (tmp_path / "p").stat().st_mtime_ns
    storage.write("p/b.json", io.BytesIO(b"b"))
    os.utime(tmp_path / "p", ns=(stamp, stamp))  # the same tick as before the second write
    assert keys(storage) == ["p/a.json", "p/b.json"]


def test_a_changing_folder_is_listed_after_a_key_without_stating_the_older_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's folder under a stream of uploads: a follower asks for the newest entries."""
    storage = LocalStorage(tmp_path)
    for number in range(1, 201):
        storage.write(f"_journal/{number:012d}.json", io.BytesIO(b"{}"))
    storage.write("_journal/sub/000000000001.json", io.BytesIO(b"{}"))  # a folder sorts after
    stated: list[str] = []
    real_info = local._info
    monkeypatch.setattr(
        local, "_info", lambda key, stat: stated.append(key) or real_info(key, stat)
    )
    after = [
        info.key
        for info in storage.list_objects("_journal/", start_after="_journal/000000000198.json")
    ]
    assert sorted(after) == [
        "_journal/000000000199.json",
        "_journal/000000000200.json",
        "_journal/sub/000000000001.json",
    ]
    assert sorted(stated) == sorted(after)  # 3 stats, not 201
