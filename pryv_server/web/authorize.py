"""Ask the access policy about the request's identity, and refuse with the right status.

Every API view that touches a project calls :func:`require` with what it wants to do; the
``/simple/`` index asks :func:`hidden` which projects to leave out. The decision itself is
``core/access.py``'s (a dict lookup per request once decided); this module only turns a refusal
into 401 (no identity), 403 (an identity without the right, never 404: uv would fall through to
the next index and fetch a private name from PyPI) or 409 (a reserved namespace, PEP 752).
"""

from __future__ import annotations

from flask import g
from packaging.utils import NormalizedName

from pryv_server.auth import Identity
from pryv_server.core import Package
from pryv_server.core.access import Action
from pryv_server.core.catalog import Snapshot
from pryv_server.core.names import parse_filename
from pryv_server.errors import AuthenticationRequired
from pryv_server.errors import InvalidFilename
from pryv_server.errors import NamespaceReserved
from pryv_server.errors import PackageNotFound
from pryv_server.errors import PermissionDenied
from pryv_server.errors import PryvError
from pryv_server.web.services import get_services

REFUSALS: dict[int, type[PryvError]] = {
    401: AuthenticationRequired,
    409: NamespaceReserved,
}


def require(action: Action, project: NormalizedName, *, exists: bool = True) -> None:
    """Refuse the request unless its identity may do ``action`` to ``project``.

    :raises AuthenticationRequired: anonymous, and the action needs an identity (401).
    :raises PermissionDenied: the identity lacks the right (403), with a one-line reason.
    :raises NamespaceReserved: a new project under a prefix reserved for others (409).
    """
    identity: Identity = g.identity
    decision = get_services().access.decide(identity, action, project, exists)
    if not decision.allowed:
        raise REFUSALS.get(decision.status, PermissionDenied)(decision.reason)


def require_upload(filename: str) -> NormalizedName | None:
    """Refuse an upload of ``filename`` unless the identity may upload to its project.

    A filename that names no project is left to the publisher, which explains what is wrong
    with it (400).

    :returns: the project when the upload would create it (see :func:`claim`), else None.
    """
    try:
        project = parse_filename(filename).project
    except InvalidFilename:
        return None
    exists = project in get_services().registry.snapshot().by_project
    require(Action.UPLOAD, project, exists=exists)
    return None if exists else project


def claim(project: NormalizedName) -> None:
    """Make the uploader the owner of the project its upload created, with ``uploads = owners``.

    PyPI's model: whoever creates a project owns it, and only its owners and maintainers (and
    admins) may upload to it later. With ``open`` uploads nobody is recorded.
    """
    services = get_services()
    if services.access.policy().uploads == "owners":
        if services.project_roles.claim(project, g.identity.name):
            services.audit.record(
                g.identity.name, "-", "project-role.grant", project, grantee=g.identity.name,
                role="owner", reason="first upload",
            )  # fmt: skip


def readable_package(filename: str) -> Package:
    """Return the file published as ``filename`` if the identity may read its project.

    A missing file of a project the identity may not read is a 403 too, not a 404, so a
    restricted project's files cannot be probed for.

    :raises PackageNotFound: no such file (and its name is no project the identity is refused).
    :raises PermissionDenied: the identity may not read the file's project.
    """
    try:
        package = get_services().registry.get_package(filename)
    except PackageNotFound:
        try:
            project = parse_filename(filename).project
        except InvalidFilename:
            raise PackageNotFound(f"no file named {filename!r}") from None
        require(Action.READ, project, exists=False)
        raise
    require(Action.READ, package.project)
    return package


def hidden(snapshot: Snapshot) -> frozenset[str]:
    """Return the projects of ``snapshot`` the request's identity may not see listed."""
    return get_services().access.hidden(g.identity, snapshot.by_project, snapshot.generation)
