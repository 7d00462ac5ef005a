"""Run a pryv app under gunicorn, configured from Python rather than a gunicorn config file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application that serves one already-built Flask app.

    The app is built in the master before the workers fork, so they share the warm index
    (copy-on-write) and the secret key, and a configuration error stops ``pryv start`` at once.
    """

    def __init__(self, app: Flask, options: Mapping[str, Any]) -> None:
        self.application = app
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        """Hand our options to gunicorn's settings."""
        for key, value in self.options.items():
            if key in self.cfg.settings:  # newer gunicorn options are skipped on older ones
                self.cfg.set(key, value)

    def load(self) -> Flask:
        """Return the WSGI app for each worker."""
        return self.application
