"""An admin's say over single upstream names: block, pin and purge (``pryv upstream ...``).

* **block**: the name is never looked up or fetched upstream, and what pryv cached of it is not
  served (kept, so unblocking restores it; purge drops it). Its page and files answer ``403``,
  not ``404``: on a 404 uv moves on to its next index (and pip reads every index anyway), so a
  client pointed at pryv and at PyPI would fetch the very name the admin blocked, from PyPI.
* **pin**: the cached page is served as it is, never refreshed from upstream (a freeze: new
  releases and upstream removals are not seen) until unpinned. A pinned name pryv holds no page
  of is fetched once, then frozen.
* **purge**: the cached page and every stored file and core metadata it lists are deleted, and
  every process drops its copy in memory; the next request fetches the page again, and each
  file on its next download, checked against upstream's sha256 again.

Each fact is one object in the projects store (``layout.upstream_control_key``): a block or a
pin is created if absent and deleted to lift it; a purge is the time of the last one, replaced
conditionally. Every change is journaled (the catalog's change journal), so the workers of a
server and the instances on one bucket agree on the next catalog check, as for project roles.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from types import MappingProxyType

from packaging.utils import NormalizedName

from pryv_server.core import layout
from pryv_server.core.catalog import Catalog
from pryv_server.core.names import normalize
from pryv_server.core.publish import utc_now
from pryv_server.core.record_set import Record
from pryv_server.core.record_set import RecordSet
from pryv_server.core.upstream import CachedPage
from pryv_server.errors import ObjectChanged
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.storage import Storage

log = logging.getLogger(__name__)

BLOCK = "block"
PIN = "pin"
PURGE = "purge"
KINDS = (BLOCK, PIN, PURGE)
_PURGE_RETRIES = 5


@dataclass(frozen=True, slots=True)
class Controls:
    """What the admins decided, as the mirror reads it on every request (dict lookups)."""

    blocked: frozenset[NormalizedName] = frozenset()
    pinned: frozenset[NormalizedName] = frozenset()
    # name -> epoch seconds of its last purge: a page fetched at or before it is gone.
    purged: Mapping[NormalizedName, float] = field(default_factory=lambda: MappingProxyType({}))

    def dropped(self, name: NormalizedName, fetched: float) -> bool:
        """Say whether a copy of ``name`` fetched at ``fetched`` was purged since."""
        return fetched <= self.purged.get(name, float("-inf"))


NO_CONTROLS = Controls()


@dataclass(frozen=True, slots=True)
class Purged:
    """What a purge removed."""

    page: bool
    files: int


class UpstreamControls:
    """Block, pin and purge upstream names; read the decisions back cheaply."""

    def __init__(
        self,
        records: Storage,
        blobs: Storage,
        catalog: Catalog,
        *,
        clock: Callable[[], float],
    ) -> None:
        self._set = RecordSet(records, layout.UPSTREAM_CONTROLS_PREFIX, catalog)
        self.blobs = blobs
        self._clock = clock
        self._built_from: Mapping[str, Record] | None = None
        self._controls = NO_CONTROLS

    def current(self) -> Controls:
        """Return the decisions; the same object until one changes (in any process)."""
        records = self._set.current()
        if records is not self._built_from:
            self._controls = _controls_of(records)
            self._built_from = records
        return self._controls

    def set(self, kind: str, name: str, *, by: str) -> bool:
        """Block or pin ``name``; False when it already was (nothing changes then)."""
        normalized = normalize(name)
        record: Record = {"project": normalized, "kind": kind, "by": by, "time": utc_now()}
        try:
            self._set.create(layout.upstream_control_key(normalized, kind), record)
        except ObjectExists:
            return False
        log.info("%s: upstream %s of %s", by, kind, normalized)
        return True

    def lift(self, kind: str, name: str, *, by: str) -> bool:
        """Unblock or unpin ``name``; False when it was not blocked or pinned."""
        normalized = normalize(name)
        key = layout.upstream_control_key(normalized, kind)
        try:
            self._set.store.stat(key)
        except ObjectNotFound:
            return False
        self._set.delete(key)
        log.info("%s: upstream un%s of %s", by, kind, normalized)
        return True

    def purge(self, name: str, *, by: str, keep: frozenset[str] = frozenset()) -> Purged:
        """Delete ``name``'s cached page and stored files; every process drops its copy.

        The purge time is recorded first, so a process that fetches the page meanwhile keeps
        nothing older than this call.

        :param keep: blob keys that local records name (a name uploaded here after it was
            served from upstream may hold the very same file): never deleted.
        """
        normalized = normalize(name)
        self._record_purge(normalized, by)
        page_key = layout.upstream_page_key(normalized)
        try:
            page = CachedPage.from_json(self.blobs.read(page_key))
        except ObjectNotFound:
            return Purged(page=False, files=0)
        except (ValueError, KeyError, TypeError):
            log.warning("purging the unreadable upstream page of %r", normalized)
            self.blobs.delete(page_key)
            return Purged(page=True, files=0)
        removed = 0
        for file in page.files:
            blob = layout.blob_key(file.sha256, file.filename)
            if blob in keep:
                continue
            for key in (blob, layout.core_metadata_key(blob)):
                if self._exists(key):
                    self.blobs.delete(key)
                    removed += key == blob
        self.blobs.delete(page_key)
        log.info("%s purged the upstream cache of %s (%d files)", by, normalized, removed)
        return Purged(page=True, files=removed)

    def listing(self) -> list[tuple[str, str, str, str]]:
        """Return ``(project, kind, by, time)`` rows of the blocks, pins and purges, sorted."""
        self._set.refresh()
        rows = [
            (str(r.get("project")), str(r.get("kind")), str(r.get("by")), str(r.get("time")))
            for r in self._set.current().values()
        ]
        return sorted(rows)

    def _record_purge(self, name: NormalizedName, by: str) -> None:
        key = layout.upstream_control_key(name, PURGE)
        for _attempt in range(_PURGE_RETRIES):
            found = self._set.read(key)
            record: Record = {"project": name, "kind": PURGE, "by": by, "time": utc_now()}
            record["at"] = self._clock()
            try:
                self._set.replace(key, record, version=found[1] if found else None)
            except ObjectChanged:
                continue  # another admin purged at the same moment: record ours after theirs
            return
        raise ObjectChanged(f"the purge record of {name!r} keeps changing; try again")

    def _exists(self, key: str) -> bool:
        try:
            self.blobs.stat(key)
        except ObjectNotFound:
            return False
        return True


def _controls_of(records: Mapping[str, Record]) -> Controls:
    blocked: set[NormalizedName] = set()
    pinned: set[NormalizedName] = set()
    purged: dict[NormalizedName, float] = {}
    for record in records.values():
        project, kind = record.get("project"), record.get("kind")
        if not isinstance(project, str):
            continue
        name = NormalizedName(project)
        if kind == BLOCK:
            blocked.add(name)
        elif kind == PIN:
            pinned.add(name)
        elif kind == PURGE and isinstance(at := record.get("at"), int | float):
            purged[name] = float(at)
    return Controls(frozenset(blocked), frozenset(pinned), MappingProxyType(purged))
