"""LocalStorage under faults: a full disk mid-write, and the start-up sweep of stale temp files."""

from __future__ import annotations

import errno
import io
import os
import time
from pathlib import Path

import pytest

from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.errors import StorageFull
from pryv_server.storage import local
from pryv_server.storage.local import LocalStorage


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("code", "error"),
    [(errno.ENOSPC, StorageFull), (errno.EDQUOT, StorageFull), (errno.EIO, StorageError)],
)
def test_local_write_failing_mid_copy_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, error: type[Exception]
) -> None:
    storage = LocalStorage(tmp_path)

    def copy_half_then_fail(source, target, length=0):
        target.write(source.read(1000))
        target.flush()
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(local.shutil, "copyfileobj", copy_half_then_fail)
    with pytest.raises(error):
        storage.write("aa/bb/file.whl", io.BytesIO(b"x" * 5000))
    assert files(tmp_path) == []
    with pytest.raises(ObjectNotFound):
        storage.stat("aa/bb/file.whl")
    monkeypatch.undo()
    storage.write("aa/bb/file.whl", io.BytesIO(b"x" * 5000))  # the same key works afterwards
    assert storage.read("aa/bb/file.whl") == b"x" * 5000


def test_local_fsync_failing_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalStorage(tmp_path)

    def no_space(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local.os, "fsync", no_space)
    with pytest.raises(StorageFull, match="disk is full"):
        storage.write("k", io.BytesIO(b"data"))
    assert files(tmp_path) == []


def test_sweep_removes_only_stale_temp_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.write("a/b/kept.whl", io.BytesIO(b"kept"))
    stale = tmp_path / local.TEMP_FOLDER / ".tmp-dead"
    fresh = tmp_path / local.TEMP_FOLDER / ".tmp-live"
    old_real = tmp_path / "a" / "old.whl"
    stale.parent.mkdir(exist_ok=True)
    for path in (stale, fresh, old_real):
        path.write_bytes(b"partial")
    long_ago = time.time() - local.STALE_TEMP_AGE - 60
    os.utime(stale, (long_ago, long_ago))
    os.utime(old_real, (long_ago, long_ago))
    assert storage.sweep_temp_files() == 1
    assert not stale.exists()
    assert fresh.exists()  # a writer in another process may still be at work
    assert old_real.exists()  # only temp files are ever swept
    assert storage.read("a/b/kept.whl") == b"kept"
    assert sorted(info.key for info in storage.list_objects()) == ["a/b/kept.whl", "a/old.whl"]
