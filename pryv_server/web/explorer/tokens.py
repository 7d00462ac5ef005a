"""The "API tokens" page: a logged-in user makes, lists and revokes their own tokens.

``GET /tokens`` lists the user's tokens (role, projects, expiry, description, last use, state)
under a form that makes a new one. ``POST /tokens`` makes it and shows the whole token on the
answer page, once: it is never stored (only its hash is, see :mod:`pryv_server.core.tokens`) and
the page is sent ``no-store``, so reloading or going back never shows it again. ``POST
/tokens/<id>/revoke`` revokes one of the user's own tokens (another user's is a 404, as a token
that does not exist) and redirects back (POST/redirect/GET). Forms are Flask-WTF's, with the
CSRF token every explorer form carries; every change goes to the audit log.

A token never does more than its user may: the access policy checks the user behind it on
every request, so a reader's ``upload`` token still only reads.
"""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField
from wtforms import StringField
from wtforms.fields.choices import SelectChoice

from pryv_server.core.tokens import MAX_DESCRIPTION
from pryv_server.core.tokens import Token
from pryv_server.core.tokens import parse_expiry
from pryv_server.errors import InvalidRequest
from pryv_server.web.audit import audit
from pryv_server.web.explorer.auth import current_user
from pryv_server.web.services import get_services

# The choices in this order: upload (the CLI's default too) is selected first.
ROLE_HELP = {
    "upload": "upload: read and publish",
    "read": "read: browse and install",
    "maintain": "maintain: read, publish and yank",
}


class TokenForm(FlaskForm):  # type: ignore[misc]
    """What a new token is: role cap, projects, expiry and what it is for."""

    role = SelectField(
        "Role", choices=[SelectChoice(r, ROLE_HELP[r]) for r in ROLE_HELP], default="upload"
    )
    projects = StringField("Projects", default="")
    expires = StringField("Expires", default="90d")
    description = StringField("Description", default="")


class RevokeForm(FlaskForm):  # type: ignore[misc]
    """A revoke button: no fields, only the CSRF token."""


def _projects(text: str) -> tuple[str, ...]:
    """Split the projects field (commas or spaces) into lower-case names and patterns."""
    return tuple(part.lower() for part in text.replace(",", " ").split())


def _rows(user: str) -> list[tuple[Token, str | None]]:
    """Return the user's tokens, newest first, each with when it was last used."""
    store = get_services().tokens
    return [(token, store.last_used(token.id)) for token in reversed(store.list(user))]


def _render(
    user: str, form: TokenForm, *, secret: str = "", problem: str = "", status: int = 200
) -> tuple[str, int]:
    page = render_template(
        "tokens.html",
        form=form,
        revoke_form=RevokeForm(),
        rows=_rows(user),
        secret=secret,
        problem=problem,
        max_description=MAX_DESCRIPTION,
    )
    return page, status


def tokens_page() -> tuple[str, int]:
    """List the user's tokens (GET), or make one (POST) and show it this once."""
    user = current_user() or ""
    form = TokenForm()
    if not form.is_submitted():
        return _render(user, form)
    if not form.validate():
        return _render(user, form, problem=_first_error(form), status=400)
    try:
        token, secret = get_services().tokens.create(
            user,
            form.role.data,
            projects=_projects(form.projects.data or ""),
            expires=parse_expiry(form.expires.data),
            description=(form.description.data or "").strip(),
        )
    except InvalidRequest as error:
        return _render(user, form, problem=str(error), status=400)
    audit("token.create", token.id, user=user, role=token.role, via="explorer")
    return _render(user, TokenForm(formdata=None), secret=secret)


def _first_error(form: FlaskForm) -> str:
    for name, problems in form.errors.items():
        return f"{name}: {problems[0]}"
    return "the form is incomplete"


def revoke(token_id: str) -> Response:
    """Revoke one of the user's own tokens, then go back to the list with a notice."""
    user = current_user() or ""
    if not RevokeForm().validate_on_submit():
        raise InvalidRequest("the revoke form expired; reload the page and try again")
    token = get_services().tokens.revoke(token_id, user=user)  # NotFound: not theirs
    audit("token.revoke", token.id, user=user, via="explorer")
    flash(f"Revoked the token {token.id}: it is refused from now on.", "ok")
    return redirect(url_for("explorer.tokens"))


def register(blueprint: Blueprint) -> None:
    """Add the API tokens page and its revoke action to the explorer blueprint."""
    blueprint.add_url_rule("/tokens", "tokens", tokens_page, methods=["GET", "POST"])
    blueprint.add_url_rule("/tokens/<token_id>/revoke", "revoke_token", revoke, methods=["POST"])
