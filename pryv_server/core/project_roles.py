"""Project roles: who owns or maintains a project, one record per grant in the records store.

A grant is ``_roles/<project>/<sha256 of the grantee>.json`` holding the project, the grantee (a
user or ``@group``), the role (``owner`` or ``maintainer``), who granted it and when. Granting is
a create or a replace of that one object, revoking is deleting it: two admins granting different
people at once touch different objects and lose nothing. The first upload of a new project
(with ``uploads = owners``) claims it first through ``_claims/<project>``, created if absent, so
of two racing first uploaders exactly one becomes its owner. The grants are kept in memory (see
:class:`~pryv_server.core.record_set.RecordSet`) as ``project -> grantee -> role``, which is what
:mod:`pryv_server.core.access` reads on every decision.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType

from packaging.utils import NormalizedName

from pryv_server.core import layout
from pryv_server.core.access import PROJECT_ROLES
from pryv_server.core.access import ProjectRoles
from pryv_server.core.catalog import Catalog
from pryv_server.core.names import normalize
from pryv_server.core.publish import utc_now
from pryv_server.core.record_set import Record
from pryv_server.core.record_set import RecordSet
from pryv_server.errors import InvalidRequest
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.storage import Storage

log = logging.getLogger(__name__)


class Claim(Enum):
    """What claiming a new project by its first upload came to."""

    WON = "won"  # the user owns it now
    HELD = "held"  # the user had claimed it already
    LOST = "lost"  # another user claimed it first, or owners were named before


class ProjectRoleStore:
    """Grant, revoke and look up project roles."""

    def __init__(self, records: Storage, catalog: Catalog) -> None:
        self._set = RecordSet(records, layout.ROLES_PREFIX, catalog)
        self._built_from: Mapping[str, Record] | None = None
        self._roles: ProjectRoles = MappingProxyType({})

    def current(self) -> ProjectRoles:
        """Return ``project -> grantee -> role``; the same object until a grant changes."""
        records = self._set.current()
        if records is not self._built_from:
            roles: dict[str, dict[str, str]] = {}
            for record in records.values():
                project, grantee, role = (record.get(k) for k in ("project", "grantee", "role"))
                if isinstance(project, str) and isinstance(grantee, str) and role in PROJECT_ROLES:
                    roles.setdefault(project, {})[grantee] = str(role)
            self._roles = MappingProxyType(roles)
            self._built_from = records
        return self._roles

    def grant(self, project: str, grantee: str, role: str, *, by: str) -> None:
        """Give ``grantee`` (a user or ``@group``) ``role`` in ``project`` (replacing another).

        :raises InvalidRequest: an unknown role or an empty grantee.
        """
        if role not in PROJECT_ROLES:
            raise InvalidRequest(f"unknown project role {role!r}: use owner or maintainer")
        if not grantee.strip("@"):
            raise InvalidRequest("name a user or an @group")
        normalized = normalize(project)
        record = {"project": normalized, "grantee": grantee, "role": role, "by": by}
        record["time"] = utc_now()
        key = layout.project_role_key(normalized, grantee)
        found = self._set.read(key)
        self._set.replace(key, record, version=found[1] if found else None)
        log.info("%s made %s %s of %s", by, grantee, role, normalized)

    def claim(self, project: NormalizedName, user: str) -> Claim:
        """Make ``user`` the first owner of a new project, before its first file is published.

        The claim is one object per project, created if absent (:func:`layout.project_claim_key`):
        of two users whose first uploads of one new project race, exactly one creates it and
        owns the project; the other is told LOST and refused. A user who holds the claim
        already (a retried or concurrent upload of their own) is told HELD. A project whose
        owners were named before its first file (``pryv project-role grant``) is not claimed:
        LOST.
        """
        content = json.dumps({"project": project, "user": user, "time": utc_now()}).encode()
        try:
            self._set.store.write(layout.project_claim_key(project), io.BytesIO(content),
                                  overwrite=False)  # fmt: skip
        except ObjectExists:
            return Claim.HELD if self.claimant(project) == user else Claim.LOST
        if self.current().get(project):
            self._set.store.delete(layout.project_claim_key(project))
            return Claim.LOST  # owners were named already: the upload is theirs to make
        self.grant(project, user, "owner", by=user)
        log.info("%s owns the new project %s (first upload)", user, project)
        return Claim.WON

    def claimant(self, project: NormalizedName) -> str | None:
        """Return who claimed ``project`` by uploading its first file (None: nobody yet)."""
        try:
            record = json.loads(self._set.store.read(layout.project_claim_key(project)))
        except (ObjectNotFound, ValueError):
            return None
        return str(record.get("user")) if isinstance(record, dict) else None

    def unclaim(self, project: NormalizedName, user: str) -> None:
        """Undo :meth:`claim` when the first upload failed, so the name is free again."""
        if self.claimant(project) == user:
            self.revoke(project, user)
            self._set.store.delete(layout.project_claim_key(project))

    def revoke(self, project: str, grantee: str) -> bool:
        """Take ``grantee``'s role in ``project`` away; False when they held none."""
        normalized = normalize(project)
        if grantee not in self.current().get(normalized, {}):
            return False
        self._set.delete(layout.project_role_key(normalized, grantee))
        return True

    def listing(self, project: str | None = None) -> list[tuple[str, str, str]]:
        """Return ``(project, grantee, role)`` rows, of one project or all, sorted."""
        self._set.refresh()
        roles = self.current()
        wanted = [normalize(project)] if project else sorted(roles)
        return [
            (name, grantee, role)
            for name in wanted
            for grantee, role in sorted(roles.get(name, {}).items())
        ]
