"""Package downloads: ``/packages/<filename>`` and its PEP 658 ``.metadata`` companion.

Both are answered by :func:`send_stored`, the one streamer of stored files (the explorer's
downloads use it too): ``Content-Length``, a strong ``ETag`` (the sha256), conditional GET
(``304``), ``Range`` (``206`` with ``Content-Range``, ``416`` when the range is outside the
file), on local and S3 storage alike. Clients such as pip and mirrors resume or check a
``.metadata`` file exactly as they do a package.
"""

from __future__ import annotations

from typing import BinaryIO

from flask import Blueprint
from flask import redirect
from flask import request
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date
from werkzeug.http import quote_etag
from werkzeug.wrappers import Response
from werkzeug.wsgi import wrap_file

from pryv_server.core import Package
from pryv_server.web import authorize
from pryv_server.web.errors import plain_response
from pryv_server.web.services import get_services

blueprint = Blueprint("download", __name__)

METADATA_SUFFIX = ".metadata"
IMMUTABLE_MAX_AGE = 365 * 24 * 3600
CACHE_IMMUTABLE = f"private, max-age={IMMUTABLE_MAX_AGE}, immutable"
CACHE_REVALIDATE = "private, no-cache"
# Request headers that can make a download a 206, 304, 412 or 416 (WSGI environ keys).
CONDITIONS = frozenset(
    ("HTTP_RANGE", "HTTP_IF_RANGE", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
     "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")
)  # fmt: skip


@blueprint.get("/packages/<path:filename>")
def download(filename: str) -> Response:
    """Stream a file (or its core metadata), with ETag, conditional GET and Range support."""
    registry = get_services().registry
    if filename.endswith(METADATA_SUFFIX):
        package = authorize.readable_package(filename.removesuffix(METADATA_SUFFIX))
        # Small, so always served by pryv itself, even when packages redirect to S3.
        size = registry.metadata_size(package)
        return send_stored(
            registry.open_metadata(package),
            size=size,
            etag=package.metadata_sha256 or "",
            filename=filename,
            mimetype="text/plain",
        )
    package = authorize.readable_package(filename)
    if (url := registry.download_url(package)) is not None:
        return presigned_redirect(url)
    return send_package(package)


def send_package(package: Package, *, immutable: bool = True) -> Response:
    """Send a published file's bytes (see :func:`send_stored`)."""
    return send_stored(
        get_services().registry.open_package(package),
        size=package.size,
        etag=package.sha256,
        filename=package.filename,
        mimetype="application/octet-stream",
        immutable=immutable,
    )


def send_stored(
    stream: BinaryIO,
    *,
    size: int,
    etag: str,
    filename: str,
    mimetype: str,
    immutable: bool = True,
) -> Response:
    """Answer with a stored file like any download: length, ETag, conditional GET and Range.

    :param stream: the open file; it is closed when the server is done, whatever the answer.
    :param size: its length in bytes (Range requests are answered against it).
    :param etag: a strong validator of the content (its sha256).
    :param immutable: let clients keep it for a year (the API: content under a filename never
        changes); false revalidates every time (the explorer's downloads).
    """
    headers = stored_headers(
        size=size, etag=etag, filename=filename, mimetype=mimetype, immutable=immutable
    )
    response = Response(
        wrap_file(request.environ, stream), headers=headers, direct_passthrough=True
    )
    # A 304 or 206 answer replaces the body; the file must still be closed when the server is done.
    response.call_on_close(stream.close)
    if not CONDITIONS.intersection(request.environ):
        # What make_conditional adds to a plain GET, without its parsing (a fifth of a download).
        response.headers.extend(plain_get_headers())
        return response
    try:
        return response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:
        stream.close()
        return _not_satisfiable(filename, size)


def stored_headers(
    *, size: int, etag: str, filename: str, mimetype: str, immutable: bool = True
) -> list[tuple[str, str]]:
    """Return the headers every answer with a stored file starts with, in Flask's order.

    The fast path (:mod:`pryv_server.web.fast_downloads`) sends the same, so the two answers
    are byte for byte alike.
    """
    text = mimetype.startswith("text/")
    return [
        ("Content-Type", f"{mimetype}; charset=utf-8" if text else mimetype),
        ("Content-Length", str(size)),
        ("Content-Disposition", f'attachment; filename="{filename}"'),
        ("X-Content-Type-Options", "nosniff"),
        ("ETag", quote_etag(etag)),
        # Spelled whole: werkzeug's cache_control object parses and rewrites it per directive.
        ("Cache-Control", CACHE_IMMUTABLE if immutable else CACHE_REVALIDATE),
    ]


def plain_get_headers() -> list[tuple[str, str]]:
    """Return what werkzeug's ``make_conditional`` adds to a GET with no Range or If-* header."""
    return [("Accept-Ranges", "bytes"), ("Date", http_date())]


def _not_satisfiable(filename: str, size: int) -> Response:
    # RFC 9110, 15.5.17: say how long the file is, so the client can ask again.
    answer = plain_response(416, f"requested range not satisfiable: {filename} has {size} bytes")
    answer.headers["Content-Range"] = f"bytes */{size}"
    answer.headers["Accept-Ranges"] = "bytes"
    return answer


def presigned_redirect(url: str) -> Response:
    """Send the client to a short-lived URL of the store (never cached: it expires)."""
    # The URL expires soon: no client or proxy may keep it. pip drops the Basic credentials
    # when it follows a redirect to another host, and the signature in the URL replaces them.
    response = redirect(url, code=302)
    response.cache_control.no_store = True
    response.cache_control.private = True
    return response
