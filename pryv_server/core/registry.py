"""The registry service: read projects and files, and publish new files (the only writer).

Publishing follows one protocol so that nothing is ever visible half-written and no bytes are
ever overwritten:

1. validate the filename and the form, hash the bytes, check every digest sent;
2. read and validate the core metadata inside the archive, check it agrees with the filename;
3. store the bytes and the metadata under content-addressed keys (``<sha256>/<filename>``);
4. create the file's record exclusively: this is the commit point. If the record exists, the
   same bytes are an idempotent success and other bytes are :class:`DistributionExists`.

A crash before step 4 leaves only an unreferenced blob, which no reader ever sees.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import IO
from typing import BinaryIO

from packaging.version import InvalidVersion
from packaging.version import Version

from pryv_server.core import descriptions
from pryv_server.core import distributions
from pryv_server.core import overlays
from pryv_server.core.index import IndexCache
from pryv_server.core.index import Snapshot
from pryv_server.core.index import record_key
from pryv_server.core.models import Metadata
from pryv_server.core.models import Package
from pryv_server.core.models import Project
from pryv_server.core.models import Release
from pryv_server.core.models import YankState
from pryv_server.core.names import DistributionFilename
from pryv_server.core.names import normalize
from pryv_server.core.names import parse_filename
from pryv_server.errors import DistributionExists
from pryv_server.errors import InvalidFilename
from pryv_server.errors import InvalidMetadata
from pryv_server.errors import InvalidUpload
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import PackageNotFound
from pryv_server.errors import ProjectNotFound
from pryv_server.storage.base import Presigner
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)

FILETYPES = {"bdist_wheel": "wheel", "sdist": "sdist"}
# PEP 643: only an sdist's PKG-INFO of Metadata-Version 2.2 or later is reliable (fields not
# marked Dynamic match the wheels built from it), so only those are served as core metadata.
RELIABLE_SDIST_METADATA = Version("2.2")


@dataclass(frozen=True, slots=True)
class Upload:
    """One file sent to the legacy upload API, with what the form claims about it."""

    filename: str
    content: IO[bytes]
    uploader: str
    name: str = ""
    version: str = ""
    filetype: str = ""
    digests: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Published:
    """The outcome of a publish: the file, and whether this call created it."""

    package: Package
    created: bool


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Registry:
    """Projects, releases and files over two stores: records and package bytes."""

    def __init__(
        self,
        records: Storage,
        blobs: Storage,
        index: IndexCache,
        *,
        clock: Callable[[], str] = _utc_now,
        links: Presigner | None = None,
    ) -> None:
        self.records = records
        self.blobs = blobs
        self.index = index
        self._now = clock
        self.links = links

    # Reading -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Return the current immutable view of the registry (to read several things at once)."""
        return self.index.snapshot()

    def list_projects(self) -> list[Project]:
        """Return every project, sorted by normalized name."""
        return self.index.snapshot().projects()

    def get_project(self, name: str) -> Project:
        """Return the project with this name in any spelling.

        :raises ProjectNotFound: no such project.
        """
        project = self.index.snapshot().project(normalize(name))
        if project is None:
            raise ProjectNotFound(f"no project named {name!r}")
        return project

    def get_package(self, filename: str) -> Package:
        """Return the file published under this exact filename.

        :raises PackageNotFound: no such file.
        """
        package = self.index.snapshot().by_filename.get(filename)
        if package is None:
            raise PackageNotFound(f"no file named {filename!r}")
        return package

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

    # Publishing --------------------------------------------------------------------------

    def publish(self, upload: Upload) -> Published:
        """Validate and store one uploaded file; see the module docstring for the protocol.

        :raises InvalidUpload: a subclass naming the problem; nothing was stored.
        :raises DistributionExists: other bytes are already published under this filename.
        """
        parsed = parse_filename(upload.filename)
        _check_form(upload, parsed)
        upload.content.seek(0)
        digests = distributions.compute_digests(upload.content)
        distributions.check_digests(digests, upload.digests or {})
        if digests.size == 0:
            raise InvalidUpload("the uploaded file is empty")
        metadata_bytes = distributions.read_metadata_file(upload.content, parsed)
        metadata = Metadata.from_raw(distributions.parse_metadata(metadata_bytes))
        _check_metadata(metadata, parsed)

        key = record_key(parsed.project, parsed.identity)
        existing = self._existing(key)
        if existing is not None:
            return self._resolve_duplicate(existing, digests.sha256)

        blob_key = f"{digests.sha256[:2]}/{digests.sha256[2:4]}/{digests.sha256}/{upload.filename}"
        upload.content.seek(0)
        self._store_blob(blob_key, upload.content)
        descriptions.rendered(self.blobs, metadata.description, metadata.description_content_type)
        metadata_key = metadata_sha256 = None
        if serves_metadata(parsed.kind, metadata):
            metadata_key, metadata_sha256 = self._store_metadata(blob_key, metadata_bytes)
        package = Package(
            filename=upload.filename,
            project=parsed.project,
            version=str(parsed.version),
            kind=parsed.kind,
            identity=parsed.identity,
            size=digests.size,
            sha256=digests.sha256,
            md5=digests.md5,
            blake2_256=digests.blake2_256,
            upload_time=self._now(),
            uploader=upload.uploader,
            blob_key=blob_key,
            metadata_key=metadata_key,
            metadata_sha256=metadata_sha256,
            metadata=metadata,
        )
        record = json.dumps(package.to_json(), sort_keys=True).encode("utf-8")
        try:
            info = self.records.write(key, io.BytesIO(record), overwrite=False)
        except ObjectExists:
            # Another upload of the same file won the race between our check and our write.
            existing = self._existing(key)
            if existing is None:  # pragma: no cover - the record vanished again
                raise
            return self._resolve_duplicate(existing, digests.sha256)
        self.index.add(key, info.version, package)
        self.index.bump_generation()
        log.info("published %s (%s) by %s", package.filename, package.sha256, package.uploader)
        return Published(package, created=True)

    def _existing(self, key: str) -> Package | None:
        try:
            return Package.from_json(json.loads(self.records.read(key)))
        except ObjectNotFound:
            return None

    @staticmethod
    def _resolve_duplicate(existing: Package, sha256: str) -> Published:
        if existing.sha256 == sha256:
            return Published(existing, created=False)
        raise DistributionExists(
            f"File already exists: {existing.filename!r} was published with other content; "
            "files are never overwritten, upload a new version instead"
        )

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
        """
        release = self._release(project, version)
        state = YankState(
            yanked=not undo, reason="" if undo else reason.strip(), user=user, time=self._now()
        )
        if filename is None:
            for package in release.packages:
                self.records.delete(overlays.file_yank_key(package))
            key = overlays.release_yank_key(release.packages[0].project, str(release.version))
        else:
            matches = [p for p in release.packages if p.filename == filename]
            if not matches:
                raise PackageNotFound(f"release {version} of {project!r} has no file {filename!r}")
            key = overlays.file_yank_key(matches[0])
        self.records.write(key, io.BytesIO(overlays.encode(state)), overwrite=True)
        self._changed()
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
        for package in self.snapshot().by_filename.values():
            if package.metadata_key is not None or not serves_metadata(
                package.kind, package.metadata
            ):
                continue
            # Spool to disk: archives are read by seeking, and S3 bodies cannot seek.
            with (
                self.blobs.open(package.blob_key) as stream,
                tempfile.SpooledTemporaryFile(distributions.CHUNK_SIZE) as spooled,
            ):
                shutil.copyfileobj(stream, spooled, distributions.CHUNK_SIZE)
                parsed = parse_filename(package.filename)
                content = distributions.read_metadata_file(spooled, parsed)
            key, sha256 = self._store_metadata(package.blob_key, content)
            record = overlays.encode(overlays.MetadataRecord(key, sha256))
            try:
                self.records.write(overlays.metadata_key(package), io.BytesIO(record))
            except ObjectExists:
                pass  # another process backfilled the same bytes first
            done.append(package)
        if done:
            self._changed()
        return done

    def _release(self, project: str, version: str) -> Release:
        release = self.get_project(project).release(version)
        if release is None:
            raise PackageNotFound(f"{project!r} has no release {version!r}")
        return release

    def _changed(self) -> None:
        self.index.bump_generation()
        self.index.reload()

    def _store_metadata(self, blob_key: str, content: bytes) -> tuple[str, str]:
        """Store a file's core metadata beside it (PEP 658); return its key and sha256."""
        key = f"{blob_key}.metadata"
        self._store_blob(key, io.BytesIO(content))
        return key, hashlib.sha256(content).hexdigest()

    def _store_blob(self, key: str, data: IO[bytes]) -> None:
        # Keys are content-addressed, so an existing blob already holds exactly these bytes.
        try:
            self.blobs.write(key, data, overwrite=False)
        except ObjectExists:
            pass


