"""Yank and un-yank a release or one file from the explorer (PEP 592).

``GET /project/<name>/<version>/yank`` (``?file=`` for one file, ``?undo=1`` to un-yank) is the
confirmation page: it works without JavaScript, and the project page opens the same form in a
dialog when scripts run. ``POST`` to the same URL (CSRF-protected like every explorer form) yanks
through :meth:`Registry.yank`, then redirects back (POST/redirect/GET) with a flash notice. A
reason must fit on one short line (``core.overlays.reason_problem``, the rule of every way of
yanking): pip prints it to users.
"""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from pryv_server.core import Package
from pryv_server.core import Project
from pryv_server.core import Release
from pryv_server.core.access import Action
from pryv_server.core.names import normalize
from pryv_server.core.overlays import reason_problem
from pryv_server.errors import InvalidRequest
from pryv_server.errors import PackageNotFound
from pryv_server.web import authorize
from pryv_server.web.audit import audit
from pryv_server.web.explorer.auth import current_user
from pryv_server.web.explorer.auth import safe_next
from pryv_server.web.explorer.projects import find_release
from pryv_server.web.services import get_services

ACTIONS = ("yank", "unyank")


def _target(name: str, version: str, filename: str) -> tuple[Project, Release, Package | None]:
    """Find the release (and file) a yank is about; unknown ones raise NotFound (HTML 404)."""
    authorize.require(Action.YANK, normalize(name))
    project = get_services().registry.get_project(name)
    release = find_release(project, version)
    if not filename:
        return project, release, None
    package = next((p for p in release.packages if p.filename == filename), None)
    if package is None:
        raise PackageNotFound(f"{project.name} {release.version} has no file {filename!r}")
    return project, release, package


def _back(project: Project, release: Release, package: Package | None) -> str:
    """Where to land after a yank: the page the form came from, else the matching tab."""
    tab = "packages" if package is not None else "releases"
    default = url_for(
        "explorer.project_tab", name=project.normalized, release=str(release.version), tab=tab
    )
    return safe_next(request.values.get("next")) or default


def _confirmation(
    project: Project,
    release: Release,
    package: Package | None,
    *,
    undo: bool = False,
    reason: str = "",
    problem: str | None = None,
) -> str:
    """Render the confirmation form: empty on GET, refilled with a refused reason after POST."""
    return render_template(
        "yank.html",
        project=project,
        release=release,
        package=package,
        undo=undo,
        reason=reason,
        problem=problem,
        next_page=safe_next(request.values.get("next")),
    )


def yank_page(name: str, release: str) -> Response | str | tuple[str, int]:
    """Confirm a yank or un-yank (GET), or do it (POST) and redirect back with a notice."""
    filename = request.values.get("file", "")
    project, chosen, package = _target(name, release, filename)
    subject = package if package is not None else chosen
    if request.method == "GET":
        undo = request.args.get("undo", "") not in ("", "0")
        return _confirmation(project, chosen, package, undo=undo and subject.yanked)
    action = request.form.get("action", "yank")
    if action not in ACTIONS:
        raise InvalidRequest(f"unknown action {action!r}: use yank or unyank")
    reason = request.form.get("reason", "").strip()
    problem = reason_problem(reason) if action == "yank" else None
    if problem is not None:
        return _confirmation(project, chosen, package, reason=reason, problem=problem), 400
    get_services().registry.yank(
        project.normalized,
        str(chosen.version),
        filename=package.filename if package is not None else None,
        reason=reason,
        user=current_user() or "",
        undo=action == "unyank",
    )
    what = package.filename if package is not None else f"{project.name} {chosen.version}"
    audit(action, f"{project.normalized} {chosen.version}", file=package and package.filename)
    if action == "unyank":
        flash(f"Un-yanked {what}: installers use it again.", "ok")
    else:
        flash(f"Yanked {what}: pip and uv skip it unless it is pinned with ==.", "ok")
    return redirect(_back(project, chosen, package))


def register(blueprint: Blueprint) -> None:
    """Add the yank confirmation page and action to the explorer blueprint."""
    blueprint.add_url_rule(
        "/project/<name>/<release>/yank", "yank", yank_page, methods=["GET", "POST"]
    )
