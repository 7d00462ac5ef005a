"""pip and uv against `pryv start` while an admin blocks, pins and purges upstream names."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dists import make_wheel
from tests.e2e.servers import ISOLATED
from tests.e2e.servers import Server
from tests.e2e.servers import clean_env
from tests.e2e.servers import installed
from tests.e2e.servers import new_venv
from tests.e2e.servers import proxy_server
from tests.e2e.servers import run
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.upstream_index import StaticIndex

pytestmark = pytest.mark.e2e


@pytest.fixture
def upstream(upstream_index: StaticIndex, tmp_path: Path) -> StaticIndex:
    """The static index of tests/conftest.py, with pub-lib 2.0 and its dependency pub-base."""
    for name, version, needs in (("pub-lib", "2.0", ["pub-base>=1"]), ("pub-base", "1.0", [])):
        upstream_index.add(make_wheel(tmp_path / "dists", name, version, requires_dist=needs))
    return upstream_index


@pytest.fixture
def server(tmp_path: Path, upstream: StaticIndex) -> Iterator[Server]:
    # ttl = 0: every request would ask upstream again, unless the name is pinned.
    running = proxy_server(tmp_path / "server", upstream.url, ttl="0")
    yield running
    stop_server(running)


def admin(server: Server, *args: str) -> str:
    return run(tool("pryv"), "upstream", *args, "-c", str(server.config)).stdout


def uv_install(python: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(
        tool("uv"), "pip", "install", "--no-cache", "--python", str(python), *args,
        env=clean_env(**ISOLATED), check=check,
    )  # fmt: skip


def pip_install(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(
        sys.executable, "-m", "pip", "--python", str(python), "install", "--no-cache-dir",
        "--disable-pip-version-check", *args, env=clean_env(**ISOLATED),
    )  # fmt: skip


def test_uv_stops_at_a_blocked_name_and_never_takes_it_from_the_next_index(
    server: Server, upstream: StaticIndex, tmp_path: Path
) -> None:
    assert "never fetched from upstream" in admin(server, "block", "pub-lib")
    python = new_venv(tmp_path / "venv")
    # pryv first, the upstream index itself as the fallback: the set-up a 404 would betray.
    indexes = ("--index", server.index_url, "--default-index", upstream.url)

    refused = uv_install(python, *indexes, "pub-lib", check=False)

    assert refused.returncode != 0
    assert "403" in refused.stderr
    assert upstream.hits["/simple/pub-lib/"] == 0  # neither pryv nor uv asked upstream
    assert upstream.hits["/files/pub_lib-2.0-py3-none-any.whl"] == 0
    admin(server, "unblock", "pub-lib")
    uv_install(python, *indexes, "pub-lib")
    assert installed(python, tmp_path) == {"pub-lib==2.0", "pub-base==1.0"}


def test_a_pinned_name_stays_frozen_until_purged(
    server: Server, upstream: StaticIndex, tmp_path: Path
) -> None:
    first = new_venv(tmp_path / "first")
    pip_install(first, "--index-url", server.index_url, "pub-lib")
    assert installed(first, tmp_path) == {"pub-lib==2.0", "pub-base==1.0"}
    admin(server, "pin", "pub-base")
    pages = upstream.hits["/simple/pub-base/"]  # ttl = 0: pip's requests each asked upstream
    upstream.add(make_wheel(tmp_path / "later", "pub-base", "1.2"))

    frozen = new_venv(tmp_path / "frozen")
    pip_install(frozen, "--index-url", server.index_url, "pub-base")
    assert installed(frozen, tmp_path) == {"pub-base==1.0"}
    assert upstream.hits["/simple/pub-base/"] == pages
    assert upstream.hits["/files/pub_base-1.0-py3-none-any.whl"] == 1

    # A purge drops the frozen page and its files: the page is fetched (and frozen) again.
    assert "purged pub-base: its page and 1 stored file(s)" in admin(server, "purge", "pub-base")
    again = new_venv(tmp_path / "again")
    uv_install(again, "--index-url", server.index_url, "pub-base==1.0")
    assert upstream.hits["/simple/pub-base/"] in (pages + 1, pages + 2)  # once per worker at most
    pages = upstream.hits["/simple/pub-base/"]
    assert upstream.hits["/files/pub_base-1.0-py3-none-any.whl"] == 2  # fetched, checked again
    newest = new_venv(tmp_path / "newest")
    uv_install(newest, "--index-url", server.index_url, "pub-base")
    assert installed(newest, tmp_path) == {"pub-base==1.2"}
    assert upstream.hits["/simple/pub-base/"] == pages  # still pinned
