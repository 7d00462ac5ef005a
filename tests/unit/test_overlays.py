"""Yank and metadata records beside the package records, and how the index applies them."""

from __future__ import annotations

import io
import json

import pytest

from pryv_server.core import layout
from pryv_server.core import overlays
from pryv_server.core.catalog import Catalog
from pryv_server.core.catalog import Snapshot
from pryv_server.core.layout import is_record_key
from pryv_server.core.layout import record_key
from pryv_server.core.models import YankState
from pryv_server.storage import MemoryStorage
from tests.records import package


def test_overlay_keys_are_never_package_records() -> None:
    wheel = package("1.0")
    for key in (
        layout.release_yank_key(wheel.project, "1.0"),
        layout.file_yank_key(wheel.project, wheel.version, wheel.identity),
        layout.backfilled_metadata_key(wheel.project, wheel.identity),
    ):
        assert layout.is_overlay_key(key)
        assert not is_record_key(key)


def test_most_specific_yank_record_wins() -> None:
    wheel, sdist = package("1.0"), package("1.0", filename="demo-1.0.tar.gz")
    release = YankState(yanked=True, reason="release")
    records = {
        layout.release_yank_key(wheel.project, "1.0.0"): release,  # 1.0.0 is release 1.0
        layout.file_yank_key(sdist.project, sdist.version, sdist.identity): YankState(yanked=False),
    }
    snapshot = Snapshot.build(1, {"a": wheel, "b": sdist}, records)
    assert snapshot.by_filename[wheel.filename].yanked_reason == "release"
    assert not snapshot.by_filename[sdist.filename].yanked
    assert not snapshot.project("demo").releases[0].yanked  # one of its files is available


def test_yanked_releases_are_not_latest() -> None:
    old, new = package("1.0"), package("2.0")
    records = {layout.release_yank_key(new.project, "2.0"): YankState(yanked=True)}
    project = Snapshot.build(1, {"a": old, "b": new}, records).project("demo")
    assert str(project.latest.version) == "1.0"
    everything = {layout.release_yank_key(old.project, "1.0"): YankState(yanked=True), **records}
    all_yanked = Snapshot.build(1, {"a": old, "b": new}, everything).project("demo")
    assert str(all_yanked.latest.version) == "2.0"  # nothing else: the highest one


def test_backfilled_metadata_applies_only_to_files_without_metadata() -> None:
    wheel = package("1.0")
    record = overlays.MetadataRecord("x/demo.whl.metadata", "f" * 64)
    applied = overlays.apply(
        wheel, {layout.backfilled_metadata_key(wheel.project, wheel.identity): record}
    )
    assert (applied.metadata_key, applied.metadata_sha256) == ("x/demo.whl.metadata", "f" * 64)


@pytest.mark.parametrize(
    "overlay",
    [YankState(True, "why", "ann", "2024-01-01T00:00:00Z"), overlays.MetadataRecord("k", "s")],
)
def test_overlay_records_round_trip(overlay: overlays.Overlay) -> None:
    key = "_yank/demo/1.0.json" if isinstance(overlay, YankState) else "_metadata/demo/x.json"
    assert overlays.decode(key, overlays.encode(overlay)) == overlay


def test_index_notices_yank_records_and_skips_broken_ones(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStorage()
    wheel = package("1.0")
    store.write(
        record_key(wheel.project, wheel.identity), io.BytesIO(json.dumps(wheel.to_json()).encode())
    )
    index = Catalog(store, ttl=0)
    assert not index.snapshot().by_filename[wheel.filename].yanked
    key = layout.release_yank_key(wheel.project, "1.0")
    writer = Catalog(store)  # another process: writes, then journals the key
    store.write(key, io.BytesIO(overlays.encode(YankState(yanked=True, reason="r"))))
    writer.changed(key)
    assert index.snapshot().by_filename[wheel.filename].yanked_reason == "r"
    store.write(key, io.BytesIO(b"{not json"), overwrite=True)
    writer.changed(key)
    assert not index.snapshot().by_filename[wheel.filename].yanked
    assert "unreadable record _yank/demo/1.json" in caplog.text
    store.write(
        key, io.BytesIO(overlays.encode(YankState(yanked=True, reason="r"))), overwrite=True
    )
    writer.changed(key)
    assert index.snapshot().by_filename[wheel.filename].yanked
    store.delete(key)
    writer.changed(key)
    assert not index.snapshot().by_filename[wheel.filename].yanked


def test_yank_state_is_not_stored_in_the_package_record() -> None:
    wheel = package("1.0")
    yanked = overlays.apply(
        wheel, {layout.release_yank_key(wheel.project, "1.0"): YankState(yanked=True)}
    )
    assert yanked.yanked
    assert "yank" not in yanked.to_json()
    assert yanked.to_json() == wheel.to_json()
