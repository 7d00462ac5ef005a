"""Read the catalog's records by key: package records, overlays and side records, decoded.

A start without a checkpoint reads every record, and a catch-up the keys its journal entries
name. S3 answers each GET in tens of milliseconds, so several threads read at once there; a
local disk needs one. A record that cannot be read or parsed is skipped with a warning (None), as
one removed since it was listed or journaled is: one bad object must not stop a start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pryv_server.core import overlays
from pryv_server.core.layout import is_overlay_key
from pryv_server.core.layout import is_record_key
from pryv_server.core.models import Package
from pryv_server.core.overlays import Overlay
from pryv_server.core.side_records import SideRecord
from pryv_server.errors import ObjectNotFound
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)

Record = Package | Overlay | SideRecord


class RecordReader:
    """Read and decode records of one store.

    :param side: says whether a key names a side record (kept as its raw JSON object).
    :param loaders: threads reading at once.
    """

    def __init__(self, store: Storage, *, side: Callable[[str], bool], loaders: int = 1) -> None:
        self.store = store
        self.side = side
        self.loaders = loaders

    def load_all(self, keys: list[str]) -> list[Record | None]:
        """Read ``keys`` (in parallel with several loaders), in order; None where unreadable."""
        if self.loaders <= 1 or len(keys) < 2:
            return [self.load(key) for key in keys]
        with ThreadPoolExecutor(max_workers=min(self.loaders, len(keys))) as pool:
            return list(pool.map(self.load, keys))

    def load(self, key: str) -> Record | None:
        """Read one record now (None: gone or unreadable)."""
        try:
            return self.decode(key, json.loads(self.store.read(key)))
        except ObjectNotFound:
            return None  # deleted since it was listed or journaled
        except ValueError as error:
            log.warning("skipping the unreadable record %s: %s", key, error)
            return None

    def decode_all(
        self, objects: Mapping[str, Any | None], kept: Callable[[str], bool]
    ) -> dict[str, Record | None]:
        """Decode the stored objects whose keys ``kept`` keeps (None stays None: removed)."""
        return {
            key: None if value is None else self.decode(key, value)
            for key, value in objects.items()
            if kept(key)
        }

    def decode(self, key: str, record: Any) -> Record | None:
        """Turn a stored JSON object into a package, an overlay or a side record (None: bad)."""
        if not is_record_key(key) and self.side(key):  # (most keys are records: no prefix loop)
            return record if isinstance(record, dict) else None
        try:
            if is_overlay_key(key):
                return overlays.decode_record(key, record)
            if isinstance(record, list):  # as a checkpoint holds it
                return Package.from_held(record)
            return Package.from_json(record)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("skipping the unreadable record %s: %s", key, error)
            return None
