"""What every ``pryv`` command module shares: who the CLI is, one-line failures, its services.

The commands are spread over ``cli.py`` and its ``cli_*`` siblings so that each stays one
screen; what they must all do alike (exit with one line instead of a traceback, build the
services of a config, name themselves in the audit log, declare ``--role``) is spelled here once,
so one command cannot drift from the others.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Any

import click

from pryv_server.config import Settings
from pryv_server.errors import PryvError

if TYPE_CHECKING:
    from pryv_server.web.services import Services

CLI = "cli"  # who and where, in the audit log, for a command run on the server

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
Loader = Callable[[str | None], Settings]  # ``load(config_path) -> Settings``, one-line errors


@contextmanager
def one_line(*expected: type[Exception], note: str = "") -> Iterator[None]:
    """Turn an expected failure into click's one-line ``Error: ...`` exit, then ``note``.

    Expected are the ``PryvError`` kinds unless others are named; anything else is a bug and
    keeps its traceback.
    """
    caught: tuple[type[Exception], ...] = expected or (PryvError,)
    try:
        yield
    except caught as error:
        raise click.ClickException(f"{error}{note}") from None


def services_of(settings: Settings) -> Services:
    """Build the services ``settings`` describe; a failure (a store, a users file) is one line."""
    from pryv_server.app import build_services

    with one_line():
        services = build_services(settings)
    return services


def role_option(roles: Sequence[str], help: str, default: str | None = None) -> Decorator:
    """Declare a command's ``--role``, one of ``roles`` (the default, if any, shown in --help)."""
    return click.option(
        "--role",
        type=click.Choice(roles),
        default=default,
        show_default=default is not None,
        help=help,
    )
