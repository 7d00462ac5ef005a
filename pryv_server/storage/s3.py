"""S3 storage: objects in one bucket under a key prefix, with conditional writes.

The invariants of :mod:`pryv_server.storage.base` hold on S3 this way:

* **atomic visibility**: a ``PutObject`` or a ``CompleteMultipartUpload`` makes the whole object
  visible at once; an interrupted multipart upload is aborted and never becomes an object;
* **create-if-absent**: ``overwrite=False`` sends ``If-None-Match: *`` with the ``PutObject`` (and
  with the ``CompleteMultipartUpload`` of a large object). S3 answers ``412 PreconditionFailed``
  to every writer but the first, which becomes :class:`ObjectExists`. A ``409
  ConditionalRequestConflict`` (another conditional write of the key is in flight) is retried.
  Stores without conditional writes get ``conditional_writes=False``: a HEAD, then an
  unconditional PUT. Two writers racing between the HEAD and the PUT can then both "win" and the
  last one's bytes stay; pryv only tolerates that because package bytes live under
  content-addressed keys (the same key always holds the same bytes);
* **streaming**: a write reads its source one part (8 MiB) at a time. An object that fits in one
  part is one PUT; a larger one is a multipart upload, so memory never grows with object size;
  reads return botocore's ``StreamingBody``.

The client (one per process) and the translation of botocore's errors live in
:mod:`pryv_server.storage.s3_client`.

This module imports boto3; nothing imports it unless an ``s3://`` location is configured.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO
from typing import TYPE_CHECKING
from typing import Any
from typing import BinaryIO
from typing import cast

from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError
from botocore.exceptions import NoCredentialsError

from pryv_server.errors import ObjectChanged
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage.base import WRITE_PROBE_KEY
from pryv_server.storage.base import ObjectInfo
from pryv_server.storage.base import validate_key
from pryv_server.storage.s3_client import error_code
from pryv_server.storage.s3_client import etag
from pryv_server.storage.s3_client import translate_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)

# S3 parts are 5 MiB to 5 GiB, at most 10,000 of them: 8 MiB parts (boto3's own default) allow
# objects up to 78 GiB, far above any distribution, while bounding a write's buffer to one part.
PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024
CONFLICT_RETRIES = 4


class S3Storage:
    """Objects under ``s3://bucket/prefix/``; see the module docstring for the guarantees.

    :param clients: returns the S3 client to use (a :class:`ClientProvider`).
    :param conditional_writes: send ``If-None-Match: *`` for create-if-absent writes; turn off
        for stores that reject it (then a HEAD precedes the PUT, with a race).
    :param part_size: bytes per part; objects up to one part are a single PUT.
    :param url_expiry: lifetime in seconds of the URLs :meth:`presigned_url` makes.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        clients: Callable[[], S3Client],
        conditional_writes: bool = True,
        part_size: int = PART_SIZE,
        url_expiry: int = 300,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 parts are at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.clients = clients
        self.conditional_writes = conditional_writes
        self.part_size = part_size
        self.url_expiry = url_expiry

    def __repr__(self) -> str:
        return f"S3Storage('s3://{self.bucket}/{self.prefix}')"

    def _key(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _url(self, key: str) -> str:
        # For messages only: no validation, so that it also names prefixes.
        return (
            f"s3://{self.bucket}/{self.prefix}/{key}"
            if self.prefix
            else f"s3://{self.bucket}/{key}"
        )

    def _translated(self, key: str, action: str) -> AbstractContextManager[None]:
        return translate_errors(key, self._url(key), action)

    # Reading ----------------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        """Start a GET and return its streaming body; the caller closes it."""
        with self._translated(key, "read"):
            response = self.clients().get_object(Bucket=self.bucket, Key=self._key(key))
        return cast(BinaryIO, response["Body"])

    def read(self, key: str) -> bytes:
        """GET the whole object (records, users files: small objects)."""
        with self.open(key) as body, self._translated(key, "read"):
            return body.read()

    def stat(self, key: str) -> ObjectInfo:
        """HEAD the object; its ETag is the version token."""
        with self._translated(key, "stat"):
            response = self.clients().head_object(Bucket=self.bucket, Key=self._key(key))
        return ObjectInfo(
            key,
            response["ContentLength"],
            etag(response["ETag"]),
            response["LastModified"].timestamp(),
        )

    def list_objects(self, prefix: str = "", *, start_after: str = "") -> Iterator[ObjectInfo]:
        """Page through ``list_objects_v2`` (1,000 keys a page); sizes and ETags come with it."""
        root = f"{self.prefix}/" if self.prefix else ""
        paginator = self.clients().get_paginator("list_objects_v2")
        with self._translated(prefix, "list"):
            pages = (
                paginator.paginate(
                    Bucket=self.bucket, Prefix=root + prefix, StartAfter=root + start_after
                )
                if start_after
                else paginator.paginate(Bucket=self.bucket, Prefix=root + prefix)
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield ObjectInfo(
                        item["Key"][len(root) :],
                        item["Size"],
                        etag(item["ETag"]),
                        item["LastModified"].timestamp(),
                    )

    def presigned_url(self, key: str) -> str:
        """Return a GET URL for the object, valid ``url_expiry`` seconds, that needs no credentials.

        The response names the file after the key's last segment (``Content-Disposition``).
        """
        filename = key.rpartition("/")[2].replace('"', "")
        with self._translated(key, "sign a URL for"):
            return self.clients().generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._key(key),
                    "ResponseContentDisposition": f'attachment; filename="{filename}"',
                },
                ExpiresIn=self.url_expiry,
            )

    def check(self) -> None:
        """Fail early when the bucket is missing or unreachable (a HEAD on the bucket).

        :raises StorageError: naming the bucket and the reason.
        """
        try:
            self.clients().head_bucket(Bucket=self.bucket)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            reason = {"404": "does not exist", "403": "is not accessible with these credentials"}
            raise StorageError(
                f"s3://{self.bucket}: the bucket {reason.get(code, f'failed a HEAD: {code}')}"
            ) from None
        except (BotoCoreError, NoCredentialsError) as error:
            raise StorageError(f"s3://{self.bucket}: {error}") from None

    def check_conditional_writes(self) -> None:
        """Prove that the store refuses a second ``If-None-Match: *`` PUT of one key.

        A store that silently ignores the header would let uploads overwrite each other, so
        this runs at start. It writes a tiny probe object (kept, so no delete permission is
        needed): if either of two conditional PUTs gets 412, the store honours the condition.

        :raises StorageError: the store ignores or rejects conditional writes.
        """
        if not self.conditional_writes:
            return
        advice = "set [aws] conditional-writes = false (see the S3 storage docs for the race)"
        for _ in range(2):
            try:
                self.write(WRITE_PROBE_KEY, io.BytesIO(b"pryv checks conditional writes\n"))
            except ObjectExists:
                return
            except StorageError as error:
                raise StorageError(
                    f"{self._url(WRITE_PROBE_KEY)}: the store refused a conditional write "
                    f"({error}); {advice}"
                ) from None
        raise StorageError(
            f"s3://{self.bucket}: the store ignores If-None-Match, so it cannot refuse to "
            f"overwrite an object; {advice}"
        )

    # Writing ----------------------------------------------------------------------------------

    def write(
        self, key: str, data: IO[bytes], *, overwrite: bool = False, durable: bool = True
    ) -> ObjectInfo:
        """Store ``data`` under ``key``: one PUT if it fits in a part, else a multipart upload.

        Every PUT is durable once acknowledged, so ``durable`` changes nothing here.
        """
        full_key = self._key(key)
        if not overwrite and not self.conditional_writes:
            self._refuse_if_exists(key)
        first = _read_part(data, self.part_size, self._url(key))
        if len(first) < self.part_size:
            return self._put(key, full_key, first, overwrite=overwrite)
        if not overwrite and self.conditional_writes:
            self._refuse_if_exists(key)  # spare uploading a large object that exists already
        return self._put_multipart(key, full_key, first, data, overwrite=overwrite)

    def replace(self, key: str, content: bytes, *, version: str | None) -> ObjectInfo:
        """One PUT with ``If-Match: <ETag>`` (or ``If-None-Match: *`` when it was absent).

        Without conditional writes, a HEAD then a PUT: two writers between them can both win
        (the race the S3 storage docs describe).
        """
        if version is None:
            try:
                return self.write(key, io.BytesIO(content))
            except ObjectExists:
                raise ObjectChanged(key) from None
        if not self.conditional_writes:
            try:
                current = self.stat(key).version
            except ObjectNotFound:
                current = None
            if current != version:
                raise ObjectChanged(key)
            return self.write(key, io.BytesIO(content), overwrite=True)
        full_key = self._key(key)

        def put() -> str:
            response = self.clients().put_object(
                Bucket=self.bucket, Key=full_key, Body=content, IfMatch=f'"{version}"'
            )
            return response["ETag"]

        try:
            tag = self._conditional(key, put)
        except (ObjectExists, ObjectNotFound):  # 412: another version; 404: deleted meanwhile
            raise ObjectChanged(key) from None
        return ObjectInfo(key, len(content), etag(tag))

    def _refuse_if_exists(self, key: str) -> None:
        try:
            self.stat(key)
        except ObjectNotFound:
            return
        raise ObjectExists(key)

    def _conditions(self, overwrite: bool) -> dict[str, Any]:
        return {} if overwrite or not self.conditional_writes else {"IfNoneMatch": "*"}

    def _put(self, key: str, full_key: str, body: bytes, *, overwrite: bool) -> ObjectInfo:
        def put() -> str:
            response = self.clients().put_object(
                Bucket=self.bucket, Key=full_key, Body=body, **self._conditions(overwrite)
            )
            return response["ETag"]

        tag = self._conditional(key, put)
        return ObjectInfo(key, len(body), etag(tag))

    def _conditional(self, key: str, request: Callable[[], str]) -> str:
        """Run a conditional write: 412 means another writer won, 409 means retry shortly."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                with self._translated(key, "write"):
                    return request()
            except StorageError as error:
                code = error_code(error.__cause__)
                if code == "PreconditionFailed":
                    raise ObjectExists(key) from None
                if code != "ConditionalRequestConflict" or attempt == CONFLICT_RETRIES:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _put_multipart(
        self, key: str, full_key: str, first: bytes, data: IO[bytes], *, overwrite: bool
    ) -> ObjectInfo:
        client = self.clients()
        # Mirror s3transfer: with botocore's default checksums, declare CRC32 for the whole upload.
        setting = getattr(client.meta.config, "request_checksum_calculation", None)
        algorithm: dict[str, Any] = (
            {"ChecksumAlgorithm": "CRC32"} if setting == "when_supported" else {}
        )
        with self._translated(key, "start an upload of"):
            upload_id = client.create_multipart_upload(
                Bucket=self.bucket,
                Key=full_key,
                **algorithm,
            )["UploadId"]
        try:
            parts, size = self._upload_parts(key, full_key, upload_id, first, data, algorithm)

            def complete() -> str:
                response = client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=full_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    **self._conditions(overwrite),
                )
                return response["ETag"]

            tag = self._conditional(key, complete)
        except BaseException:
            # Nothing was made visible; drop the parts so they cost nothing.
            with contextlib.suppress(ClientError, BotoCoreError):
                client.abort_multipart_upload(Bucket=self.bucket, Key=full_key, UploadId=upload_id)
            raise
        return ObjectInfo(key, size, etag(tag))

    def _upload_parts(
        self,
        key: str,
        full_key: str,
        upload_id: str,
        first: bytes,
        data: IO[bytes],
        algorithm: dict[str, Any],
    ) -> tuple[list[CompletedPartTypeDef], int]:
        client = self.clients()
        parts: list[CompletedPartTypeDef] = []
        size = 0
        chunk = first
        while chunk:
            number = len(parts) + 1
            with self._translated(key, f"upload part {number} of"):
                response = client.upload_part(
                    Bucket=self.bucket,
                    Key=full_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    **algorithm,
                )
            part: CompletedPartTypeDef = {"PartNumber": number, "ETag": response["ETag"]}
            if "ChecksumCRC32" in response and algorithm:
                part["ChecksumCRC32"] = response["ChecksumCRC32"]
            parts.append(part)
            size += len(chunk)
            chunk = _read_part(data, self.part_size, self._url(key))
        return parts, size

    def delete(self, key: str) -> None:
        """DELETE the object (S3 deletes are idempotent)."""
        with self._translated(key, "delete"):
            self.clients().delete_object(Bucket=self.bucket, Key=self._key(key))


def _read_part(data: IO[bytes], size: int, url: str) -> bytes:
    """Read up to ``size`` bytes (fewer only at the end of the stream)."""
    buffer = bytearray()
    try:
        while len(buffer) < size:
            chunk = data.read(size - len(buffer))
            if not chunk:
                break
            buffer += chunk
    except OSError as error:
        raise StorageError(f"cannot write {url}: reading the data failed: {error}") from error
    return bytes(buffer)
