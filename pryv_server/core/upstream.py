"""What pryv needs of an upstream index, and the rules that decide what it may offer.

The :class:`Upstream` port is implemented below core (``pryv_server/upstream/``, over HTTP); core
only sees PEP 691 documents. The rules, applied by :mod:`pryv_server.core.mirror`:

* a name pryv holds (any file ever uploaded, yanked or not) is never looked up upstream, not even
  for a version pryv lacks: that is what makes dependency confusion impossible;
* a name matching a ``deny`` pattern, or no ``allow`` pattern when there are some, is not either;
* a file without a sha256 is never offered (it could not be verified), nor one uploaded less than
  ``min-age`` ago (a cooldown: most malicious releases are found and removed within days).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import Protocol

from packaging.utils import InvalidSdistFilename
from packaging.utils import InvalidWheelFilename
from packaging.utils import NormalizedName
from packaging.utils import parse_sdist_filename
from packaging.utils import parse_wheel_filename
from packaging.version import Version

SHA256_LENGTH = 64


class Download(Protocol):
    """An upstream file being read."""

    length: int | None

    def chunks(self) -> Iterator[bytes]:
        """Yield the bytes; raise UpstreamError when the transfer breaks off."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class FetchedPage(Protocol):
    """A PEP 691 project page with absolute file URLs."""

    @property
    def url(self) -> str:
        """Where the page was read."""
        ...

    @property
    def document(self) -> dict[str, Any]:
        """The parsed JSON document."""
        ...


class Upstream(Protocol):
    """An index pryv proxies (PyPI by default)."""

    url: str

    def project_page(self, name: str) -> FetchedPage | None:
        """Return the page of the normalized name, None when upstream has no such project."""
        ...

    def open(self, url: str) -> Download:
        """Start reading a file named by a page."""
        ...

    def read_small(self, url: str) -> bytes:
        """Return a small file (core metadata) whole."""
        ...


@dataclass(frozen=True, slots=True)
class UpstreamFile:
    """One file of an upstream page, with the fields pryv passes through unchanged."""

    filename: str
    url: str  # upstream's, absolute; never shown to clients
    sha256: str
    requires_python: str | None
    yanked: bool | str
    size: int | None
    upload_time: str | None
    core_metadata: bool | dict[str, str]

    @property
    def metadata_sha256(self) -> str | None:
        """The sha256 of the core metadata, when the page gave one."""
        value = self.core_metadata.get("sha256") if isinstance(self.core_metadata, dict) else None
        return value.lower() if isinstance(value, str) else None

    def uploaded(self) -> datetime | None:
        """Return the upload time, None when absent or unreadable."""
        if not self.upload_time:
            return None
        try:
            return datetime.fromisoformat(self.upload_time.replace("Z", "+00:00"))
        except ValueError:
            return None

    def version(self) -> Version | None:
        """Return the version the filename carries (wheels and sdists; None for older kinds)."""
        parsed = self._parsed()
        return None if parsed is None else parsed[1]

    def belongs_to(self, name: str) -> bool:
        """Say whether the filename names project ``name`` (older kinds cannot be told: yes).

        A page that lists another project's file (``acme_internal-9.0-py3-none-any.whl`` on the
        page of ``innocent``) would smuggle that name in; such files are left out.
        """
        parsed = self._parsed()
        return parsed is None or parsed[0] == name

    def _parsed(self) -> tuple[str, Version] | None:
        try:
            if self.filename.endswith(".whl"):
                wheel = parse_wheel_filename(self.filename)
                return wheel[0], wheel[1]
            return parse_sdist_filename(self.filename)
        except (InvalidWheelFilename, InvalidSdistFilename):
            return None

    def to_json(self) -> dict[str, Any]:
        """Serialize for the stored page cache."""
        return {
            "filename": self.filename,
            "url": self.url,
            "hashes": {"sha256": self.sha256},
            "requires-python": self.requires_python,
            "yanked": self.yanked,
            "size": self.size,
            "upload-time": self.upload_time,
            "core-metadata": self.core_metadata,
        }


