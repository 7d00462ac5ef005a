"""Read ``pryv.ini`` into typed, validated :class:`Settings`.

The file format, sections, options and defaults are the ones of the user documentation
(``[core]``, ``[user]``, ``[server]``, kebab-case options). Every path option accepts a plain path,
``file://…`` or ``<scheme>://bucket/key`` for a scheme in :data:`STORE_SCHEMES` (``s3``). A bad
file fails at start with one line that names the file, the section and the option, so an
operator can fix it without reading a traceback.

This module is a leaf: it imports nothing else from pryv_server but :mod:`pryv_server.errors`.
"""

from __future__ import annotations

import configparser
import ipaddress
import math
import os
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pryv_server.errors import ConfigError

DEFAULT_HOME = "~/.pryv"
DEFAULT_CONFIG_PATH = f"{DEFAULT_HOME}/pryv.ini"
CONFIG_PATH_VARIABLE = "PRYV_CONFIG_PATH"


LOCAL_SCHEME = "file"
# The schemes a backend serves (pryv_server.backends.CONNECTORS; a unit test keeps them equal).
# This leaf module cannot import the table; it only needs the names to refuse a typo at start.
STORE_SCHEMES = frozenset({LOCAL_SCHEME, "s3"})
_Number = TypeVar("_Number", int, float)
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


def parse_bool(value: str) -> bool:
    """Parse an ini boolean the way configparser does (true/false, yes/no, on/off, 1/0)."""
    lowered = value.strip().lower()
    if lowered in configparser.ConfigParser.BOOLEAN_STATES:
        return configparser.ConfigParser.BOOLEAN_STATES[lowered]
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def parse_port(value: str) -> int:
    """Parse a TCP port number (1-65535)."""
    port = _whole(value, "a port number (1-65535)")
    if not 0 < port < 65536:
        raise ValueError(f"{port} is not a TCP port (1-65535)")
    return port


def parse_seconds(value: str) -> float:
    """Parse a non-negative number of seconds."""
    return _amount(value, "seconds (e.g. 5 or 0.5)")


def _amount(value: str, unit: str) -> float:
    """Parse a finite, non-negative number; the message names the ``unit`` expected."""
    try:
        amount = float(value)
    except ValueError:
        raise ValueError(f"{value.strip()!r} is not a number of {unit}") from None
    if not math.isfinite(amount):
        raise ValueError(f"{value.strip()!r} is not a number of {unit}")
    return _not_negative(amount, value)


def _whole(value: str, expected: str) -> int:
    """Parse a whole number; the message says what was expected, not Python's int() wording."""
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{value.strip()!r} is not {expected}") from None


