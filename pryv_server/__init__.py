"""pryv: a self-hosted Python package registry (PEP 503 simple API, uploads, web explorer)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> object:
    # Importing the app lazily keeps `pryv version` and `import pryv_server` cheap.
    if name == "create_app":
        from pryv_server.app import create_app

        return create_app
    raise AttributeError(name)
