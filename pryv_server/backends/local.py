"""The ``file`` backend: folders and files on this machine."""

from __future__ import annotations

from pathlib import Path

from pryv_server.auth.source import LocalFileSource
from pryv_server.config import Location
from pryv_server.config import Settings
from pryv_server.errors import ConfigError
from pryv_server.storage.local import LocalStorage


class LocalConnector:
    """Open local folders as stores (created on first start) and local users files."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def storage(self, location: Location, *, check: bool = True) -> LocalStorage:
        """Open the folder, creating it, and remove temp files a crash left behind.

        :raises ConfigError: the folder cannot be created.
        """
        try:
            storage = LocalStorage(location.path)
            if check:
                storage.sweep_temp_files()
            return storage
        except OSError as error:
            raise ConfigError(
                f"{location.path}: cannot create the storage folder: {error}"
            ) from None

    def file_source(self, location: Location, *, check_interval: float) -> LocalFileSource:
        """Return the file; a stat per request is cheap, so ``check_interval`` is not needed."""
        return LocalFileSource(Path(location.path))

    def read_config(self, location: Location) -> bytes | None:
        """Read the file (None when missing).

        :raises ConfigError: it exists but cannot be read.
        """
        try:
            return Path(location.path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ConfigError(
                f"{location.path}: cannot read the configuration file: {error}"
            ) from None
