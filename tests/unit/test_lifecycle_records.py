"""Status records and tombstones: their keys, their encoding, and how the catalog applies them."""

from __future__ import annotations

import pytest

from pryv_server import cli_lifecycle
from pryv_server.core import layout
from pryv_server.core import overlays
from pryv_server.core.catalog import Snapshot
from pryv_server.core.models import STATUSES
from pryv_server.core.models import ProjectStatus
from pryv_server.core.models import Tombstone
from pryv_server.web.pages import Page
from pryv_server.web.pages import PageKey
from pryv_server.web.pages import Pages
from tests.records import package


def test_status_and_tombstone_keys_are_overlays_not_records() -> None:
    wheel = package("1.0")
    for key in (
        layout.project_status_key(wheel.project),
        layout.tombstone_key(wheel.project, wheel.identity),
    ):
        assert layout.is_overlay_key(key)
        assert not layout.is_record_key(key)


@pytest.mark.parametrize(
    ("key", "record"),
    [
        ("_status/demo.json", ProjectStatus("quarantined", "malware", "alice", "2026-01-01T00Z")),
        ("_tombstone/demo/x.json", Tombstone("x.whl", "ab", "a/b/ab/x.whl", None, "leak", "bob")),
        (
            "_tombstone/demo/y.json",
            Tombstone("y.whl", "cd", "c/d/cd/y.whl", "c/d/cd/y.whl.metadata"),
        ),
    ],
)
def test_records_round_trip(key: str, record: object) -> None:
    assert overlays.decode(key, overlays.encode(record)) == record  # type: ignore[arg-type]


def test_an_unknown_status_is_an_unreadable_record() -> None:
    content = overlays.encode(ProjectStatus("sleeping"))
    with pytest.raises(ValueError, match="unknown project status"):
        overlays.decode("_status/demo.json", content)


def test_snapshot_hides_tombstoned_records_and_carries_statuses() -> None:
    kept, gone = package("1.0"), package("2.0")
    records = {
        layout.record_key(kept.project, kept.identity): kept,
        layout.record_key(gone.project, gone.identity): gone,
    }
    marks = {
        layout.tombstone_key(gone.project, gone.identity): Tombstone(gone.filename, "", "", None),
        layout.project_status_key(kept.project): ProjectStatus("archived", "done"),
    }
    snapshot = Snapshot.build(1, records, marks)
    assert list(snapshot.by_filename) == [kept.filename]
    project = snapshot.project(kept.project)
    assert project is not None
    assert project.status == ProjectStatus("archived", "done")
    # A publish of a tombstoned file never enters a snapshot.
    gone_key = layout.record_key(gone.project, gone.identity)
    assert gone.filename not in snapshot.with_changes({gone_key: gone}).by_filename
    # A status written later reaches the project; removing it makes it active again.
    status_key = layout.project_status_key(kept.project)
    later = snapshot.with_changes({status_key: ProjectStatus("quarantined")})
    assert later.project(kept.project).status.status == "quarantined"  # type: ignore[union-attr]
    assert later.with_changes({status_key: None}).project(kept.project).status.status == "active"  # type: ignore[union-attr]


def test_a_status_change_invalidates_the_project_pages() -> None:
    wheel = package("1.0")
    records = {layout.record_key(wheel.project, wheel.identity): wheel}
    before = Snapshot.build(1, records)
    pages = Pages()
    key = PageKey(wheel.project, ("simple", "json"))
    pages.page(before, key, lambda: Page(b"active", 1))
    status = {layout.project_status_key(wheel.project): ProjectStatus("deprecated")}
    after = Snapshot.build(2, records, status).inherit(before)
    assert pages.cached(after, key) is None
    assert after.project(wheel.project).status.status == "deprecated"  # type: ignore[union-attr]
    pages.page(after, key, lambda: Page(b"deprecated", 2))
    again = Snapshot.build(3, records, status).inherit(after)
    assert pages.cached(again, key) == Page(b"deprecated", 2)


def test_cli_statuses_are_pep_792s() -> None:
    assert cli_lifecycle.STATUSES == STATUSES
