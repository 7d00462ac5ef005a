"""Check that an uploaded archive is what it claims, and safe to hand to pip, before storing it.

pip trusts what a registry serves; a registry that stores anything sent to it passes on the
tricks. So a wheel must be a plain zip file from its first byte (no self-extracting stub or other
data before it), and every archive's member names must be relative, inside the archive's folder
and printable; zip members may only be stored or deflated, unencrypted, and the archive may not
expand far beyond its own size (a zip bomb). An sdist's tar members must be regular files,
folders or links that stay inside the archive (no devices, no absolute or ``..`` paths). Only the
small metadata members are ever decompressed here; the rest is checked from headers.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Iterable
from typing import IO

from pryv_server.errors import InvalidDistribution

LOCAL_HEADER = b"PK\x03\x04"
ALLOWED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
# Real distributions expand 2-20 times; a bigger ratio over this floor is a decompression bomb.
MAX_RATIO = 200
RATIO_FLOOR = 64 * 1024 * 1024
MAX_MEMBERS = 1_000_000
_ENCRYPTED = 0x1


def check_zip(stream: IO[bytes], filename: str, archive: zipfile.ZipFile) -> None:
    """Refuse a zip with data before its first entry, unsafe names, odd members or a bomb.

    :raises InvalidDistribution: naming the first problem found.
    """
    stream.seek(0)
    if stream.read(4) != LOCAL_HEADER:
        raise InvalidDistribution(f"{filename} is not a zip file from its first byte")
    members = archive.infolist()
    if not members:
        raise InvalidDistribution(f"{filename} is an empty zip archive")
    if min(info.header_offset for info in members) != 0:
        raise InvalidDistribution(f"{filename} has data before its first zip entry")
    _check_names([info.filename for info in members], filename, unique=True)
    for info in members:
        if info.compress_type not in ALLOWED_COMPRESSION:
            raise InvalidDistribution(
                f"{filename}: {info.filename} uses zip compression method {info.compress_type} "
                "(only stored and deflated are accepted)"
            )
        if info.flag_bits & _ENCRYPTED:
            raise InvalidDistribution(f"{filename}: {info.filename} is encrypted")
    _check_expansion(sum(info.file_size for info in members), _size(stream), filename)


def check_tar(archive: tarfile.TarFile, stream: IO[bytes], filename: str) -> list[tarfile.TarInfo]:
    """Read the members of a tar archive, refusing unsafe ones and bombs as they come.

    :returns: the members, in archive order.
    :raises InvalidDistribution: naming the first problem found.
    """
    compressed = _size(stream)
    members: list[tarfile.TarInfo] = []
    expanded = 0
    for member in archive:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise InvalidDistribution(f"{filename} has more than {MAX_MEMBERS} members")
        expanded += member.size
        _check_expansion(expanded, compressed, filename)
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise InvalidDistribution(
                f"{filename}: {member.name} is not a file, folder or link (devices and fifos "
                "are refused)"
            )
        try:
            tarfile.data_filter(member, "/nonexistent-pryv-check")
        except tarfile.FilterError as error:
            raise InvalidDistribution(f"{filename}: unsafe member: {error}") from None
    _check_names([member.name for member in members], filename, unique=False)
    return members


def _check_names(names: Iterable[str], filename: str, *, unique: bool) -> None:
    """Refuse unsafe member names, and with ``unique`` a name given twice.

    In a zip, two entries under one name let two tools read two different files (pip reads the
    central directory, others the local headers), so a wheel may not repeat a name. A tar is read
    in order by every tool, the last entry winning, and real sdists do repeat names (pyarrow
    26.0.1 holds ``LICENSE.txt`` twice), so there only ``PKG-INFO`` must be unique, which the
    metadata reader checks.
    """
    seen: set[str] = set()
    for name in names:
        problem = _name_problem(name)
        if problem:
            raise InvalidDistribution(f"{filename}: member {name!r} {problem}")
        key = name.rstrip("/")
        if unique and key in seen:
            raise InvalidDistribution(f"{filename}: member {name!r} appears twice")
        seen.add(key)


def _name_problem(name: str) -> str | None:
    if not name or not name.isprintable():
        return "is empty or has unprintable characters"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if ".." in name.split("/"):
        return "contains '..'"
    return None


def _check_expansion(expanded: int, compressed: int, filename: str) -> None:
    if expanded > RATIO_FLOOR and expanded > MAX_RATIO * max(compressed, 1):
        raise InvalidDistribution(
            f"{filename} expands more than {MAX_RATIO} times its size (a decompression bomb?)"
        )


def _size(stream: IO[bytes]) -> int:
    position = stream.tell()
    size = stream.seek(0, 2)
    stream.seek(position)
    return size
