"""A project's life after publishing: its PEP 792 status, and deleting files for good.

**Status** (PEP 792): every project is ``active`` until a status record says otherwise. The
record (one per project, :func:`~pryv_server.core.layout.project_status_key`) is last-writer-wins
like a yank: each write is the whole fact. ``archived`` and ``quarantined`` projects refuse new
files; a ``quarantined`` one offers none for download; ``deprecated`` only informs. Uploads read
the record from the store itself, not from a snapshot, so an instance that has not relisted yet
still refuses.

**Deletion** (a file, a release or a project) follows one protocol, so no reader ever sees half
of it and no deleted filename ever comes back:

1. write the file's **tombstone**, create-if-absent (an existing one means it is already
   deleted). From here on the catalog hides the record, on every instance that reads the
   tombstone, and publishing refuses the filename (and every spelling of it: the key is the
   file's identity), as PyPI does;
2. journal the tombstones (:meth:`Catalog.changed`), then delete the record, its file yank and
   its backfilled-metadata record and journal that too: gone from every page of this instance
   at once, of the others when they next follow the journal (within ``index-ttl``);
3. delete the blob and its core metadata when no record still visible names them (keys are
   content-addressed by digest *and* filename, so only another spelling of the same file could
   share them, and that one is tombstoned too).

A crash between steps leaves a tombstone whose record or blob is still stored: hidden from every
reader, refused to every publisher, and collected by ``pryv gc`` (see :mod:`pryv_server.core.gc`).

Who may do this is the web layer's question (``web.lifecycle.may_manage``); core only records who
did it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.utils import NormalizedName

from pryv_server.core import layout
from pryv_server.core import overlays
from pryv_server.core.catalog import Catalog
from pryv_server.core.events import Events
from pryv_server.core.events import no_events
from pryv_server.core.models import ACTIVE
from pryv_server.core.models import STATUSES
from pryv_server.core.models import Package
from pryv_server.core.models import ProjectStatus
from pryv_server.core.models import Tombstone
from pryv_server.core.names import DistributionFilename
from pryv_server.core.names import normalize
from pryv_server.errors import FilenameDeleted
from pryv_server.errors import InvalidRequest
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import PackageNotFound
from pryv_server.errors import ProjectClosed
from pryv_server.errors import ProjectNotFound
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)


def read_status(records: Storage, project: NormalizedName) -> ProjectStatus:
    """Read a project's status record from the store (absent or unreadable: ``active``)."""
    try:
        record = overlays.decode(
            layout.project_status_key(project), records.read(layout.project_status_key(project))
        )
    except ObjectNotFound:
        return ACTIVE
    except (ValueError, KeyError, TypeError) as error:
        log.warning("the status record of %s is unreadable (%s): treated as active", project, error)
        return ACTIVE
    return record if isinstance(record, ProjectStatus) else ACTIVE


def check_publishable(records: Storage, parsed: DistributionFilename) -> None:
    """Refuse a file whose project is closed or whose name was deleted; called before storing.

    :raises ProjectClosed: the project is archived or quarantined.
    :raises FilenameDeleted: a tombstone holds this filename.
    """
    status = read_status(records, parsed.project)
    if not status.accepts_uploads:
        why = f" ({status.reason})" if status.reason else ""
        raise ProjectClosed(
            f"project {parsed.project!r} is {status.status}{why} and accepts no new files "
            "(PEP 792); an admin or owner can set it back to active"
        )
    try:
        records.stat(layout.tombstone_key(parsed.project, parsed.identity))
    except ObjectNotFound:
        return
    # PyPI's wording; twine --skip-existing does not skip it (the file does not exist).
    raise FilenameDeleted(
        f"the filename {parsed.filename!r} has already been used by a file that was deleted; "
        "a deleted filename can never be uploaded again: upload a new version"
    )


