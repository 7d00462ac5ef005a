"""PEP 643: an sdist whose dependencies are Dynamic must not be resolved from its PKG-INFO.

``dynsdist`` 1.0 is published only as an sdist whose PKG-INFO (Metadata 2.2) says
``Dynamic: Requires-Dist`` and lists no dependency; the wheel its build backend makes requires
``dyndep``. Had pryv advertised that PKG-INFO as PEP 658 core metadata, pip, poetry and pdm would
have trusted it and left ``dyndep`` out (the case found in issue 12).
"""

from __future__ import annotations

import json
import textwrap
import urllib.request
from pathlib import Path

import pytest

from tests.credentials import basic
from tests.dists import make_dynamic_sdist
from tests.dists import make_wheel
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import twine_upload
from tests.e2e.tools import docs_env
from tests.e2e.tools import install_venv
from tests.e2e.tools import run_block
from tests.e2e.tools import shared_dir
from tests.e2e.tools import tool_venv
from tests.e2e.tools import venv_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def published(server: Server, tmp_path: Path) -> Server:
    dists = tmp_path / "dists"
    twine_upload(
        server,
        make_dynamic_sdist(dists, "dynsdist", "1.0", "dyndep"),
        make_wheel(dists, "dyndep", "1.0"),
    )
    return server


def test_dynamic_sdist_advertises_no_core_metadata(published: Server) -> None:
    request = urllib.request.Request(
        f"{published.url}/simple/dynsdist/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json", **basic(USER, PASSWORD)},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        (entry,) = json.load(response)["files"]
    assert entry["filename"] == "dynsdist-1.0.tar.gz"
    assert entry.get("core-metadata", False) is False


def test_pip_installs_the_dynamic_dependency(published: Server, tmp_path: Path) -> None:
    env = docs_env(tmp_path / "home", PIP_CONFIG_FILE="/dev/null")
    bin_dir = install_venv(tmp_path / "venv", env)
    commands = [f"pip install --index-url {published.index_url} dynsdist", "pip check"]
    run_block(commands, published, tmp_path, venv_env(bin_dir, env))
    listed = run_block(["pip list --format json"], published, tmp_path, venv_env(bin_dir, env))
    assert {"dynsdist", "dyndep"} <= {item["name"] for item in json.loads(listed.stdout)}


def _consumer(folder: Path, tool_section: str) -> Path:
    folder.mkdir()
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "consumer"
            version = "0.1.0"
            requires-python = ">=3.9"
            dependencies = ["dynsdist"]
            """
        )
        + tool_section
    )
    return folder


def test_poetry_locks_the_dynamic_dependency(
    published: Server, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    poetry = tool_venv(shared_dir(tmp_path_factory), "poetry")
    section = f'\n[[tool.poetry.source]]\nname = "pryv"\nurl = "{published.url}/simple/"\npriority = "primary"\n'
    project = _consumer(tmp_path / "poetry-consumer", section)
    env = docs_env(
        tmp_path / "home",
        poetry,
        POETRY_HTTP_BASIC_PRYV_USERNAME=USER,
        POETRY_HTTP_BASIC_PRYV_PASSWORD=PASSWORD,
    )
    run_block(["poetry lock --no-interaction"], published, project, env)
    assert 'name = "dyndep"' in (project / "poetry.lock").read_text()


def test_pdm_locks_the_dynamic_dependency(
    published: Server, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pdm = tool_venv(shared_dir(tmp_path_factory), "pdm")
    section = f'\n[[tool.pdm.source]]\nname = "pypi"\nurl = "{published.index_url}"\n'
    project = _consumer(tmp_path / "pdm-consumer", section)
    env = docs_env(tmp_path / "home", pdm)
    run_block(["pdm lock"], published, project, env)
    assert 'name = "dyndep"' in (project / "pdm.lock").read_text()
