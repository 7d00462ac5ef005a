"""A non-editable install of the built wheel serves the API and ships templates and static files."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.credentials import basic_header
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import add_user
from tests.e2e.servers import clean_env
from tests.e2e.servers import free_port
from tests.e2e.servers import run
from tests.e2e.servers import wait_ready
from tests.e2e.servers import write_config

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO), timeout=300)
    (built,) = out.glob("pryv-*.whl")
    return built


def test_wheel_contains_templates_and_static(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "pryv_server/templates/simple/project.html" in names
    assert any(name.startswith("pryv_server/static/") for name in names)
    assert not any(name.startswith(("tests/", "templates/")) for name in names)


def test_pip_install_of_the_wheel_in_a_fresh_venv_serves(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel), timeout=300)
    pryv = venv / "bin" / "pryv"
    assert run(str(pryv), "version").stdout.strip()
    port = free_port()
    root = tmp_path / "data"
    root.mkdir()
    config = write_config(root, port)
    add_user(config)
    log = root / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(pryv), "start", "-c", str(config)], stdout=output, stderr=subprocess.STDOUT,
            env=clean_env(), start_new_session=True, cwd=tmp_path,
        )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}", process, log)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/simple/")
        request.add_header("Authorization", basic_header(USER, PASSWORD))
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            assert b"pypi:repository-version" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=30)
