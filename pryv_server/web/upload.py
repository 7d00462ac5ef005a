"""The legacy upload API used by twine, ``uv publish``, poetry, hatch, flit and pdm."""

from __future__ import annotations

import errno
import io
import logging
from typing import IO

from flask import Blueprint
from flask import Response
from flask import g
from flask import request
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import ImmutableMultiDict

from pryv_server.core import Upload
from pryv_server.core.distributions import DIGEST_ALGORITHMS
from pryv_server.errors import InvalidUpload
from pryv_server.errors import StorageError
from pryv_server.errors import StorageFull
from pryv_server.errors import UploadTooLarge
from pryv_server.web import authorize
from pryv_server.web.audit import audit
from pryv_server.web.errors import format_size
from pryv_server.web.services import get_services
from pryv_server.web.shadowing import check_shadowing

log = logging.getLogger(__name__)

blueprint = Blueprint("upload", __name__)

# Fields that name one thing: sending two different values is ambiguous, so it is refused.
SINGLE_FIELDS = (
    ":action",
    "protocol_version",
    "name",
    "version",
    "filetype",
    "attestations",
    *(f"{algorithm}_digest" for algorithm in DIGEST_ALGORITHMS),
)
REQUIRED_FIELDS = ("name", "version", "filetype")


@blueprint.post("/")
@blueprint.post("/simple/")
@blueprint.post("/legacy/")
def upload() -> Response:
    """Publish one file from a ``multipart/form-data`` post (``:action=file_upload``)."""
    form, files = _parse_form()
    action = form.get(":action", "")
    if action != "file_upload":
        raise InvalidUpload(f"unsupported :action {action!r}: only 'file_upload' is supported")
    protocol = form.get("protocol_version", "1").strip()
    if protocol != "1":
        raise InvalidUpload(
            f"unsupported protocol_version {protocol[:20]!r}: only '1' is supported"
        )
    content = _content_part(files)
    _check_fields(form)
    digests = {algorithm: form.get(f"{algorithm}_digest", "") for algorithm in DIGEST_ALGORITHMS}
    if not any(digests.values()):
        raise InvalidUpload("the form sends no digest: send sha256_digest (or md5_digest)")
    stream = content.stream
    _check_size(stream)
    with authorize.upload_rights(content.filename or ""):
        shadowing = check_shadowing(get_services(), g.identity, form.get("name", ""))
        published = get_services().registry.publish(
            Upload(
                filename=content.filename or "",
                content=stream,
                uploader=g.identity.name,
                name=form.get("name", ""),
                version=form.get("version", ""),
                filetype=form.get("filetype", ""),
                digests=digests,
                attestations=form.get("attestations", "").strip(),
            )
        )
    get_services().metrics.uploaded(published.package.size, published.created)
    if published.created:
        package = published.package
        audit("upload", package.filename, project=package.project, sha256=package.sha256)
        answer = f"stored {package.filename}\n" + (f"{shadowing}\n" if shadowing else "")
        return Response(answer, status=200, mimetype="text/plain")
    return Response(
        f"{published.package.filename} is already stored\n", status=200, mimetype="text/plain"
    )


def _parse_form() -> tuple[ImmutableMultiDict[str, str], ImmutableMultiDict[str, FileStorage]]:
    """Read the multipart body; Werkzeug spools file parts to unnamed temp files as it goes."""
    if request.mimetype != "multipart/form-data":
        raise InvalidUpload(
            f"the upload must be multipart/form-data, not {request.mimetype or 'no type'!r}"
        )
    try:
        form, files = request.form, request.files
    except OSError as error:
        # The temp folder Werkzeug spools to is full or failing; the spool file is unnamed and
        # vanishes with its descriptor, so nothing is left behind.
        if error.errno in {errno.ENOSPC, errno.EDQUOT}:
            raise StorageFull(f"cannot receive the upload: {error.strerror}") from error
        raise StorageError(f"cannot receive the upload: {error}") from error
    if not form and not files:
        # Werkzeug drops a form it cannot parse to the end: a truncated or malformed body.
        raise InvalidUpload(
            "the body is not a complete multipart/form-data form (was the upload cut short?)"
        )
    return form, files


def _content_part(files: ImmutableMultiDict[str, FileStorage]) -> FileStorage:
    parts = files.getlist("content")
    if not parts or not parts[0].filename:
        raise InvalidUpload("the form has no 'content' file part")
    if len(parts) > 1:
        raise InvalidUpload("the form has several 'content' file parts; send one file per post")
    return parts[0]


def _check_fields(form: ImmutableMultiDict[str, str]) -> None:
    for field in SINGLE_FIELDS:
        if len(set(form.getlist(field))) > 1:
            raise InvalidUpload(f"the form has several different {field!r} fields")
    missing = [field for field in REQUIRED_FIELDS if not form.get(field, "").strip()]
    if missing:
        raise InvalidUpload(f"the form has no {', '.join(map(repr, missing))} field")


def _check_size(stream: IO[bytes]) -> None:
    """Refuse a file over ``max-upload-size`` (the body limit also allows room for the form)."""
    limit = get_services().settings.max_upload_size
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    if size > limit:
        raise UploadTooLarge(
            f"the file is larger than the server's max-upload-size ({format_size(limit)})"
        )
