"""Publishing: the only way a file gets into the registry.

Publishing follows one protocol so that nothing is ever visible half-written and no bytes are
ever overwritten:

1. validate the filename and the form, refuse a closed project (archived or quarantined) or a
   deleted filename (:mod:`pryv_server.core.lifecycle`), hash the bytes, check every digest sent
   and every PEP 740 attestation sent (:mod:`pryv_server.core.provenance`);
2. read the core metadata inside the archive (leniently, see
   :mod:`pryv_server.core.core_metadata`), check it names the file's project and version;
3. store the bytes, the metadata and the provenance object under content-addressed keys
   (``<sha256>/<filename>``);
4. create the file's record exclusively: this is the commit point. If the record exists, the
   same bytes are an idempotent success (which also restores a missing or damaged stored copy)
   and other bytes are :class:`DistributionExists`.

A crash before step 4 leaves only an unreferenced blob, which no reader ever sees and
``pryv gc`` collects once it is older than its margin (:mod:`pryv_server.core.gc`); after step 4
the blob's presence is checked once more, in case that collection hit an old orphan of this very
file at the wrong instant.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import IO

from packaging.version import InvalidVersion
from packaging.version import Version

from pryv_server.core import descriptions
from pryv_server.core import distributions
from pryv_server.core import layout
from pryv_server.core.catalog import Catalog
from pryv_server.core.core_metadata import read_core_metadata
from pryv_server.core.lifecycle import check_publishable
from pryv_server.core.metadata import Metadata
from pryv_server.core.metadata_trust import serves_core_metadata
from pryv_server.core.models import Package
from pryv_server.core.names import DistributionFilename
from pryv_server.core.names import normalize
from pryv_server.core.names import parse_filename
from pryv_server.core.provenance import Provenance
from pryv_server.core.provenance import provenance_for
from pryv_server.core.record_fields import description_digest
from pryv_server.errors import DistributionExists
from pryv_server.errors import InvalidFilename
from pryv_server.errors import InvalidUpload
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)

FILETYPES = {"bdist_wheel": "wheel", "sdist": "sdist"}


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
    attestations: str = ""  # PEP 740: the form's JSON array of attestation objects, if any


@dataclass(frozen=True, slots=True)
class Published:
    """The outcome of a publish: the file, and whether this call created it."""

    package: Package
    created: bool


def utc_now() -> str:
    """Return the current UTC time as records store it (ISO 8601, microseconds, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Publisher:
    """Validate uploads and store them in the records and package stores."""

    records: Storage
    blobs: Storage
    catalog: Catalog
    clock: Callable[[], str] = utc_now
    sigstore: bool = False  # [provenance] verify = sigstore (core/sigstore.py)

    def publish(self, upload: Upload) -> Published:
        """Validate and store one uploaded file; see the module docstring for the protocol.

        :raises InvalidUpload: a subclass naming the problem (``ProjectClosed``,
            ``FilenameDeleted``...); nothing was stored.
        :raises DistributionExists: other bytes are already published under this filename.
        """
        parsed = parse_filename(upload.filename)
        _check_form(upload, parsed)
        check_publishable(self.records, parsed)
        upload.content.seek(0)
        digests = distributions.compute_digests(upload.content)
        distributions.check_digests(digests, upload.digests or {})
        if digests.size == 0:
            raise InvalidUpload("the uploaded file is empty")
        provenance = self._check_attestations(upload, digests.sha256)
        metadata_bytes = distributions.read_metadata_file(upload.content, parsed)
        read = read_core_metadata(metadata_bytes)
        metadata = Metadata.from_raw(read.raw)
        _check_metadata(metadata, parsed)
        if read.warnings:
            # Never a refusal (see core_metadata): what PyPI hosts, pryv accepts.
            log.warning("%s: accepted despite: %s", upload.filename, "; ".join(read.warnings))

        key = layout.record_key(parsed.project, parsed.identity)
        existing = self._existing(key)
        if existing is not None:
            published = self._resolve_duplicate(
                existing, digests.sha256, upload.content, metadata_bytes
            )
            if key not in self.catalog.latest().packages:
                # The first attempt died between its record and its journal entry (so it was
                # never acknowledged): the identical retry journals it.
                self.catalog.published(key, existing)
            return published
        if parsed.kind == "sdist":
            self._claim_sdist(parsed)

        blob_key = layout.blob_key(digests.sha256, upload.filename)
        upload.content.seek(0)
        self.store_blob(blob_key, upload.content)
        text_sha256 = description_digest(metadata.description)  # names the rendering, kept
        descriptions.stored(  # rendered now, so no page view waits for it
            self.blobs, text_sha256, metadata.description_content_type, lambda: metadata.description
        )
        metadata_key = metadata_sha256 = None
        if serves_core_metadata(parsed.kind, metadata):
            metadata_key, metadata_sha256 = self.store_metadata(blob_key, metadata_bytes)
        provenance_key = self._store_provenance(digests.sha256, provenance)
        package = Package.build(
            metadata,
            filename=upload.filename,
            project=parsed.project,
            version=str(parsed.version),
            kind=parsed.kind,
            identity=parsed.identity,
            size=digests.size,
            sha256=digests.sha256,
            md5=digests.md5,
            blake2_256=digests.blake2_256,
            upload_time=self.clock(),
            uploader=upload.uploader,
            blob_key=blob_key,
            metadata_key=metadata_key,
            metadata_sha256=metadata_sha256,
            provenance_key=provenance_key,
            provenance_sha256=provenance.sha256 if provenance is not None else None,
            description_sha256=text_sha256,
        )
        record = json.dumps(package.to_json(), sort_keys=True).encode("utf-8")
        try:
            self.records.write(key, io.BytesIO(record), overwrite=False)
        except ObjectExists:
            # Another upload of the same file won the race between our check and our write.
            existing = self._existing(key)
            if existing is None:  # pragma: no cover - the record vanished again
                raise
            return self._resolve_duplicate(existing, digests.sha256, upload.content, metadata_bytes)
        self._still_stored(blob_key, upload.content)
        if metadata_key is not None:
            self._still_stored(metadata_key, io.BytesIO(metadata_bytes))
        if provenance_key is not None and provenance is not None:
            self._still_stored(provenance_key, io.BytesIO(provenance.content))
        self.catalog.published(key, package)
        log.info("published %s (%s) by %s", package.filename, package.sha256, package.uploader)
        return Published(package, created=True)

    def _check_attestations(self, upload: Upload, sha256: str) -> Provenance | None:
        """Return the provenance object of the upload's PEP 740 attestations (None: none sent).

        :raises InvalidAttestation: an attestation is malformed, unsigned or about another file.
        """
        if not upload.attestations:
            return None
        return provenance_for(
            upload.attestations, upload.filename, sha256, upload.uploader, sigstore=self.sigstore
        )

    def _store_provenance(self, sha256: str, provenance: Provenance | None) -> str | None:
        """Store a file's provenance object before its record names it; return its key."""
        if provenance is None:
            return None
        key = layout.provenance_key(sha256, provenance.sha256)
        self.store_blob(key, io.BytesIO(provenance.content))
        return key

    def _still_stored(self, key: str, content: IO[bytes]) -> None:
        """Store ``content`` again if ``pryv gc`` removed it as an orphan before the commit.

        :meth:`store_blob` writes nothing when the key exists; an old orphan of the same file
        (same name, same bytes) may be collected in the instant before the record names it.
        """
        try:
            self.blobs.stat(key)
        except ObjectNotFound:
            content.seek(0)
            self.blobs.write(key, content, overwrite=True)
            log.warning("stored %s again: it was collected while this upload committed", key)

    def _existing(self, key: str) -> Package | None:
        try:
            content = self.records.read(key)
        except ObjectNotFound:
            return None
        try:
            return Package.from_json(json.loads(content))
        except (ValueError, KeyError, TypeError):
            # The filename is taken all the same: a damaged record is never replaced by an upload.
            log.error("the record %s is damaged and cannot be read", key)
            raise DistributionExists(
                f"File already exists: the record of {key.rpartition('/')[2]!r} is damaged and "
                "cannot be read; it is never replaced by an upload (an operator must restore it)"
            ) from None

    def _resolve_duplicate(
        self, existing: Package, sha256: str, content: IO[bytes], metadata: bytes
    ) -> Published:
        """Answer a re-upload: the same bytes succeed (and repair the stored copy), others 409."""
        if existing.sha256 != sha256:
            raise DistributionExists(
                f"File already exists: {existing.filename!r} was published with other content; "
                "files are never overwritten, upload a new version instead"
            )
        self._repair(existing.blob_key, existing.sha256, content, existing.filename)
        if existing.metadata_key and existing.metadata_sha256:
            stored = io.BytesIO(metadata)
            self._repair(existing.metadata_key, existing.metadata_sha256, stored, existing.filename)
        return Published(existing, created=False)

    def _repair(self, key: str, sha256: str, content: IO[bytes], filename: str) -> None:
        """Restore a missing or damaged stored copy from verified identical bytes.

        Keys are content-addressed and ``content`` hashes to the record's sha256, so this
        writes back exactly the bytes that were published: it never replaces good bytes.
        """
        if self.blob_intact(key, sha256):
            return
        content.seek(0)
        self.blobs.write(key, content, overwrite=True)
        log.warning(
            "restored the missing or damaged %s of %s from an identical upload", key, filename
        )

    def blob_intact(self, key: str, sha256: str) -> bool:
        """Say whether the object under ``key`` exists and hashes to ``sha256`` (reads it all)."""
        try:
            with self.blobs.open(key) as stream:
                return distributions.compute_digests(stream).sha256 == sha256
        except ObjectNotFound:
            return False

    def _claim_sdist(self, parsed: DistributionFilename) -> None:
        """Make this file the release's one sdist, as PyPI allows, or refuse it.

        A create-if-absent marker per release decides between concurrent uploads of two
        different sdists; releases published before the marker existed are checked in the
        index. A crash between the marker and the record leaves the release claimed by a file
        that only its own re-upload can then complete.

        :raises InvalidUpload: the release already has another sdist.
        """
        project = self.catalog.latest().project(parsed.project)
        release = project.release(str(parsed.version)) if project is not None else None
        for package in release.packages if release is not None else ():
            if package.kind == "sdist" and package.identity != parsed.identity:
                raise _second_sdist(parsed, package.filename)
        claim = layout.sdist_claim_key(parsed.project, str(parsed.version))
        try:
            self.records.write(claim, io.BytesIO(parsed.filename.encode()), overwrite=False)
        except ObjectExists:
            claimed = self.records.read(claim).decode("utf-8", "replace")
            if parse_filename(claimed).identity != parsed.identity:
                raise _second_sdist(parsed, claimed) from None

    def store_metadata(self, blob_key: str, content: bytes) -> tuple[str, str]:
        """Store a file's core metadata beside it (PEP 658); return its key and sha256."""
        key = layout.core_metadata_key(blob_key)
        self.store_blob(key, io.BytesIO(content))
        return key, hashlib.sha256(content).hexdigest()

    def store_blob(self, key: str, data: IO[bytes]) -> None:
        """Store package bytes under their content-addressed key, once.

        Keys are content-addressed, so an existing blob already holds exactly these bytes.
        """
        try:
            self.blobs.write(key, data, overwrite=False)
        except ObjectExists:
            pass


def _second_sdist(parsed: DistributionFilename, other: str) -> InvalidUpload:
    return InvalidUpload(
        f"release {parsed.version} of {parsed.project!r} already has an sdist ({other}); "
        "one sdist per release is allowed, as on PyPI"
    )


def _check_form(upload: Upload, parsed: DistributionFilename) -> None:
    """Check the form's name, version and filetype against the filename, when they are given.

    The archive is the truth: the filename must agree with the metadata inside it (checked
    later), so a form that contradicts the filename contradicts the archive. twine, uv and
    poetry always send the archive's own values; no other form field reaches what is stored.
    """
    if upload.name and normalize(upload.name) != parsed.project:
        raise InvalidFilename(
            f"the filename {upload.filename!r} is for project {parsed.project!r}, "
            f"but the form says {upload.name!r}"
        )
    if upload.version and not _same_version(upload.version, parsed.version):
        raise InvalidFilename(
            f"the filename {upload.filename!r} is for version {parsed.version}, "
            f"but the form says {upload.version!r}"
        )
    expected = FILETYPES.get(upload.filetype)
    if upload.filetype and expected != parsed.kind:
        raise InvalidFilename(
            f"the filetype {upload.filetype!r} does not match {upload.filename!r} (a {parsed.kind})"
        )


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


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
