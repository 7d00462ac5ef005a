"""Check that an uploaded archive is what it claims, and safe to hand to pip, before storing it.

pip trusts what a registry serves; a registry that stores anything sent to it passes on the
tricks. So a wheel must be a plain zip file from its first byte (no self-extracting stub or other
data before it), and every archive's member names must be relative, inside the archive's folder
and printable; zip members may only be stored or deflated, unencrypted, and the archive may not
expand far beyond its own size (a zip bomb). An sdist's tar members must be regular files,
folders or links that stay inside the archive's folder (no devices, no absolute or ``..`` paths),
followed through every chain of links the way extraction would. Only the small metadata members
are ever decompressed here; the rest is checked from headers, whose size and number are bounded
so that checking an archive costs bounded memory and time.
"""

from __future__ import annotations

import posixpath
import tarfile
import zipfile
from collections.abc import Iterable
from collections.abc import Mapping
from typing import IO

from pryv_server.errors import InvalidDistribution

LOCAL_HEADER = b"PK\x03\x04"
ALLOWED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
# Real distributions expand 2-20 times; a bigger ratio over this floor is a decompression bomb.
MAX_RATIO = 200
RATIO_FLOOR = 64 * 1024 * 1024
# The largest sdists hold some 30,000 files; each member costs ~40 us to parse, so 100,000 members
# bound the check to a few seconds (400,000 empty members used to cost 18-44 s of CPU).
MAX_MEMBERS = 100_000
# tarfile reads a member's extended headers (PAX, GNU long names) whole into memory: a 300 MiB
# PAX header in a 298 KiB upload cost 735-905 MiB. A real one holds a path and a few fields.
MAX_MEMBER_HEADER = 64 * 1024
MAX_HEADER_BYTES = 64 * 1024 * 1024
MAX_PATH = 4096
MAX_LINK_HOPS = 40  # as Linux's path resolution
_EXTENDED = frozenset(
    {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
    | {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK}
)
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


class BoundedTarInfo(tarfile.TarInfo):
    """A ``TarInfo`` that refuses oversized extended headers before tarfile reads them.

    Pass it as ``tarfile.open(..., tarinfo=BoundedTarInfo)``. tarfile calls ``_proc_member`` for
    each header block it reads, extended ones included, before it reads their content.
    """

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise InvalidDistribution(f"{self.name}: sparse files are refused")
        # archive.offset is where this member's first header block starts.
        if self.type in _EXTENDED and (
            self.offset + tarfile.BLOCKSIZE + self.size - archive.offset > MAX_MEMBER_HEADER
        ):
            raise InvalidDistribution(
                f"a tar member's headers are larger than {MAX_MEMBER_HEADER // 1024} KiB"
            )
        return super()._proc_member(archive)  # type: ignore[misc,no-any-return]


def check_tar(archive: tarfile.TarFile, stream: IO[bytes], filename: str) -> list[tarfile.TarInfo]:
    """Read the members of a tar archive, refusing unsafe ones and bombs as they come.

    Open the archive with ``tarinfo=BoundedTarInfo`` so that oversized headers are refused
    before they are read.

    :returns: the members, in archive order.
    :raises InvalidDistribution: naming the first problem found.
    """
    compressed = _size(stream)
    members: list[tarfile.TarInfo] = []
    expanded = header_bytes = 0
    for member in archive:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise InvalidDistribution(f"{filename} has more than {MAX_MEMBERS:,} members")
        header_bytes += member.offset_data - member.offset
        if header_bytes > MAX_HEADER_BYTES:
            raise InvalidDistribution(
                f"{filename} has more than {MAX_HEADER_BYTES // 2**20} MiB of tar headers"
            )
        expanded += member.size
        _check_expansion(expanded, compressed, filename)
        _check_member(member, filename)
    _check_names([member.name for member in members], filename, unique=False)
    _check_links(members, filename)
    return members


def _check_member(member: tarfile.TarInfo, filename: str) -> None:
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise InvalidDistribution(
            f"{filename}: {member.name} is not a file, folder or link (devices and fifos "
            "are refused)"
        )
    for path in (member.name, member.linkname):
        if len(path) > MAX_PATH:
            raise InvalidDistribution(f"{filename}: a member's path is over {MAX_PATH} characters")
        if path.startswith("/"):
            raise InvalidDistribution(f"{filename}: unsafe member: {path!r} is an absolute path")
    if posixpath.normpath(member.name).split("/")[0] == "..":
        raise InvalidDistribution(
            f"{filename}: unsafe member: {member.name!r} is outside the archive"
        )


def _check_links(members: list[tarfile.TarInfo], filename: str) -> None:
    """Refuse members that extraction would write, or links that would point, outside the folder.

    Each path is resolved the way the kernel resolves it once the archive is on disk: component
    by component, following every symbolic link of the archive on the way. A link that looks
    harmless alone (``up -> .``, then ``up2 -> up/..``) can lead out through another; checking
    each link's target by itself, as ``tarfile.data_filter`` does, misses the chain.
    """
    links = {posixpath.normpath(m.name): m.linkname for m in members if m.issym()}
    for member in members:
        top = member.name.split("/")[0]
        parent = posixpath.dirname(posixpath.normpath(member.name))
        checks = [parent] if parent else []  # a top-level member is for _check_single_top
        if member.issym():
            checks.append(posixpath.join(parent, member.linkname))
        elif member.islnk():
            checks.append(member.linkname)
        for path in checks:
            resolved = _resolve(path, links)
            if resolved is None or not resolved or resolved[0] != top:
                raise InvalidDistribution(
                    f"{filename}: unsafe member: {member.name!r} (through its links) "
                    f"leads outside {top}/"
                )


def _resolve(path: str, links: Mapping[str, str]) -> list[str] | None:
    """Resolve ``path`` inside the archive, following its links; None if it leaves the root."""
    resolved: list[str] = []
    pending = list(reversed(path.split("/")))
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        resolved.append(part)
        target = links.get("/".join(resolved))
        if target is None:
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or target.startswith("/"):
            return None
        resolved.pop()
        pending.extend(reversed(target.split("/")))
    return resolved


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