def serves_metadata(kind: str, metadata: Metadata) -> bool:
    """Say whether a file's core metadata is served as ``<file>.metadata`` (PEP 658 and 643)."""
    if kind == "wheel":
        return True
    try:
        return Version(metadata.metadata_version) >= RELIABLE_SDIST_METADATA
    except InvalidVersion:
        return False


def _check_form(upload: Upload, parsed: DistributionFilename) -> None:
    """Check the form's name, version and filetype against the filename, when they are given."""
    if upload.name and normalize(upload.name) != parsed.project:
        raise InvalidFilename(
            f"the filename {upload.filename!r} is for project {parsed.project!r}, "
            f"but the form says {upload.name!r}"
        )
    if upload.version:
        try:
            form_version = Version(upload.version)
        except InvalidVersion:
            raise InvalidMetadata(
                f"version: {upload.version!r} is not a valid PEP 440 version"
            ) from None
        if form_version != parsed.version:
            raise InvalidFilename(
                f"the filename {upload.filename!r} is for version {parsed.version}, "
                f"but the form says {upload.version!r}"
            )
    expected = FILETYPES.get(upload.filetype)
    if upload.filetype and expected != parsed.kind:
        raise InvalidFilename(
            f"the filetype {upload.filetype!r} does not match {upload.filename!r} (a {parsed.kind})"
        )


def _check_metadata(metadata: Metadata, parsed: DistributionFilename) -> None:
    """Check that the metadata inside the file names the project and version its filename does."""
    if normalize(metadata.name) != parsed.project:
        raise InvalidFilename(
            f"the filename {parsed.filename!r} is for project {parsed.project!r}, "
            f"but its metadata names {metadata.name!r}"
        )
    if Version(metadata.version) != parsed.version:
        raise InvalidFilename(
            f"the filename {parsed.filename!r} is for version {parsed.version}, "
            f"but its metadata says {metadata.version!r}"
        )
