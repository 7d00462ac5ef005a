"""A project's owners and maintainers, named from the explorer by its owners and by admins.

``GET /project/<name>/roles`` lists who holds which role in the project, with a form that grants
one (a user or ``@group``, as owner or maintainer) and a button that takes one away. ``POST
/project-roles`` does either for any project (the admin page's forms post here too, naming the
project in a field) and redirects back to the page the form came from. Who may is
:func:`pryv_server.web.lifecycle.may_manage`'s answer, as for the project's status: an admin or
one of its owners (without a permissions file, any user). Grants are records in storage (one
object per grant, :mod:`pryv_server.core.project_roles`), and each change is audited.
"""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField
from wtforms import SelectField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice

from pryv_server.auth import Identity
from pryv_server.core.access import PROJECT_ROLES
from pryv_server.core.names import normalize
from pryv_server.errors import InvalidRequest
from pryv_server.web.audit import audit
from pryv_server.web.explorer.auth import current_user
from pryv_server.web.explorer.auth import safe_next
from pryv_server.web.lifecycle import require_manage
from pryv_server.web.services import get_services


class RoleForm(FlaskForm):  # type: ignore[misc]
    """Grant ``name`` a role in ``project``, or take it away (``action`` = revoke)."""

    project = StringField("Project")
    name = StringField("User or @group")
    role = SelectField(
        "Role", choices=[SelectChoice(r) for r in PROJECT_ROLES], default="maintainer"
    )
    action = HiddenField(default="grant")
    next = HiddenField()


def roles_page(name: str) -> str:
    """Show the project's owners and maintainers, with the grant and revoke forms."""
    project = get_services().registry.get_project(name)
    require_manage(Identity(current_user() or ""), project.normalized)
    rows = get_services().project_roles.listing(project.normalized)
    form = RoleForm(formdata=None, project=project.normalized, next=_here(project.normalized))
    return render_template("roles.html", project=project, rows=rows, form=form)


def _here(project: str) -> str:
    return url_for("explorer.project_roles", name=project)


def change_role() -> Response:
    """Grant or revoke a project role from a form, then go back where the form was."""
    form = RoleForm()
    if not form.validate_on_submit():
        raise InvalidRequest("the form is incomplete or expired; reload the page and try again")
    project = normalize((form.project.data or "").strip())
    grantee = (form.name.data or "").strip()
    if not project or not grantee:
        raise InvalidRequest("name a project and a user (or @group)")
    user = current_user() or ""
    require_manage(Identity(user), project)
    roles = get_services().project_roles
    if form.action.data == "revoke":
        if not roles.revoke(project, grantee):
            raise InvalidRequest(f"{grantee} holds no role in {project}")
        audit("project-role.revoke", project, grantee=grantee, via="explorer")
        flash(f"{grantee} holds no role in {project} any more.", "ok")
    else:
        roles.grant(project, grantee, form.role.data, by=user)
        audit("project-role.grant", project, grantee=grantee, role=form.role.data, via="explorer")
        flash(f"{grantee} is now {form.role.data} of {project}.", "ok")
    return redirect(safe_next(form.next.data) or _here(project))


def register(blueprint: Blueprint) -> None:
    """Add the project roles page and the grant/revoke action to the explorer blueprint."""
    blueprint.add_url_rule("/project/<name>/roles", "project_roles", roles_page)
    blueprint.add_url_rule("/project-roles", "change_role", change_role, methods=["POST"])
