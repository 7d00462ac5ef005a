"""Concurrent first-run setups against a real ``pryv start`` with two workers.

Before, four concurrent setups created two to four users, and users told "created" could be
missing afterwards (two workers rewrote users.json over each other). Exactly one may win.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.concurrency import all_at_once
from tests.e2e.servers import Server
from tests.e2e.servers import free_port
from tests.e2e.servers import start_server
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import write_config

pytestmark = pytest.mark.e2e

SETUPS = 8


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "server"
    root.mkdir()
    running = start_server(root, "--workers", "2", "--threads", "8")
    yield running
    stop_server(running)


def _browser() -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)


def _post(opener: urllib.request.OpenerDirector, url: str, data: dict[str, str]) -> int:
    body = urllib.parse.urlencode(data).encode()
    try:
        with opener.open(url, data=body, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_concurrent_setups_on_two_workers_create_exactly_one_user(fresh_server: Server) -> None:
    browsers = [_browser() for _ in range(SETUPS)]
    tokens = []
    for opener in browsers:
        with opener.open(f"{fresh_server.url}/setup", timeout=30) as response:
            page = response.read().decode()
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match
        tokens.append(match.group(1))
    statuses: dict[str, int] = {}

    def attempt(n: int) -> None:
        fields = {
            "csrf_token": tokens[n],
            "username": f"user{n}",
            "password": "correct horse",
            "confirmation": "correct horse",
        }
        statuses[f"user{n}"] = _post(browsers[n], f"{fresh_server.url}/setup", fields)

    all_at_once(SETUPS, attempt)
    winners = [name for name, status in statuses.items() if status == 302]
    assert len(winners) == 1, statuses
    assert set(statuses.values()) == {302, 404}, statuses
    stored = json.loads((fresh_server.root / "users.json").read_text())
    assert list(stored) == winners


def test_concurrent_user_adds_lose_nobody(tmp_path: Path) -> None:
    """Eight ``pryv user add`` processes at once: every user told "added" is in the file."""
    config = write_config(tmp_path, free_port())
    processes = [
        subprocess.Popen(
            [tool("pryv"), "user", "add", f"user{n}", "--password-stdin", "-c", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in range(8)
    ]
    added = []
    for n, process in enumerate(processes):
        _, error = process.communicate(b"correct horse\n", timeout=120)
        assert process.returncode == 0, error.decode()
        added.append(f"user{n}")
    stored = json.loads((tmp_path / "users.json").read_text())
    assert sorted(stored) == sorted(added)
