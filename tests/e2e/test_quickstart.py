"""Run the quickstart page as a new user would: install pryv in a venv, start it, add a user,
build and publish a project, install it back. Every command is read from docs/quickstart.md.

`pip install pryv` installs from the wheels the Dockerfile's build stage produced (pryv is not
taken from PyPI), and `~/.pryv/pryv.ini` names a free port instead of 5555 so tests can run in
parallel; everything else runs as shown, in a private HOME.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.docs_commands import docs_block
from tests.e2e.servers import Server
from tests.e2e.servers import free_port
from tests.e2e.servers import stop_server
from tests.e2e.servers import wait_ready
from tests.e2e.tools import build_stage_wheelhouse
from tests.e2e.tools import docs_env
from tests.e2e.tools import imported_value
from tests.e2e.tools import install_venv
from tests.e2e.tools import run_block
from tests.e2e.tools import shared_dir
from tests.e2e.tools import venv_env
from tests.e2e.tools import write_project

pytestmark = pytest.mark.e2e

PAGE = "quickstart.md"
DOCS_BLOCKS = [
    (PAGE, "Install"),
    (PAGE, "Start"),
    (PAGE, "Add a user"),
    (PAGE, "Publish and install"),
]


def test_quickstart_from_install_to_pip_install(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wheelhouse = build_stage_wheelhouse(shared_dir(tmp_path_factory))
    home = tmp_path / "home"
    port = free_port()
    (home / ".pryv").mkdir(parents=True)
    (home / ".pryv" / "pryv.ini").write_text(f"[server]\nport = {port}\n")
    url = f"http://127.0.0.1:{port}"
    env = docs_env(home, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse))

    # The page installs dist/pryv-*.whl from a checkout: the Dockerfile's build stage made one.
    run_block(docs_block(PAGE, "Install"), url, wheelhouse.parent, env)
    pryv_bin = home / ".pryv-venv" / "bin"
    assert (pryv_bin / "pryv").exists()
    assert subprocess.run([str(pryv_bin / "python"), "-c", "import boto3"]).returncode == 0
    env = venv_env(pryv_bin, docs_env(home))

    start, version, health = docs_block(PAGE, "Start")
    assert start == "pryv start"
    log = tmp_path / "pryv.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", start], env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=home,
        )  # fmt: skip
    server = Server(url, home, home / ".pryv" / "pryv.ini", process, log)
    try:
        wait_ready(url, process, log)
        assert run_block([version], server, home, env).stdout.strip() == "0.1.0"
        # The page shows the default port; this server listens on a free one.
        health = health.replace("http://127.0.0.1:5555", url)
        assert json.loads(run_block([health], server, home, env).stdout)["status"] == "ok"

        run_block(
            docs_block(PAGE, "Add a user"), server, home, env, stdin="wonderland\nwonderland\n"
        )
        assert "alice" in (home / ".pryv" / "users.json").read_text()

        # Publish and install: build with the docs' tools (from this test run's venv), upload,
        # then install into a fresh venv.
        project = write_project(tmp_path / "myproject", "myproject", "twine", "quickstart")
        user_env = docs_env(tmp_path / "author-home", PIP_CONFIG_FILE="/dev/null")
        bin_dir = install_venv(tmp_path / "client-venv", user_env)
        publish, upload, install = docs_block(PAGE, "Publish and install")
        run_block([publish, upload], server, project, docs_env(tmp_path / "author-home"))
        install_env = venv_env(bin_dir, user_env)
        run_block([install], server, tmp_path, install_env)
        assert imported_value(bin_dir, "myproject") == "quickstart"
    finally:
        stop_server(server)
    deadline = time.monotonic() + 5
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
