"""``POST /api/yank``: yank or un-yank a release or one file over HTTP (PEP 592).

For scripts and the explorer. It takes a JSON object or a form with ``project``, ``version`` and
optionally ``filename``, ``reason`` and ``undo`` (true to un-yank), authenticates with HTTP Basic
like the other API blueprints, and answers with the release's state as every reader now sees it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import g
from flask import jsonify
from flask import request
from werkzeug.wrappers import Response

from pryv_server.core import Release
from pryv_server.core.access import Action
from pryv_server.core.names import normalize
from pryv_server.errors import InvalidRequest
from pryv_server.web import authorize
from pryv_server.web.audit import audit
from pryv_server.web.services import get_services

blueprint = Blueprint("yank", __name__)

TRUE = {"1", "true", "yes", "on"}


@blueprint.post("/api/yank")
def yank() -> Response:
    """Yank (or un-yank with ``undo``) a release or a file; answer with the new state."""
    fields = request_fields()
    project = str(fields.get("project") or "").strip()
    version = str(fields.get("version") or "").strip()
    if not project or not version:
        raise InvalidRequest("send 'project' and 'version' (and optionally 'filename', 'reason')")
    undo = fields.get("undo") is True or str(fields.get("undo")).lower() in TRUE
    authorize.require(Action.YANK, normalize(project))
    filename = str(fields["filename"]) if fields.get("filename") else None
    reason = str(fields.get("reason") or "")
    release = get_services().registry.yank(
        project, version, filename=filename, reason=reason, user=g.identity.name, undo=undo
    )
    audit("unyank" if undo else "yank", f"{project} {version}", file=filename, reason=reason)
    return jsonify(release_state(release))


def request_fields() -> dict[str, Any]:
    """Read the body of an API action: a JSON object, or a form."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidRequest("the JSON body must be an object")
        return body
    return dict(request.form)


def release_state(release: Release) -> dict[str, Any]:
    """Describe a release's yank state (the answer of ``/api/yank``)."""
    return {
        "project": release.packages[0].project,
        "version": str(release.version),
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
        "files": [
            {
                "filename": package.filename,
                "yanked": package.yanked,
                "yanked_reason": package.yanked_reason or None,
            }
            for package in release.packages
        ],
    }
