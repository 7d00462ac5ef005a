"""docs/lifecycle.md run as shown against a real ``pryv start``, with pip, uv, twine and curl.

PEP 792: pip and uv cannot install from a quarantined project (its pages offer no file) and the
JSON page carries ``project-status``. Deletion: a deleted file is gone at once and its filename
is refused to twine forever.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.docs_commands import docs_block
from tests.docs_commands import docs_file
from tests.e2e.servers import Server
from tests.e2e.servers import clean_env
from tests.e2e.servers import pip
from tests.e2e.servers import run
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload
from tests.e2e.tools import add_docs_user
from tests.e2e.tools import docs_env
from tests.e2e.tools import docs_get
from tests.e2e.tools import home_with_config
from tests.e2e.tools import run_block
from tests.e2e.tools import run_shown

pytestmark = pytest.mark.e2e

PAGE = "lifecycle.md"
STATUS_CLI = "Setting a status from the command line"
STATUS_HTTP = "Setting a status over HTTP"
DELETE_CLI = "Deleting from the command line"
DELETE_HTTP = "Deleting over HTTP"
DOCS_BLOCKS = [(PAGE, STATUS_CLI), (PAGE, STATUS_HTTP), (PAGE, DELETE_CLI), (PAGE, DELETE_HTTP)]
JSON_V1 = "application/vnd.pypi.simple.v1+json"


def simple_page(server: Server, accept: str = JSON_V1) -> tuple[int, str]:
    return docs_get(server, "/simple/myproject/", accept)


def project_status(server: Server) -> dict[str, str]:
    status, text = simple_page(server)
    assert status == 200, text
    return json.loads(text)["project-status"]


def listed(server: Server) -> list[str]:
    status, text = simple_page(server)
    return sorted(file["filename"] for file in json.loads(text)["files"]) if status == 200 else []


def said(result: subprocess.CompletedProcess[str]) -> str:
    """What a client printed, unwrapped (twine folds long lines to the terminal's width)."""
    return " ".join((result.stdout + result.stderr).split())


def curl_shown(heading: str, server: Server, tmp_path: Path) -> None:
    (curl,) = docs_block(PAGE, heading)
    answer = run_block([curl], server, tmp_path, docs_env(tmp_path / "curl-home")).stdout
    assert json.loads(answer) == json.loads(docs_file(PAGE, heading, "json"))


def install(
    server: Server, installer: str, venv: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Resolve ``myproject`` with pip or uv (a dry run: nothing is installed)."""
    python, index = str(venv / "bin" / "python"), server.index_url
    if installer == "pip":
        return pip("install", "--dry-run", "--index-url", index, "myproject",
                   python=venv / "bin" / "python", check=False)  # fmt: skip
    return run(tool("uv"), "pip", "install", "--dry-run", "--python", python, "--index-url", index,
               "myproject", "--no-cache", cwd=cwd, env=clean_env(), check=False)  # fmt: skip


@pytest.fixture
def published(server: Server, tmp_path: Path) -> dict[str, Path]:
    add_docs_user(server)
    dist = tmp_path / "dist"
    files = {
        "wheel1": make_wheel(dist, "myproject", "1.0"),
        "sdist1": make_sdist(dist, "myproject", "1.0"),
        "wheel2": make_wheel(dist, "myproject", "2.0"),
    }
    twine_upload(server, *files.values())
    return files


def test_status_as_shown_and_as_pip_and_uv_see_it(
    server: Server, published: dict[str, Path], tmp_path: Path, venv: Path
) -> None:
    env = home_with_config(server, tmp_path)
    for installer in ("pip", "uv"):
        assert install(server, installer, venv, tmp_path).returncode == 0
    run(tool("pryv"), "status", "myproject", "archived", "--reason", "moved", env=env)
    assert project_status(server) == {"status": "archived", "reason": "moved"}
    refused = twine_upload(server, make_wheel(tmp_path / "new", "myproject", "3.0"), check=False)
    assert refused.returncode != 0
    assert "is archived (moved) and accepts no new files" in said(refused)
    _status, html = simple_page(server, "text/html")
    assert '<meta name="pypi:project-status" content="archived">' in html

    run_shown(PAGE, STATUS_CLI, server, tmp_path, env)  # archived, then active again
    assert project_status(server) == {"status": "active"}

    curl_shown(STATUS_HTTP, server, tmp_path)  # quarantined
    assert project_status(server) == {"status": "quarantined", "reason": "malware"}
    assert listed(server) == []
    for installer in ("pip", "uv"):
        result = install(server, installer, venv, tmp_path)
        assert result.returncode != 0, f"{installer} installed from a quarantined project"
        output = result.stdout + result.stderr
        assert not re.search(r"\b401\b", output), (
            "a quarantined project must not look like a login failure"
        )
        assert "myproject" in output
    run(tool("pryv"), "status", "myproject", "active", env=env)
    assert install(server, "uv", venv, tmp_path).returncode == 0


def test_deletion_as_shown(server: Server, published: dict[str, Path], tmp_path: Path) -> None:
    env = home_with_config(server, tmp_path)
    run_shown(PAGE, DELETE_CLI, server, tmp_path, env)
    assert listed(server) == [published["wheel2"].name]
    assert not list((server.root / "packages").rglob("myproject-1.0*"))
    for name in ("wheel1", "sdist1"):
        again = twine_upload(server, published[name], check=False)
        assert again.returncode != 0
        assert "has already been used by a file that was deleted" in said(again)
    curl_shown(DELETE_HTTP, server, tmp_path)
    assert listed(server) == []
