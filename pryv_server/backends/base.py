"""What a backend provides: the :class:`Connector` protocol every row of the table implements."""

from __future__ import annotations

from typing import Protocol

from pryv_server.auth.source import FileSource
from pryv_server.config import Location
from pryv_server.config import Settings
from pryv_server.storage.base import Storage


class Connector(Protocol):
    """Open what a path option of one scheme points to.

    Built once per app with its settings (None when reading the configuration file itself).
    """

    def __init__(self, settings: Settings | None = None) -> None: ...

    def storage(self, location: Location, *, check: bool = True) -> Storage:
        """Return the store below ``location``, checked unless ``check`` is false.

        :raises ConfigError: the store cannot be opened; the message names ``location``.
        """
        ...

    def file_source(self, location: Location, *, check_interval: float) -> FileSource:
        """Return the users file at ``location``; ``check_interval`` bounds remote HEADs."""
        ...

    def read_config(self, location: Location) -> bytes | None:
        """Read the configuration file at ``location`` (None when it does not exist).

        :raises ConfigError: it exists but cannot be read.
        """
        ...
