"""A realistic project for the docs' screenshots and the description tests: no test fixtures.

Screenshots in ``docs/images/`` are made from this data only (``tests/e2e/test_docs_screenshots.py``),
and ``tests/unit/test_docs_images.py`` fails when it holds anything that reads as a test
(``<script>``, "pwned", "pryv tests"...). The badges are served by the browser test itself
(Playwright answers for ``img.shields.io``), standing in for the real host this machine cannot reach.
"""

from __future__ import annotations

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
    "requires_dist": ["click>=8.1", "httpx>=0.27", 'rich>=13; extra == "pretty"'],
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
FORBIDDEN = ("<script", "pwned", "javascript:", "pryv tests", "test package", "alert(")
