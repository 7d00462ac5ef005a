"""PEP 740's integrity API: ``/integrity/<project>/<version>/<filename>/provenance``.

A file uploaded with attestations has a provenance object (:mod:`pryv_server.core.provenance`),
served here as PyPI serves its own: JSON, ``application/vnd.pypi.integrity.v1+json`` unless the
client asks for plain ``application/json``; ``404`` for a file without one, ``406`` for an
``Accept`` that names neither. The simple API links it from each file (``provenance`` in JSON,
``data-provenance`` in HTML) by :func:`provenance_url`, a fully qualified URL as PEP 740 asks.
"""

from __future__ import annotations

from flask import Blueprint
from flask import request
from flask import url_for
from packaging.version import InvalidVersion
from packaging.version import Version
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response

from pryv_server.core import Package
from pryv_server.core.names import normalize
from pryv_server.errors import NotAcceptable
from pryv_server.errors import PackageNotFound
from pryv_server.web import authorize
from pryv_server.web.services import get_services

blueprint = Blueprint("integrity", __name__)

INTEGRITY_V1 = "application/vnd.pypi.integrity.v1+json"
JSON = "application/json"


@blueprint.get("/integrity/<project>/<version>/<path:filename>/provenance")
def provenance(project: str, version: str, filename: str) -> Response:
    """Answer a file's PEP 740 provenance object."""
    content_type = _negotiate(request.headers.get("Accept"))
    package = authorize.readable_package(filename)
    if normalize(project) != package.project or not _same_version(version, package):
        raise PackageNotFound(f"{project!r} has no file {filename!r} in release {version!r}")
    response = Response(get_services().registry.read_provenance(package), content_type=content_type)
    response.set_etag(package.provenance_sha256 or "")
    response.vary.add("Accept")
    return response.make_conditional(request.environ)


def provenance_url(package: Package) -> str | None:
    """Return the fully qualified URL of a file's provenance, or None when it has none."""
    if package.provenance_key is None:
        return None
    return url_for(
        "api.integrity.provenance",
        project=package.project,
        version=package.version,
        filename=package.filename,
        _external=True,
    )


def _negotiate(accept: str | None) -> str:
    offered = parse_accept_header(accept, MIMEAccept)
    if not offered:
        return INTEGRITY_V1
    best = offered.best_match([INTEGRITY_V1, JSON])
    if best is None:
        raise NotAcceptable(
            f"none of the accepted types ({accept}) is served here: accept {INTEGRITY_V1}"
        )
    return best


def _same_version(text: str, package: Package) -> bool:
    try:
        return Version(text) == package.parsed_version
    except InvalidVersion:
        return False