@dataclass(frozen=True)
class Lifecycle:
    """Set project statuses and delete files, through the store's records only."""

    records: Storage
    blobs: Storage
    catalog: Catalog
    clock: Callable[[], str]
    events: Events = no_events

    def set_status(
        self, project: str, status: str, *, reason: str = "", user: str = ""
    ) -> ProjectStatus:
        """Give ``project`` a PEP 792 status (``active`` clears any other).

        :raises ProjectNotFound: no such project.
        :raises InvalidRequest: an unknown status, or a reason that is not one short line.
        """
        if status not in STATUSES:
            raise InvalidRequest(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        reason = overlays.check_reason(reason, "status")
        normalized = self._existing_project(project)
        record = ProjectStatus(status, reason, user, self.clock())
        key = layout.project_status_key(normalized)
        self.records.write(key, io.BytesIO(overlays.encode(record)), overwrite=True)
        self.catalog.changed(key)
        log.info("status of %s set to %s by %s (%s)", normalized, status, user or "?", reason)
        self.events(
            "status", {"project": normalized, "status": status, "reason": reason, "user": user}
        )
        return record

    def delete(
        self,
        project: str,
        version: str | None = None,
        *,
        filename: str | None = None,
        reason: str,
        user: str = "",
    ) -> list[Package]:
        """Delete one file, one release or a whole project, for good (module docstring).

        :returns: the files deleted, sorted by filename.
        :raises ProjectNotFound: no such project.
        :raises PackageNotFound: no such release, or no such file in it.
        :raises InvalidRequest: no reason, or one that is not one short line.
        """
        reason = overlays.check_reason(reason, "deletion")
        if not reason:
            raise InvalidRequest("say why with a reason: a deletion cannot be undone")
        targets = self.targets(project, version, filename)
        self.delete_packages(targets, reason=reason, user=user)
        if version is None and filename is None:
            # The name is free again (its filenames are not): a new project starts active.
            key = layout.project_status_key(targets[0].project)
            self.records.delete(key)
            self.catalog.changed(key)
        return targets

    def targets(self, project: str, version: str | None, filename: str | None) -> list[Package]:
        """Return the visible files a deletion of (project, version, filename) would remove."""
        found = self.catalog.snapshot().project(normalize(project))
        if found is None:
            raise ProjectNotFound(f"no project named {project!r}")
        if version is None:
            if filename is not None:
                raise InvalidRequest("name the version of the file to delete")
            packages = list(found.packages)
        else:
            release = found.release(version)
            if release is None:
                raise PackageNotFound(f"{project!r} has no release {version!r}")
            packages = [p for p in release.packages if filename in (None, p.filename)]
            if not packages:
                raise PackageNotFound(f"release {version} of {project!r} has no file {filename!r}")
        return sorted(packages, key=lambda package: package.filename)

    def delete_packages(self, packages: Iterable[Package], *, reason: str, user: str) -> None:
        """Tombstone, unlist and free each file (steps 1-3 of the module docstring)."""
        packages = list(packages)
        if not packages:
            return
        now = self.clock()
        stones = []
        for package in packages:
            tombstone = Tombstone(
                package.filename,
                package.sha256,
                package.blob_key,
                package.metadata_key,
                reason,
                user,
                now,
            )
            stone = layout.tombstone_key(package.project, package.identity)
            try:
                self.records.write(stone, io.BytesIO(overlays.encode(tombstone)), overwrite=False)
            except ObjectExists:
                pass  # deleted by someone else meanwhile: finish the job all the same
            stones.append(stone)
        # Journaled at once: from here on every instance hides these files.
        self.catalog.changed(*stones)
        removed = [key for package in packages for key in self._unlist(package)]
        self.catalog.changed(*removed)
        for package in packages:
            log.info("deleted %s by %s (%s)", package.filename, user or "?", reason)
        for package in packages:
            self.events(
                "delete",
                {
                    "project": package.project,
                    "version": package.version,
                    "filename": package.filename,
                    "sha256": package.sha256,
                    "reason": reason,
                    "user": user,
                },
            )
        referenced = {p.blob_key for p in self.catalog.snapshot().by_filename.values()}
        for package in packages:
            if package.blob_key not in referenced:
                self.blobs.delete(package.blob_key)
                self.blobs.delete(layout.core_metadata_key(package.blob_key))
                if package.provenance_key:
                    self.blobs.delete(package.provenance_key)

    def _unlist(self, package: Package) -> list[str]:
        """Remove the record of a tombstoned file and the overlays only it used; return their keys.

        (The sdist claim is not the catalog's, so it is not returned for the journal.)
        """
        keys = [
            layout.record_key(package.project, package.identity),
            layout.file_yank_key(package.project, package.version, package.identity),
            layout.backfilled_metadata_key(package.project, package.identity),
        ]
        for key in keys:
            self.records.delete(key)
        if package.kind == "sdist":
            claim = layout.sdist_claim_key(package.project, package.version)
            try:
                claimed = self.records.read(claim).decode("utf-8", "replace")
            except ObjectNotFound:
                return keys
            if claimed == package.filename:
                self.records.delete(claim)
        return keys

    def _existing_project(self, project: str) -> NormalizedName:
        normalized = normalize(project)
        if self.catalog.snapshot().project(normalized) is None:
            raise ProjectNotFound(f"no project named {project!r}")
        return normalized
