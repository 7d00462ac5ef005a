"""The registry service: read projects and files, and change them through one writer.

Reading answers from the in-memory index (:mod:`pryv_server.core.catalog`). Publishing a file is
:mod:`pryv_server.core.publish`'s job; yanking and the metadata backfill write small records
beside the package records (:mod:`pryv_server.core.overlays`), never the records themselves.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import BinaryIO

from pryv_server.config_values import RetentionRule
from pryv_server.core import distributions
from pryv_server.core import gc
from pryv_server.core import layout
from pryv_server.core import overlays
from pryv_server.core import retention
from pryv_server.core.catalog import Catalog
from pryv_server.core.catalog import Snapshot
from pryv_server.core.events import Events
from pryv_server.core.events import no_events
from pryv_server.core.lifecycle import Lifecycle
from pryv_server.core.metadata_trust import serves_core_metadata
from pryv_server.core.models import Package
from pryv_server.core.models import Project
from pryv_server.core.models import Release
from pryv_server.core.models import YankState
from pryv_server.core.names import normalize
from pryv_server.core.names import parse_filename
from pryv_server.core.publish import Published
from pryv_server.core.publish import Publisher
from pryv_server.core.publish import Upload
from pryv_server.core.publish import utc_now
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import PackageNotFound
from pryv_server.errors import ProjectNotFound
from pryv_server.storage.base import CHUNK_SIZE
from pryv_server.storage.base import Presigner
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)


class Registry:
    """Projects, releases and files over two stores: records and package bytes."""

    def __init__(
        self,
        records: Storage,
        blobs: Storage,
        catalog: Catalog,
        *,
        clock: Callable[[], str] = utc_now,
        links: Presigner | None = None,
        events: Events = no_events,
        sigstore: bool = False,
    ) -> None:
        self.records = records
        self.blobs = blobs
        self.catalog = catalog
        self._now = clock
        self.links = links
        self.publisher = Publisher(records, blobs, catalog, clock=clock, sigstore=sigstore)
        if sigstore:
            from pryv_server.core import sigstore as sigstore_check

            sigstore_check.load()
        self.events = events
        self.lifecycle = Lifecycle(records, blobs, catalog, clock, events)

    # Reading -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Return the current immutable view of the registry (to read several things at once)."""
        return self.catalog.snapshot()

    def list_projects(self) -> list[Project]:
        """Return every project, sorted by normalized name."""
        return self.catalog.snapshot().projects()

    def get_project(self, name: str) -> Project:
        """Return the project with this name in any spelling.

        :raises ProjectNotFound: no such project.
        """
        project = self.catalog.snapshot().project(normalize(name))
        if project is None:
            raise ProjectNotFound(f"no project named {name!r}")
        return project

    def get_package(self, filename: str) -> Package:
        """Return the file published under this exact filename.

        :raises PackageNotFound: no such file, or its project is quarantined (PEP 792).
        """
        snapshot = self.catalog.snapshot()
        package = snapshot.by_filename.get(filename)
        if package is None:
            raise PackageNotFound(f"no file named {filename!r}")
        status = snapshot.statuses.get(package.project)
        if status is not None and not status.offers_files:
            # PEP 792: a quarantined project offers no file for download, by any path.
            raise PackageNotFound(f"project {package.project!r} is quarantined: no file is offered")
        return package

    def description(self, package: Package) -> str:
        """Return a file's long description, read from its record (the catalog holds none)."""
        key = layout.record_key(package.project, package.identity)
        try:
            return str(json.loads(self.records.read(key))["metadata"].get("description") or "")
        except ObjectNotFound:
            return ""  # deleted since the page was asked for
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.error("the record %s is damaged; showing no description: %r", key, error)
            return ""

    def open_package(self, package: Package) -> BinaryIO:
        """Open the file's bytes for streaming."""
        return self.blobs.open(package.blob_key)

    def download_url(self, package: Package) -> str | None:
        """Return a short-lived URL serving the file's bytes directly, or None to stream them.

        Only set when the operator chose redirects and the package store can sign URLs (S3).
        """
        return None if self.links is None else self.links.presigned_url(package.blob_key)

    def open_metadata(self, package: Package) -> BinaryIO:
        """Open the file's core metadata (PEP 658).

        :raises PackageNotFound: the file has no extracted metadata.
        """
        if package.metadata_key is None:
            raise PackageNotFound(f"no metadata is stored for {package.filename!r}")
        return self.blobs.open(package.metadata_key)

    def read_provenance(self, package: Package) -> bytes:
        """Return the file's PEP 740 provenance object (small JSON, read whole).

        :raises PackageNotFound: the file was uploaded without attestations.
        """
        if package.provenance_key is None:
            raise PackageNotFound(f"no provenance is stored for {package.filename!r}")
        return self.blobs.read(package.provenance_key)

    def metadata_size(self, package: Package) -> int:
        """Return the size in bytes of the file's core metadata (a ``stat``; on S3 a HEAD).

        Records written before pryv served ``Content-Length`` for it do not hold it.

        :raises PackageNotFound: the file has no extracted metadata.
        """
        if package.metadata_key is None:
            raise PackageNotFound(f"no metadata is stored for {package.filename!r}")
        return self.blobs.stat(package.metadata_key).size

    # Publishing --------------------------------------------------------------------------

    def publish(self, upload: Upload) -> Published:
        """Validate and store one uploaded file (see :mod:`pryv_server.core.publish`).

        :raises InvalidUpload: a subclass naming the problem; nothing was stored.
        :raises DistributionExists: other bytes are already published under this filename.
        """
        published = self.publisher.publish(upload)
        if published.created:
            package = published.package
            self.events(
                "upload",
                {
                    "project": package.project,
                    "version": package.version,
                    "filename": package.filename,
                    "sha256": package.sha256,
                    "size": package.size,
                    "user": package.uploader,
                },
            )
        return published

    # Status (PEP 792) and deletion are registry.lifecycle's (core/lifecycle.py); gc, prune:

    def collect_garbage(self, *, margin: float, dry_run: bool = False) -> gc.Collected:
        """Remove what no visible record references (see :mod:`pryv_server.core.gc`)."""
        return gc.collect(self.records, self.blobs, self.catalog, margin=margin, dry_run=dry_run)

    def prune(
        self, rules: tuple[RetentionRule, ...], *, dry_run: bool = False
    ) -> list[retention.Doomed]:
        """Delete the releases the retention rules remove (:mod:`pryv_server.core.retention`)."""
        doomed = retention.plan(self.list_projects(), rules, datetime.now(UTC))
        if not dry_run:
            retention.prune(self.lifecycle, doomed)
        return doomed

    # Yanking (PEP 592) and metadata backfill -------------------------------------------

    def yank(
        self,
        project: str,
        version: str,
        *,
        filename: str | None = None,
        reason: str = "",
        user: str = "",
        undo: bool = False,
    ) -> Release:
        """Yank (or with ``undo`` un-yank) a whole release, or one file of it.

        Yanking a release covers files uploaded to it later too, and replaces any per-file state
        in it; yanking one file leaves its siblings alone. Package records are not touched: the
        state is a separate small record (see :mod:`pryv_server.core.overlays`).

        :returns: the release as every reader now sees it.
        :raises ProjectNotFound: no such project.
        :raises PackageNotFound: no such release, or no such file in it.
        :raises InvalidRequest: the reason is not one short line (see ``overlays.check_reason``).
        """
        reason = "" if undo else overlays.check_reason(reason)
        release = self._release(project, version)
        state = YankState(yanked=not undo, reason=reason, user=user, time=self._now())
        removed: list[str] = []
        if filename is None:
            for package in release.packages:
                file_key = layout.file_yank_key(package.project, package.version, package.identity)
                self.records.delete(file_key)
                removed.append(file_key)
            key = layout.release_yank_key(release.packages[0].project, str(release.version))
        else:
            matches = [p for p in release.packages if p.filename == filename]
            if not matches:
                raise PackageNotFound(f"release {version} of {project!r} has no file {filename!r}")
            file = matches[0]
            key = layout.file_yank_key(file.project, file.version, file.identity)
        self.records.write(key, io.BytesIO(overlays.encode(state)), overwrite=True)
        self.catalog.changed(key, *removed)
        self.events(
            "unyank" if undo else "yank",
            {"project": normalize(project), "version": version, "filename": filename,
             "reason": reason, "user": user},
        )  # fmt: skip
        log.info(
            "%s %s %s %s by %s",
            "un-yanked" if undo else "yanked",
            project,
            version,
            filename or "(whole release)",
            user or "?",
        )
        return self._release(project, version)

    def backfill_metadata(self) -> list[Package]:
        """Extract and serve the core metadata of files published without it (PEP 658).

        Files published before pryv stored ``<file>.metadata`` have none; their bytes are read
        once more, the metadata is stored beside them and a metadata record (written once)
        points to it. sdists older than Metadata-Version 2.2 are skipped (PEP 643).

        :returns: the files that gained metadata.
        """
        done: list[Package] = []
        written: list[str] = []
        for package in self.snapshot().by_filename.values():
            if package.metadata_key is not None or not serves_core_metadata(
                package.kind, package.metadata
            ):
                continue
            # Spool to disk: archives are read by seeking, and S3 bodies cannot seek.
            with (
                self.blobs.open(package.blob_key) as stream,
                tempfile.SpooledTemporaryFile(CHUNK_SIZE) as spooled,
            ):
                shutil.copyfileobj(stream, spooled, CHUNK_SIZE)
                parsed = parse_filename(package.filename)
                content = distributions.read_metadata_file(spooled, parsed)
            key, sha256 = self.publisher.store_metadata(package.blob_key, content)
            record = overlays.encode(overlays.MetadataRecord(key, sha256, self._now()))
            overlay_key = layout.backfilled_metadata_key(package.project, package.identity)
            try:
                self.records.write(overlay_key, io.BytesIO(record))
            except ObjectExists:
                pass  # another process backfilled the same bytes first
            done.append(package)
            written.append(overlay_key)
        if written:
            self.catalog.changed(*written)
        return done

    def verify(self) -> list[tuple[Package, str]]:
        """Hash every stored file and core metadata file against its record.

        Reads every byte once, so it is a maintenance command, not a per-request check. A file
        found missing or damaged is repaired by uploading the identical file again.

        :returns: (file, what is wrong) for every problem found, sorted by filename.
        """
        problems = []
        for package in sorted(self.snapshot().by_filename.values(), key=lambda p: p.filename):
            stored = [(package.blob_key, package.sha256, "file")]
            if package.metadata_key and package.metadata_sha256:
                stored.append((package.metadata_key, package.metadata_sha256, "core metadata"))
            for key, sha256, what in stored:
                if not self.publisher.blob_intact(key, sha256):
                    problems.append((package, f"its {what} is missing or damaged ({key})"))
        return problems

    def _release(self, project: str, version: str) -> Release:
        release = self.get_project(project).release(version)
        if release is None:
            raise PackageNotFound(f"{project!r} has no release {version!r}")
        return release
