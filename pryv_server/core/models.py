"""The domain model: Metadata, Package, Release, Project.

Frozen dataclasses built from stored records; none of them touches storage. A Package record is
written once when a file is published and never rewritten, so two uploads to one release can
never lose each other; a Release's metadata is that of its most recently uploaded file (the docs:
"subsequent uploads ... overwrite the original metadata"), derived, never stored separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from functools import cached_property
from typing import Any
from typing import Literal

from packaging.utils import NormalizedName
from packaging.version import Version

from pryv_server.core.metadata_trust import serves_core_metadata
from pryv_server.core.record_fields import codecs
from pryv_server.core.record_fields import description_digest
from pryv_server.core.record_fields import shared_text

RECORD_SCHEMA = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Metadata:
    """Core metadata of a distribution (every field of Metadata 2.1 to 2.5, PEP 566 names)."""

    metadata_version: str = ""
    name: str = ""
    version: str = ""
    summary: str = ""
    description: str = ""
    description_content_type: str = ""
    keywords: tuple[str, ...] = ()
    home_page: str = ""
    download_url: str = ""
    author: str = ""
    author_email: str = ""
    maintainer: str = ""
    maintainer_email: str = ""
    license: str = ""
    license_expression: str = ""
    license_files: tuple[str, ...] = ()
    classifiers: tuple[str, ...] = ()
    requires_dist: tuple[str, ...] = ()
    requires_python: str = ""
    requires_external: tuple[str, ...] = ()
    project_urls: tuple[tuple[str, str], ...] = ()
    provides_extra: tuple[str, ...] = ()
    provides_dist: tuple[str, ...] = ()
    obsoletes_dist: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    supported_platforms: tuple[str, ...] = ()
    dynamic: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    import_names: tuple[str, ...] = ()
    import_namespaces: tuple[str, ...] = ()

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any], *, with_description: bool = True) -> Metadata:
        """Build from packaging's ``RawMetadata`` (or a stored record); unknown keys are ignored.

        ``with_description=False`` leaves the long description out (see :meth:`Package.from_json`).
        """
        codecs = _CODECS if with_description else _HELD_CODECS
        return cls(
            **{
                name: codecs[name][0](value)
                for name, value in raw.items()
                if value is not None and name in codecs
            }
        )

    def to_raw(self) -> dict[str, Any]:
        """Return the non-empty fields as JSON-ready values (the inverse of :meth:`from_raw`)."""
        raw: dict[str, Any] = {}
        for name, (_, encode) in _CODECS.items():
            value = getattr(self, name)
            if value:
                raw[name] = encode(value)
        return raw


@dataclass(frozen=True, slots=True)
class YankState:
    """Whether a file or release is yanked (PEP 592), and who said so, when and why."""

    yanked: bool
    reason: str = ""
    user: str = ""
    time: str = ""


NOT_YANKED = YankState(yanked=False)

# PEP 792: every project has exactly one status; without a record it is ``active``.
STATUSES = ("active", "archived", "deprecated", "quarantined")
# The statuses under which the index refuses new files (PEP 792: archived and quarantined).
CLOSED_STATUSES = frozenset({"archived", "quarantined"})


@dataclass(frozen=True, slots=True)
class ProjectStatus:
    """A project's PEP 792 status marker, with who set it, when and why."""

    status: str = "active"
    reason: str = ""
    user: str = ""
    time: str = ""

    @property
    def accepts_uploads(self) -> bool:
        """Say whether new files may be uploaded (not when archived or quarantined)."""
        return self.status not in CLOSED_STATUSES

    @property
    def offers_files(self) -> bool:
        """Say whether files are offered for download (never when quarantined)."""
        return self.status != "quarantined"


