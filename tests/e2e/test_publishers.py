"""The publisher matrix: every client the docs show uploads to a real `pryv start`, then pip and uv
install the package back. The commands are read from docs/packages.md and run as shown, with the
placeholder URL pointed at the test server, so the docs cannot drift from what works.
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.credentials import basic_header
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.docs_commands import docs_block
from tests.docs_commands import docs_file
from tests.docs_commands import substitute
from tests.e2e.servers import Server
from tests.e2e.servers import twine_upload
from tests.e2e.tools import DOCS_PASSWORD
from tests.e2e.tools import DOCS_USER
from tests.e2e.tools import FILE_KEYRING
from tests.e2e.tools import add_docs_user
from tests.e2e.tools import docs_env
from tests.e2e.tools import imported_value
from tests.e2e.tools import install_venv
from tests.e2e.tools import run_block
from tests.e2e.tools import shared_dir
from tests.e2e.tools import tool_venv
from tests.e2e.tools import venv_env
from tests.e2e.tools import write_project

pytestmark = pytest.mark.e2e

PAGE = "packages.md"
PROJECT = "myproject"
PUBLISHERS = ["twine", "uv", "poetry", "hatch", "flit", "pdm"]
# The docs blocks this module runs (tests/unit/test_docs.py checks every command is claimed).
DOCS_BLOCKS = [(PAGE, f"Uploading with {tool}") for tool in PUBLISHERS] + [
    (PAGE, heading)
    for heading in (
        "Uploading with a .pypirc",
        "Installing with pip",
        "Installing with uv",
        "pip.conf",
        "uv.toml",
        "Keyring",
    )
]


@pytest.fixture(scope="session")
def tools_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_dir(tmp_path_factory)


def listed_files(server: Server, project: str) -> set[str]:
    """The filenames /simple/<project>/ lists, read with the docs' user."""
    request = urllib.request.Request(f"{server.url}/simple/{project}/")
    request.add_header("Authorization", basic_header(DOCS_USER, DOCS_PASSWORD))
    with urllib.request.urlopen(request, timeout=30) as response:
        return set(re.findall(r">([^<]+\.(?:whl|tar\.gz))<", response.read().decode()))


def install_back(server: Server, tmp_path: Path, expected: str, heading: str) -> None:
    """Run the docs' install block in a fresh venv and import the package it installed."""
    base = docs_env(tmp_path / "home-install", PIP_CONFIG_FILE="/dev/null")
    bin_dir = install_venv(tmp_path / f"venv-{heading.split()[-1]}", base)
    env = venv_env(bin_dir, base)
    run_block(docs_block(PAGE, heading), server, tmp_path, env)
    assert imported_value(bin_dir, PROJECT) == expected


@pytest.mark.parametrize("tool", PUBLISHERS)
def test_publisher_uploads_then_pip_and_uv_install_back(
    tool: str, server: Server, tmp_path: Path, tools_root: Path
) -> None:
    add_docs_user(server)
    tool_bins = [] if tool in {"twine", "uv"} else [tool_venv(tools_root, tool)]
    project = write_project(tmp_path / "project", PROJECT, tool, value=f"published by {tool}")
    env = docs_env(tmp_path / "home", *tool_bins)

    run_block(docs_block(PAGE, f"Uploading with {tool}"), server, project, env)

    assert listed_files(server, PROJECT) == {
        "myproject-1.0.0-py3-none-any.whl",
        "myproject-1.0.0.tar.gz",
    }
    install_back(server, tmp_path, f"published by {tool}", "Installing with pip")
    install_back(server, tmp_path, f"published by {tool}", "Installing with uv")


def _publish_with_twine(server: Server, tmp_path: Path) -> list[Path]:
    add_docs_user(server)
    dist = tmp_path / "project" / "dist"
    files = [
        make_wheel(dist, PROJECT, "1.0.0", payload="VALUE = 'from twine'\n"),
        make_sdist(dist, PROJECT, "1.0.0"),
    ]
    twine_upload(server, *files)
    return files


