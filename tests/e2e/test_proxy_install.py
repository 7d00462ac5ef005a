"""pip and uv install through `pryv start` a local project whose dependencies only upstream has."""

from __future__ import annotations

import os
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
from tests.e2e.servers import twine_upload
from tests.upstream_index import StaticIndex

pytestmark = pytest.mark.e2e


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[StaticIndex]:
    index = StaticIndex(tmp_path / "upstream")
    folder = tmp_path / "upstream-dists"
    index.add(make_wheel(folder, "pub-lib", "2.0", requires_dist=["pub-base>=1"]))
    index.add(make_wheel(folder, "pub-base", "1.0"))
    index.add(make_wheel(folder, "pub-base", "1.5", requires_python=">=4"), requires_python=">=4")
    # A confusion attempt: a higher version of the private name, published upstream.
    index.add(make_wheel(folder, "acme-app", "99.0", payload="raise SystemExit('pwned')"))
    yield index
    index.close()


@pytest.fixture
def server(tmp_path: Path, upstream: StaticIndex) -> Iterator[Server]:
    running = proxy_server(tmp_path / "server", upstream.url)
    yield running
    stop_server(running)


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_one_index_url_installs_a_local_project_and_its_upstream_dependencies(
    server: Server, upstream: StaticIndex, tmp_path: Path, client: str
) -> None:
    twine_upload(
        server, make_wheel(tmp_path / "local", "acme-app", "1.0", requires_dist=["pub-lib"])
    )
    python = new_venv(tmp_path / "venv")
    env = clean_env(**ISOLATED)
    if client == "pip":
        command = [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-cache-dir",
        ]
    else:
        command = [tool("uv"), "pip", "install", "--no-cache", "--python", str(python)]

    run(*command, "--index-url", server.index_url, "acme-app", env=env, cwd=tmp_path)

    assert installed(python, tmp_path) == {"acme-app==1.0", "pub-lib==2.0", "pub-base==1.0"}
    # The private name was never asked upstream, and only the needed files were fetched.
    assert upstream.hits["/simple/acme-app/"] == 0
    assert upstream.hits["/files/acme_app-99.0-py3-none-any.whl"] == 0
    assert upstream.hits["/files/pub_base-1.5-py3-none-any.whl"] == 0


def test_a_second_install_works_with_upstream_down(
    server: Server, upstream: StaticIndex, tmp_path: Path
) -> None:
    twine_upload(
        server, make_wheel(tmp_path / "local", "acme-app", "1.0", requires_dist=["pub-lib"])
    )
    env = clean_env(**ISOLATED)
    for attempt in ("first", "second"):
        python = new_venv(tmp_path / attempt)
        run(
            tool("uv"), "pip", "install", "--no-cache", "--python", str(python),
            "--index-url", server.index_url, "acme-app", env=env, cwd=tmp_path,
        )  # fmt: skip
        assert "pub-lib==2.0" in installed(python, tmp_path)
        upstream.status = 503  # from now on upstream fails: pryv serves its cache


@pytest.mark.skipif(
    os.environ.get("PRYV_TEST_PYPI") != "1", reason="talks to the real PyPI: PRYV_TEST_PYPI=1"
)
def test_pip_and_uv_install_a_deep_tree_from_the_real_pypi(tmp_path: Path) -> None:
    running = proxy_server(tmp_path / "server", "https://pypi.org/simple/", timeout="30")
    try:
        env = clean_env(**ISOLATED)
        pip_python = new_venv(tmp_path / "pip-venv")
        run(
            sys.executable, "-m", "pip", "--python", str(pip_python), "install", "--no-cache-dir",
            "--index-url", running.index_url, "requests", "flask", env=env, cwd=tmp_path,
            timeout=600,
        )  # fmt: skip
        uv_python = new_venv(tmp_path / "uv-venv")
        run(
            tool("uv"), "pip", "install", "--no-cache", "--python", str(uv_python),
            "--index-url", running.index_url, "requests", "flask", "django", env=env,
            cwd=tmp_path, timeout=600,
        )  # fmt: skip
        names = {line.split("==")[0].lower() for line in installed(uv_python, tmp_path)}
        assert {"requests", "urllib3", "idna", "flask", "werkzeug", "django"} <= names
        assert {"requests", "flask"} <= {
            line.split("==")[0].lower() for line in installed(pip_python, tmp_path)
        }
    finally:
        stop_server(running)
