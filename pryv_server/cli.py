"""The ``pryv`` command: start, version, user add, yank, verify... (lifecycle: cli_lifecycle)."""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

import click

from pryv_server import __version__
from pryv_server import cli_access
from pryv_server import cli_lifecycle
from pryv_server import cli_upstream
from pryv_server import cli_users
from pryv_server import first_start
from pryv_server import listener
from pryv_server.cli_common import CLI
from pryv_server.cli_common import one_line
from pryv_server.cli_common import role_option
from pryv_server.cli_common import services_of
from pryv_server.config import Settings
from pryv_server.config import load_settings
from pryv_server.core.access import ROLES
from pryv_server.core.names import normalize
from pryv_server.errors import ConfigError
from pryv_server.errors import UserExists
from pryv_server.malloc_arenas import limit_malloc_arenas

if TYPE_CHECKING:
    from pryv_server.core import Registry

T = TypeVar("T")
CommandFunction = TypeVar("CommandFunction", bound=Callable[..., Any])

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file (default: $PRYV_CONFIG_PATH, else ~/.pryv/pryv.ini).",
)


# What a command's result says in the audit log: (action, target, details), or None for nothing.
Audit = Callable[[T], "tuple[str, str, dict[str, Any]] | None"]


def _on_registry(
    config_path: str | None, action: Callable[[Registry], T], audit: Audit[T] | None = None
) -> T:
    """Build the registry the config describes and run ``action``; a failure is one line.

    A command that changes what readers see passes ``audit``, which turns the result into the
    audit event (who and where are ``cli``), as the API and the explorer record theirs.
    """
    services = services_of(_load(config_path))
    with one_line():
        result = action(services.registry)
    event = audit(result) if audit is not None else None
    if event is not None:
        name, target, details = event
        services.audit.record(CLI, CLI, name, target, **details)
    return result


def _load(config_path: str | None) -> Settings:
    from pryv_server.backends import read_remote_config

    with one_line(ConfigError):
        settings = load_settings(config_path, read_remote=read_remote_config)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", message="%(version)s")
def main() -> None:
    """pryv: a self-hosted Python package registry."""


@main.command()
def version() -> None:
    """Print pryv's version."""
    click.echo(__version__)


def _count_option(
    flag: str, low: int, high: int | None, default: int, help: str
) -> Callable[[CommandFunction], CommandFunction]:
    """Declare a whole-number option of ``pryv start``, bounds and default shown in --help."""
    return click.option(
        flag, type=click.IntRange(low, high), default=default, show_default=True, help=help
    )


@main.command()
@config_option
@click.option("--host", help="Address to listen on (default: [server] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [server] port, 5555).")
@_count_option("--workers", 1, 64, 2, "Worker processes.")
@_count_option("--threads", 1, 256, 8, "Threads per worker (each serves one request at a time).")
@_count_option("--timeout", 1, None, 60, "Seconds before a silent worker is restarted.")
@_count_option(
    "--graceful-timeout",
    1,
    None,
    30,
    "Seconds that in-flight requests (uploads) get to finish after SIGTERM.",
)
@click.option(
    "--server",
    "http_server",
    type=click.Choice(["gunicorn", "granian"]),
    default="gunicorn",
    show_default=True,
    help="HTTP server. granian is faster but only safe behind a proxy that buffers request "
    "bodies (see docs/performance.md); it needs `pip install 'pryv[granian]'`.",
)
def start(
    config_path: str | None,
    host: str | None,
    port: int | None,
    workers: int,
    threads: int,
    timeout: int,
    graceful_timeout: int,
    http_server: str,
) -> None:
    """Start the server (API and explorer) under gunicorn, or granian."""
    from pryv_server.server import share_metrics_between_workers

    share_metrics_between_workers()  # before the app (and prometheus-client) is imported
    from pryv_server import metrics_server
    from pryv_server.app import create_app
    from pryv_server.web.simple import warm_up

    if http_server == "granian":
        if importlib.util.find_spec("granian") is None:
            raise click.ClickException(
                "--server granian needs granian: pip install 'pryv[granian]' (or granian)"
            )
        from pryv_server import granian_server
    else:
        from pryv_server import server as gunicorn_server

    with one_line(ConfigError):
        written = first_start.write_first_config(config_path)
    settings = _load(config_path)
    # One key for every worker; without secret-key it is new at each start, as documented.
    settings = settings.replace(host=host or settings.host, port=port or settings.port)
    settings = settings.with_secret_key()
    with one_line(ConfigError):
        users_warning = first_start.check_users_file(settings)
        # Bound before the app is built: a busy port or a bad host is one line, at once.
        fd = listener.bind(settings.host, settings.port)
        address = settings.metrics_address
        metrics_fd = None if address is None else metrics_server.bind(address)
    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The Logging HOWTO's "Optimization": no format names the caller or the thread, which
    # each record would look up (7 of the 41 µs an access line adds to a cached page).
    logging._srcfile = None
    logging.logThreads = logging.logMultiprocessing = False  # gunicorn's lines show the pid
    # Load the index in the master: the workers fork with it warm (and share its memory
    # copy-on-write) instead of each reading every record on its first request. Everything
    # loaded lives as long as the server, so the collector is off while it is built (at 60,000
    # files it rescanned the growing heap again and again: 4.0 s -> 3.0 s) and then freezes it,
    # so collections in the workers neither scan it nor copy the pages they share.
    limit_malloc_arenas()
    gc.disable()
    try:
        with one_line():
            app = create_app(settings)
            warm_up(app)
    finally:
        gc.freeze()
        gc.enable()
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{shown_host}:{settings.port}"
    click.echo(f"pryv {__version__} listening on {url}", err=True)
    if users_warning:
        click.echo(f"warning: {users_warning}", err=True)
    has_users = bool(app.extensions["pryv"].users.usernames())
    for line in first_start.console_hints(settings, url, has_users=has_users, written=written):
        click.echo(f"  {line}", err=True)
    metrics = None if metrics_fd is None else metrics_server.serve(metrics_fd, app)
    if metrics is not None:
        click.echo(f"metrics on {metrics.url}", err=True)
    if http_server == "granian":
        os.close(fd)  # granian binds its own; the bind above proved the address is free
        granian_server.serve(
            app, settings.host, settings.port,
            workers=workers, threads=threads, graceful=graceful_timeout,
        )  # fmt: skip
    else:
        gunicorn_server.serve(
            app, fd, workers=workers, threads=threads, timeout=timeout,
            graceful=graceful_timeout, debug=settings.debug,
            post_fork=metrics.close_in_child if metrics is not None else None,
        )  # fmt: skip


