"""Read ``pryv.ini`` into typed, validated :class:`Settings`.

The file format, sections, options and defaults are the ones of the user documentation
(``[core]``, ``[user]``, ``[server]``, kebab-case options). Every path option accepts a plain path,
``file://…`` or ``<scheme>://bucket/key`` for a scheme in :data:`STORE_SCHEMES` (``s3``). A bad
file fails at start with one line that names the file, the section and the option, so an
operator can fix it without reading a traceback.

This module is a leaf: it imports nothing else from pryv_server but :mod:`pryv_server.errors`
and the option parsers of :mod:`pryv_server.config_values`.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pryv_server.config_values import UPSTREAM_SECTION
from pryv_server.config_values import Network
from pryv_server.config_values import RetentionRule
from pryv_server.config_values import parse_address
from pryv_server.config_values import parse_bool
from pryv_server.config_values import parse_count
from pryv_server.config_values import parse_download_mode
from pryv_server.config_values import parse_duration
from pryv_server.config_values import parse_index_url
from pryv_server.config_values import parse_minutes
from pryv_server.config_values import parse_networks
from pryv_server.config_values import parse_patterns
from pryv_server.config_values import parse_port
from pryv_server.config_values import parse_positive_int
from pryv_server.config_values import parse_provenance_check
from pryv_server.config_values import parse_retention
from pryv_server.config_values import parse_seconds
from pryv_server.config_values import parse_secret_key
from pryv_server.config_values import parse_size
from pryv_server.config_values import parse_text
from pryv_server.config_values import parse_upload_policy
from pryv_server.config_values import parse_urls
from pryv_server.errors import ConfigError

DEFAULT_HOME = "~/.pryv"
DEFAULT_CONFIG_PATH = f"{DEFAULT_HOME}/pryv.ini"
CONFIG_PATH_VARIABLE = "PRYV_CONFIG_PATH"


LOCAL_SCHEME = "file"
# The schemes a backend serves (pryv_server.backends.CONNECTORS; a unit test keeps them equal).
# This leaf module cannot import the table; it only needs the names to refuse a typo at start.
STORE_SCHEMES = frozenset({LOCAL_SCHEME, "s3"})
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a path option points: a local path, or a bucket and key prefix in a remote store."""

    scheme: str
    path: str
    bucket: str = ""

    @property
    def is_local(self) -> bool:
        """Say whether this is a path on this machine (else a remote store's bucket and key)."""
        return self.scheme == LOCAL_SCHEME

    def __str__(self) -> str:
        if self.is_local:
            return f"file://{self.path}"
        return f"{self.scheme}://{self.bucket}/{self.path}"


def parse_location(value: str) -> Location:
    """Parse a path option: ``/abs``, ``rel``, ``~/x``, ``file://…`` or ``s3://bucket/key``.

    Relative paths are resolved against the current working directory, as the docs say.

    :raises ValueError: the value is empty, has an unknown scheme or a URL has no bucket.
    """
    value = value.strip()
    if not value:
        raise ValueError("the path is empty")
    matched = _URL.match(value)
    if matched and matched.group(1) in STORE_SCHEMES - {LOCAL_SCHEME}:
        scheme = matched.group(1)
        bucket, _, key = value[matched.end() :].partition("/")
        if not bucket:
            raise ValueError(f"{value!r} names no bucket (expected {scheme}://bucket/key)")
        return Location(scheme, key.strip("/"), bucket)
    if value.startswith("file://"):
        value = value[len("file://") :]
    if _URL.match(value):
        remote = " or ".join(f"{name}://" for name in sorted(STORE_SCHEMES - {LOCAL_SCHEME}))
        raise ValueError(f"{value!r} has an unsupported scheme (use a path, file:// or {remote})")
    return Location(LOCAL_SCHEME, str(Path(value).expanduser().absolute()))


@dataclass(frozen=True, slots=True)
class _Option:
    section: str
    name: str
    attribute: str
    parse: Callable[[str], object]
    default: str | None


