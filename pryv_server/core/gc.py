"""``pryv gc``: remove what no visible record references, and report what it freed.

What it collects:

* in the packages store, a blob, a core-metadata file, a provenance object (PEP 740) or a
  rendered description that no visible
  record names (left by an upload that crashed before its record, by a deletion that stopped
  half-way, or by a description renderer that changed version);
* in the projects store, the record of a file whose tombstone exists (a deletion that stopped
  after its tombstone): readers already hide it.

**Why it is safe with uploads in flight and several instances** (on one bucket or one disk):

1. An upload stores its blob, metadata and description *before* its record, the commit point
   (:mod:`pryv_server.core.publish`). Until then they are unreferenced. ``gc`` leaves alone every
   object younger than ``[lifecycle] gc-margin`` (default a day), judged by the store's own write
   time, while an upload writes its record seconds after its blob.
2. An upload whose blob already exists (an old orphan of the same file) rewrites nothing. If
   ``gc`` deletes that orphan in the instant between the upload's check and its record, the
   upload notices: after committing, it checks that its blob is there and stores it again from
   the bytes it still holds.
3. ``gc`` decides from a fresh listing of the records *and then* re-reads each candidate's
   version just before deleting it: an object rewritten meanwhile (a repair, a re-upload) is
   spared.
4. Deleting is idempotent: two ``gc`` runs at once delete the same objects, and neither fails.
5. Records are only ever deleted when their tombstone exists, and a tombstoned filename can never
   be published again, so nothing can start referencing them.

What is left is a window of milliseconds between step 3's re-read and the delete, in which an
upload of the very same file (same name, same bytes) that found an old orphan must also commit
and check its blob. ``pryv verify`` would report it and uploading the file again repairs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

from pryv_server.core import descriptions
from pryv_server.core import layout
from pryv_server.core.catalog import Catalog
from pryv_server.core.catalog import Snapshot
from pryv_server.errors import ObjectNotFound
from pryv_server.storage.base import ObjectInfo
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)


@dataclass
class Collected:
    """What a collection freed (or, in a dry run, would free) and what it spared."""

    freed: list[tuple[str, str, int]] = field(default_factory=list)  # (store, key, bytes)
    spared_young: int = 0  # unreferenced, but younger than the margin

    @property
    def freed_bytes(self) -> int:
        """The bytes freed, all stores together."""
        return sum(size for _, _, size in self.freed)


def referenced_blobs(snapshot: Snapshot) -> set[str]:
    """Return every packages-store key that a visible file needs."""
    keys: set[str] = set()
    for package in snapshot.by_filename.values():
        keys.add(package.blob_key)
        keys.add(layout.core_metadata_key(package.blob_key))
        if package.metadata_key:
            keys.add(package.metadata_key)
        if package.provenance_key:
            keys.add(package.provenance_key)
        if package.description_sha256:
            content_type = package.metadata.description_content_type
            keys.add(descriptions.storage_key(package.description_sha256, content_type))
    return keys


def collect(
    records: Storage,
    blobs: Storage,
    catalog: Catalog,
    *,
    margin: float,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
) -> Collected:
    """Remove (or with ``dry_run`` only list) what nothing references; see the module docstring."""
    snapshot = catalog.snapshot()
    report = Collected()
    # Listed, not read from the snapshot: a record restored behind the journal's back counts too.
    leftovers = sorted(
        info.key
        for info in records.list_objects()
        if layout.is_record_key(info.key)
        and layout.TOMBSTONE_PREFIX + info.key in snapshot.overlays
    )
    for key in leftovers:
        report.freed.append(("projects", key, 0))
        if not dry_run:
            records.delete(key)
    if leftovers and not dry_run:
        catalog.changed(*leftovers)
    referenced = referenced_blobs(snapshot)
    now = clock()
    for info in sorted(blobs.list_objects(), key=lambda item: item.key):
        if not layout.is_blob_key(info.key) or info.key in referenced:
            continue
        if not info.modified or now - info.modified < margin:
            report.spared_young += 1  # maybe an upload in flight (unknown age counts as young)
            continue
        if dry_run or _delete_if_unchanged(blobs, info):
            report.freed.append(("packages", info.key, info.size))
    if report.freed and not dry_run:
        log.info("gc freed %d object(s), %d bytes", len(report.freed), report.freed_bytes)
    return report


def _delete_if_unchanged(blobs: Storage, info: ObjectInfo) -> bool:
    """Delete the object unless it was rewritten since it was listed (step 3 of the docstring)."""
    try:
        if blobs.stat(info.key).version != info.version:
            return False
    except ObjectNotFound:
        return False  # another gc got there first
    blobs.delete(info.key)
    return True
