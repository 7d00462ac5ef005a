"""The legacy upload API used by twine, ``uv publish``, poetry, hatch, flit and pdm."""

from __future__ import annotations

import os
from typing import IO

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from pryv_server.core import Upload
from pryv_server.core.distributions import DIGEST_ALGORITHMS
from pryv_server.errors import InvalidUpload
from pryv_server.errors import UploadTooLarge
from pryv_server.web.security import require_basic_user
from pryv_server.web.services import get_services

blueprint = Blueprint("upload", __name__)
blueprint.before_request(require_basic_user)


@blueprint.post("/")
@blueprint.post("/simple/")
@blueprint.post("/legacy/")
def upload() -> Response:
    """Publish one file from a ``multipart/form-data`` post (``:action=file_upload``)."""
    form = request.form
    action = form.get(":action", "")
    if action != "file_upload":
        raise InvalidUpload(f"unsupported :action {action!r}: only 'file_upload' is supported")
    content = request.files.get("content")
    if content is None or not content.filename:
        raise InvalidUpload("the form has no 'content' file part")
    _check_size(content.stream)
    digests = {algorithm: form.get(f"{algorithm}_digest", "") for algorithm in DIGEST_ALGORITHMS}
    if not any(digests.values()):
        raise InvalidUpload("the form sends no digest: send sha256_digest (or md5_digest)")
    published = get_services().registry.publish(
        Upload(
            filename=content.filename,
            content=content.stream,
            uploader=g.user,
            name=form.get("name", ""),
            version=form.get("version", ""),
            filetype=form.get("filetype", ""),
            digests=digests,
        )
    )
    if published.created:
        return Response(f"stored {published.package.filename}\n", status=200, mimetype="text/plain")
    return Response(
        f"{published.package.filename} is already stored\n", status=200, mimetype="text/plain"
    )


def _check_size(stream: IO[bytes]) -> None:
    """Refuse a file over ``max-upload-size``.

    The request as a whole may be a little larger (MAX_CONTENT_LENGTH leaves room for the form
    fields), so the file itself is measured here, before anything is hashed or stored.
    """
    limit = get_services().settings.max_upload_size
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    if size > limit:
        raise UploadTooLarge(
            f"the file is {size} bytes, more than this server's max-upload-size of {limit} bytes"
        )
