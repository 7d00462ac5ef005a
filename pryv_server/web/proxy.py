"""Downloads of upstream files: ``/upstream/<project>/<filename>`` and its ``.metadata``.

The first download of a file streams it from upstream while pryv stores it (only once its
sha256 matched the page's); every later one is served from pryv's store like an uploaded file,
with ETag, conditional GET and Range (:func:`pryv_server.web.download.send_stored`).
"""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from pryv_server.core.fetch import Stored
from pryv_server.core.mirror import Mirror
from pryv_server.core.names import normalize
from pryv_server.errors import ProjectNotFound
from pryv_server.web.download import presigned_redirect
from pryv_server.web.download import send_stored
from pryv_server.web.services import get_services

blueprint = Blueprint("upstream", __name__)

METADATA_SUFFIX = ".metadata"


@blueprint.get("/upstream/<project>/<filename>")
def download(project: str, filename: str) -> Response:
    """Send an upstream file (or its core metadata): stored, or fetched on its first download."""
    services = get_services()
    mirror = services.mirror
    if mirror is None:
        raise ProjectNotFound("this registry proxies no upstream index")
    name = normalize(project)
    snapshot = services.registry.snapshot()
    if filename.endswith(METADATA_SUFFIX):
        stored = mirror.metadata(snapshot, name, filename.removesuffix(METADATA_SUFFIX))
        return _send(mirror, stored, filename, "text/plain")
    got = mirror.file(snapshot, name, filename)
    if isinstance(got, Stored):
        links = services.registry.links  # [aws] download = redirect
        if links is not None:
            return presigned_redirect(links.presigned_url(got.key))
        return _send(mirror, got, filename, "application/octet-stream")
    response = Response(got.chunks, mimetype="application/octet-stream", direct_passthrough=True)
    response.call_on_close(got.close)
    if got.size is not None:
        response.content_length = got.size
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(got.etag)
    response.cache_control.private = True
    return response


def _send(mirror: Mirror, stored: Stored, filename: str, mimetype: str) -> Response:
    return send_stored(
        mirror.store.open(stored.key),
        size=stored.size,
        etag=stored.etag,
        filename=filename,
        mimetype=mimetype,
    )
