"""The one way tests build an upload: the multipart fields twine sends, and posting them.

Tests that need every byte under control (raw multipart, a browser form) still start from
``upload_fields`` so the field names and digests are spelled here only.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterable
from pathlib import Path

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.credentials import basic


def digests(content: bytes) -> dict[str, str]:
    """The three digests twine sends (pryv checks each one it gets)."""
    return {
        "md5_digest": hashlib.md5(content).hexdigest(),
        "sha256_digest": hashlib.sha256(content).hexdigest(),
        "blake2_256_digest": hashlib.blake2b(content, digest_size=32).hexdigest(),
    }


def upload_fields(
    filename: str,
    content: bytes,
    name: str | None = None,
    version: str | None = None,
    **overrides: str | None,
) -> dict[str, str]:
    """The fields twine sends for ``filename`` (name and version read from it unless given);
    override any field, or drop it with None."""
    parsed_name, parsed_version = filename.split("-")[:2]
    wheel = filename.endswith(".whl")
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name or parsed_name,
        "version": version or parsed_version.removesuffix(".tar.gz").removesuffix(".zip"),
        "filetype": "bdist_wheel" if wheel else "sdist",
        "pyversion": "py3" if wheel else "source",
        **digests(content),
    }
    for key, value in overrides.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def multipart(
    fields: Iterable[tuple[str, str]], files: Iterable[tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    """Encode a multipart/form-data body by hand (so tests control every byte)."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for key, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'.encode())
        out.write(value.encode("utf-8", "surrogateescape") + b"\r\n")
    for key, filename, content in files:
        filename = filename.replace("\\", "\\\\").replace('"', '\\"')  # a quoted-string
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode(
                "utf-8", "surrogateescape"
            )
        )
        out.write(content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def upload_body(
    filename: str,
    content: bytes,
    name: str | None = None,
    version: str | None = None,
    extra: Iterable[tuple[str, str]] = (),
    drop: Iterable[str] = (),
    **overrides: str | None,
) -> tuple[bytes, str]:
    """The raw multipart body twine sends for ``filename`` (its fields as :func:`upload_fields`
    gives them, less those in ``drop``, then ``extra``), and its Content-Type."""
    dropped = set(drop)
    fields = upload_fields(filename, content, name, version, **overrides).items()
    kept = [(key, value) for key, value in fields if key not in dropped]
    return multipart([*kept, *extra], [("content", filename, content)])


def post_multipart(client: FlaskClient, body: bytes, content_type: str | None) -> TestResponse:
    """Post a raw body (an :func:`upload_body`, or a broken one) to ``/legacy/`` as the test user;
    ``content_type`` None sends none."""
    headers = basic()
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.post("/legacy/", data=body, headers=headers)


def upload_form(path: Path, **overrides: str | None) -> dict[str, object]:
    """The fields twine sends for the file at ``path``."""
    return dict(upload_fields(path.name, path.read_bytes(), **overrides))


def post_upload(
    client: FlaskClient,
    path: Path,
    url: str = "/simple/",
    filename: str | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    **overrides: str | None,
) -> TestResponse:
    """Upload ``path`` through the test client as twine would (``content`` replaces its bytes
    on the wire, ``filename`` its name, ``headers`` the default Basic credentials)."""
    data = upload_form(path, **overrides)
    data["content"] = (
        io.BytesIO(path.read_bytes() if content is None else content),
        filename or path.name,
    )
    return client.post(
        url,
        data=data,
        headers=basic() if headers is None else headers,
        content_type="multipart/form-data",
    )