def test_twine_uploads_with_the_docs_pypirc(server: Server, tmp_path: Path) -> None:
    add_docs_user(server)
    dist = tmp_path / "project" / "dist"
    make_wheel(dist, PROJECT, "2.0.0")
    home = tmp_path / "home"
    env = docs_env(home)
    pypirc = substitute(docs_file(PAGE, "Uploading with a .pypirc", "ini"), server.url)
    (home / ".pypirc").write_text(pypirc)
    run_block(docs_block(PAGE, "Uploading with a .pypirc"), server, dist.parent, env)
    assert listed_files(server, PROJECT) == {"myproject-2.0.0-py3-none-any.whl"}


def test_pip_installs_with_the_docs_pip_conf(server: Server, tmp_path: Path) -> None:
    _publish_with_twine(server, tmp_path)
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(substitute(docs_file(PAGE, "pip.conf", "ini"), server.url))
    base = docs_env(tmp_path / "home", PIP_CONFIG_FILE=str(pip_conf))
    bin_dir = install_venv(tmp_path / "venv", base)
    run_block(docs_block(PAGE, "pip.conf"), server, tmp_path, venv_env(bin_dir, base))
    assert imported_value(bin_dir, PROJECT) == "from twine"


def test_uv_installs_with_the_docs_uv_toml(server: Server, tmp_path: Path) -> None:
    _publish_with_twine(server, tmp_path)
    home = tmp_path / "home"
    base = docs_env(home, PIP_CONFIG_FILE="/dev/null")
    (home / ".config" / "uv").mkdir(parents=True)
    uv_toml = substitute(docs_file(PAGE, "uv.toml", "toml"), server.url)
    (home / ".config" / "uv" / "uv.toml").write_text(uv_toml)
    bin_dir = install_venv(tmp_path / "venv", base)
    run_block(docs_block(PAGE, "uv.toml"), server, tmp_path, venv_env(bin_dir, base))
    assert imported_value(bin_dir, PROJECT) == "from twine"


def test_pip_installs_with_a_password_from_the_keyring(server: Server, tmp_path: Path) -> None:
    """The docs install keyring from PyPI; `keyring set` reads the password from stdin here."""
    _publish_with_twine(server, tmp_path)
    backend = tmp_path / "backend"
    backend.mkdir()
    (backend / "file_keyring.py").write_text(FILE_KEYRING)
    base = docs_env(tmp_path / "home", PIP_CONFIG_FILE="/dev/null")
    bin_dir = install_venv(tmp_path / "venv", base)
    env = venv_env(
        bin_dir, base, PYTHONPATH=str(backend), PYTHON_KEYRING_BACKEND="file_keyring.FileKeyring"
    )
    run_block(docs_block(PAGE, "Keyring"), server, tmp_path, env, stdin=f"{DOCS_PASSWORD}\n")
    assert imported_value(bin_dir, PROJECT) == "from twine"
    assert DOCS_PASSWORD in (backend / "keyring.json").read_text()


def test_docs_pip_install_with_a_wrong_password_fails(server: Server, tmp_path: Path) -> None:
    """The install command really authenticates: with a wrong password it finds nothing."""
    _publish_with_twine(server, tmp_path)
    base = docs_env(tmp_path / "home", PIP_CONFIG_FILE="/dev/null")
    bin_dir = install_venv(tmp_path / "venv", base)
    (command,) = docs_block(PAGE, "Installing with pip")
    command = substitute(command, server.url).replace(":wonderland@", ":wrong@")
    result = subprocess.run(
        ["bash", "-c", command], env=venv_env(bin_dir, base), capture_output=True, text=True,
        timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    assert "No matching distribution found for myproject" in result.stderr
    assert re.search(r"path=/simple/myproject/ status=401", server.log_text())
