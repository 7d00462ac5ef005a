"""API tokens with the real clients: publish with ``__token__``, install with a read token.

The tokens are made with ``pryv token create`` against the running server's storage, as an admin
would; the server sees them (and their revocation) on its next request.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.docs_commands import docs_block
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import clean_env
from tests.e2e.servers import pip
from tests.e2e.servers import run
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload
from tests.e2e.tools import docs_env
from tests.e2e.tools import imported_value
from tests.e2e.tools import install_venv
from tests.e2e.tools import run_block
from tests.e2e.tools import shared_dir
from tests.e2e.tools import tool_venv
from tests.e2e.tools import venv_env
from tests.e2e.tools import write_project

pytestmark = pytest.mark.e2e

# The docs blocks this module runs (tests/unit/test_docs.py checks every command is claimed).
DOCS_BLOCKS = [("permissions.md", "Using a token")]


def create_token(server: Server, role: str, *options: str) -> str:
    result = run(tool("pryv"), "token", "create", USER, "--role", role, "-c", str(server.config),
                 *options)  # fmt: skip
    return result.stdout.strip()


def token_url(server: Server, secret: str) -> str:
    return f"http://__token__:{secret}@{server.url.removeprefix('http://')}/simple/"


@pytest.fixture(scope="session")
def tools_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_dir(tmp_path_factory)


def test_twine_publishes_and_pip_and_uv_install_with_tokens(
    server: Server, tmp_path: Path, venv: Path
) -> None:
    upload = create_token(server, "upload", "--description", "CI")
    wheel = make_wheel(tmp_path / "dist", "tokendemo", "1.0", payload="VALUE = 'by token'\n")
    twine_upload(server, wheel, user="__token__", password=upload)

    read = create_token(server, "read")
    refused = twine_upload(
        server, make_wheel(tmp_path / "d2", "tokendemo", "2.0"), check=False,
        user="__token__", password=read,
    )  # fmt: skip
    assert refused.returncode != 0
    assert re.search(r"\b403\b", refused.stdout + refused.stderr)

    env = clean_env(PIP_CONFIG_FILE="/dev/null", UV_NO_CONFIG="1")
    pip(
        "install",
        "--index-url",
        token_url(server, read),
        "tokendemo",
        python=venv / "bin" / "python",
    )
    check = run(str(venv / "bin" / "python"), "-c", "import tokendemo; print(tokendemo.VALUE)")
    assert check.stdout.strip() == "by token"

    uv_venv = tmp_path / "uv-venv"
    run(tool("uv"), "venv", "-q", str(uv_venv), env=env)
    run(tool("uv"), "pip", "install", "-q", "--no-cache", "--python", str(uv_venv / "bin" / "python"),
        "--index-url", token_url(server, read), "tokendemo", env=env)  # fmt: skip
    listed = run(tool("pryv"), "token", "list", "-c", str(server.config)).stdout.splitlines()
    (ci,) = [line for line in listed if line.startswith(upload.split("-")[1])]
    assert "never used" not in ci
    assert "CI" in ci


def test_uv_publish_with_a_token_and_revocation(server: Server, tmp_path: Path) -> None:
    secret = create_token(server, "upload")
    dist = tmp_path / "dist"
    make_wheel(dist, "uvtoken", "1.0")
    env = clean_env(PIP_CONFIG_FILE="/dev/null", UV_NO_CONFIG="1")
    run(tool("uv"), "publish", "--publish-url", f"{server.url}/simple/", "-u", "__token__",
        "-p", secret, str(dist / "uvtoken-1.0-py3-none-any.whl"), env=env)  # fmt: skip
    token_id = secret.split("-")[1]
    run(tool("pryv"), "token", "revoke", token_id, "-c", str(server.config))
    make_wheel(tmp_path / "d2", "uvtoken", "2.0")
    refused = run(tool("uv"), "publish", "--publish-url", f"{server.url}/simple/", "-u",
                  "__token__", "-p", secret, str(tmp_path / "d2" / "uvtoken-2.0-py3-none-any.whl"),
                  env=env, check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "revoked" in refused.stdout + refused.stderr


def test_poetry_publishes_with_a_token(server: Server, tmp_path: Path, tools_root: Path) -> None:
    bins = tool_venv(tools_root, "poetry")
    project = write_project(tmp_path / "project", "poetrytoken", "poetry", value="by poetry")
    secret = create_token(server, "upload", "--project", "poetrytoken")
    env = docs_env(tmp_path / "home", bins)
    env.update(
        POETRY_REPOSITORIES_PRYV_URL=f"{server.url}/simple/",
        POETRY_HTTP_BASIC_PRYV_USERNAME="__token__",
        POETRY_HTTP_BASIC_PRYV_PASSWORD=secret,
    )
    result = subprocess.run(
        ["poetry", "publish", "--build", "-r", "pryv", "--no-interaction"],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr + server.log_text()[-3000:]
    listed = run(tool("pryv"), "token", "list", "-c", str(server.config)).stdout
    assert "poetrytoken" in listed


def test_the_docs_token_commands(server: Server, tmp_path: Path) -> None:
    secret = create_token(server, "upload", "--project", "acme-*")
    dist = tmp_path / "project" / "dist"
    make_wheel(dist, "acme-tools", "1.0", payload="VALUE = 'acme'\n")
    make_sdist(dist, "acme-tools", "1.0")
    base = docs_env(tmp_path / "home", PIP_CONFIG_FILE="/dev/null", UV_NO_CONFIG="1")
    bin_dir = install_venv(tmp_path / "venv", base)
    env = venv_env(bin_dir, base, PRYV_TOKEN=secret)
    run_block(docs_block("permissions.md", "Using a token"), server, dist.parent, env)
    assert imported_value(bin_dir, "acme_tools") == "acme"
