"""The domain model: Package, Release, Project (and Metadata, from :mod:`.metadata`).

Frozen dataclasses built from stored records; none of them touches storage. A Package record is
written once when a file is published and never rewritten, so two uploads to one release can
never lose each other; a Release's metadata is that of its most recently uploaded file (the docs:
"subsequent uploads ... overwrite the original metadata"), derived, never stored separately.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from functools import cached_property
from sys import intern
from typing import Any
from typing import Literal

from packaging.utils import NormalizedName
from packaging.version import Version

from pryv_server.core import layout
from pryv_server.core.metadata import Metadata
from pryv_server.core.metadata_trust import serves_core_metadata
from pryv_server.core.names import parse_version
from pryv_server.core.record_fields import description_digest
from pryv_server.core.record_fields import shared_text

RECORD_SCHEMA = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


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
    """One published distribution file and everything pryv knows about it.

    Its core metadata is one compact JSON text (``metadata_json``), decoded only when asked for
    (:attr:`metadata`): a start reads one string, not thirty fields (1.6 of 4.5 s at 60,000
    files), equal texts (a release's wheels) are one string, and the pages a worker renders
    never touch it, nor copy the memory it shares with the master. What they need sits beside.
    """

    filename: str
    project: NormalizedName
    version: str
    kind: Literal["wheel", "sdist"]
    identity: str
    size: int
    sha256: str
    upload_time: str
    uploader: str
    # Metadata.to_raw() as compact JSON; the long description is in it only until published
    metadata_json: str
    requires_python: str = ""  # the metadata's Requires-Python (empty when unconstrained)
    display_name: str = ""  # the project's name as the metadata spells it
    metadata_sha256: str | None = None  # of its core metadata file (PEP 658); None: serves none
    md5: str | None = None
    blake2_256: str | None = None
    # PEP 740: the stored provenance object of the file's attestations, if it was sent any.
    provenance_key: str | None = None
    provenance_sha256: str | None = None
    description_sha256: str = ""  # names the rendering; the text stays in the stored record
    # Where the file and its core metadata file are stored, only when not where core/layout.py
    # puts them (pryv's uploads always are): else two keys of 190 bytes in memory for every file.
    blob_elsewhere: str = ""
    metadata_elsewhere: str = ""
    # Not part of the record: the index applies the separate yank records (PEP 592) on load.
    yank: YankState = NOT_YANKED
    # Not part of the record either: when ``pryv backfill-metadata`` added the metadata (if so).
    metadata_time: str = ""

    @classmethod
    def build(
        cls, metadata: Metadata, *, blob_key: str, metadata_key: str | None = None, **fields: Any
    ) -> Package:
        """Build a package from its metadata, where it is stored and its other fields (by name)."""
        if metadata_key is None:
            fields["metadata_sha256"] = None  # no core metadata file: none to advertise
        placed = layout.blob_key(fields["sha256"], fields["filename"])
        beside = layout.core_metadata_key(blob_key)
        return cls(
            metadata_json=shared_text(_compact(metadata.to_raw())),
            requires_python=metadata.requires_python,
            display_name=metadata.name,
            blob_elsewhere="" if blob_key == placed else blob_key,
            metadata_elsewhere="" if metadata_key in (None, beside) else str(metadata_key),
            **fields,
        )

    @property
    def blob_key(self) -> str:
        """Where the file's bytes are stored."""
        return self.blob_elsewhere or layout.blob_key(self.sha256, self.filename)

    @property
    def metadata_key(self) -> str | None:
        """Where its core metadata file is stored (PEP 658 and 714), None when it serves none."""
        if self.metadata_sha256 is None:
            return None
        return self.metadata_elsewhere or layout.core_metadata_key(self.blob_key)

    def with_metadata_file(self, key: str, sha256: str, time: str) -> Package:
        """Return this file with a core metadata file added later (``pryv backfill-metadata``)."""
        place = "" if key == layout.core_metadata_key(self.blob_key) else key
        return replace(self, metadata_sha256=sha256, metadata_elsewhere=place, metadata_time=time)

    @property
    def metadata(self) -> Metadata:
        """The file's core metadata, decoded now (callers that reuse it keep it: see Release)."""
        return Metadata.from_raw(json.loads(self.metadata_json))

    @property
    def yanked(self) -> bool:
        """Say whether installers should skip this file unless pinned with ``==`` (PEP 592)."""
        return self.yank.yanked

    @property
    def yanked_reason(self) -> str:
        """Why the file was yanked (empty when no reason was given or it is not yanked)."""
        return self.yank.reason if self.yank.yanked else ""

    @property
    def parsed_version(self) -> Version:
        """The version as a PEP 440 object (one shared by every release spelled alike)."""
        return parse_version(self.version)

    def to_json(self) -> dict[str, Any]:
        """Serialize to the stored record (``schema`` first so readers can migrate)."""
        record: dict[str, Any] = {"schema": RECORD_SCHEMA}
        for name in _RECORD_FIELDS:
            record[name] = getattr(self, name)
        record["metadata"] = json.loads(self.metadata_json)
        return record

    def to_held(self) -> list[Any]:
        """Serialize as the catalog holds it, for its checkpoints (read back by :meth:`from_held`).

        The fields in declaration order, trailing empty ones left out; a start passes them by
        position (by name, the constructor took 6 of a record's 9 µs) and decodes no metadata.
        """
        row = [getattr(self, name) for name in _HELD_FIELDS]
        while row[-1] is None or row[-1] == "":
            row.pop()
        return row

    @classmethod
    def from_held(cls, row: list[Any]) -> Package:
        """Build from a row of :meth:`to_held` (its strings are replaced by shared ones, in place).

        Raises TypeError on a row too short or too long; pryv wrote it, so its values stand.
        """
        if len(row) > len(_HELD_FIELDS):  # (the derived fields after them are never held)
            raise TypeError(f"a held package has at most {len(_HELD_FIELDS)} fields")
        for index in _HELD_SHARED:
            if index < len(row) and isinstance(row[index], str):
                row[index] = intern(row[index])  # shared_text, without its str() call
        return cls(*row)

    def without_description(self) -> Package:
        """Return this file as the catalog holds it: its long description stays in storage."""
        raw = json.loads(self.metadata_json)
        if not raw.pop("description", None):
            return self
        return replace(self, metadata_json=shared_text(_compact(raw)))

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Package:
        """Build from a stored record, without its description.

        Raises KeyError/TypeError/ValueError on a malformed record. A real README (7.7 KB on
        average in the test corpus's wheels) outweighs the rest of a record; it is read when
        shown (``Registry.description``).
        """
        if record.get("schema") != RECORD_SCHEMA:
            raise ValueError(f"unsupported record schema {record.get('schema')!r}")
        values = {name: record[name] for name in _RECORD_FIELDS if name in record}
        for name in _REPEATED_FIELDS:  # shared, as the metadata's values (see _codec)
            if isinstance(values.get(name), str):
                values[name] = shared_text(values[name])
        raw = record.get("metadata") or {}
        metadata = Metadata.from_raw(raw, with_description=False)
        if not values.get("description_sha256"):  # written before pryv kept it
            values["description_sha256"] = description_digest(str(raw.get("description") or ""))
        if not serves_core_metadata(values["kind"], metadata):
            # Stored by a pryv that served sdist metadata with dynamic dependencies.
            values["metadata_key"] = values["metadata_sha256"] = None
        return cls.build(metadata, **values)


def _compact(raw: Mapping[str, Any]) -> str:
    """Return metadata as the shortest JSON text (field order kept, so equal ones are equal)."""
    return json.dumps(raw, separators=(",", ":"), ensure_ascii=False)


_DERIVED_FIELDS = frozenset({"yank", "metadata_time"})
# The held form's own fields: the metadata's text and what is read from it, and the places.
_PLACES = ("blob_elsewhere", "metadata_elsewhere")
_HELD_ONLY = frozenset({"metadata_json", "requires_python", "display_name", *_PLACES})
# Record fields whose values repeat across files: one string each in memory.
_REPEATED_FIELDS = ("project", "version", "kind", "uploader", "description_sha256")
# Every field but the derived ones, which come last: a row passes them by position.
_HELD_FIELDS = tuple(item.name for item in fields(Package) if item.name not in _DERIVED_FIELDS)
_HELD_SHARED = tuple(
    _HELD_FIELDS.index(name)
    for name in (*_REPEATED_FIELDS, "metadata_json", "requires_python", "display_name")
)
# A stored record names both places, as every pryv before this one wrote them.
_RECORD_FIELDS = (
    *(name for name in _HELD_FIELDS if name not in _HELD_ONLY),
    "blob_key",
    "metadata_key",
)


@dataclass(frozen=True)
class Release:
    """All files published under one version of a project."""

    version: Version
    packages: tuple[Package, ...]

    @cached_property
    def newest(self) -> Package:
        """The most recently uploaded file, whose metadata stands for the release's."""
        return max(self.packages, key=lambda package: package.upload_time)

    @cached_property
    def metadata(self) -> Metadata:
        """The metadata of the most recently uploaded file: later uploads overwrite it.

        Decoded once per release (the explorer, the JSON API and search read it again and again).
        """
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
        return self.latest.newest.display_name or self.normalized

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

        PyPI numbers every change with a global counter (its ``last_serial``), which mirrors such
        as bandersnatch compare. pryv keeps no counter instances sharing a bucket would contend
        on: the time of the latest upload, yank, un-yank, metadata backfill or status change
        (µs since the epoch) comes from the records alone, the same in every process, and grows
        with each change while the instances' clocks agree (docs/api.md, "Serials").
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
