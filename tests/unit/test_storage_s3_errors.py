"""S3 answers moto cannot be made to give on demand (409 conflicts, 403), with botocore's Stubber."""

from __future__ import annotations

import io
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage import s3 as s3_module
from pryv_server.storage.s3 import CONFLICT_RETRIES
from pryv_server.storage.s3 import S3Storage

PUT = {"Bucket": "bucket", "Key": "root/k", "Body": b"data", "IfNoneMatch": "*"}


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[S3Storage, Stubber]]:
    monkeypatch.setattr(s3_module.time, "sleep", lambda seconds: None)
    client = boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield S3Storage("bucket", "root", clients=lambda: client), stubber
        stubber.assert_no_pending_responses()


def conflict(stubber: Stubber) -> None:
    stubber.add_client_error(
        "put_object", "ConditionalRequestConflict", http_status_code=409, expected_params=PUT
    )


def test_s3_conflicting_conditional_write_is_retried(stubbed) -> None:
    storage, stubber = stubbed
    conflict(stubber)
    stubber.add_response("put_object", {"ETag": '"abc"'}, PUT)
    assert storage.write("k", io.BytesIO(b"data")).version == "abc"


def test_s3_conflict_that_never_clears_is_a_storage_error(stubbed) -> None:
    storage, stubber = stubbed
    for _ in range(CONFLICT_RETRIES + 1):
        conflict(stubber)
    with pytest.raises(StorageError, match="ConditionalRequestConflict") as caught:
        storage.write("k", io.BytesIO(b"data"))
    assert not isinstance(caught.value, ObjectExists)


def test_s3_precondition_failed_is_object_exists(stubbed) -> None:
    storage, stubber = stubbed
    stubber.add_client_error("put_object", "PreconditionFailed", http_status_code=412)
    with pytest.raises(ObjectExists):
        storage.write("k", io.BytesIO(b"data"))


@pytest.mark.parametrize(("code", "status"), [("NoSuchKey", 404), ("404", 404)])
def test_s3_not_found_codes_are_object_not_found(stubbed, code: str, status: int) -> None:
    storage, stubber = stubbed
    stubber.add_client_error("get_object", code, http_status_code=status)
    with pytest.raises(ObjectNotFound):
        storage.read("k")


def test_s3_other_errors_are_storage_errors_with_the_reason(stubbed) -> None:
    storage, stubber = stubbed
    stubber.add_client_error("get_object", "AccessDenied", "Access Denied", http_status_code=403)
    with pytest.raises(StorageError, match=r"s3://bucket/root/k: AccessDenied: Access Denied"):
        storage.read("k")


def test_s3_store_that_ignores_if_none_match_is_refused_at_start(stubbed) -> None:
    storage, stubber = stubbed
    for _ in range(2):  # both conditional PUTs "succeed": the header was ignored
        stubber.add_response("put_object", {"ETag": '"same"'})
    with pytest.raises(StorageError, match=r"ignores If-None-Match.*conditional-writes = false"):
        storage.check_conditional_writes()


def test_s3_store_that_rejects_if_none_match_is_refused_at_start(stubbed) -> None:
    storage, stubber = stubbed
    stubber.add_client_error("put_object", "NotImplemented", http_status_code=501)
    with pytest.raises(StorageError, match=r"refused a conditional write.*NotImplemented"):
        storage.check_conditional_writes()


def test_s3_conditional_write_probe_passes_on_a_412(stubbed) -> None:
    storage, stubber = stubbed
    stubber.add_response("put_object", {"ETag": '"probe"'})
    stubber.add_client_error("put_object", "PreconditionFailed", http_status_code=412)
    storage.check_conditional_writes()


def test_s3_probe_is_skipped_without_conditional_writes(stubbed) -> None:
    storage, _ = stubbed
    storage.conditional_writes = False
    storage.check_conditional_writes()  # no request: the stubber has no response queued
