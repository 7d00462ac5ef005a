"""Uploading a name that pryv has served from upstream: it shadows that project from then on.

Once a file of a name is uploaded, pryv never serves that name from upstream again (local names
always win), so everyone who installed it from PyPI through pryv now gets the uploaded project.
That is how a team takes over a public name on purpose, and how an insider could take it over
by mistake or malice: the upload is answered with a warning, logged, and may be refused by
:func:`may_shadow_upstream`.

Only names whose upstream page pryv holds are recognized: pryv never asks upstream about a name
being uploaded, which would reveal a new private name to PyPI.
"""

from __future__ import annotations

import logging

from pryv_server.auth import Identity
from pryv_server.core.names import normalize
from pryv_server.errors import PermissionDenied
from pryv_server.web.services import Services

log = logging.getLogger(__name__)


def may_shadow_upstream(identity: Identity, name: str) -> bool:
    """Say whether ``identity`` may upload ``name``, a project pryv has served from upstream.

    The rule the proxy calls for is "only admins or the holders of the name's namespace"; roles
    and namespaces come with permissions (core/access.py), which are wired here once merged.
    Until then everyone who may upload may shadow, with the warning of :func:`check_shadowing`.
    """
    return True


def check_shadowing(services: Services, identity: Identity, name: str) -> str | None:
    """Return the warning for an upload that shadows an upstream project, None if it does not.

    :raises PermissionDenied: the uploader may not shadow it (:func:`may_shadow_upstream`).
    """
    mirror = services.mirror
    normalized = normalize(name)
    if mirror is None or normalized in services.registry.catalog.latest().by_project:
        return None
    if not mirror.known_upstream(normalized):
        return None
    if not may_shadow_upstream(identity, normalized):
        raise PermissionDenied(
            f"{normalized!r} is served from {mirror.upstream.url}; only an admin or the holder "
            "of its namespace may upload it"
        )
    log.warning(
        "%s uploaded %r, which was served from %s: it now shadows the upstream project",
        identity.name,
        normalized,
        mirror.upstream.url,
    )
    return (
        f"warning: {normalized!r} was served from {mirror.upstream.url}; from now on this "
        "registry serves only the files uploaded here under that name"
    )
