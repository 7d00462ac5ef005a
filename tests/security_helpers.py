"""Build hostile distributions and raw HTTP requests for the security and fault tests."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tests.credentials import basic_header
from tests.dists import metadata_text
from tests.uploads import upload_body

# The e2e servers' user (tests/e2e/servers.py), as a ready Authorization value.
AUTH = basic_header("carol", "s3cret-pass").encode()  # tests/e2e/servers.py's user

WHEEL_FILE = (
    b"Wheel-Version: 1.0\nGenerator: pryv-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
)


def zip_bytes(
    members: Iterable[tuple[str, bytes]], *, compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as archive:
        warnings.simplefilter("ignore")  # duplicate names are one of the tricks
        for name, content in members:
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, content)
    return buffer.getvalue()


def wheel_members(
    name: str = "demo", version: str = "1.0", metadata: str | None = None
) -> list[tuple[str, bytes]]:
    dist_info = f"{name}-{version}.dist-info"
    return [
        (f"{name}/__init__.py", b"x = 1\n"),
        (f"{dist_info}/METADATA", (metadata or metadata_text(name, version)).encode()),
        (f"{dist_info}/WHEEL", WHEEL_FILE),
        (f"{dist_info}/RECORD", b""),
    ]


def tar_bytes(members: Iterable[tarfile.TarInfo | tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                archive.addfile(member)
                continue
            name, content = member
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def sdist_members(name: str = "demo", version: str = "1.0") -> list[tuple[str, bytes]]:
    top = f"{name}-{version}"
    return [
        (f"{top}/PKG-INFO", metadata_text(name, version).encode()),
        (f"{top}/{name}/__init__.py", b"x = 1\n"),
    ]


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def raw_request(
    url: str, request: bytes, *, timeout: float = 20, read: bool = True
) -> tuple[int, bytes]:
    """Send raw bytes to the server at ``url``; return the status and the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413, 507) before reading the whole body
        if not read:
            return 0, b""
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    chunks = []
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            data = b"".join(chunks)
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep and _complete(head, body):
                break
    except (ConnectionResetError, TimeoutError):
        pass
    data = b"".join(chunks)
    status_line = data.split(b"\r\n", 1)[0]
    parts = status_line.split(b" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return status, data


def _complete(head: bytes, body: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` with its content hash: compare before and after an attack."""
    listing = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.suffix == ".log":
                continue
            listing[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).digest()
    return listing


def request(server: Any, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    return raw_request(server.url, head + b"\r\n" + body)


def get(server: Any, path: bytes, headers: bytes = b"") -> tuple[int, bytes]:
    head = b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if b"Authorization:" not in headers:
        head += b"Authorization: " + AUTH + b"\r\n"
    return request(server, head + headers)


def upload(
    server: Any, filename: str, content: bytes, name: str = "demo", version: str = "1.0"
) -> tuple[int, bytes]:
    body, content_type = upload_body(filename, content, name, version)
    head = (
        (
            f"POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        ).encode()
        + b"Authorization: "
        + AUTH
        + b"\r\n"
    )
    return request(server, head, body)


def header(answer: bytes, name: bytes) -> bytes | None:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def _ustar_header(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _padded(size: int) -> int:
    return -size % tarfile.BLOCKSIZE


def gzip_stream(chunks: Iterable[bytes]) -> bytes:
    """Gzip a stream of chunks without holding the uncompressed whole (fast level 1)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    out = [compressor.compress(chunk) for chunk in chunks]
    return b"".join([*out, compressor.flush()])


def pax_bomb_sdist(header_size: int, name: str = "demo", version: str = "1.0") -> bytes:
    """A valid sdist whose first member has a PAX extended header of ``header_size`` bytes.

    Built and compressed as a stream, so a 300 MiB header costs the test ~300 KiB of memory.
    """

    def chunks() -> Iterable[bytes]:
        yield _ustar_header("././@PaxHeader", tarfile.XHDTYPE, header_size)
        record = b" comment="
        yield f"{header_size}".encode() + record
        left = header_size - len(record) - len(str(header_size)) - 1
        block = b"a" * (1 << 20)
        while left > 0:
            yield block[: min(left, len(block))]
            left -= len(block)
        yield b"\n" + b"\0" * _padded(header_size)
        yield _sdist_tar_body(name, version)

    return gzip_stream(chunks())


def _sdist_tar_body(name: str, version: str, *, end: bool = True) -> bytes:
    out = io.BytesIO()
    for member, content in sdist_members(name, version):
        out.write(_ustar_header(member, tarfile.REGTYPE, len(content)))
        out.write(content + b"\0" * _padded(len(content)))
    if end:
        out.write(b"\0" * tarfile.BLOCKSIZE * 2)
    return out.getvalue()


def many_members_sdist(count: int, name: str = "demo", version: str = "1.0") -> bytes:
    """A valid sdist with ``count`` extra empty files (400,000 fit in ~2.4 MiB), built quickly."""
    template = _ustar_header(f"{name}-{version}/f0000000", tarfile.REGTYPE, 0)
    start = template.index(b"f0000000") + 1
    base = sum(template[:148]) + sum(template[156:]) + 8 * 32 - 7 * ord("0")

    def chunks() -> Iterable[bytes]:
        yield _sdist_tar_body(name, version, end=False)
        batch = []
        for number in range(count):
            digits = b"%07d" % number
            header = bytearray(template)
            header[start : start + 7] = digits
            header[148:156] = b"%06o\0 " % (base + sum(digits))
            batch.append(bytes(header))
            if len(batch) == 4096:
                yield b"".join(batch)
                batch = []
        yield b"".join(batch) + b"\0" * tarfile.BLOCKSIZE * 2

    return gzip_stream(chunks())


class TagCollector(HTMLParser):
    """Every tag and its attributes, as a browser's parser would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
