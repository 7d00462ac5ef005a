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

from packaging.version import Version

from pryv_server.core import archives
from pryv_server.core.names import DistributionFilename
from pryv_server.core.names import normalize
from pryv_server.errors import DigestMismatch
from pryv_server.errors import InvalidDistribution
from pryv_server.storage.base import CHUNK_SIZE

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
    """Check the archive (see :mod:`pryv_server.core.archives`) and return its core metadata.

    That is ``<name>-<version>.dist-info/METADATA`` of a wheel, which must also hold ``WHEEL``,
    or ``<top>/PKG-INFO`` of an sdist, whose members all lie in the one ``<top>`` folder.

    :raises InvalidDistribution: the archive is unreadable, unsafe or lacks those files.
    """
    stream.seek(0)
    if parsed.kind == "wheel" or parsed.filename.lower().endswith(".zip"):
        return _read_from_zip(stream, parsed)
    return _read_from_tar(stream, parsed)


def _read_from_zip(stream: IO[bytes], parsed: DistributionFilename) -> bytes:
    try:
        with zipfile.ZipFile(stream) as archive:
            archives.check_zip(stream, parsed.filename, archive)
            names = archive.namelist()
            if parsed.kind == "sdist":
                _check_single_top(names, parsed)
            else:
                _check_single_dist_info(names, parsed)
            member = _find_member(names, parsed)
            if parsed.kind == "wheel":
                _check_wheel_file(archive, member.rpartition("/")[0] + "/WHEEL", parsed)
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
        ValueError,
    ) as error:
        raise InvalidDistribution(
            f"{parsed.filename} is not a valid zip archive: {error}"
        ) from None


def _check_wheel_file(archive: zipfile.ZipFile, member: str, parsed: DistributionFilename) -> None:
    """Require the ``WHEEL`` file pip reads first, with a Wheel-Version pip can install (1.x)."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise InvalidDistribution(f"{parsed.filename} has no {member}") from None
    if info.file_size > MAX_METADATA_BYTES:
        raise InvalidDistribution(f"{member} is larger than {MAX_METADATA_BYTES} bytes")
    text = archive.read(member).decode("utf-8", "replace")
    fields = {key.lower(): value for key, value in _headers(text)}
    version = fields.get("wheel-version", "")
    if version.split(".")[0] != "1":
        raise InvalidDistribution(
            f"{member}: Wheel-Version {version or '(missing)'!r} is not 1.x; pip cannot install it"
        )


def _headers(text: str) -> list[tuple[str, str]]:
    return [
        (key.strip(), value.strip())
        for key, sep, value in (line.partition(":") for line in text.splitlines())
        if sep and not key.startswith((" ", "\t"))
    ]


def _read_from_tar(stream: IO[bytes], parsed: DistributionFilename) -> bytes:
    try:
        with tarfile.open(fileobj=stream, mode="r:gz", tarinfo=archives.BoundedTarInfo) as archive:
            members = archives.check_tar(archive, stream, parsed.filename)
            _check_single_top([member.name for member in members], parsed)
            names = [member.name for member in members]
            member = members[names.index(_find_member(names, parsed))]
            if not member.isreg() or member.size > MAX_METADATA_BYTES:
                raise InvalidDistribution(f"{member.name} is not a regular file of sensible size")
            extracted = archive.extractfile(member)
            if extracted is None:  # pragma: no cover - isreg() members always extract
                raise InvalidDistribution(f"cannot read {member.name} from {parsed.filename}")
            return extracted.read()
    except (tarfile.TarError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise InvalidDistribution(
            f"{parsed.filename} is not a valid .tar.gz archive: {error}"
        ) from None


def _check_single_dist_info(names: list[str], parsed: DistributionFilename) -> None:
    """Refuse a wheel with several ``.dist-info`` folders, as pip does (which would count?)."""
    folders = {name.split("/")[0] for name in names if name.split("/")[0].endswith(".dist-info")}
    if len(folders) > 1:
        raise InvalidDistribution(
            f"{parsed.filename} has {len(folders)} .dist-info folders; a wheel has exactly one"
        )


def _check_single_top(names: list[str], parsed: DistributionFilename) -> None:
    """Refuse an sdist with more than one top-level folder: pip builds in its only one."""
    tops = {name.removeprefix("./").split("/")[0] for name in names}
    if len(tops) != 1:
        raise InvalidDistribution(
            f"{parsed.filename}: an sdist holds exactly one top-level folder, found {len(tops)}"
        )


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
