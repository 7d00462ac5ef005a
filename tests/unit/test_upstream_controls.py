"""Upstream controls over one store: one object per fact, agreed on by every instance."""

from __future__ import annotations

import io

from pryv_server.core import Catalog
from pryv_server.core import layout
from pryv_server.core.upstream import CachedPage
from pryv_server.core.upstream import UpstreamFile
from pryv_server.core.upstream_controls import BLOCK
from pryv_server.core.upstream_controls import PIN
from pryv_server.core.upstream_controls import UpstreamControls
from pryv_server.storage import MemoryStorage
from tests.concurrency import all_at_once


def controls(records: MemoryStorage, blobs: MemoryStorage, now: float = 100.0) -> UpstreamControls:
    """One instance's controls, on its own catalog of the shared store (a check per request)."""
    return UpstreamControls(records, blobs, Catalog(records, ttl=0), clock=lambda: now)


def test_of_many_concurrent_blocks_one_writes_and_every_instance_sees_it() -> None:
    records, blobs = MemoryStorage(), MemoryStorage()
    instances = [controls(records, blobs) for _ in range(8)]

    outcomes = all_at_once(8, lambda n: instances[n].set(BLOCK, "Evil_Lib", by="admin"))

    assert sorted(outcomes) == [False] * 7 + [True]
    assert all(c.current().blocked == {"evil-lib"} for c in instances)
    assert [info.key for info in records.list_objects(layout.UPSTREAM_CONTROLS_PREFIX)] == [
        "_upstream-controls/evil-lib/block.json"
    ]


def test_lifting_a_pin_is_seen_by_another_instance() -> None:
    records, blobs = MemoryStorage(), MemoryStorage()
    first, second = controls(records, blobs), controls(records, blobs)
    first.set(PIN, "frozen", by="admin")
    assert second.current().pinned == {"frozen"}

    assert second.lift(PIN, "frozen", by="admin")

    assert first.current().pinned == frozenset()
    assert not first.lift(PIN, "frozen", by="admin")


def test_purge_deletes_the_page_and_its_files_but_keeps_what_local_records_name() -> None:
    records, blobs = MemoryStorage(), MemoryStorage()
    files = tuple(
        UpstreamFile(f"lib-{n}-py3-none-any.whl", "u", f"{n}" * 64, None, False, 1, None, True)
        for n in (1, 2)
    )
    page = CachedPage("lib", files, 50.0, 1)  # type: ignore[arg-type]
    blobs.write(layout.upstream_page_key("lib"), io.BytesIO(page.to_json()))  # type: ignore[arg-type]
    keys = [layout.blob_key(f.sha256, f.filename) for f in files]
    for key in keys:
        blobs.write(key, io.BytesIO(b"wheel"))
        blobs.write(layout.core_metadata_key(key), io.BytesIO(b"metadata"))
    admin = controls(records, blobs, now=60.0)

    purged = admin.purge("lib", by="admin", keep=frozenset({keys[1]}))

    assert (purged.page, purged.files) == (True, 1)
    left = sorted(info.key for info in blobs.list_objects())
    assert left == sorted([keys[1], layout.core_metadata_key(keys[1])])
    current = admin.current()
    assert current.dropped("lib", 50.0)  # a copy fetched before the purge is gone
    assert not current.dropped("lib", 61.0)
    assert not current.dropped("other", 50.0)
