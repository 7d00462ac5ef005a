"""An admin blocks, pins or purges an upstream name from the explorer (as ``pryv upstream``).

``GET /project/<name>/upstream`` shows what is decided for the name (blocked, pinned, last
purge) and one button per action; ``POST`` to the same URL (CSRF-protected like every explorer
form) acts through :class:`~pryv_server.core.upstream_controls.UpstreamControls`, audits it and
redirects with a notice. The page answers for a blocked name too, whose project page is a 403,
so an admin can always unblock it. Who may: an admin of the permissions file (without one, any
signed-in user, as for every other write).
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from pryv_server.core.names import normalize
from pryv_server.core.upstream_controls import BLOCK
from pryv_server.core.upstream_controls import PIN
from pryv_server.core.upstream_controls import UpstreamControls
from pryv_server.errors import InvalidRequest
from pryv_server.errors import PermissionDenied
from pryv_server.web.audit import audit
from pryv_server.web.explorer.auth import current_user
from pryv_server.web.services import get_services

ACTIONS = ("block", "unblock", "pin", "unpin", "purge")


def may_control() -> bool:
    """Say whether the signed-in user may block, pin or purge upstream names."""
    user = current_user()
    policy = get_services().access.policy()
    return bool(user) and (not policy.configured or policy.role(user or "") == "admin")


def controls_page(name: str) -> Response | str:
    """Show a name's upstream controls (GET), or change one (POST) and redirect."""
    services = get_services()
    controls = services.upstream_controls
    if controls is None or not may_control():
        raise PermissionDenied("only an admin may block, pin or purge upstream names")
    normalized = normalize(name)
    if request.method == "GET":
        current = controls.current()
        return render_template(
            "upstream_controls.html",
            name=normalized,
            blocked=normalized in current.blocked,
            pinned=normalized in current.pinned,
            purged=_moment(current.purged.get(normalized)),
            local=normalized in services.registry.snapshot().by_project,
        )
    action = request.form.get("action", "")
    if action not in ACTIONS:
        raise InvalidRequest(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")
    flash(_act(controls, action, normalized), "ok")
    return redirect(url_for("explorer.upstream_controls", name=normalized))


def _moment(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _act(controls: UpstreamControls, action: str, name: str) -> str:
    user = current_user() or ""
    if action == "purge":
        local = get_services().registry.snapshot().by_project.get(normalize(name), ())
        purged = controls.purge(name, by=user, keep=frozenset(p.blob_key for p in local))
        audit("upstream.purge", name, page=purged.page, files=purged.files)
        return f"Purged {name}: {'its page and ' if purged.page else ''}{purged.files} file(s)."
    kind = BLOCK if action.endswith("block") else PIN
    changed = (
        controls.set(kind, name, by=user) if action == kind else controls.lift(kind, name, by=user)
    )
    if changed:
        audit(f"upstream.{action}", name)
    done = {"block": "blocked", "pin": "pinned"}[kind]
    if action == kind:
        return f"{name} is {done}." if changed else f"{name} was already {done}."
    return f"{name} is no longer {done}." if changed else f"{name} was not {done}."


def register(blueprint: Blueprint) -> None:
    """Add the upstream controls page to the explorer blueprint."""
    blueprint.add_url_rule(
        "/project/<name>/upstream", "upstream_controls", controls_page, methods=["GET", "POST"]
    )
