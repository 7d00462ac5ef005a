"""Package downloads: ``/packages/<filename>`` and its PEP 658 ``.metadata`` companion."""

from __future__ import annotations

from typing import BinaryIO

from flask import Blueprint
from flask import redirect
from flask import request
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from pryv_server.core import Package
from pryv_server.web.security import require_basic_user
from pryv_server.web.services import get_services

blueprint = Blueprint("download", __name__)
blueprint.before_request(require_basic_user)

METADATA_SUFFIX = ".metadata"


@blueprint.get("/packages/<path:filename>")
def download(filename: str) -> Response:
    """Stream a file (or its core metadata), with ETag, conditional GET and Range support."""
    registry = get_services().registry
    if filename.endswith(METADATA_SUFFIX):
        package = registry.get_package(filename.removesuffix(METADATA_SUFFIX))
        stream = registry.open_metadata(package)
        return _stream(stream, package.metadata_sha256 or "", None, "text/plain")
    package = registry.get_package(filename)
    if (url := registry.download_url(package)) is not None:
        return _redirect(url)
    return _stream(
        registry.open_package(package), package.sha256, package, "application/octet-stream"
    )


def _redirect(url: str) -> Response:
    # The URL expires soon: no client or proxy may keep it. pip drops the Basic credentials
    # when it follows a redirect to another host, and the signature in the URL replaces them.
    response = redirect(url, code=302)
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response


def _stream(stream: BinaryIO, etag: str, package: Package | None, mimetype: str) -> Response:
    body = wrap_file(request.environ, stream)
    response = Response(body, mimetype=mimetype, direct_passthrough=True)
    # A 304 or 206 answer replaces the body; the file must still be closed when the server is done.
    response.call_on_close(stream.close)
    if package is not None:
        response.content_length = package.size
        response.headers["Content-Disposition"] = f'attachment; filename="{package.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(etag)
    response.cache_control.private = True
    response.cache_control.max_age = 365 * 24 * 3600
    response.cache_control.immutable = True
    size = package.size if package is not None else None
    return response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