def parse_file(entry: object) -> UpstreamFile | None:
    """Read one PEP 691 file entry; None when it lacks what pryv needs (a sha256, a plain name)."""
    if not isinstance(entry, dict):
        return None
    filename, url, hashes = entry.get("filename"), entry.get("url"), entry.get("hashes")
    if not isinstance(filename, str) or not isinstance(url, str) or not isinstance(hashes, dict):
        return None
    sha256 = hashes.get("sha256")
    if not isinstance(sha256, str) or len(sha256) != SHA256_LENGTH or not _is_hex(sha256):
        return None
    if not filename or "/" in filename or "\\" in filename or filename.startswith("."):
        return None
    metadata = entry.get("core-metadata", entry.get("dist-info-metadata", False))
    if not isinstance(metadata, bool | dict):
        metadata = False
    yanked = entry.get("yanked", False)
    size = entry.get("size")
    requires_python = entry.get("requires-python")
    upload_time = entry.get("upload-time")
    return UpstreamFile(
        filename=filename,
        url=url,
        sha256=sha256.lower(),
        requires_python=requires_python if isinstance(requires_python, str) else None,
        yanked=yanked if isinstance(yanked, bool | str) else bool(yanked),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        upload_time=upload_time if isinstance(upload_time, str) else None,
        core_metadata=metadata,
    )


def _is_hex(text: str) -> bool:
    return all(character in "0123456789abcdefABCDEF" for character in text)


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    """Which names and files upstream may offer (``[upstream]`` allow, deny and min-age)."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    min_age: float = 0.0  # seconds

    def permits(self, name: str) -> bool:
        """Say whether the normalized ``name`` may be looked up upstream (deny wins over allow)."""
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.deny):
            return False
        return not self.allow or any(fnmatch.fnmatchcase(name, p) for p in self.allow)

    def offers(self, file: UpstreamFile, now: datetime) -> bool:
        """Say whether ``file`` is old enough to be offered (a file of unknown age is not)."""
        if self.min_age <= 0:
            return True
        uploaded = file.uploaded()
        return uploaded is not None and (now - uploaded).total_seconds() >= self.min_age


_numbers = itertools.count(1)


@dataclass(frozen=True, slots=True)
class CachedPage:
    """An upstream page as fetched and kept: every usable file, and when it was fetched."""

    name: NormalizedName
    files: tuple[UpstreamFile, ...]
    fetched: float  # seconds since the epoch (shared by instances through the store)
    serial: int
    # Told apart from every other entry of this process (ids of freed objects are reused).
    number: int = field(default_factory=lambda: next(_numbers), compare=False)

    def to_json(self) -> bytes:
        """Serialize for the packages store (``layout.upstream_page_key``)."""
        return json.dumps(
            {
                "name": self.name,
                "fetched": self.fetched,
                "serial": self.serial,
                "files": [file.to_json() for file in self.files],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, content: bytes) -> CachedPage:
        """Read what :meth:`to_json` wrote."""
        document = json.loads(content)
        files = tuple(f for f in map(parse_file, document["files"]) if f is not None)
        return cls(document["name"], files, float(document["fetched"]), int(document["serial"]))


@dataclass(frozen=True, slots=True)
class MirrorPage:
    """What pryv offers of an upstream project now: the files old enough, and whether stale."""

    name: NormalizedName
    files: tuple[UpstreamFile, ...]
    serial: int
    stale: bool
    # Identifies the content (the page cache renders once per token).
    token: tuple[int, int] = (0, 0)
    by_filename: dict[str, UpstreamFile] = field(default_factory=dict, compare=False)
    # Until when (epoch seconds) the cooldown offers exactly these files.
    valid_until: float = float("inf")
    pinned: bool = False  # an admin froze it: never refreshed (core/upstream_controls.py)

    @property
    def state(self) -> str:
        """Say how it was read, for ``X-Pryv-Upstream``: ``stale``, ``pinned`` or ``fresh``."""
        return "stale" if self.stale else "pinned" if self.pinned else "fresh"
