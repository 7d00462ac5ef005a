"""Ten well-known projects' real READMEs render as PyPI would render them (issue 17).

``tests/corpus/readmes.tsv`` pins the newest wheel's core metadata of requests, flask, django,
numpy, attrs, rich, click, httpx, pydantic and sphinx: the PEP 658 ``.metadata`` file PyPI serves
beside the wheel, or the wheel itself where PyPI does not serve one. Each is downloaded once into
the corpus cache (``$PRYV_CORPUS_CACHE``, default ``~/.cache/pryv-corpus``) and checked against
its pinned sha256 and size: a mismatch fails the test. The pins were written with the JSON simple
API (PEP 691): the newest non-prerelease wheel of each project, its smallest file when there are
several; re-pin by replacing the rows (same columns as ``pypi-files.tsv``).

Each description goes through :func:`pryv_server.core.descriptions.render`, the budgeted child
process an upload uses, and must come back rendered as its Description-Content-Type (no
preformatted fallback, no notice), keep its structure (a heading, a link; a literal block, an
admonition or a table wherever the source has one), and carry nothing a sanitizer must remove.
Marked e2e: a cold cache needs PyPI.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from pryv_server.core import descriptions
from tests.corpus.cache import Pin
from tests.corpus.cache import cache_dir
from tests.corpus.cache import fetch
from tests.corpus.cache import read_metadata
from tests.corpus.cache import read_pins
from tests.security_helpers import TagCollector

pytestmark = pytest.mark.e2e

PINS = read_pins(Path(__file__).parents[1] / "corpus" / "readmes.tsv")
PROJECTS = ["requests", "flask", "django", "numpy", "attrs", "rich", "click", "httpx"]
PROJECTS += ["pydantic", "sphinx"]
FORBIDDEN_TAGS = {"script", "style", "iframe", "object", "embed", "form", "link", "meta", "base"}
# Where the source has the construct on the left, the HTML must have an element matching the right.
RST_CONSTRUCTS = {
    "admonition": (
        re.compile(
            r"^\.\. (note|warning|tip|important|caution|danger|attention|hint|error|"
            r"admonition)::",
            re.M,
        ),
        re.compile(r'class="[^"]*\badmonition\b'),
    ),
    "literal block": (
        re.compile(r"::\s*$|^\.\. (code-block|code|sourcecode)::", re.M),
        re.compile(r"<pre\b"),
    ),
    "inline literal": (re.compile(r"``[^`\s][^`]*``"), re.compile(r'class="[^"]*\bliteral\b')),
    "table": (
        re.compile(r"^\+[-=+]+\+$|^\.\. (list-table|csv-table|table)::", re.M),
        re.compile(r"<table\b"),
    ),
}
MARKDOWN_CONSTRUCTS = {
    "code block": (re.compile(r"^ {0,3}(```|~~~)", re.M), re.compile(r"<pre\b")),
    "table": (re.compile(r"^\|?\s*:?-{3,}:?\s*\|", re.M), re.compile(r"<table\b")),
}


@dataclass(frozen=True)
class Readme:
    """A project's long description, as its metadata carries it."""

    project: str
    text: str
    content_type: str


def readme(pin: Pin) -> Readme:
    """Download (once) the pinned metadata and take its description: the body or the field."""
    path = fetch(pin, cache_dir())
    raw = read_metadata(path) if pin.kind == "wheel" else path.read_bytes()
    message: email.message.Message = email.parser.BytesParser(
        policy=email.policy.compat32
    ).parsebytes(raw)
    body = message.get_payload()
    assert isinstance(body, str)
    text = body if body.strip() else str(message.get("Description", ""))
    return Readme(pin.project, text, str(message.get("Description-Content-Type", "")))


def unsafe(html: str) -> list[str]:
    """What in ``html`` could run script or restyle the page."""
    parser = TagCollector()
    parser.feed(html)
    found = []
    for tag, attrs in parser.tags:
        if tag in FORBIDDEN_TAGS:
            found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in {"style", "srcdoc", "formaction"}:
                found.append(f"<{tag} {name}=>")
            if name in {"href", "src"} and re.match(
                r"\s*(javascript|data|vbscript):", value or "", re.I
            ):
                found.append(f"<{tag} {name}={value!r}>")
    return found


def test_the_pins_are_the_ten_projects() -> None:
    assert [pin.project for pin in PINS] == PROJECTS
    assert all(re.fullmatch(r"[0-9a-f]{64}", pin.sha256) for pin in PINS)


@pytest.mark.parametrize("pin", PINS, ids=[pin.project for pin in PINS])
def test_a_real_readme_renders_with_its_structure(pin: Pin) -> None:
    source = readme(pin)
    kind = source.content_type.split(";")[0].strip().lower()
    assert kind in {"text/markdown", "text/x-rst"}, source.content_type
    assert len(source.text) > 1000, "the pinned metadata carries no real README"

    started = time.perf_counter()
    result = descriptions.render(source.text, source.content_type)
    elapsed = time.perf_counter() - started

    assert result.notice == ""
    assert result.html, "rendered as preformatted text, not as " + kind
    html = result.html
    assert re.search(r"<h[1-6]\b", html), "no heading"
    assert re.search(r'<a\b[^>]*href="https?://', html), "no link"
    constructs = RST_CONSTRUCTS if kind == "text/x-rst" else MARKDOWN_CONSTRUCTS
    missing = [
        name
        for name, (in_source, in_html) in constructs.items()
        if in_source.search(source.text) and not in_html.search(html)
    ]
    assert missing == [], f"the source has these, the HTML does not: {missing}"
    assert unsafe(html) == []
    assert elapsed < descriptions.WALL_SECONDS


def test_both_renderers_are_exercised() -> None:
    kinds = [readme(pin).content_type.split(";")[0].strip().lower() for pin in PINS]
    assert kinds.count("text/x-rst") >= 2
    assert kinds.count("text/markdown") >= 2


def test_the_safety_check_sees_what_a_sanitizer_removes() -> None:
    assert unsafe('<p onclick="x()">a</p><script>1</script><a href="javascript:x()">b</a>') == [
        "<p onclick=>",
        "<script>",
        "<a href='javascript:x()'>",
    ]
