"""``pryv upstream block|unblock|pin|unpin|purge|list``: an admin's say over upstream names.

The semantics are in :mod:`pryv_server.core.upstream_controls` and docs/proxy.md. Every change
is audited (``cli`` as who and where) and reaches every worker and instance on the store with
their next catalog check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from pryv_server.cli_common import CLI
from pryv_server.cli_common import Decorator
from pryv_server.cli_common import Loader
from pryv_server.cli_common import one_line
from pryv_server.cli_common import services_of
from pryv_server.core.names import normalize
from pryv_server.core.upstream_controls import BLOCK
from pryv_server.core.upstream_controls import PIN
from pryv_server.core.upstream_controls import UpstreamControls

if TYPE_CHECKING:
    from pryv_server.web.services import Services

_DONE = {BLOCK: "blocked", PIN: "pinned"}
_WHAT = {
    BLOCK: "is never fetched from upstream; its page and files answer 403",
    PIN: "is served as cached, never refreshed from upstream",
}


def register(main: click.Group, config_option: Decorator, load: Loader) -> None:
    """Add ``pryv upstream ...`` to ``main``."""

    @main.group()
    def upstream() -> None:
        """Block, pin or purge names served from the upstream index ([upstream])."""

    def controls(config_path: str | None) -> tuple[Services, UpstreamControls]:
        built = services_of(load(config_path))
        if built.upstream_controls is None:  # build_services always sets it
            raise click.ClickException("this registry keeps no upstream controls")
        return built, built.upstream_controls

    def setter(kind: str) -> Callable[[str | None, str], None]:
        def command(config_path: str | None, name: str) -> None:
            built, found = controls(config_path)
            normalized = normalize(name)
            if not found.set(kind, normalized, by=CLI):
                click.echo(f"{normalized} was already {_DONE[kind]}")
                return
            built.audit.record(CLI, CLI, f"upstream.{kind}", normalized)
            click.echo(f"{normalized} {_WHAT[kind]}")

        return command

    def lifter(kind: str) -> Callable[[str | None, str], None]:
        def command(config_path: str | None, name: str) -> None:
            built, found = controls(config_path)
            normalized = normalize(name)
            if not found.lift(kind, normalized, by=CLI):
                raise click.ClickException(f"{normalized} is not {_DONE[kind]}")
            built.audit.record(CLI, CLI, f"upstream.un{kind}", normalized)
            click.echo(f"{normalized} is no longer {_DONE[kind]}")

        return command

    helps = {
        "block": "Never fetch NAME from upstream; its page and files answer 403.",
        "unblock": "Let NAME be fetched from upstream again (what was cached is served again).",
        "pin": "Serve NAME's cached page as it is, never refreshed from upstream.",
        "unpin": "Refresh NAME's page from upstream again every ttl.",
    }
    for verb, make, kind in (
        ("block", setter, BLOCK),
        ("unblock", lifter, BLOCK),
        ("pin", setter, PIN),
        ("unpin", lifter, PIN),
    ):
        command = make(kind)
        command.__doc__ = helps[verb]
        upstream.command(verb)(config_option(click.argument("name")(command)))

    @upstream.command("purge")
    @config_option
    @click.argument("name")
    def purge(config_path: str | None, name: str) -> None:
        """Drop NAME's cached page and files: fetched and checked again on the next request."""
        built, found = controls(config_path)
        normalized = normalize(name)
        local = built.registry.snapshot().by_project.get(normalized, ())
        with one_line():
            purged = found.purge(
                normalized, by=CLI, keep=frozenset(package.blob_key for package in local)
            )
        built.audit.record(
            CLI, CLI, "upstream.purge", normalized, page=purged.page, files=purged.files
        )
        if not purged.page:
            click.echo(f"no cached upstream page of {normalized}; nothing else to drop")
            return
        click.echo(f"purged {normalized}: its page and {purged.files} stored file(s)")

    @upstream.command("list")
    @config_option
    def listing(config_path: str | None) -> None:
        """List the blocked and pinned names and the last purges."""
        rows = controls(config_path)[1].listing()
        for project, kind, by, time in rows:
            click.echo(f"{project}  {kind}  {by}  {time}")
        if not rows:
            click.echo("no upstream name is blocked, pinned or purged")
