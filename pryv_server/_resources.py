"""Locate the ``templates/`` and ``static/`` folders in a wheel or in a source checkout."""

from __future__ import annotations

from pathlib import Path

from pryv_server.errors import ConfigError

_PACKAGE_DIR = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    """Return ``templates/`` or ``static/``: inside the installed package, else at the repo root.

    The wheel maps the top-level folders into the package at build time (hatchling
    force-include), so never create ``pryv_server/templates`` in the source tree.
    """
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"cannot find the {name}/ folder next to or inside {_PACKAGE_DIR}")
