"""``POST /api/status`` and ``POST /api/delete``: a project's status and deletions over HTTP.

For scripts and the explorer, like ``/api/yank``: a JSON object or a form, HTTP Basic, and an
answer describing what every reader now sees.

* ``/api/status`` takes ``project``, ``status`` (``active``, ``archived``, ``deprecated`` or
  ``quarantined``, PEP 792) and optionally ``reason``;
* ``/api/delete`` takes ``project``, ``reason`` and optionally ``version`` and ``filename`` (a
  whole project, a release or one file). A deleted filename can never be uploaded again.

Both are for the project's managers: :func:`may_manage` decides who that is, in one place.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import g
from flask import jsonify
from werkzeug.wrappers import Response

from pryv_server.auth import Identity
from pryv_server.core.access import Action
from pryv_server.core.names import normalize
from pryv_server.errors import InvalidRequest
from pryv_server.errors import PermissionDenied
from pryv_server.web.audit import audit
from pryv_server.web.services import get_services
from pryv_server.web.yank import request_fields

blueprint = Blueprint("lifecycle", __name__)


def may_manage(identity: Identity, project: str) -> bool:
    """Say whether ``identity`` may change ``project``'s status or delete its files.

    The one place this is decided (API, explorer, and what comes next): an admin or an owner of
    the project (``Action.MANAGE`` of core/access.py; API tokens never may). Without a
    permissions file every user is trusted alike, as for uploads and yanks.
    """
    access = get_services().access
    if not access.policy().configured:
        return not identity.anonymous
    return access.decide(identity, Action.MANAGE, normalize(project), True).allowed


def require_manage(identity: Identity, project: str) -> None:
    """Raise :class:`PermissionDenied` unless :func:`may_manage` allows it."""
    if not may_manage(identity, project):
        raise PermissionDenied(
            f"only an admin or an owner of {project!r} may change its status or delete its files"
        )


@blueprint.post("/api/status")
def set_status() -> Response:
    """Set a project's PEP 792 status; answer with it."""
    fields = request_fields()
    project = _required(fields, "project", "'project' and 'status' (and optionally 'reason')")
    status = _required(fields, "status", "'project' and 'status' (and optionally 'reason')")
    require_manage(g.identity, project)
    record = get_services().registry.lifecycle.set_status(
        project, status, reason=str(fields.get("reason") or ""), user=g.identity.name
    )
    audit("status", normalize(project), status=record.status, reason=record.reason)
    return jsonify(
        {"project": normalize(project), "status": record.status, "reason": record.reason or None}
    )


@blueprint.post("/api/delete")
def delete() -> Response:
    """Delete a project, a release or one file for good; answer with the files deleted."""
    fields = request_fields()
    wanted = "'project' and 'reason' (and optionally 'version' and 'filename')"
    project = _required(fields, "project", wanted)
    reason = _required(fields, "reason", wanted)
    require_manage(g.identity, project)
    version = str(fields.get("version") or "").strip() or None
    filename = str(fields.get("filename") or "").strip() or None
    deleted = get_services().registry.lifecycle.delete(
        project, version, filename=filename, reason=reason, user=g.identity.name
    )
    audit("delete", normalize(project), files=[p.filename for p in deleted], reason=reason)
    return jsonify(
        {
            "project": normalize(project),
            "version": version,
            "deleted": [package.filename for package in deleted],
            "reason": reason,
        }
    )


def _required(fields: dict[str, Any], name: str, wanted: str) -> str:
    value = str(fields.get(name) or "").strip()
    if not value:
        raise InvalidRequest(f"send {wanted}")
    return value
