"""Answer plain downloads of stored files without entering Flask.

``pip`` and ``uv`` fetch a ``.metadata`` file for every candidate they consider and then the
chosen files, with the same credentials each time. Flask's request context, routing and hooks
cost four times what sending a small file does, so, as for simple pages
(:mod:`pryv_server.web.page_cache`), a download whose answer needs nothing Flask adds is sent
from here: a GET without a query, a ``Range`` or an ``If-*`` header, with credentials already
verified, of a file the identity may read, streamed by pryv (not a redirect to S3). The headers
are those of :func:`pryv_server.web.download.stored_headers`, as Flask sends them.

Every other request, and any failure on the way (a missing file, a store that errs), is handed
to Flask unchanged, which answers or maps the error as always.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import BinaryIO

from werkzeug.wsgi import wrap_file

from pryv_server.core.access import Action
from pryv_server.errors import PryvError
from pryv_server.web.access_log import ROUTE_KEY
from pryv_server.web.basic_auth import API_HEADERS
from pryv_server.web.download import CONDITIONS
from pryv_server.web.download import METADATA_SUFFIX
from pryv_server.web.download import plain_get_headers
from pryv_server.web.download import stored_headers
from pryv_server.web.page_cache import cached_identity
from pryv_server.web.services import Services

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

PREFIX = "/packages/"
ROUTE = "/packages/<path:filename>"  # the route pattern Flask would have matched (metrics)


class FastDownloads:
    """A WSGI middleware that streams plain downloads itself and passes everything else on."""

    def __init__(self, app: WSGIApplication, services: Services) -> None:
        self.app = app
        self.services = services

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Stream the file when nothing but sending it is needed, else call the app."""
        found = self._open(environ)
        if found is None:
            return self.app(environ, start_response)
        stream, headers = found
        start_response("200 OK", headers)
        return wrap_file(environ, stream)

    def _open(self, environ: WSGIEnvironment) -> tuple[BinaryIO, list[tuple[str, str]]] | None:
        path: str = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("QUERY_STRING")
            or not path.startswith(PREFIX)
            or not CONDITIONS.isdisjoint(environ)
        ):
            return None
        identity = cached_identity(self.services, environ)
        if identity is None:
            return None
        filename = path[len(PREFIX) :]
        metadata = filename.endswith(METADATA_SUFFIX)
        registry = self.services.registry
        try:
            package = registry.get_package(filename.removesuffix(METADATA_SUFFIX))
            if not self.services.access.decide(
                identity, Action.READ, package.project, True
            ).allowed:
                return None  # Flask answers the 403
            if metadata:
                if package.metadata_key is None:
                    return None
                size, etag, mimetype = (
                    registry.metadata_size(package),
                    package.metadata_sha256,
                    "text/plain",
                )
                stream = registry.open_metadata(package)
            else:
                if registry.download_url(package) is not None:
                    return None  # Flask answers the redirect
                size, etag, mimetype = package.size, package.sha256, "application/octet-stream"
                stream = registry.open_package(package)
        except PryvError:
            return None  # Flask meets the same error and maps it
        environ[ROUTE_KEY] = ROUTE
        headers = stored_headers(size=size, etag=etag or "", filename=filename, mimetype=mimetype)
        return stream, [*headers, *plain_get_headers(), *_missing(API_HEADERS, headers)]


def _missing(
    defaults: Iterable[tuple[str, str]], headers: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Return the defaults a response lacks, as Flask's ``harden`` hook adds them."""
    present = {name.lower() for name, _ in headers}
    return [(name, value) for name, value in defaults if name.lower() not in present]
