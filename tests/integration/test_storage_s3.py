"""What only S3Storage does: the requests it sends, multipart uploads, pagination, errors.

Every test talks to moto's server over HTTP; botocore's event hooks record the operations sent
(observation only) or play a concurrent writer at a precise moment.
"""

from __future__ import annotations

import io
import os
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage.s3 import MIN_PART_SIZE
from pryv_server.storage.s3 import S3Storage
from pryv_server.storage.s3_client import ClientProvider
from tests.s3server import S3

PART = MIN_PART_SIZE
PATTERN = bytes(range(251)) * 600  # byte i of a big stream is i % 251


def make_storage(s3: S3, **options: object) -> S3Storage:
    return S3Storage(s3.bucket, "root", clients=ClientProvider(), **options)  # type: ignore[arg-type]


def record_calls(storage: S3Storage) -> list[tuple[str, dict[str, object]]]:
    """Record (operation, parameters) of every request the storage's client sends."""
    calls: list[tuple[str, dict[str, object]]] = []

    def before(params: dict[str, object], model: object, **_: object) -> None:
        calls.append((model.name, params))  # type: ignore[attr-defined]

    storage.clients().meta.events.register("before-parameter-build.s3.*", before)
    return calls


def test_s3_create_if_absent_is_one_conditional_put(s3: S3) -> None:
    storage = make_storage(s3)
    calls = record_calls(storage)
    storage.write("a/key", io.BytesIO(b"bytes"))
    assert [(name, params.get("IfNoneMatch")) for name, params in calls] == [("PutObject", "*")]
    assert s3.client().get_object(Bucket=s3.bucket, Key="root/a/key")["Body"].read() == b"bytes"
    with pytest.raises(ObjectExists):
        storage.write("a/key", io.BytesIO(b"other"))


def test_s3_overwrite_sends_no_condition(s3: S3) -> None:
    storage = make_storage(s3)
    storage.write("k", io.BytesIO(b"one"))
    calls = record_calls(storage)
    storage.write("k", io.BytesIO(b"two"), overwrite=True)
    assert [(name, "IfNoneMatch" in params) for name, params in calls] == [("PutObject", False)]
    assert storage.read("k") == b"two"


def test_s3_fallback_without_conditional_writes_heads_then_puts(s3: S3) -> None:
    storage = make_storage(s3, conditional_writes=False)
    calls = record_calls(storage)
    storage.write("k", io.BytesIO(b"one"))
    assert [(name, "IfNoneMatch" in params) for name, params in calls] == [
        ("HeadObject", False),
        ("PutObject", False),
    ]
    with pytest.raises(ObjectExists):
        storage.write("k", io.BytesIO(b"two"))
    assert storage.read("k") == b"one"


