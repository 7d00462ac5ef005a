"""The one way tests build an upload: the multipart fields twine sends, and posting them.

Tests that need every byte under control (raw multipart, a browser form) still start from
``upload_fields`` so the field names and digests are spelled here only.
"""

from __future__ import annotations

import hashlib
import io
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