_SIZE_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(value: str) -> int:
    """Parse a byte count with an optional K/M/G/T suffix (powers of 1024): ``500M``, ``2G``."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)i?B?\s*", value, re.IGNORECASE)
    if not match:
        raise ValueError(f"{value!r} is not a size (use bytes or a K, M, G or T suffix, e.g. 500M)")
    size = int(match.group(1)) * _SIZE_SUFFIXES[match.group(2).upper()]
    if size <= 0:
        raise ValueError("the size must be positive")
    return size


def parse_count(value: str) -> int:
    """Parse a non-negative whole number (0 usually turns a limit off)."""
    return _not_negative(_whole(value, "a whole number (0 or more)"), value)


def _not_negative(number: _Number, value: str) -> _Number:
    if number < 0:
        raise ValueError(f"{value!r} is negative")
    return number


def _text(value: str) -> str:
    return value.strip()


# A secret key signs sessions and derives the setup token: a short one can be guessed offline.
MIN_SECRET_KEY_LENGTH = 16


def parse_secret_key(value: str) -> str:
    """Parse ``[server] secret-key``: at least 16 characters, or pryv refuses to start."""
    key = value.strip()
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(
            f"is {len(key)} characters long; use at least {MIN_SECRET_KEY_LENGTH} random "
            "characters (python3 -c 'import secrets; print(secrets.token_hex(32))'), or remove "
            "it for a new random key at each start"
        )
    return key


def parse_download_mode(value: str) -> str:
    """Parse ``[aws] download``: ``stream`` (through pryv) or ``redirect`` (presigned URL)."""
    mode = value.strip().lower()
    if mode not in DOWNLOAD_MODES:
        raise ValueError(f"{value!r} is not a download mode (use stream or redirect)")
    return mode


def parse_positive_int(value: str) -> int:
    """Parse a whole number greater than zero."""
    number = _whole(value, "a whole number greater than 0")
    if number <= 0:
        raise ValueError(f"{value!r} is not positive")
    return number


DOWNLOAD_MODES = ("stream", "redirect")
UPLOAD_POLICIES = ("open", "owners")


def parse_upload_policy(value: str) -> str:
    """Parse ``[permissions] uploads``: ``open`` (any member) or ``owners`` (PyPI's model)."""
    policy = value.strip().lower()
    if policy not in UPLOAD_POLICIES:
        raise ValueError(f"{value!r} is not an upload policy (use open or owners)")
    return policy


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """Parse ``[server] trusted-proxies``: addresses or CIDR networks, by commas or spaces."""
    networks = []
    for item in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            message = f"{item!r} is not an IP address or network (e.g. 10.0.0.0/8)"
            raise ValueError(message) from None
    return tuple(networks)


# -- [upstream]: the caching proxy of another index (docs/proxy.md) --------------------------

UPSTREAM_SECTION = "upstream"
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_index_url(value: str) -> str:
    """Parse ``[upstream] url``: an http(s) URL of a simple index, ending in ``/``."""
    url = value.strip()
    if not re.match(r"^https?://[^/\s]+", url):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return url if url.endswith("/") else url + "/"


def parse_minutes(value: str) -> float:
    """Parse a non-negative number of minutes into seconds."""
    return _amount(value, "minutes (e.g. 10 or 0.5)") * 60


def parse_duration(value: str) -> float:
    """Parse ``0``, ``3d``, ``12h``, ``30m``, ``45s`` or ``2w`` into seconds (bare: days)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", value, re.IGNORECASE)
    if not match:
        raise ValueError(f"{value!r} is not a duration (use a number with s, m, h, d or w: 3d)")
    return float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "d").lower()]


def parse_patterns(value: str) -> tuple[str, ...]:
    """Parse name patterns (``fnmatch`` style) separated by commas or spaces, normalized (PEP 503).

    Patterns are compared with normalized names, so ``Acme_*`` is kept as ``acme-*``.
    """
    parts = re.split(r"[\s,]+", value)
    return tuple(re.sub(r"[-_.]+", "-", part).lower() for part in parts if part)


def parse_urls(value: str) -> tuple[str, ...]:
    """Parse a list of http(s) URLs, one per line or separated by spaces."""
    urls = tuple(value.split())
    for url in urls:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError(f"{url!r} is not an http:// or https:// URL")
    return urls


# What a retention rule may say: keep the newest N dev releases, the newest N other
# pre-releases, or drop releases older than N days (never the newest, never the latest final).
RETENTION_KEYS = ("keep-dev", "keep-pre", "max-age")


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """One ``[lifecycle] retention`` line: which projects, and what to keep of them.

    ``pattern`` is a shell-style pattern matched against the normalized project name
    (``nightly-*``); None means the rule says nothing about that kind of release.
    """

    pattern: str
    keep_dev: int | None = None
    keep_pre: int | None = None
    max_age_days: float | None = None


def parse_retention(value: str) -> tuple[RetentionRule, ...]:
    """Parse ``[lifecycle] retention``: one rule per line, ``PATTERN key=N [key=N...]``.

    Keys are ``keep-dev``, ``keep-pre`` (whole numbers) and ``max-age`` (days, ``30`` or
    ``30d``). The first rule whose pattern matches a project applies to it.
    """
    rules = []
    for line in value.splitlines():
        words = line.split()
        if not words:
            continue
        pattern, settings = words[0], words[1:]
        if not settings:
            raise ValueError(f"the rule {line.strip()!r} says nothing to keep (use keep-dev=N...)")
        found: dict[str, float] = {}
        for setting in settings:
            key, _, number = setting.partition("=")
            if key not in RETENTION_KEYS:
                raise ValueError(f"{setting!r}: use {', '.join(RETENTION_KEYS)} (key=number)")
            found[key] = _not_negative(
                float(number.removesuffix("d")) if key == "max-age" else int(number), number
            )
        rules.append(
            RetentionRule(
                pattern,
                int(found["keep-dev"]) if "keep-dev" in found else None,
                int(found["keep-pre"]) if "keep-pre" in found else None,
                found.get("max-age"),
            )
        )
    return tuple(rules)


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
    _Option("server", "host", "host", _text, "127.0.0.1"),
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
    _Option("aws", "endpoint-url", "aws_endpoint_url", _text, None),
    _Option("aws", "region", "aws_region", _text, None),
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