def big_stream(size: int, fail_after: int | None = None) -> io.BufferedReader:
    """A stream of ``size`` pseudo-random bytes made on the fly (raising after ``fail_after``)."""

    class Source(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
            if fail_after is not None and self.sent >= fail_after:
                raise OSError("the client went away")
            count = min(len(buffer), size - self.sent, 64 * 1024)
            offset = self.sent % 251
            buffer[:count] = PATTERN[offset : offset + count]
            self.sent += count
            return count

    return io.BufferedReader(Source(), 64 * 1024)


def test_s3_large_object_is_a_conditional_multipart_upload(s3: S3) -> None:
    storage = make_storage(s3, part_size=PART)
    calls = record_calls(storage)
    size = 2 * PART + 123
    info = storage.write("big/file.whl", big_stream(size))
    names = [name for name, _ in calls]
    assert names == [
        "HeadObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPart",
        "UploadPart",
        "CompleteMultipartUpload",
    ]
    assert calls[-1][1]["IfNoneMatch"] == "*"
    assert info.size == size
    assert storage.stat("big/file.whl") == info
    with storage.open("big/file.whl") as body:
        assert body.read() == big_stream(size).read()


def test_s3_multipart_refuses_an_existing_key_before_uploading(s3: S3) -> None:
    storage = make_storage(s3, part_size=PART)
    storage.write("big", io.BytesIO(b"small first"))
    calls = record_calls(storage)
    with pytest.raises(ObjectExists):
        storage.write("big", big_stream(PART + 1))
    assert [name for name, _ in calls] == ["HeadObject"]


def test_s3_multipart_complete_honours_if_none_match(s3: S3) -> None:
    """Another writer creates the key while our parts upload: the complete must lose (412)."""
    storage = make_storage(s3, part_size=PART)
    rival = s3.client()

    def rival_writes(**_: object) -> None:
        rival.put_object(Bucket=s3.bucket, Key="root/contended", Body=b"the rival")

    storage.clients().meta.events.register_first(
        "before-call.s3.CompleteMultipartUpload", rival_writes
    )
    with pytest.raises(ObjectExists):
        storage.write("contended", big_stream(PART + 10))
    assert storage.read("contended") == b"the rival"
    assert s3.client().list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []


def test_s3_failed_multipart_upload_is_aborted_and_invisible(s3: S3) -> None:
    storage = make_storage(s3, part_size=PART)
    with pytest.raises(StorageError, match="reading the data failed"):
        storage.write("broken", big_stream(10 * PART, fail_after=2 * PART + 5))
    with pytest.raises(ObjectNotFound):
        storage.stat("broken")
    assert s3.client().list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []


def test_s3_listing_pages_past_a_thousand_keys(s3: S3) -> None:
    client = s3.client()
    keys = [f"root/p/{n:04}.json" for n in range(1005)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=s3.bucket, Key=key, Body=b"{}"), keys))
    client.put_object(Bucket=s3.bucket, Key="rootless/p/0000.json", Body=b"not ours")
    storage = make_storage(s3)
    calls = record_calls(storage)
    listed = list(storage.list_objects("p/"))
    assert sorted(info.key for info in listed) == [key.removeprefix("root/") for key in keys]
    assert [name for name, _ in calls] == ["ListObjectsV2", "ListObjectsV2"]
    assert all(info.size == 2 and info.version for info in listed)


def test_s3_version_is_the_etag_and_changes_with_content(s3: S3) -> None:
    storage = make_storage(s3)
    first = storage.write("k", io.BytesIO(b"one"))
    head = s3.client().head_object(Bucket=s3.bucket, Key="root/k")
    assert first.version == head["ETag"].strip('"')
    assert [info.version for info in storage.list_objects()] == [first.version]
    assert storage.write("k", io.BytesIO(b"two"), overwrite=True).version != first.version


def test_s3_presigned_url_reads_without_credentials(s3: S3) -> None:
    storage = make_storage(s3, url_expiry=60)
    storage.write("ab/cd/pkg-1.0.tar.gz", io.BytesIO(b"archive bytes"))
    url = storage.presigned_url("ab/cd/pkg-1.0.tar.gz")
    assert "X-Amz-Expires=60" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"archive bytes"
        assert 'filename="pkg-1.0.tar.gz"' in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "operation",
    [
        pytest.param(lambda storage: storage.read("k"), id="read"),
        pytest.param(lambda storage: storage.stat("k"), id="stat"),
        pytest.param(lambda storage: list(storage.list_objects()), id="list"),
        pytest.param(lambda storage: storage.write("k", io.BytesIO(b"x")), id="write"),
    ],
)
def test_s3_missing_bucket_is_a_storage_error_naming_it(
    s3: S3, operation: Callable[[S3Storage], object]
) -> None:
    storage = S3Storage("no-such-bucket-here", "root", clients=ClientProvider())
    with pytest.raises(StorageError) as caught:
        operation(storage)
    if not isinstance(caught.value, ObjectNotFound):  # HEAD answers a bare 404 for both
        assert "no-such-bucket-here" in str(caught.value)
    with pytest.raises(StorageError, match="does not exist"):
        storage.check()


def test_s3_missing_credentials_say_so(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    storage = make_storage(s3)
    with pytest.raises(StorageError, match="no AWS credentials"):
        storage.read("k")


def test_s3_client_is_made_once_per_process(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = ClientProvider()
    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(lambda _: provider(), range(32)))
    assert len(set(map(id, clients))) == 1
    # After a fork (a new pid), the child must not reuse the parent's connection pool.
    parent_pid = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent_pid + 1)
    assert provider() is not clients[0]
    assert provider() is provider()
