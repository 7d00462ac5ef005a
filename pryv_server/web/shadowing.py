"""Uploading a name that pryv has served from upstream: it shadows that project from then on.

Once a file of a name is uploaded, pryv never serves that name from upstream again (local names
always win), so everyone who installed it from PyPI through pryv now gets the uploaded project.
That is how a team takes over a public name on purpose, and how an insider could take it over
by mistake or malice: the upload is answered with a warning, logged, and refused unless the
uploader is an admin or holds the name's namespace (:func:`pryv_server.core.access.may_shadow`).

Only names whose upstream page pryv holds are recognized: pryv never asks upstream about a name
being uploaded, which would reveal a new private name to PyPI.
"""

from __future__ import annotations

import logging

from pryv_server.auth import Identity
from pryv_server.core.access import may_shadow
from pryv_server.core.names import normalize
from pryv_server.errors import PermissionDenied
from pryv_server.web.services import Services

log = logging.getLogger(__name__)


def check_shadowing(services: Services, identity: Identity, name: str) -> str | None:
    """Return the warning for an upload that shadows an upstream project, None if it does not.

    :raises PermissionDenied: the uploader may not shadow it (``access.may_shadow``).
    """
    mirror = services.mirror
    normalized = normalize(name)
    if mirror is None or normalized in services.registry.catalog.latest().by_project:
        return None
    if not mirror.known_upstream(normalized):
        return None
    if not may_shadow(services.access.policy(), identity, normalized):
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
