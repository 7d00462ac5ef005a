"""The storage layout: what the catalog's listing takes for a record or an overlay, and what not."""

from __future__ import annotations

from packaging.utils import NormalizedName

from pryv_server.core import layout

PROJECT = NormalizedName("demo")


def test_only_package_records_look_like_records() -> None:
    record = layout.record_key(PROJECT, "demo-1.0-py3-none-any.whl")
    assert record == "demo/demo-1.0-py3-none-any.whl.json"
    assert layout.is_record_key(record)
    others = [
        layout.GENERATION_KEY,
        layout.SETUP_MARKER,
        layout.HEALTH_PROBE_KEY,
        layout.WRITE_PROBE_KEY,
        layout.logout_key("alice"),
        layout.sdist_claim_key(PROJECT, "1.0"),
        layout.project_claim_key(PROJECT),
        layout.release_yank_key(PROJECT, "1.0"),
        layout.file_yank_key(PROJECT, "1.0", "demo-1.0.tar.gz"),
        layout.backfilled_metadata_key(PROJECT, "demo-1.0.tar.gz"),
    ]
    assert not any(layout.is_record_key(key) for key in others)
    assert all(key.startswith(layout.RESERVED_PREFIX) for key in others)
    # The listing reads yank and metadata overlays, and none of the explorer's or probes' keys.
    assert [layout.is_overlay_key(key) for key in others] == [False] * 7 + [True] * 3


def test_a_file_and_its_core_metadata_sit_side_by_side() -> None:
    digest = "ab" * 32
    blob = layout.blob_key(digest, "demo-1.0.tar.gz")
    assert blob == f"ab/ab/{digest}/demo-1.0.tar.gz"
    assert layout.core_metadata_key(blob) == f"{blob}.metadata"
    assert layout.description_key(digest) == f"descriptions/ab/ab/{digest}.json"


def test_any_user_name_makes_one_safe_key() -> None:
    key = layout.logout_key("../../etc/passwd")
    assert key.startswith(layout.SESSIONS_PREFIX)
    assert key.count("/") == 1
    assert key != layout.logout_key("alice")
