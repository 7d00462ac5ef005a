"""``pryv token`` (and the other access commands): who may do what, from the command line.

Kept beside ``cli.py`` so the ``pryv`` group stays one screen; :func:`register` adds these
commands to it.
"""

from __future__ import annotations

from datetime import datetime

import click

from pryv_server.auth import TOKEN_ROLES
from pryv_server.cli_common import CLI
from pryv_server.cli_common import Decorator
from pryv_server.cli_common import Loader
from pryv_server.cli_common import one_line
from pryv_server.cli_common import role_option
from pryv_server.cli_common import services_of
from pryv_server.core import tokens
from pryv_server.core.access import PROJECT_ROLES
from pryv_server.errors import PryvError


def parse_expiry(value: str | None) -> datetime | None:
    """Parse ``--expires`` (core's words), as a click usage error when it is none of them."""
    try:
        return tokens.parse_expiry(value)
    except PryvError as error:
        raise click.BadParameter(str(error)) from None


def register(main: click.Group, config_option: Decorator, load: Loader) -> None:
    """Add ``pryv token create|list|revoke`` to ``main``.

    :param config_option: the ``-c/--config`` option decorator every command takes.
    :param load: ``load(config_path) -> Settings``, with one-line errors.
    """

    @main.group()
    def token() -> None:
        """Create, list and revoke API tokens (user name __token__, the token as password)."""

    @token.command("create")
    @config_option
    @click.argument("user")
    @role_option(TOKEN_ROLES, "What the token may do at most (never more than its user).", "upload")
    @click.option(
        "--project",
        "projects",
        multiple=True,
        metavar="NAME",
        help="Limit the token to this project or pattern (acme-*); repeat for more.",
    )
    @click.option("--expires", default="90d", show_default=True, help="30d, 12h, a date, never.")
    @click.option("--description", default="", help="What the token is for (one line).")
    def token_create(
        config_path: str | None,
        user: str,
        role: str,
        projects: tuple[str, ...],
        expires: str,
        description: str,
    ) -> None:
        """Create an API token acting for USER; the token is printed once, never again."""
        built = services_of(load(config_path))
        if built.users.stored_hash(user) is None:
            raise click.ClickException(f"no user {user!r} in the users file")
        with one_line():
            record, secret = built.tokens.create(
                user,
                role,
                projects=tuple(p.strip().lower() for p in projects),
                expires=parse_expiry(expires),
                description=description,
            )
        built.audit.record(CLI, CLI, "token.create", record.id, user=user, role=role)
        click.echo(secret)
        click.echo(
            f"token {record.id} for {user} ({role}), expires {record.expires or 'never'}; "
            "use it as the password of the user __token__. It is not shown again.",
            err=True,
        )

    @token.command("list")
    @config_option
    @click.option("--user", default=None, help="Only this user's tokens.")
    def token_list(config_path: str | None, user: str | None) -> None:
        """List API tokens: id, user, role, projects, expiry, last use, state, description."""
        built = services_of(load(config_path))
        tokens = built.tokens.list(user)
        if not tokens:
            click.echo("no API tokens")
            return
        for item in tokens:
            state = f"revoked {item.revoked}" if item.revoked else "active"
            used = built.tokens.last_used(item.id) or "never used"
            click.echo(
                f"{item.id}  {item.user}  {item.role}  {','.join(item.projects) or '*'}  "
                f"expires {item.expires or 'never'}  {used}  {state}  {item.description}"
            )

    @token.command("revoke")
    @config_option
    @click.argument("token_id")
    def token_revoke(config_path: str | None, token_id: str) -> None:
        """Revoke the API token TOKEN_ID (refused at once here, within index-ttl elsewhere)."""
        built = services_of(load(config_path))
        with one_line():
            record = built.tokens.revoke(token_id)
        built.audit.record(CLI, CLI, "token.revoke", record.id, user=record.user)
        click.echo(f"revoked token {record.id} of {record.user}")


def register_project_roles(main: click.Group, config_option: Decorator, load: Loader) -> None:
    """Add ``pryv project-role grant|revoke|list`` to ``main``."""

    @main.group("project-role")
    def project_role() -> None:
        """Name the owners and maintainers of projects (with [permissions] uploads = owners)."""

    @project_role.command("grant")
    @config_option
    @click.argument("project")
    @click.argument("name")
    @role_option(
        PROJECT_ROLES, "owner: upload, yank, manage roles; maintainer: upload, yank.", "owner"
    )
    def grant(config_path: str | None, project: str, name: str, role: str) -> None:
        """Give user NAME (or @group) ROLE in PROJECT."""
        built = services_of(load(config_path))
        with one_line():
            built.project_roles.grant(project, name, role, by=CLI)
        built.audit.record(CLI, CLI, "project-role.grant", project, grantee=name, role=role)
        click.echo(f"{name} is now {role} of {project}")

    @project_role.command("revoke")
    @config_option
    @click.argument("project")
    @click.argument("name")
    def revoke(config_path: str | None, project: str, name: str) -> None:
        """Take the role of user NAME (or @group) in PROJECT away."""
        built = services_of(load(config_path))
        if not built.project_roles.revoke(project, name):
            raise click.ClickException(f"{name} holds no role in {project}")
        built.audit.record(CLI, CLI, "project-role.revoke", project, grantee=name)
        click.echo(f"{name} holds no role in {project} any more")

    @project_role.command("list")
    @config_option
    @click.argument("project", required=False)
    def listing(config_path: str | None, project: str | None) -> None:
        """List the project roles (of PROJECT, or of every project)."""
        rows = services_of(load(config_path)).project_roles.listing(project)
        for name, grantee, role in rows:
            click.echo(f"{name}  {grantee}  {role}")
        if not rows:
            click.echo("no project roles")
