"""``pryv user list|remove|passwd|role`` and ``pryv audit``: users, their roles, the audit log.

``pryv user add`` stays in ``cli.py``; it calls :func:`check_new_password` and
:func:`after_user_add` from here, so every user command applies one password policy (the setup
page's too) and writes an audit event.
"""

from __future__ import annotations

import sys
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING

import click

from pryv_server.auth.stores import check_password
from pryv_server.cli_common import CLI
from pryv_server.cli_common import Decorator
from pryv_server.cli_common import Loader
from pryv_server.cli_common import one_line
from pryv_server.cli_common import services_of
from pryv_server.config import Settings
from pryv_server.core.access import ROLES

if TYPE_CHECKING:
    from pryv_server.web.services import Services


def check_new_password(password: str) -> None:
    """Apply the password policy (at least 8 characters), as a one-line CLI error."""
    with one_line(ValueError):
        check_password(password)


def read_password(from_stdin: bool) -> str:
    """Read a new password from standard input or a confirmed prompt, and check it."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    check_new_password(password)
    return password


def after_user_add(settings: Settings, name: str, role: str | None) -> None:
    """Give a new user its ``--role`` and record the addition in the audit log."""
    services = services_of(settings)
    if role is not None:
        _set_role(services, name, role)
    services.audit.record(CLI, CLI, "user.add", name, role=role)


def _set_role(services: Services, name: str, role: str | None) -> None:
    from pryv_server.core.permissions import set_role

    with one_line(note="; roles live in the permissions file"):
        services.permissions.edit(set_role(name, role))


def register_users(
    main: click.Group,
    user: click.Group,
    config_option: Decorator,
    load: Loader,
) -> None:
    """Add ``list``, ``remove``, ``passwd`` and ``role`` to ``pryv user``, and ``pryv audit``."""

    @user.command("list")
    @config_option
    def user_list(config_path: str | None) -> None:
        """List the users with their global roles."""
        services = services_of(load(config_path))
        policy = services.access.policy()
        for name in services.users.usernames():
            click.echo(f"{name}  {policy.role(name) if policy.configured else 'member'}")

    @user.command("remove")
    @config_option
    @click.argument("name")
    def user_remove(config_path: str | None, name: str) -> None:
        """Remove user NAME (their sessions and API tokens stop working at once)."""
        services = services_of(load(config_path))
        with one_line():
            services.users.remove(name)
        if services.permissions.source is not None:
            _set_role(services, name, None)
        services.audit.record(CLI, CLI, "user.remove", name)
        click.echo(f"removed user {name!r}")

    @user.command("passwd")
    @config_option
    @click.argument("name")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    def user_passwd(config_path: str | None, name: str, password_stdin: bool) -> None:
        """Set a new password for user NAME (their explorer sessions end)."""
        services = services_of(load(config_path))
        password = read_password(password_stdin)
        with one_line():
            services.users.set_password(name, password)
        services.audit.record(CLI, CLI, "user.passwd", name)
        click.echo(f"changed the password of {name!r}")

    @user.command("role")
    @config_option
    @click.argument("name")
    @click.argument("role", type=click.Choice(ROLES))
    def user_role(config_path: str | None, name: str, role: str) -> None:
        """Give user NAME the global ROLE (admin, member or reader)."""
        services = services_of(load(config_path))
        if services.users.stored_hash(name) is None:
            raise click.ClickException(f"no user {name!r} in the users file")
        _set_role(services, name, role)
        services.audit.record(CLI, CLI, "user.role", name, role=role)
        click.echo(f"{name} is now {role}")

    @main.command("audit")
    @config_option
    @click.option("--since", metavar="DATE", help="Only events from this day or time on.")
    def audit(config_path: str | None, since: str | None) -> None:
        """Print the audit log: when, who, from where, what, oldest first."""
        start = None
        if since:
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                raise click.BadParameter(f"{since!r} is not a date (2026-12-01)") from None
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
        for event in services_of(load(config_path)).audit.events(start):
            details = " ".join(f"{k}={v}" for k, v in sorted(event.details.items()) if v)
            click.echo(
                f"{event.time}  {event.who}  {event.where}  {event.action}  {event.target}"
                + (f"  {details}" if details else "")
            )