# Every option pryv reads, with its default as the docs give it. Add new options here only.
OPTIONS: tuple[_Option, ...] = (
    _Option(
        "core", "projects-path", "projects_path", parse_location, f"file://{DEFAULT_HOME}/projects"
    ),
    _Option(
        "core", "packages-path", "packages_path", parse_location, f"file://{DEFAULT_HOME}/packages"
    ),
    _Option("core", "index-ttl", "index_ttl", parse_seconds, "5"),
    _Option(
        "user", "users-path", "users_path", parse_location, f"file://{DEFAULT_HOME}/users.json"
    ),
    _Option("user", "htpasswd-path", "htpasswd_path", parse_location, None),
    _Option("user", "permissions-path", "permissions_path", parse_location, None),
    _Option("server", "host", "host", parse_text, "127.0.0.1"),
    _Option("server", "port", "port", parse_port, "5555"),
    _Option("server", "secret-key", "secret_key", parse_secret_key, None),
    _Option("server", "debug", "debug", parse_bool, "false"),
    _Option("server", "max-upload-size", "max_upload_size", parse_size, "5G"),
    _Option("server", "login-attempts", "login_attempts", parse_count, "10"),
    _Option("server", "login-window", "login_window", parse_seconds, "300"),
    _Option("server", "trusted-proxies", "trusted_proxies", parse_networks, None),
    _Option("server", "external-images", "external_images", parse_bool, "true"),
    _Option("permissions", "uploads", "uploads", parse_upload_policy, "open"),
    _Option("permissions", "anonymous-read", "anonymous_read", parse_bool, "false"),
    _Option("aws", "endpoint-url", "aws_endpoint_url", parse_text, None),
    _Option("aws", "region", "aws_region", parse_text, None),
    _Option("aws", "conditional-writes", "aws_conditional_writes", parse_bool, "true"),
    _Option("aws", "download", "aws_download", parse_download_mode, "stream"),
    _Option("aws", "presign-expiry", "aws_presign_expiry", parse_positive_int, "300"),
    # [upstream] applies only when the section is present (see Settings.upstream).
    _Option("upstream", "url", "upstream_url", parse_index_url, "https://pypi.org/simple/"),
    _Option("upstream", "timeout", "upstream_timeout", parse_seconds, "10"),
    _Option("upstream", "ttl", "upstream_ttl", parse_minutes, "10"),
    _Option("upstream", "allow", "upstream_allow", parse_patterns, None),
    _Option("upstream", "deny", "upstream_deny", parse_patterns, None),
    _Option("upstream", "min-age", "upstream_min_age", parse_duration, "0"),
    _Option("webhooks", "urls", "webhook_urls", parse_urls, None),
    _Option("webhooks", "secret", "webhook_secret", parse_secret_key, None),
    _Option("webhooks", "queue-size", "webhook_queue_size", parse_positive_int, "1000"),
    _Option("webhooks", "retries", "webhook_retries", parse_count, "5"),
    _Option("metrics", "token", "metrics_token", parse_secret_key, None),
    _Option("metrics", "address", "metrics_address", parse_address, None),
    _Option("provenance", "verify", "provenance_verify", parse_provenance_check, "signature"),
    _Option("lifecycle", "gc-margin", "gc_margin", parse_seconds, "86400"),
    _Option("lifecycle", "retention", "retention", parse_retention, None),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated configuration of one pryv server; built once at start and handed down."""

    projects_path: Location
    packages_path: Location
    users_path: Location
    htpasswd_path: Location | None = None
    permissions_path: Location | None = None  # roles, groups, namespaces, read restrictions
    uploads: str = "open"  # or "owners": the first uploader owns a new project
    anonymous_read: bool = False
    index_ttl: float = 5.0
    host: str = "127.0.0.1"
    port: int = 5555
    secret_key: str | None = None
    debug: bool = False
    max_upload_size: int = 5 * 1024**3
    login_attempts: int = 10
    login_window: float = 300.0
    trusted_proxies: tuple[Network, ...] = ()  # whose X-Forwarded-For names the client
    external_images: bool = True  # descriptions may show https images from other hosts
    config_path: str | None = None
    aws_endpoint_url: str | None = None  # else boto3's chain (AWS_ENDPOINT_URL_S3, ...)
    aws_region: str | None = None
    aws_conditional_writes: bool = True
    aws_download: str = "stream"
    aws_presign_expiry: int = 300
    upstream: bool = False  # true when the file has an [upstream] section
    upstream_url: str = "https://pypi.org/simple/"
    upstream_timeout: float = 10.0
    upstream_ttl: float = 600.0  # seconds (the option is in minutes)
    upstream_allow: tuple[str, ...] = ()
    upstream_deny: tuple[str, ...] = ()
    upstream_min_age: float = 0.0  # seconds
    webhook_urls: tuple[str, ...] = ()  # where events are POSTed (backends/webhooks.py)
    webhook_secret: str | None = None  # the HMAC key signing them
    webhook_queue_size: int = 1000
    webhook_retries: int = 5
    metrics_token: str | None = None  # a bearer token that may read /metrics, and only that
    # Where ``pryv start`` also serves /metrics, apart from the API (None: only on the main port).
    metrics_address: tuple[str, int] | None = None
    # How PEP 740 attestations are checked on upload: "signature" or "sigstore" (an extra).
    provenance_verify: str = "signature"
    gc_margin: float = 86400.0  # pryv gc spares objects younger than this (uploads in flight)
    retention: tuple[RetentionRule, ...] = ()  # pryv prune's rules

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Mapping[str, str]], source: str = "<mapping>"
    ) -> Settings:
        """Build settings from ``{section: {option: text}}``, filling in the documented defaults.

        :raises ConfigError: an unknown section or option, or an invalid value, named with its file.
        """
        known = {(option.section, option.name) for option in OPTIONS}
        for section, options in values.items():
            if section not in {option.section for option in OPTIONS}:
                known_sections = ", ".join(dict.fromkeys(option.section for option in OPTIONS))
                raise ConfigError(
                    f"{source}: unknown section [{section}] (known: {known_sections})"
                )
            for name in options:
                if (section, name) not in known:
                    raise ConfigError(f"{source}: [{section}] has an unknown option {name!r}")
        parsed: dict[str, object] = {}
        for option in OPTIONS:
            text = values.get(option.section, {}).get(option.name, option.default)
            if text is None:
                continue
            try:
                parsed[option.attribute] = option.parse(text)
            except ValueError as error:
                raise ConfigError(f"{source}: [{option.section}] {option.name}: {error}") from None
        parsed["upstream"] = UPSTREAM_SECTION in values
        return cls(config_path=source, **parsed)  # type: ignore[arg-type]

    def replace(self, **changes: object) -> Settings:
        """Return a copy with some fields changed (command-line overrides, tests)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return Settings(**values)

    def with_secret_key(self) -> Settings:
        """Return these settings with a secret key: the configured one, else a random one.

        Without ``secret-key`` the key is new at each start (sessions end with the server), as
        documented. ``pryv start`` draws it before gunicorn forks, so every worker shares it.
        """
        return self if self.secret_key else self.replace(secret_key=os.urandom(32).hex())


def config_location(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Choose the config file: ``-c``, else ``$PRYV_CONFIG_PATH``, else ``~/.pryv/pryv.ini``."""
    environ = os.environ if environ is None else environ
    return explicit or environ.get(CONFIG_PATH_VARIABLE) or DEFAULT_CONFIG_PATH


def read_ini(text: str, source: str) -> dict[str, dict[str, str]]:
    """Parse ini text into ``{section: {option: value}}``; a syntax error is a ConfigError."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\0no-defaults")
    try:
        parser.read_string(text, source=source)
    except configparser.Error as error:
        message = " ".join(str(error).split())
        raise ConfigError(f"{source}: not a valid ini file: {message}") from None
    return {section: dict(parser.items(section)) for section in parser.sections()}


def load_settings(
    explicit: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    read_remote: Callable[[Location], bytes | None] | None = None,
) -> Settings:
    """Load the settings from the chosen config file.

    A missing file at the *default* location means "all defaults" (the quickstart starts with no
    file at all); a missing file that the user named explicitly is an error.

    :param read_remote: reads a config file in a remote store (None when absent); supplied by the
        caller, because this leaf module knows no storage.
    :raises ConfigError: the file is unreadable or invalid.
    """
    chosen = config_location(explicit, environ)
    try:
        location = parse_location(chosen)
    except ValueError as error:
        raise ConfigError(f"config path {chosen!r}: {error}") from None
    if not location.is_local:
        return _load_remote(location, read_remote)
    path = Path(location.path)
    if not path.exists():
        if chosen == DEFAULT_CONFIG_PATH:
            return Settings.from_mapping({}, source=str(path))
        raise ConfigError(f"{path}: the configuration file does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the configuration file: {error}") from None
    return Settings.from_mapping(read_ini(text, str(path)), source=str(path))


def _load_remote(
    location: Location, read_remote: Callable[[Location], bytes | None] | None
) -> Settings:
    if read_remote is None:
        raise ConfigError(
            f"{location}: this command cannot read a configuration file from "
            f"{location.scheme.upper()}"
        )
    content = read_remote(location)
    if content is None:
        raise ConfigError(f"{location}: the configuration file does not exist")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{location}: cannot read the configuration file: {error}") from None
    return Settings.from_mapping(read_ini(text, str(location)), source=str(location))
