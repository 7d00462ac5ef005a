"""What ``pryv start`` does for a newcomer: write the first pryv.ini, check users, say what next.

A server started with no configuration file used to keep no secret key (every restart logged every
browser out), said nothing about where its data lives, and did not say that no user exists yet.
On the first start at the default location, this module writes ``~/.pryv/pryv.ini`` with the
documented defaults and a new secret key (readable by its owner only), and prints a few lines that
say where the data is and what to do next. A ``htpasswd-path`` that names no file stops the start
(a typo would otherwise reopen the setup page to anyone); a missing ``users-path`` is only a
warning, since the setup page or ``pryv user add`` creates it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from pryv_server.config import DEFAULT_CONFIG_PATH
from pryv_server.config import OPTIONS
from pryv_server.config import Location
from pryv_server.config import Settings
from pryv_server.config import config_location
from pryv_server.config import parse_location
from pryv_server.errors import ConfigError

# The sections a local server uses; the others ([aws] ...) are written commented out.
_ACTIVE_SECTIONS = ("core", "user", "server")
# One comment per option, as in the README's example; options without one get none.
_COMMENTS = {
    "projects-path": "one record per published file",
    "packages-path": "the files themselves, content-addressed",
    "index-ttl": "seconds: how soon an upload through another process or instance is seen",
    "users-path": '{"alice": {"password": "<hash>"}}, written by the setup page or pryv user add',
    "htpasswd-path": "Apache format; wins over users-path when set",
    "secret-key": "signs browser sessions; keep it secret, keep it across restarts",
    "max-upload-size": "bytes, or with a K, M, G or T suffix",
    "login-attempts": "failed logins per user and per address within login-window seconds",
    "external-images": "descriptions may show https images from other hosts (badges)",
    "download": "stream, or redirect (302 to a presigned URL)",
}
_EXAMPLES = {"htpasswd-path": "/etc/pryv/.htpasswd", "endpoint-url": "http://minio:9000"}


def first_config_text(secret_key: str) -> str:
    """Render the configuration file of a first start: every option with its default."""
    lines = [
        "# pryv's configuration, written at its first start with the documented defaults.",
        "# Every option is described in pryv's docs (configuration.md).",
    ]
    sections = dict.fromkeys(option.section for option in OPTIONS)
    for section in sections:
        active = section in _ACTIVE_SECTIONS
        mark = "" if active else "# "
        lines += ["", f"{mark}[{section}]"]
        for option in (option for option in OPTIONS if option.section == section):
            if option.name in _COMMENTS:
                lines.append(f"# {_COMMENTS[option.name]}")
            value = secret_key if option.name == "secret-key" else option.default
            if value is None:
                lines.append(f"# {option.name} = {_EXAMPLES.get(option.name, '')}".rstrip())
            else:
                lines.append(f"{mark}{option.name} = {value}")
    return "\n".join(lines) + "\n"


def write_first_config(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """Write ``~/.pryv/pryv.ini`` when it is the chosen file and does not exist; return its path.

    A file named with ``-c`` or ``$PRYV_CONFIG_PATH`` is never created (a missing one is an
    error, as before). The file is created with mode 0600 and never overwritten.

    :raises ConfigError: the file cannot be written.
    """
    if config_location(explicit, environ) != DEFAULT_CONFIG_PATH:
        return None
    path = Path(DEFAULT_CONFIG_PATH).expanduser()
    if path.exists():
        return None
    text = first_config_text(secrets.token_hex(32))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None  # another start wrote it first: use theirs
    except OSError as error:
        raise ConfigError(f"{path}: cannot write the first configuration file: {error}") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def check_users_file(settings: Settings) -> str | None:
    """Refuse a missing htpasswd file; return a warning when the users file does not exist yet.

    :raises ConfigError: ``htpasswd-path`` names a local file that does not exist.
    """
    htpasswd = settings.htpasswd_path
    if htpasswd is not None:
        if htpasswd.is_local and not Path(htpasswd.path).exists():
            raise ConfigError(
                f"{settings.config_path}: [user] htpasswd-path: {htpasswd.path} does not exist "
                "(fix the path, or create it with pryv user add NAME or htpasswd -B -c)"
            )
        return None
    users = settings.users_path
    if users == _default_users_path() or not users.is_local or Path(users.path).exists():
        return None  # at the default place, a first start has no users file yet: the hint says so
    return (
        f"[user] users-path: {users.path} does not exist (a typo?): this server has no user "
        "until it does, and its setup page is open"
    )


def _default_users_path() -> Location:
    default = next(option.default for option in OPTIONS if option.name == "users-path")
    return parse_location(default or "")


def _where(location: Location) -> str:
    return location.path if location.is_local else str(location)


def console_hints(
    settings: Settings, url: str, *, has_users: bool, written: Path | None
) -> list[str]:
    """Say where the configuration and the data are, and what to do next."""
    config = f"{written} (written now, with a new secret key)" if written else settings.config_path
    lines = [
        f"configuration: {config}",
        f"data: records in {_where(settings.projects_path)}, "
        f"files in {_where(settings.packages_path)}",
        f"users: {_where(settings.htpasswd_path or settings.users_path)}",
    ]
    if has_users:
        lines.append(f"next: open {url}/ in a browser, or see {url}/use for pip, uv, poetry and CI")
    else:
        lines.append(
            f"next: no user exists yet: open {url}/setup in a browser to create the first one, "
            "or run: pryv user add NAME"
        )
    return lines
