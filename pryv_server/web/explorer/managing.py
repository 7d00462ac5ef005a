"""Manage a project from the explorer: its PEP 792 status, and deleting files for good.

``GET /project/<name>/manage`` shows two forms that work without JavaScript: the project's
status (with a reason) and a deletion (the whole project, one release, or one file, with a
reason, typed confirmation for a whole project). ``POST`` to the same URL (CSRF-protected like
every explorer form) acts through the registry, then redirects (POST/redirect/GET) with a notice.
Who may is :func:`pryv_server.web.lifecycle.may_manage`'s answer, as for the API.
"""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from pryv_server.auth import Identity
from pryv_server.core import Project
from pryv_server.core.models import STATUSES
from pryv_server.errors import InvalidRequest
from pryv_server.errors import NotFound
from pryv_server.web.audit import audit
from pryv_server.web.explorer.auth import current_user
from pryv_server.web.lifecycle import require_manage
from pryv_server.web.services import get_services

ACTIONS = ("status", "delete")


def _render(project: Project, problem: str | None = None, status: int = 200) -> tuple[str, int]:
    page = render_template(
        "manage.html", project=project, statuses=STATUSES, problem=problem, form=request.form
    )
    return page, status


def manage_page(name: str) -> Response | tuple[str, int]:
    """Show the status and deletion forms (GET), or act (POST) and redirect with a notice."""
    registry = get_services().registry
    project = registry.get_project(name)
    identity = Identity(current_user() or "")
    require_manage(identity, project.normalized)
    if request.method == "GET":
        return _render(project)
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidRequest(f"unknown action {action!r}: use status or delete")
    try:
        if action == "status":
            record = registry.lifecycle.set_status(
                project.normalized,
                request.form.get("status", ""),
                reason=request.form.get("reason", ""),
                user=identity.name,
            )
            audit("status", project.normalized, status=record.status, reason=record.reason)
            flash(f"{project.name} is now {record.status}.", "ok")
            return redirect(url_for("explorer.manage", name=project.normalized))
        return _delete(project, identity)
    except (InvalidRequest, NotFound) as error:
        # Refill the form with the one-line reason, as the yank form does.
        return _render(project, str(error), 400)


def _delete(project: Project, identity: Identity) -> Response:
    version = request.form.get("version", "").strip() or None
    filename = request.form.get("filename", "").strip() or None
    if version is None and filename is None and request.form.get("confirm") != project.normalized:
        raise InvalidRequest(f"type {project.normalized!r} to confirm deleting the whole project")
    deleted = get_services().registry.lifecycle.delete(
        project.normalized,
        version,
        filename=filename,
        reason=request.form.get("reason", ""),
        user=identity.name,
    )
    reason = request.form.get("reason", "")
    audit("delete", project.normalized, files=[p.filename for p in deleted], reason=reason)
    names = ", ".join(package.filename for package in deleted)
    flash(f"Deleted {len(deleted)} file(s) for good: {names}.", "ok")
    if version is None or get_services().registry.snapshot().project(project.normalized) is None:
        return redirect(url_for("explorer.projects"))
    return redirect(url_for("explorer.manage", name=project.normalized))


def register(blueprint: Blueprint) -> None:
    """Add the manage page and its actions to the explorer blueprint."""
    blueprint.add_url_rule("/project/<name>/manage", "manage", manage_page, methods=["GET", "POST"])
