"""A realistic project for the docs' screenshots and the description tests: no test fixtures.

Screenshots in ``docs/images/`` are made from this data only, by the first-hour walk in
``tests/e2e/test_browser_first_hour.py``, which stamps each PNG with this data's fingerprint;
``tests/unit/test_docs_images.py`` fails when an image lacks the stamp of the current data, or when
the data holds anything that reads as a test fixture (``<script>``, "pwned", "pryv tests"...). The badges are served by the browser test itself
(Playwright answers for ``img.shields.io``), standing in for the real host this machine cannot reach.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path
from urllib.parse import unquote

BADGE_HOST = "https://img.shields.io"

README_RST = f"""\
acme-cli
========

.. image:: {BADGE_HOST}/badge/build-passing-brightgreen.svg
   :alt: build: passing

.. image:: {BADGE_HOST}/badge/python-3.10%2B-blue.svg
   :alt: python: 3.10+

``acme-cli`` deploys ACME services from your terminal: one command per environment, with
the same configuration file on every laptop and in CI.

.. note::

   ``acme-cli`` reads ``~/.config/acme/acme.toml`` first, then ``ACME_*`` environment
   variables.

.. warning::

   ``acme deploy --force`` skips the health checks. Use it only to roll back.

Installation
------------

.. code-block:: console

   $ pip install acme-cli

Commands
--------

============  ========================================  ==========
Command       What it does                              Since
============  ========================================  ==========
``deploy``    Build, upload and roll out a release      1.0
``status``    Show what runs where, and since when      1.0
``rollback``  Go back to the previous release           1.2
============  ========================================  ==========

Usage
-----

.. code-block:: python

   from acme_cli import Client

   client = Client(environment="staging")
   client.deploy("billing", version="2.4.1")
"""

METADATA: dict[str, object] = {
    "summary": "Deploy ACME services from your terminal",
    "requires_python": ">=3.10",
    # Only projects this server holds: pryv does not proxy PyPI, so a public dependency would
    # make `pip install --index-url <pryv>` fail (see docs/use-this-index.md).
    "requires_dist": ["acme-core>=2.0", 'rich>=13; extra == "pretty"'],
    "description": README_RST,
    "content_type": "text/x-rst",
    "metadata_version": "2.4",
    "extra": [
        "Author: ACME Platform Team",
        "Author-email: platform@acme.example",
        "License-Expression: Apache-2.0",
        "Provides-Extra: pretty",
        "Project-URL: Homepage, https://acme.example/cli",
        "Project-URL: Source, https://git.acme.example/platform/acme-cli",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Programming Language :: Python :: 3.12",
        "Classifier: Environment :: Console",
        "Classifier: Development Status :: 5 - Production/Stable",
    ],
}

# Other projects on the showcase server, with their summaries.
NEIGHBOURS = {
    "acme-billing": "Invoices, payments and the ledger behind them",
    "acme-auth": "Single sign-on for ACME's internal services",
    "acme-core": "Shared models and settings of the ACME services",
}

BADGE_WIDTH = 96


def badge_svg(url: str) -> str:
    """Answer a badge URL (``/badge/<label>-<message>-<color>.svg``) as the real host would."""
    name = unquote(url.rsplit("/", 1)[-1].removesuffix(".svg"))
    label, message, color = [*name.split("-", 2), "", "", ""][:3]
    colors = {"brightgreen": "#4c1", "blue": "#007ec6"}
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{BADGE_WIDTH}" height="20">'
        f'<rect width="46" height="20" fill="#555"/>'
        f'<rect x="46" width="50" height="20" fill="{colors.get(color, "#555")}"/>'
        '<g fill="#fff" font-family="Verdana,sans-serif" font-size="11">'
        f'<text x="5" y="14">{label}</text><text x="50" y="14">{message}</text></g></svg>'
    )


# What a docs screenshot must never show: the marks of test fixtures.
FORBIDDEN = (
    "<script",
    "pwned",
    "javascript:",
    "alert(",
    "pryv tests",
    "browser tests",
    "for testing",
    "test package",
    "demo-widgets",
    "carol",
)

# Every image in docs/images/, each made by tests/e2e/test_browser_first_hour.py from this data.
DOCS_SHOTS = (
    "setup",
    "projects-empty",
    "use-this-index",
    "projects",
    "project-description",
    "project-description-dark",
    "project-packages",
    "project-yanked",
    "phone-project",
)
_STAMP_KEY = b"pryv-showcase"


def fingerprint() -> str:
    """Hash this module's data: a screenshot stamped with it was made from exactly this data."""
    data = json.dumps([README_RST, METADATA, NEIGHBOURS], sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def stamp_png(path: Path) -> None:
    """Add a tEXt chunk naming this data's fingerprint, right after the PNG header chunk."""
    content = path.read_bytes()
    body = _STAMP_KEY + b"\0" + fingerprint().encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    header_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    path.write_bytes(content[:header_end] + chunk + content[header_end:])


def png_stamp(path: Path) -> str | None:
    """Return the fingerprint a screenshot was stamped with, or None."""
    content = path.read_bytes()
    offset = 8
    while offset + 8 <= len(content):
        (length,) = struct.unpack(">I", content[offset : offset + 4])
        kind = content[offset + 4 : offset + 8]
        body = content[offset + 8 : offset + 8 + length]
        if kind == b"tEXt" and body.startswith(_STAMP_KEY + b"\0"):
            return body[len(_STAMP_KEY) + 1 :].decode()
        offset += 12 + length
    return None
