"""The PEP 503 simple repository API: ``/simple/`` and ``/simple/<project>/``."""

from __future__ import annotations

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import url_for
from werkzeug.wrappers import Response

from pryv_server.core.names import normalize
from pryv_server.web.security import require_basic_user
from pryv_server.web.services import get_services

blueprint = Blueprint("simple", __name__)
blueprint.before_request(require_basic_user)


@blueprint.get("/simple/")
def index() -> str:
    """List every project (PEP 503 root page)."""
    projects = get_services().registry.list_projects()
    return render_template("simple/index.html", projects=projects)


@blueprint.get("/simple/<project>/")
def project(project: str) -> Response | str:
    """List every file of a project with its hash and Requires-Python (PEP 503)."""
    normalized = normalize(project)
    if project != normalized:
        # PEP 503: clients should use the normalized URL; redirect other spellings to it.
        return redirect(url_for("simple.project", project=normalized), code=301)
    found = get_services().registry.get_project(normalized)
    return render_template("simple/project.html", project=found)


@blueprint.get("/simple/<project>")
def project_without_slash(project: str) -> Response:
    """Add the trailing slash pip expects."""
    return redirect(url_for("simple.project", project=normalize(project)), code=301)
