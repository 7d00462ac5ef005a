from __future__ import annotations

import hashlib

import pytest
from packaging.version import Version

from pryv_server.core.catalog import Snapshot
from pryv_server.core.metadata import Metadata
from pryv_server.core.metadata_trust import serves_core_metadata
from pryv_server.core.models import Package
from pryv_server.core.models import serial_of
from tests.records import item
from tests.records import package


def project_of(*packages: Package):
    snapshot = Snapshot.build(1, {p.filename: p for p in packages})
    return snapshot.project("demo")


def test_latest_is_highest_final_release_not_last_uploaded() -> None:
    project = project_of(
        package("1.10", uploaded="2024-01-01T00:00:00Z"),
        package("1.9", uploaded="2024-02-01T00:00:00Z"),
        package("2.0rc1", uploaded="2024-03-01T00:00:00Z"),
    )
    assert [str(r.version) for r in project.releases] == ["1.9", "1.10", "2.0rc1"]
    assert project.latest.version == Version("1.10")


def test_latest_falls_back_to_prerelease_when_nothing_else() -> None:
    project = project_of(package("1.0a1"), package("1.0b2"))
    assert project.latest.version == Version("1.0b2")


def test_release_metadata_comes_from_the_most_recent_upload() -> None:
    project = project_of(
        package("1.0", "demo-1.0.tar.gz", "2024-01-01T00:00:00Z", summary="old"),
        package("1.0", "demo-1.0-py3-none-any.whl", "2024-01-02T00:00:00Z", summary="new"),
    )
    assert len(project.releases) == 1
    assert project.latest.metadata.summary == "new"


def test_release_lookup_accepts_equivalent_version_spellings() -> None:
    project = project_of(package("1.0"))
    assert project.release("1.0.0") is project.releases[0]
    assert project.release("nonsense") is None


def test_package_record_round_trips() -> None:
    original = package("1.0")
    assert Package.from_json(original.to_json()) == original


def test_metadata_round_trips_lists_and_urls() -> None:
    raw = {
        "name": "x",
        "version": "1",
        "classifiers": ["Private :: Do Not Upload"],
        "project_urls": {"Home": "https://x"},
    }
    metadata = Metadata.from_raw(raw)
    assert metadata.classifiers == ("Private :: Do Not Upload",)
    assert metadata.to_raw() == raw


@pytest.mark.parametrize(
    ("kind", "metadata_version", "dynamic", "served"),
    [
        pytest.param("wheel", "2.1", ("Requires-Dist",), True, id="wheel-always"),
        pytest.param("sdist", "2.1", (), False, id="sdist-before-2.2"),
        pytest.param("sdist", "2.2", (), True, id="sdist-2.2-static"),
        pytest.param("sdist", "2.4", ("Summary", "Description"), True, id="sdist-display-dynamic"),
        pytest.param("sdist", "2.2", ("Requires-Dist",), False, id="dynamic-requires-dist"),
        pytest.param("sdist", "2.3", ("requires-python",), False, id="dynamic-requires-python"),
        pytest.param("sdist", "2.2", ("Provides-Extra",), False, id="dynamic-provides-extra"),
        pytest.param("sdist", "", (), False, id="sdist-no-metadata-version"),
    ],
)
def test_serves_core_metadata_only_when_installers_may_trust_it(
    kind: str, metadata_version: str, dynamic: tuple[str, ...], served: bool
) -> None:
    metadata = Metadata(metadata_version=metadata_version, dynamic=dynamic)
    assert serves_core_metadata(kind, metadata) is served


def test_record_of_a_dynamic_sdist_loads_without_its_metadata() -> None:
    """Records written before the PEP 643 fix still advertise no core metadata."""
    record = package("1.0", filename="demo-1.0.tar.gz").to_json()
    record.update(kind="sdist", metadata_key="x/demo-1.0.tar.gz.metadata", metadata_sha256="1" * 64)
    record["metadata"] = Metadata(
        name="demo", version="1.0", metadata_version="2.2", dynamic=("Requires-Dist",)
    ).to_raw()
    loaded = Package.from_json(record)
    assert loaded.metadata_key is None
    assert loaded.metadata_sha256 is None


@pytest.mark.parametrize(
    ("timestamp", "serial"),
    [
        pytest.param("1970-01-01T00:00:00.000001Z", 1, id="one-microsecond"),
        pytest.param("2026-01-01T12:00:00.123456Z", 1767268800123456, id="pryv-format"),
        pytest.param("2026-01-01T13:00:00.123456+01:00", 1767268800123456, id="offset"),
        pytest.param("2026-01-01T12:00:00.123456", 1767268800123456, id="naive-is-utc"),
    ],
)
def test_serial_of_is_exact_microseconds_since_the_epoch(timestamp: str, serial: int) -> None:
    assert serial_of(timestamp) == serial


def test_last_serial_compares_times_not_text_when_formats_differ() -> None:
    """Fixed-width UTC times are compared as text; any other spelling is parsed."""
    early = package("1.0", uploaded="2026-01-01T12:00:00.000000Z")
    offset = package("2.0", uploaded="2026-01-01T13:30:00+02:00")  # 11:30 UTC: earlier
    assert project_of(early, offset).last_serial == serial_of("2026-01-01T12:00:00.000000Z")
    late = package("3.0", uploaded="2026-01-01T12:00:00.000001Z")
    assert project_of(early, late).last_serial == serial_of(late.upload_time)


def test_a_loaded_record_holds_its_description_s_digest_not_its_text() -> None:
    plain = package("1.0")
    described = plain.to_json()
    described["metadata"]["description"] = "# Long"
    loaded = Package.from_json(described)  # a record without the digest: older ones
    assert loaded.metadata.description == ""
    assert loaded.description_sha256 == hashlib.sha256(b"# Long").hexdigest()
    assert Package.from_json(plain.to_json()).description_sha256 == ""  # no description


def test_releases_spelled_alike_share_one_version_object() -> None:
    """A Version with its sort key weighs about 500 bytes; projects share their spellings."""
    files = (item("demo", "1.0.0"), item("other", "1.0.0"))
    snapshot = Snapshot.build(1, {p.filename: p for p in files})
    first, second = snapshot.project("demo"), snapshot.project("other")
    assert first is not None
    assert second is not None
    assert first.releases[0].version is second.releases[0].version
