"""Turn package metadata into safe, readable HTML pieces: sizes, times, tags, links.

Descriptions are not rendered here but once, within a budget, by
:mod:`pryv_server.core.descriptions` with readme-renderer, the library PyPI uses, which cleans
its output with nh3: no script, no event handler attribute, no ``javascript:`` link survives.
Every other field is plain text that Jinja escapes.
"""

from __future__ import annotations

import logging
from datetime import UTC
from datetime import datetime
from urllib.parse import urlsplit

from packaging.utils import InvalidWheelFilename
from packaging.utils import parse_wheel_filename

from pryv_server.core import Package

log = logging.getLogger(__name__)

SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})


def safe_url(url: str) -> str | None:
    """Return ``url`` if it is an http(s) or mailto link, else None (no ``javascript:``)."""
    url = url.strip()
    if any(ord(char) < 32 for char in url):
        return None
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in SAFE_URL_SCHEMES else None


def human_size(size: int) -> str:
    """Format a byte count the way PyPI does: ``950 bytes``, ``12.3 kB``, ``4.5 MB``."""
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def parse_time(stamp: str) -> datetime | None:
    """Parse a stored ISO 8601 upload time (UTC)."""
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def human_time(stamp: str, with_time: bool = False) -> str:
    """Format an upload time as ``21 Nov 2026`` (or ``21 Nov 2026, 14:05 UTC``)."""
    parsed = parse_time(stamp)
    if parsed is None:
        return stamp
    parsed = parsed.astimezone(UTC)
    text = f"{parsed.day} {parsed:%b %Y}"
    return f"{text}, {parsed:%H:%M} UTC" if with_time else text


def python_tag(package: Package) -> str:
    """Say which Pythons a file is for: a wheel's interpreter tags, ``source`` for an sdist."""
    return _wheel_tags(package, "interpreter", ".", sdist="source")


def platform_tag(package: Package) -> str:
    """Say which platforms a wheel is for (``any`` for pure Python wheels and sdists)."""
    return _wheel_tags(package, "platform", ", ", sdist="any")


def _wheel_tags(package: Package, part: str, separator: str, *, sdist: str) -> str:
    """Join one part (interpreter, platform) of a wheel's tags, read from its filename."""
    if package.kind != "wheel":
        return sdist
    try:
        _, _, _, tags = parse_wheel_filename(package.filename)
    except InvalidWheelFilename:
        return "unknown"
    return separator.join(sorted({getattr(tag, part) for tag in tags}))


def group_classifiers(classifiers: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """Group ``Topic :: A :: B`` classifiers by their first part, as PyPI's side panel does."""
    groups: dict[str, list[str]] = {}
    for classifier in classifiers:
        head, _, rest = classifier.partition("::")
        groups.setdefault(head.strip(), []).append(rest.strip() or head.strip())
    return sorted(groups.items())
