"""The ``pryv`` commands of a package's life: status, delete, gc, prune (docs/lifecycle.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from pryv_server.cli_common import CLI
from pryv_server.cli_common import Decorator
from pryv_server.cli_common import Loader
from pryv_server.core.names import normalize

# PEP 792's statuses, as core.models.STATUSES (a test keeps them equal): the CLI imports core
# only when a command runs.
STATUSES = ("active", "archived", "deprecated", "quarantined")


def register(
    main: click.Group,
    config_option: Decorator,
    load: Loader,
    on_registry: Callable[..., Any],
) -> None:
    """Add the lifecycle commands to ``main``."""

    @main.command("status")
    @config_option
    @click.argument("project")
    @click.argument("status", type=click.Choice(STATUSES))
    @click.option("--reason", default="", help="Why, shown to installers (PEP 792).")
    def status(config_path: str | None, project: str, status: str, reason: str) -> None:
        """Set the PEP 792 status of PROJECT: active, archived, deprecated or quarantined."""
        record = on_registry(
            config_path,
            lambda registry: registry.lifecycle.set_status(
                project, status, reason=reason, user=CLI
            ),
            lambda done: (
                "status",
                normalize(project),
                {"status": done.status, "reason": done.reason},
            ),
        )
        note = f" ({record.reason})" if record.reason else ""
        click.echo(f"{project}: {record.status}{note}")

    @main.command("delete")
    @config_option
    @click.argument("project")
    @click.argument("version", required=False)
    @click.option(
        "--file", "filename", metavar="FILENAME", help="Delete only this file of VERSION."
    )
    @click.option("--reason", required=True, help="Why (kept in the file's tombstone).")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def delete(
        config_path: str | None,
        project: str,
        version: str | None,
        filename: str | None,
        reason: str,
        yes: bool,
    ) -> None:
        """Delete PROJECT, release VERSION of it, or one file, for good.

        A deleted filename can never be uploaded again.
        """
        what = filename or (f"{project} {version}" if version else f"every file of {project}")
        if not yes:
            click.confirm(f"Delete {what} for good?", abort=True)
        deleted = on_registry(
            config_path,
            lambda registry: registry.lifecycle.delete(
                project, version, filename=filename, reason=reason, user=CLI
            ),
            lambda deleted: (
                "delete",
                normalize(project),
                {"files": [p.filename for p in deleted], "reason": reason},
            ),
        )
        for package in deleted:
            click.echo(f"deleted {package.filename}")

    @main.command("gc")
    @config_option
    @click.option("--dry-run", is_flag=True, help="List what would be freed; change nothing.")
    def collect_garbage(config_path: str | None, dry_run: bool) -> None:
        """Remove stored files that no record references, older than [lifecycle] gc-margin."""
        settings = load(config_path)
        report = on_registry(
            config_path,
            lambda registry: registry.collect_garbage(margin=settings.gc_margin, dry_run=dry_run),
            lambda report: (
                ("gc", "*", {"objects": len(report.freed), "bytes": report.freed_bytes})
                if report.freed and not dry_run
                else None
            ),
        )
        verb = "would free" if dry_run else "freed"
        for store, key, size in report.freed:
            click.echo(f"{verb} {store}:{key} ({size} bytes)")
        click.echo(
            f"{verb} {len(report.freed)} object(s), {report.freed_bytes} bytes; "
            f"spared {report.spared_young} younger than gc-margin ({settings.gc_margin:g} s)"
        )

    @main.command("prune")
    @config_option
    @click.option("--dry-run", is_flag=True, help="List what would be deleted; change nothing.")
    def prune(config_path: str | None, dry_run: bool) -> None:
        """Delete the releases that the [lifecycle] retention rules do not keep."""
        settings = load(config_path)
        if not settings.retention:
            raise click.ClickException("no [lifecycle] retention rules are configured")
        doomed = on_registry(
            config_path,
            lambda registry: registry.prune(settings.retention, dry_run=dry_run),
            lambda doomed: (
                ("prune", "*", {"releases": [_pruned(item) for item in doomed]})
                if doomed and not dry_run
                else None
            ),
        )
        verb = "would delete" if dry_run else "deleted"
        for item in doomed:
            files = len(item.release.packages)
            release = f"{item.project.normalized} {item.release.version}"
            click.echo(f"{verb} {release} ({files} file(s): {item.why})")
        click.echo(f"{verb} {len(doomed)} release(s)")


def _pruned(item: Any) -> str:
    return f"{item.project.normalized} {item.release.version}"
