"""The S3 client of one process, and botocore's errors turned into pryv's storage errors.

boto3 clients must not cross a ``fork`` (gunicorn builds the app in its master, then forks the
workers), so a :class:`ClientProvider` makes one client per process, lazily. Credentials, region
and endpoint come from boto3's standard chain (environment, ``~/.aws`` files, profiles, instance
roles, ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``); explicit values override it.

This module imports boto3; nothing imports it unless an ``s3://`` location is configured.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError
from botocore.exceptions import NoCredentialsError

from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class ClientProvider:
    """Make one boto3 S3 client per process, on first use, shared by that process's threads.

    A client holds a connection pool; sockets inherited across a ``fork`` would be shared by two
    processes, so a process that finds a client made by its parent makes its own. Clients are
    thread-safe once made; making one is not, hence the lock. (gunicorn forks from the master's
    only thread, so the lock is never held across a fork.)
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_connections: int = 32,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.max_connections = max_connections
        self._lock = threading.Lock()
        self._current: tuple[int, S3Client] | None = None

    def __call__(self) -> S3Client:
        """Return this process's client, making it on first use."""
        pid = os.getpid()
        current = self._current
        if current is not None and current[0] == pid:
            return current[1]
        with self._lock:
            if self._current is None or self._current[0] != pid:
                # A new Session per client: boto3's default session is not thread-safe.
                session = boto3.session.Session(region_name=self.region or None)
                config = Config(
                    max_pool_connections=self.max_connections,
                    retries={"mode": "standard"},
                    # SigV4 for presigned URLs too (botocore may still presign with SigV2,
                    # which newer buckets, Cloudflare R2 and others refuse).
                    signature_version="s3v4",
                )
                client = session.client("s3", endpoint_url=self.endpoint_url, config=config)
                self._current = (pid, client)
            return self._current[1]


@contextlib.contextmanager
def translate_errors(key: str, url: str, action: str) -> Iterator[None]:
    """Turn botocore's errors into StorageError subclasses (the only ones callers see).

    ``url`` names the object in messages; ``action`` is what was attempted ("read", "write"...).
    """
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in NOT_FOUND_CODES:
            raise ObjectNotFound(key) from None
        message = error.response.get("Error", {}).get("Message", "") or str(error)
        raise StorageError(f"cannot {action} {url}: {code}: {message}") from error
    except NoCredentialsError:
        raise StorageError(
            f"cannot {action} {url}: no AWS credentials found "
            "(set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance role)"
        ) from None
    except BotoCoreError as error:
        raise StorageError(f"cannot {action} {url}: {error}") from error


def error_code(error: BaseException | None) -> str:
    """Return S3's error code (``PreconditionFailed``...) of a ClientError, else ``""``."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def etag(value: str) -> str:
    """Return an ETag without its quotes: the version token of :class:`ObjectInfo`."""
    return value.strip('"')
