"""Read uploaded distribution files: digests, and the core metadata inside the archive.

The metadata a registry serves comes from the file itself (``METADATA`` in a wheel's
``.dist-info``, ``PKG-INFO`` at the top of an sdist), the way pip will read it after install, not
from the upload form, which a client can get wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO
from typing import Any

from packaging.metadata import ExceptionGroup as MetadataErrors
from packaging.metadata import InvalidMetadata as PackagingInvalidMetadata
from packaging.metadata import Metadata as PackagingMetadata
from packaging.metadata import parse_email
from packaging.version import Version

from pryv_server.core.names import DistributionFilename
from pryv_server.core.names import normalize
from pryv_server.errors import DigestMismatch
from pryv_server.errors import InvalidDistribution
from pryv_server.errors import InvalidMetadata

CHUNK_SIZE = 1024 * 1024
MAX_METADATA_BYTES = 10 * 1024 * 1024
DIGEST_ALGORITHMS = ("md5", "sha256", "blake2_256")


@dataclass(frozen=True, slots=True)
class Digests:
    """The size and digests of a file, computed in one pass."""

    size: int
    md5: str
    sha256: str
    blake2_256: str

    def get(self, algorithm: str) -> str:
        """Return the hex digest for ``md5``, ``sha256`` or ``blake2_256``."""
        return str(getattr(self, algorithm))


def compute_digests(stream: IO[bytes]) -> Digests:
    """Read ``stream`` to its end in 1 MiB chunks, hashing as it goes (memory stays flat)."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    blake2 = hashlib.blake2b(digest_size=32)
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        size += len(chunk)
        md5.update(chunk)
        sha256.update(chunk)
        blake2.update(chunk)
    return Digests(size, md5.hexdigest(), sha256.hexdigest(), blake2.hexdigest())


def check_digests(actual: Digests, claimed: Mapping[str, str]) -> None:
    """Compare every digest the client sent with the bytes received (constant time).

    :raises DigestMismatch: one of them differs.
    """
    for algorithm in DIGEST_ALGORITHMS:
        expected = claimed.get(algorithm, "").strip().lower()
        if expected and not hmac.compare_digest(expected, actual.get(algorithm)):
            raise DigestMismatch(
                f"the {algorithm} digest sent does not match the file received "
                "(the upload was corrupted or the digest is wrong)"
            )


def read_metadata_file(stream: IO[bytes], parsed: DistributionFilename) -> bytes:
    """Return the METADATA (wheel) or PKG-INFO (sdist) bytes from the archive.

    :raises InvalidDistribution: the archive is unreadable or has no such file.
    """
    stream.seek(0)
    if parsed.kind == "wheel" or parsed.filename.lower().endswith(".zip"):
        return _read_from_zip(stream, parsed)
    return _read_from_tar(stream, parsed)


def _read_from_zip(stream: IO[bytes], parsed: DistributionFilename) -> bytes:
    try:
        with zipfile.ZipFile(stream) as archive:
            member = _find_member(archive.namelist(), parsed)
            info = archive.getinfo(member)
            if info.file_size > MAX_METADATA_BYTES:
                raise InvalidDistribution(f"{member} is larger than {MAX_METADATA_BYTES} bytes")
            return archive.read(member)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        NotImplementedError,
    ) as error:
        raise InvalidDistribution(
            f"{parsed.filename} is not a valid zip archive: {error}"
        ) from None


def _read_from_tar(stream: IO[bytes], parsed: DistributionFilename) -> bytes:
    try:
        with tarfile.open(fileobj=stream, mode="r:gz") as archive:
            members = {member.name: member for member in archive.getmembers()}
            member = members[_find_member(list(members), parsed)]
            if not member.isfile() or member.size > MAX_METADATA_BYTES:
                raise InvalidDistribution(f"{member.name} is not a regular file of sensible size")
            extracted = archive.extractfile(member)
            if extracted is None:
                raise InvalidDistribution(f"cannot read {member.name} from {parsed.filename}")
            return extracted.read()
    except (tarfile.TarError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise InvalidDistribution(
            f"{parsed.filename} is not a valid .tar.gz archive: {error}"
        ) from None


def _find_member(names: list[str], parsed: DistributionFilename) -> str:
    """Find ``<name>-<version>.dist-info/METADATA`` in a wheel or ``<top>/PKG-INFO`` in an sdist."""
    if parsed.kind == "wheel":
        candidates = [
            name
            for name in names
            if name.count("/") == 1
            and name.endswith(".dist-info/METADATA")
            and _dist_info_matches(name.split("/")[0], parsed)
        ]
        wanted = f"{parsed.project.replace('-', '_')}-{parsed.version}.dist-info/METADATA"
    else:
        candidates = [name for name in names if name.count("/") == 1 and name.endswith("/PKG-INFO")]
        wanted = "<project>-<version>/PKG-INFO"
    if len(candidates) != 1:
        problem = "has no" if not candidates else "has more than one"
        raise InvalidDistribution(f"{parsed.filename} {problem} {wanted}")
    return candidates[0]


def _dist_info_matches(folder: str, parsed: DistributionFilename) -> bool:
    name, _, version = folder.removesuffix(".dist-info").rpartition("-")
    try:
        return normalize(name) == parsed.project and Version(version) == parsed.version
    except ValueError:
        return False


def parse_metadata(content: bytes) -> dict[str, Any]:
    """Parse and validate core metadata; every problem is gathered into one message.

    :returns: packaging's ``RawMetadata`` (JSON-ready lists, strings and a dict of URLs).
    :raises InvalidMetadata: the metadata is unreadable or a field is invalid.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMetadata("the core metadata is not valid UTF-8") from None
    raw, unparsed = parse_email(text)
    problems = [f"{field}: cannot be parsed" for field in unparsed if field.lower() in _KNOWN]
    try:
        PackagingMetadata.from_raw(raw, validate=True)
    except MetadataErrors as group:
        problems += [_describe(error) for error in group.exceptions]
    if problems:
        raise InvalidMetadata("invalid metadata: " + "; ".join(problems))
    return dict(raw)


_KNOWN = {"metadata-version", "name", "version"}


def _describe(error: Exception) -> str:
    if isinstance(error, PackagingInvalidMetadata):
        return f"{error.field.replace('_', '-')}: {error}"
    return str(error)
