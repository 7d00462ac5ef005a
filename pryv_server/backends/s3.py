"""The ``s3`` backend: stores, users files and the config file in S3 buckets, one client pool.

Importing this module imports boto3, which only ``pip install "pryv[aws]"`` provides; the
backends table (:mod:`pryv_server.backends`) imports it only when a location is ``s3://``.
"""

from __future__ import annotations

from pryv_server.backends.store_file import StorageFileSource
from pryv_server.config import Location
from pryv_server.config import Settings
from pryv_server.errors import ConfigError
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage.base import validate_key
from pryv_server.storage.s3 import S3Storage
from pryv_server.storage.s3_client import ClientProvider


class S3Connector:
    """Open ``s3://`` locations with one shared :class:`ClientProvider` and the ``[aws]`` options.

    Credentials, region and endpoint come from boto3's standard chain; ``[aws] endpoint-url`` and
    ``region`` override it when set.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self.clients = ClientProvider(
            endpoint_url=settings.aws_endpoint_url if settings else None,
            region=settings.aws_region if settings else None,
        )

    def storage(self, location: Location, *, check: bool = True) -> S3Storage:
        """Return the store below ``location``, first checking its bucket and conditional writes.

        :raises ConfigError: the bucket is missing or unreachable, or the store cannot refuse
            overwrites although ``conditional-writes`` is on.
        """
        storage = S3Storage(
            location.bucket,
            location.path,
            clients=self.clients,
            conditional_writes=self.settings.aws_conditional_writes if self.settings else True,
            url_expiry=self.settings.aws_presign_expiry if self.settings else 300,
        )
        if check:
            try:
                storage.check()
                storage.check_conditional_writes()
            except StorageError as error:
                raise ConfigError(f"{location}: {error}") from None
        return storage

    def file_source(self, location: Location, *, check_interval: float) -> StorageFileSource:
        """Return the object at ``location`` as a users-file source, re-read when its ETag moves."""
        storage = self.storage(_bucket(location), check=False)
        try:
            storage.check()
        except StorageError as error:
            raise ConfigError(f"{location}: {error}") from None
        return StorageFileSource(
            storage, _object_key(location), name=str(location), check_interval=check_interval
        )

    def read_config(self, location: Location) -> bytes | None:
        """Read a configuration file with boto3's standard chain (None when absent).

        The ``[aws]`` options cannot apply here, since they are inside the very file being read:
        set ``AWS_ENDPOINT_URL`` (or a profile) in the environment for an S3-compatible store.
        """
        storage = self.storage(_bucket(location), check=False)
        try:
            return storage.read(_object_key(location))
        except ObjectNotFound:
            return None
        except StorageError as error:
            raise ConfigError(f"{location}: cannot read the configuration file: {error}") from None


def _bucket(location: Location) -> Location:
    """Return the location of the whole bucket (a users or config file's key is its path)."""
    return Location(location.scheme, "", location.bucket)


def _object_key(location: Location) -> str:
    if not location.path:
        raise ConfigError(f"{location}: names a bucket but no object (expected s3://bucket/key)")
    try:
        return validate_key(location.path)
    except StorageError as error:
        raise ConfigError(f"{location}: {error}") from None
