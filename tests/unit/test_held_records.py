"""How the catalog holds a file: its metadata as one JSON text, its places only when unusual.

A file's core metadata is held as one JSON text, decoded only when something asks for it.

A start used to build thirty metadata fields for every file it read (1.6 of 4.5 s at 60,000
files), and every page a worker rendered touched them, copying the memory it shared with the
master (core/models.py, ``Package``). Checkpoints now hold packages in that form (schema 5); a
start still reads a schema-4 checkpoint, whose base the next checkpoint rewrites. Where a file
and its core metadata file are stored follows from its digest and name (core/layout.py); only a
record that names other places keeps them in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

import pytest
from flask.testing import FlaskClient
from packaging.version import Version

from pryv_server.core import Catalog
from pryv_server.core import checkpoints
from pryv_server.core import layout
from pryv_server.core.journal import Journal
from pryv_server.core.layout import CHECKPOINT_PARTS_PREFIX
from pryv_server.core.layout import CHECKPOINT_PREFIX
from pryv_server.core.metadata import Metadata
from pryv_server.core.models import NOT_YANKED
from pryv_server.core.models import Package
from pryv_server.core.models import Release
from pryv_server.storage import MemoryStorage
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.records import package
from tests.records import publish
from tests.uploads import post_upload

JSON_V1 = "application/vnd.pypi.simple.v1+json"
RICH = Metadata(
    metadata_version="2.4",
    name="Demo",
    version="1.0",
    summary="A demo",
    requires_python=">=3.9",
    classifiers=("Programming Language :: Python :: 3",),
    project_urls=(("Source", "https://example.invalid/demo"),),
)


def rich(filename: str = "demo-1.0-py3-none-any.whl") -> Package:
    return Package.build(
        RICH,
        **{name: getattr(package("1.0"), name) for name in ("project", "version", "kind")},
        filename=filename, identity=filename, size=1, sha256="0" * 64,
        upload_time="2024-01-01T00:00:00Z", uploader="u", blob_key=f"x/{filename}",
    )  # fmt: skip


@pytest.fixture
def decodes() -> Iterator[list[str]]:
    """Count every decoding of a package's metadata (the filenames of the packages decoded)."""
    seen: list[str] = []
    decode = Package.metadata.fget  # type: ignore[attr-defined]

    def counted(self: Package) -> Metadata:
        seen.append(self.filename)
        return decode(self)  # type: ignore[no-any-return]

    with patch.object(Package, "metadata", property(counted)):
        yield seen


def test_a_held_record_reads_back_without_decoding_its_metadata() -> None:
    held = json.loads(json.dumps(rich().to_held()))  # through a checkpoint part
    assert RICH.summary not in held  # the metadata is one text
    with patch.object(Metadata, "from_raw", side_effect=AssertionError("decoded")):
        loaded = Package.from_held(held)
    assert loaded == rich()
    assert loaded.requires_python == ">=3.9"
    assert loaded.display_name == "Demo"
    assert loaded.metadata == RICH


def test_a_stored_record_still_holds_its_metadata_as_an_object() -> None:
    """What other instances, older ones included, read: the record and the journal's copy."""
    record = rich().to_json()
    assert record["metadata"] == RICH.to_raw()
    assert "metadata_json" not in record
    assert Package.from_json(record) == rich()


def test_files_with_equal_metadata_hold_one_text() -> None:
    wheel = Package.from_json(rich().to_json())
    sdist = Package.from_held(json.loads(json.dumps(rich("demo-1.0.tar.gz").to_held())))
    assert wheel.metadata_json is sdist.metadata_json


def test_the_catalog_holds_no_description_in_the_text() -> None:
    described = Package.build(replace(RICH, description="# Long"), **_fields(rich()))
    assert "# Long" in described.metadata_json  # what the publisher writes into the record
    held = described.without_description()
    assert "# Long" not in held.metadata_json
    assert held.metadata == RICH


def _fields(file: Package) -> dict[str, object]:
    names = ("filename", "project", "version", "kind", "identity", "size", "sha256")
    return {name: getattr(file, name) for name in (*names, "upload_time", "uploader", "blob_key")}


def test_pages_and_the_index_decode_no_metadata(
    client: FlaskClient, dist: Path, auth: dict[str, str], decodes: list[str]
) -> None:
    for built in (
        make_wheel(dist, "demo", "1.0", requires_python=">=3.9"),
        make_sdist(dist, "demo", "1.0", requires_python=">=3.9"),
    ):
        assert post_upload(client, built).status_code == 200
    decodes.clear()  # the upload itself may read the metadata it writes
    for accept in ("text/html", JSON_V1):
        for path in ("/simple/", "/simple/demo/"):
            answer = client.get(path, headers={**auth, "Accept": accept})
            assert answer.status_code == 200
    assert 'data-requires-python="&gt;=3.9"' in client.get("/simple/demo/", headers=auth).text
    assert decodes == []
    project = client.get("/pypi/demo/json", headers=auth).get_json()
    assert project["info"]["requires_python"] == ">=3.9"
    assert len(decodes) == 1  # the release's metadata, once for all its files


def parts(records: MemoryStorage) -> list[dict[str, object]]:
    """The package records of every checkpoint part in the store."""
    found = []
    for info in records.list_objects(CHECKPOINT_PARTS_PREFIX):
        found += json.loads(records.read(info.key))["records"].values()
    return found


def newest_manifest(records: MemoryStorage) -> checkpoints.Manifest:
    store = checkpoints.Checkpoints(records)
    return store.load(store.newest() or 0).manifest


