"""Ask the access policy about the request's identity, and refuse with the right status.

Every API view that touches a project calls :func:`require` with what it wants to do; the
``/simple/`` index asks :func:`hidden` which projects to leave out. The decision itself is
``core/access.py``'s (a dict lookup per request once decided); this module only turns a refusal
into 401 (no identity), 403 (an identity without the right, never 404: uv would fall through to
the next index and fetch a private name from PyPI) or 409 (a reserved namespace, PEP 752).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g
from packaging.utils import NormalizedName

from pryv_server.auth import Identity
from pryv_server.core import Package
from pryv_server.core.access import Action
from pryv_server.core.catalog import Snapshot
from pryv_server.core.names import parse_filename
from pryv_server.core.project_roles import Claim
from pryv_server.errors import AuthenticationRequired
from pryv_server.errors import InvalidFilename
from pryv_server.errors import NamespaceReserved
from pryv_server.errors import PackageNotFound
from pryv_server.errors import PermissionDenied
from pryv_server.errors import PryvError
from pryv_server.web.audit import audit
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


@contextmanager
def upload_rights(filename: str) -> Iterator[None]:
    """Refuse an upload of ``filename`` unless the identity may; claim a new project first.

    A filename that names no project is left to the publisher, which explains what is wrong
    with it (400). With ``uploads = owners`` (PyPI's model) the first upload of a new project
    claims it for its uploader before the file is published: of two users racing to create one
    project exactly one owns it, and the other is refused (403) with nothing published. When
    the publication fails, the claim is given back.

    :raises PermissionDenied: the identity may not upload there, or lost the race for it.
    """
    try:
        project = parse_filename(filename).project
    except InvalidFilename:
        yield
        return
    services = get_services()
    exists = project in services.registry.snapshot().by_project
    require(Action.UPLOAD, project, exists=exists)
    claimed = not exists and _claim(project)
    try:
        yield
    except BaseException:
        if claimed:
            services.project_roles.unclaim(project, g.identity.name)
        raise
    if claimed:
        audit("project-role.grant", project, grantee=g.identity.name, role="owner",
              reason="first upload")  # fmt: skip


def _claim(project: NormalizedName) -> bool:
    """Claim a new project for the uploader (``uploads = owners``); True when claimed now."""
    services = get_services()
    policy = services.access.policy()
    user = g.identity.name
    if policy.uploads != "owners":
        return False  # open uploads: nobody is recorded
    roles = services.project_roles.current().get(project, {})
    if any(policy.holds(user, (grantee,)) for grantee in roles):
        return False  # named before its first file: nothing to claim
    if roles and policy.role(user) == "admin":
        return False  # admins upload anywhere; the named owners stay the owners
    claim = services.project_roles.claim(project, user)
    if claim is Claim.LOST:
        raise PermissionDenied(
            f"{project!r} was just created by another user, who owns it; ask them or an admin "
            "for a role"
        )
    return claim is Claim.WON


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