ACTIVE = ProjectStatus()


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What is left of a deleted file: its name can never be uploaded again (PyPI's rule)."""

    filename: str
    sha256: str
    blob_key: str
    metadata_key: str | None
    reason: str = ""
    user: str = ""
    time: str = ""


@dataclass(frozen=True, slots=True)
class Package:
    """One published distribution file and everything pryv knows about it."""

    filename: str
    project: NormalizedName
    version: str
    kind: Literal["wheel", "sdist"]
    identity: str
    size: int
    sha256: str
    upload_time: str
    uploader: str
    blob_key: str
    metadata: Metadata
    metadata_key: str | None = None
    metadata_sha256: str | None = None
    md5: str | None = None
    blake2_256: str | None = None
    # PEP 740: the stored provenance object of the file's attestations, if it was sent any.
    provenance_key: str | None = None
    provenance_sha256: str | None = None
    description_sha256: str = ""  # names the rendering; the text stays in the stored record
    # Not part of the record: the index applies the separate yank records (PEP 592) on load.
    yank: YankState = NOT_YANKED
    # Not part of the record either: when ``pryv backfill-metadata`` added the metadata (if so).
    metadata_time: str = ""

    @property
    def yanked(self) -> bool:
        """Say whether installers should skip this file unless pinned with ``==`` (PEP 592)."""
        return self.yank.yanked

    @property
    def yanked_reason(self) -> str:
        """Why the file was yanked (empty when no reason was given or it is not yanked)."""
        return self.yank.reason if self.yank.yanked else ""

    @property
    def requires_python(self) -> str:
        """The file's Requires-Python (empty when unconstrained)."""
        return self.metadata.requires_python

    @property
    def parsed_version(self) -> Version:
        """The version as a PEP 440 object."""
        return Version(self.version)

    def to_json(self) -> dict[str, Any]:
        """Serialize to the stored record (``schema`` first so readers can migrate)."""
        record: dict[str, Any] = {"schema": RECORD_SCHEMA}
        for item in fields(self):
            if item.name in _DERIVED_FIELDS:
                continue
            value = getattr(self, item.name)
            record[item.name] = value.to_raw() if item.name == "metadata" else value
        return record

    def without_description(self) -> Package:
        """Return this file as the catalog holds it: its long description stays in storage."""
        if not self.metadata.description:
            return self
        return replace(self, metadata=replace(self.metadata, description=""))

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Package:
        """Build from a stored record; raises KeyError/TypeError/ValueError on a malformed one.

        Without the description: a real README (7.7 KB on average in the test corpus's wheels)
        outweighs the rest of a record; it is read when shown (``Registry.description``).
        """
        if record.get("schema") != RECORD_SCHEMA:
            raise ValueError(f"unsupported record schema {record.get('schema')!r}")
        values = {name: record[name] for name in _RECORD_FIELDS if name in record}
        for name in _REPEATED_FIELDS:  # shared, as the metadata's values (see _codec)
            if isinstance(values.get(name), str):
                values[name] = shared_text(values[name])
        raw = record.get("metadata") or {}
        values["metadata"] = Metadata.from_raw(raw, with_description=False)
        if not values.get("description_sha256"):  # written before pryv kept it
            values["description_sha256"] = description_digest(str(raw.get("description") or ""))
        if not serves_core_metadata(values["kind"], values["metadata"]):
            # Stored by a pryv that served sdist metadata with dynamic dependencies.
            values["metadata_key"] = values["metadata_sha256"] = None
        return cls(**values)


_DERIVED_FIELDS = frozenset({"yank", "metadata_time"})
# Field name -> (decode, encode), in declaration order so records keep their field order.
_CODECS = codecs(item.name for item in fields(Metadata))
_HELD_CODECS = {name: codec for name, codec in _CODECS.items() if name != "description"}
# Record fields whose values repeat across files: one string each in memory.
_REPEATED_FIELDS = ("project", "version", "kind", "uploader", "description_sha256")
_RECORD_FIELDS = tuple(item.name for item in fields(Package) if item.name not in _DERIVED_FIELDS)


@dataclass(frozen=True)
class Release:
    """All files published under one version of a project."""

    version: Version
    packages: tuple[Package, ...]

    @cached_property
    def newest(self) -> Package:
        """The most recently uploaded file, whose metadata stands for the release's."""
        return max(self.packages, key=lambda package: package.upload_time)

    @property
    def metadata(self) -> Metadata:
        """The metadata of the most recently uploaded file: later uploads overwrite it."""
        return self.newest.metadata

    @cached_property
    def upload_time(self) -> str:
        """When the first file of the release was uploaded."""
        return min(package.upload_time for package in self.packages)

    @property
    def last_upload_time(self) -> str:
        """When the last file of the release was uploaded."""
        return self.newest.upload_time

    @property
    def is_prerelease(self) -> bool:
        """Say whether this is a pre- or development release (PEP 440)."""
        return self.version.is_prerelease

    @cached_property
    def yanked(self) -> bool:
        """Say whether every file of the release is yanked (PyPI's notion of a yanked release)."""
        return all(package.yanked for package in self.packages)

    @cached_property
    def yanked_reason(self) -> str:
        """The reason of the release's yank (the first non-empty reason of its files)."""
        if not self.yanked:
            return ""
        return next((p.yanked_reason for p in self.packages if p.yanked_reason), "")


@dataclass(frozen=True)
class Project:
    """A named collection of releases; ``releases`` are sorted by PEP 440 order, oldest first."""

    normalized: NormalizedName
    releases: tuple[Release, ...] = field(default=())
    status: ProjectStatus = ACTIVE  # PEP 792, from its status record

    @cached_property
    def latest(self) -> Release:
        """The highest final release; a pre-release or a yanked one only when there is nothing else.

        PyPI's choice too: a yanked release never becomes the project's current version while
        another one is available.
        """
        kept = [release for release in self.releases if not release.yanked] or list(self.releases)
        finals = [release for release in kept if not release.is_prerelease]
        return (finals or kept)[-1]

    @cached_property
    def name(self) -> str:
        """The display name, as the latest release's metadata spells it."""
        return self.latest.metadata.name or self.normalized

    @cached_property
    def packages(self) -> tuple[Package, ...]:
        """Every file of every release, oldest release first."""
        return tuple(package for release in self.releases for package in release.packages)

    @cached_property
    def last_upload_time(self) -> str:
        """When a file was last uploaded to the project."""
        return max(package.upload_time for package in self.packages)

    @cached_property
    def last_serial(self) -> int:
        """A number that grows with every change of the project: its latest event, in µs.

        PyPI numbers every change with a global counter (its ``last_serial``); mirrors such as
        bandersnatch compare those numbers to find what changed. pryv keeps no counter that
        instances sharing a bucket would contend on: the time of the latest upload, yank,
        un-yank, metadata backfill or status change, in microseconds since the epoch, is
        derived from the records alone, so every process computes the same value, and it grows
        with each change as long as the instances' clocks agree (docs/api.md, "Serials").
        """
        events = [package.upload_time for package in self.packages]
        events += [package.yank.time for package in self.packages if package.yank.time]
        events += [package.metadata_time for package in self.packages if package.metadata_time]
        if self.status.time:
            events.append(self.status.time)
        latest = max(events)
        if all(len(event) == len(latest) and event[-1] == "Z" for event in events):
            # pryv's own fixed-width UTC times sort as text: parse one, not all (start-up
            # computes every project's serial for the JSON /simple/).
            return serial_of(latest)
        return max(map(serial_of, events))

    def release(self, version: str) -> Release | None:
        """Find a release by any spelling of its version (``1.0`` finds ``1.0.0``)."""
        try:
            wanted = Version(version)
        except ValueError:
            return None
        for release in self.releases:
            if release.version == wanted:
                return release
        return None


def serial_of(timestamp: str) -> int:
    """Return an ISO 8601 time as whole microseconds since the epoch (UTC when naive).

    Integer arithmetic: a float timestamp loses the last microseconds of today's times.
    """
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND
