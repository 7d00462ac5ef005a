"""Turn package metadata into safe, readable HTML pieces: descriptions, sizes, times, links.

Descriptions are rendered with readme-renderer, the library PyPI uses, chosen by the
``Description-Content-Type`` of the metadata (reStructuredText when none is given, as on PyPI).
readme-renderer cleans its output with nh3: no script, no event handler attribute, no
``javascript:`` link survives. Every other field is plain text that Jinja escapes.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC
from datetime import datetime
from email.message import Message
from urllib.parse import urlsplit

import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
from markupsafe import Markup
from packaging.utils import InvalidWheelFilename
from packaging.utils import parse_wheel_filename

from pryv_server.core import Package

log = logging.getLogger(__name__)

SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})
MARKDOWN_VARIANTS = {"gfm": "GFM", "commonmark": "CommonMark"}


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split ``text/markdown; charset=UTF-8; variant=GFM`` into its type and parameters."""
    message = Message()
    message["Content-Type"] = value or "text/x-rst"
    params = {key.lower(): str(val) for key, val in (message.get_params() or [])[1:]}
    return message.get_content_type(), params


@functools.lru_cache(maxsize=256)
def render_description(text: str, content_type: str) -> Markup:
    """Render a long description to sanitized HTML (cached: releases never change)."""
    if not text.strip():
        return Markup("")
    kind, params = _content_type(content_type)
    html: str | None = None
    if kind == "text/markdown":
        variant = MARKDOWN_VARIANTS.get(params.get("variant", "gfm").lower(), "GFM")
        html = readme_renderer.markdown.render(text, variant=variant)
    elif kind == "text/x-rst":
        html = readme_renderer.rst.render(text)
        if html is None:
            log.info("a description is not valid reStructuredText; showing it as plain text")
    if html is None:
        html = readme_renderer.txt.render(text)
    # bandit B704 (Markup on untrusted data): readme-renderer cleans every renderer's output
    # with nh3 (no script, no event handlers, no javascript: links), the test of hostile
    # descriptions in tests/integration/test_explorer_security.py checks it.
    return Markup(html or "")  # nosec B704


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
