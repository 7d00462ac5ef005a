"""The admin page: who may do what, and the audit log, for admins only (others get 403).

``GET /admin`` shows the users with their global roles and groups, the groups, the reserved
namespaces and the read restrictions (all from the permissions file, which the admin edits as a
file: shown, not edited here), every project's owners and maintainers (records in storage,
granted and revoked here through :mod:`pryv_server.web.explorer.roles`), and the audit log,
newest first, 50 events to a page (``?page=``).
"""

from __future__ import annotations

from flask import Blueprint
from flask import render_template
from flask import request

from pryv_server.core.access import Policy
from pryv_server.errors import NotFound
from pryv_server.errors import PermissionDenied
from pryv_server.web.explorer.auth import current_user
from pryv_server.web.explorer.auth import is_admin
from pryv_server.web.explorer.roles import RoleForm
from pryv_server.web.services import get_services

AUDIT_PAGE_SIZE = 50


def _page_number() -> int:
    text = request.args.get("page", "1")
    if not text.isdigit() or not 0 < len(text) < 10 or int(text) < 1:
        raise NotFound(f"there is no page {text!r} of the audit log")
    return int(text)


def _users(policy: Policy) -> list[tuple[str, str, list[str]]]:
    """Return ``(user, global role, groups)`` for every user of the users file."""
    users = sorted(get_services().users.usernames())
    groups = policy.groups.items()
    return [(user, policy.role(user), sorted(g for g, m in groups if user in m)) for user in users]


def admin_page() -> str:
    """Show users, roles, groups, namespaces, restrictions, project roles and the audit log."""
    user = current_user() or ""
    if not is_admin(user):
        raise PermissionDenied(f"{user!r} is not an admin: the admin page is for admins only")
    services = get_services()
    policy = services.access.policy()
    number = _page_number()
    events, total = services.audit.newest((number - 1) * AUDIT_PAGE_SIZE, AUDIT_PAGE_SIZE)
    if number > 1 and not events:
        raise NotFound(f"there is no page {number} of the audit log")
    return render_template(
        "admin.html",
        policy=policy,
        users=_users(policy),
        project_roles=services.project_roles.listing(),
        role_form=RoleForm(formdata=None, next=request.path),
        events=events,
        page=number,
        pages=max(1, -(-total // AUDIT_PAGE_SIZE)),
        total_events=total,
        permissions_file=services.permissions.source.describe()
        if services.permissions.source is not None
        else None,
    )


def register(blueprint: Blueprint) -> None:
    """Add the admin page to the explorer blueprint."""
    blueprint.add_url_rule("/admin", "admin", admin_page)
