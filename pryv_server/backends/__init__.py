"""Where a path option's scheme is turned into a store: one table, scheme -> connector.

A path option (``projects-path``, ``packages-path``, ``users-path``, ``htpasswd-path``, the
config file itself) is a :class:`~pryv_server.config.Location` whose scheme picks a connector
from :data:`CONNECTORS`. A connector (:class:`~pryv_server.backends.base.Connector`) opens a
store below a location, a users file kept at a location, and a configuration file. The table
names each connector by module and class so that a backend's client library (boto3 for ``s3``)
is imported only when a location uses it, and says which ``pip`` extra provides that library.

Adding a backend (GCS, Azure...) is one module here that implements the connector, one row in
:data:`CONNECTORS`, and the scheme's name in :data:`pryv_server.config.STORE_SCHEMES` (the config
file is validated before any backend is imported; a unit test keeps the two lists equal).

Layering: this package sits under the composition root (``app``, ``cli``) and above ``storage``
and ``auth``, whose concrete classes it builds. ``web`` and ``core`` never import it: they see a
:class:`~pryv_server.storage.Storage` and a user store, never a scheme.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

from pryv_server.auth.source import FileSource
from pryv_server.backends.base import Connector
from pryv_server.config import Location
from pryv_server.config import Settings
from pryv_server.errors import ConfigError
from pryv_server.storage.base import Storage

__all__ = ["CONNECTORS", "Backends", "ConnectorSpec", "read_remote_config"]


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """One row of the table: where the connector is, and what it needs installed."""

    module: str
    name: str
    library: str = ""  # what a user would call the dependency, for the error message
    extra: str = ""  # the pip extra that installs it
    requires: frozenset[str] = frozenset()  # top-level modules that ``module`` imports with it


CONNECTORS: Mapping[str, ConnectorSpec] = MappingProxyType(
    {
        "file": ConnectorSpec("pryv_server.backends.local", "LocalConnector"),
        "s3": ConnectorSpec(
            "pryv_server.backends.s3",
            "S3Connector",
            library="boto3",
            extra="aws",
            requires=frozenset({"boto3", "botocore", "s3transfer"}),
        ),
    }
)


class Backends:
    """The connectors of one app, each built on first use and then shared.

    Sharing matters: an S3 connector holds the process's one client pool.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self._connectors: dict[str, Connector] = {}

    def connector(self, scheme: str) -> Connector:
        """Return the connector of ``scheme``, importing its module now.

        :raises ConfigError: no backend serves ``scheme``, or its extra is not installed.
        """
        if scheme not in self._connectors:
            self._connectors[scheme] = _load(scheme, self.settings)
        return self._connectors[scheme]

    def storage(self, location: Location) -> Storage:
        """Open (and check) the store below ``location``."""
        return self.connector(location.scheme).storage(location)

    def file_source(self, location: Location, *, check_interval: float) -> FileSource:
        """Open the users file at ``location``; a remote one's version is re-checked this often."""
        return self.connector(location.scheme).file_source(location, check_interval=check_interval)


def read_remote_config(location: Location) -> bytes | None:
    """Read a configuration file from a non-local location (None when absent).

    The connector is built without settings: they are inside the very file being read.
    """
    return Backends().connector(location.scheme).read_config(location)


def _load(scheme: str, settings: Settings | None) -> Connector:
    spec = CONNECTORS.get(scheme)
    if spec is None:
        raise ConfigError(f"{scheme}:// locations are not supported by this pryv")
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] not in spec.requires:
            raise
        raise ConfigError(
            f"{scheme}:// paths need {spec.library}, which pryv installs "
            f'with its {spec.extra} extra: pip install "pryv[{spec.extra}]"'
        ) from None
    return cast(Connector, getattr(module, spec.name)(settings))