@main.group()
def user() -> None:
    """Manage the users in the configured users file."""


@user.command("add")
@config_option
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@role_option(ROLES, "Global role (needs permissions-path).")
def user_add(config_path: str | None, name: str, password_stdin: bool, role: str | None) -> None:
    """Add user NAME with a bcrypt password hash to users.json or .htpasswd."""
    from pryv_server.app import open_user_store
    from pryv_server.auth import validate_username

    settings = _load(config_path)
    try:
        validate_username(name)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="NAME") from None
    password = cli_users.read_password(password_stdin)
    with one_line(ConfigError, UserExists):
        store = open_user_store(settings)
        store.add(name, password)
    location = settings.htpasswd_path or settings.users_path
    click.echo(f"added user {name!r} to {location.path if location.is_local else location}")
    cli_users.after_user_add(settings, name, role)


@main.command()
@config_option
@click.argument("project")
@click.argument("version")
@click.option("--file", "filename", metavar="FILENAME", help="Yank only this file of the release.")
@click.option("--reason", default="", help="Why, shown to users by pip (PEP 592).")
@click.option("--undo", is_flag=True, help="Un-yank instead.")
def yank(
    config_path: str | None,
    project: str,
    version: str,
    filename: str | None,
    reason: str,
    undo: bool,
) -> None:
    """Yank release VERSION of PROJECT (or one file of it): pip skips it unless pinned with ==."""
    release = _on_registry(
        config_path,
        lambda registry: registry.yank(
            project, version, filename=filename, reason=reason, user=CLI, undo=undo
        ),
        lambda done: (
            "unyank" if undo else "yank",
            f"{normalize(project)} {done.version}",
            {"file": filename, "reason": reason or None},
        ),
    )
    for package in release.packages:
        state = "yanked" if package.yanked else "available"
        reason_note = f" ({package.yanked_reason})" if package.yanked_reason else ""
        click.echo(f"{package.filename}: {state}{reason_note}")


@main.command("backfill-metadata")
@config_option
def backfill_metadata(config_path: str | None) -> None:
    """Extract and serve the core metadata (PEP 658) of files published without it."""
    done = _on_registry(
        config_path,
        lambda registry: registry.backfill_metadata(),
        lambda done: (
            ("backfill-metadata", "*", {"files": [p.filename for p in done]}) if done else None
        ),
    )
    for package in done:
        click.echo(f"extracted the metadata of {package.filename}")
    click.echo(f"{len(done)} file(s) backfilled")


@main.command("verify")
@config_option
def verify(config_path: str | None) -> None:
    """Check every stored file against its sha256; exit 1 when one is missing or damaged."""
    problems = _on_registry(config_path, lambda registry: registry.verify())
    for package, problem in problems:
        click.echo(f"{package.filename}: {problem}")
    if problems:
        raise click.ClickException(
            f"{len(problems)} problem(s); upload the identical files again to repair them"
        )
    click.echo("every stored file matches its sha256")


def _register_access_commands() -> None:
    cli_access.register(main, config_option, _load)
    cli_access.register_project_roles(main, config_option, _load)
    cli_users.register_users(main, user, config_option, _load)
    cli_lifecycle.register(main, config_option, _load, _on_registry)
    cli_upstream.register(main, config_option, _load)


_register_access_commands()
