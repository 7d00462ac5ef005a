"""Fixtures of the e2e tests: a started server, an empty venv, a headless Chromium."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.browser_helpers import launch_options
from tests.e2e.servers import Server
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """``pryv start`` with one user; an indirect parameter adds arguments (``--server granian``)."""
    running = start_with_user(tmp_path / "server", *getattr(request, "param", ()))
    yield running
    stop_server(running)


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh, empty virtual environment (no pip inside: pip --python drives it)."""
    target = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, timeout=60
    )
    return target


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium through Playwright (skipped without it, except in CI)."""
    options = launch_options()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(**options)
        yield launched
        launched.close()