def test_a_schema_4_checkpoint_is_read_and_its_base_rewritten_at_the_start() -> None:
    """An upgrade reads the old checkpoint, then replaces it at once, not 1,000 changes later."""
    records = MemoryStorage()
    with (
        patch.object(checkpoints, "SCHEMA", 4),
        patch.object(Package, "to_held", Package.to_json),  # schema 4 held records as stored
    ):
        old = Catalog(records, checkpoint_every=3)
        for n in range(3):
            publish(records, old, "old", f"1.{n}")
        old.snapshot()  # a checkpoint at entry 3
        publish(records, old, "old", "1.3")  # and an entry after it
    written = parts(records)
    assert written
    assert all("metadata" in record for record in written)
    assert newest_manifest(records).seq == 3

    reader = Catalog(records, checkpoint_every=1_000)  # far from due by count
    listed = records.list_objects

    def no_records_listed(prefix: str = "", **options: str) -> object:
        assert prefix, "a start listed every record instead of reading the checkpoint"
        return listed(prefix, **options)

    with patch.object(records, "list_objects", no_records_listed):
        project = reader.snapshot().project("old")
    assert project is not None
    assert len(project.packages) == 4
    assert project.name == "Demo"

    manifest = newest_manifest(records)
    assert (manifest.seq, manifest.schema) == (4, checkpoints.SCHEMA)
    assert manifest.runs == ()
    assert manifest.base_seq == manifest.seq
    current = {
        json.dumps(record)
        for info in records.list_objects(CHECKPOINT_PARTS_PREFIX)
        if info.key.removeprefix(CHECKPOINT_PARTS_PREFIX) in str(manifest.base)
        for record in json.loads(records.read(info.key))["records"].values()
    }
    assert len(current) == 4
    assert all(record.startswith("[") for record in current)  # held rows, not stored records

    publish(records, reader, "old", "1.4")
    prefixes: list[str] = []

    def counted(prefix: str = "", **options: str) -> object:
        prefixes.append(prefix)
        return listed(prefix, **options)

    with patch.object(records, "list_objects", counted):
        Catalog(records, checkpoint_every=1_000).snapshot()  # a start on a current one waits
    assert newest_manifest(records).seq == 4
    assert prefixes.count(CHECKPOINT_PREFIX) == 1  # its start's, not a second look to write one


def test_the_journal_carries_a_record_as_stored() -> None:
    records = MemoryStorage()
    writer = Catalog(records)
    writer.snapshot()
    publish(records, writer, "demo", "1.0")
    (entry,) = Journal(records).read_after(0)
    (record,) = entry.records.values()
    assert record["metadata"]["name"] == "Demo"
    assert "metadata_json" not in record


def test_a_release_decodes_its_metadata_once(decodes: list[str]) -> None:
    """Search reads the latest release's summary and keywords of every project, every time."""
    release = Release(Version("1.0"), (rich(), rich("demo-1.0.tar.gz")))
    assert release.metadata.summary == release.metadata.summary == "A demo"
    assert len(decodes) == 1


def placed(**changes: object) -> Package:
    """demo 1.0's wheel, stored where core/layout.py puts it, with core metadata beside it."""
    record = rich().to_json()
    record.update(blob_key=layout.blob_key("0" * 64, "demo-1.0-py3-none-any.whl"))
    record.update(metadata_key=layout.core_metadata_key(record["blob_key"]))
    record.update(metadata_sha256="1" * 64, **changes)
    return Package.from_json(record)


def test_a_file_where_the_layout_puts_it_holds_no_key() -> None:
    file = placed()
    assert (file.blob_elsewhere, file.metadata_elsewhere) == ("", "")
    assert file.blob_key == "00/00/" + "0" * 64 + "/demo-1.0-py3-none-any.whl"
    assert file.metadata_key == file.blob_key + ".metadata"
    assert not any(str(value).startswith("00/") for value in file.to_held())
    record = file.to_json()  # what every pryv reads: both keys, as before
    assert (record["blob_key"], record["metadata_key"]) == (file.blob_key, file.metadata_key)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"blob_key": "old/demo-1.0-py3-none-any.whl"}, id="blob-elsewhere"),
        pytest.param({"metadata_key": "old/demo.metadata"}, id="metadata-elsewhere"),
    ],
)
def test_a_file_stored_elsewhere_keeps_its_keys(changes: dict[str, str]) -> None:
    file = placed(**changes)
    again = Package.from_held(json.loads(json.dumps(file.to_held())))
    for loaded in (file, again, Package.from_json(file.to_json())):
        record = loaded.to_json()
        assert {name: record[name] for name in changes} == changes


def test_a_file_without_a_metadata_key_advertises_no_metadata() -> None:
    file = placed(metadata_key=None)
    assert file.metadata_key is None
    assert file.metadata_sha256 is None


def test_backfilled_metadata_lands_beside_the_file() -> None:
    file = placed(metadata_key=None).with_metadata_file(
        placed().blob_key + ".metadata", "2" * 64, "2026-01-01T00:00:00Z"
    )
    assert file.metadata_key == placed().metadata_key
    assert file.metadata_elsewhere == ""
    assert file.metadata_sha256 == "2" * 64


def test_a_row_leaves_out_trailing_empty_fields_and_reads_back_whole() -> None:
    file = placed(provenance_key="p/key", provenance_sha256="3" * 64)
    row = file.to_held()
    assert row[-1] == "3" * 64  # every field after the provenance's digest is empty
    assert Package.from_held(list(row)) == file
    assert Package.from_held(rich().to_held()) == rich()  # no digests: shorter still
    full = placed(blob_key="old/file.whl", metadata_key="old/file.metadata").to_held()
    for wrong in ([*full, NOT_YANKED], row[:5]):  # a derived field; required ones missing
        with pytest.raises(TypeError):
            Package.from_held(wrong)
