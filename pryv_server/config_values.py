"""How the text of each ``pryv.ini`` option becomes a value: one parser per kind of option.

Every parser raises ``ValueError`` with a message in pryv's words (never Python's "invalid
literal for int()"); :mod:`pryv_server.config` adds the file, section and option to it, so an
operator reads one line that says what to write instead. Secrets are never echoed.
"""

from __future__ import annotations

import configparser
import importlib.util
import ipaddress
import math
import re
from dataclasses import dataclass
from typing import TypeVar

_Number = TypeVar("_Number", int, float)


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


def parse_address(value: str) -> tuple[str, int]:
    """Parse a listening address, ``host:port`` (an IPv6 host in brackets: ``[::1]:9100``)."""
    text = value.strip()
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    bracketless_ipv6 = ":" in host and not text.startswith("[")
    if not colon or not host or bracketless_ipv6 or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"{text!r} is not host:port with a port of 1-65535 (e.g. 127.0.0.1:9100 or [::1]:9100)"
        )
    return host, int(port)


PROVENANCE_CHECKS = ("signature", "sigstore")


def parse_provenance_check(value: str) -> str:
    """Parse ``[provenance] verify``: ``signature`` (built in) or ``sigstore`` (an extra)."""
    check = value.strip().lower()
    if check not in PROVENANCE_CHECKS:
        raise ValueError(f"{value.strip()!r} is not one of {', '.join(PROVENANCE_CHECKS)}")
    if check == "sigstore" and importlib.util.find_spec("pypi_attestations") is None:
        raise ValueError(
            "'sigstore' needs the pypi-attestations library: pip install \"pryv[sigstore]\""
        )
    return check


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


def parse_text(value: str) -> str:
    """Take free text (a host name, a region) as written, without surrounding spaces."""
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
            found[key] = (
                _amount(number.removesuffix("d"), f"days in the rule {line.strip()!r}")
                if key == "max-age"
                else _not_negative(
                    _whole(number, f"a whole number in the rule {line.strip()!r}"), number
                )
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
