"""bandersnatch, PyPA's PyPI mirror, mirrors a real `pryv start` with the docs' configuration.

The mirror must hold every uploaded file byte for byte, its simple pages must list them (pip
installs from it), and a second run must fetch only the project that changed: that needs the
serials of /simple/ and the JSON API (docs/api.md, "Serials").
"""

from __future__ import annotations

import hashlib
import re
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.docs_commands import docs_block
from tests.docs_commands import docs_file
from tests.docs_commands import substitute
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import clean_env
from tests.e2e.servers import run
from tests.e2e.servers import twine_upload
from tests.e2e.tools import add_docs_user
from tests.e2e.tools import docs_env
from tests.e2e.tools import run_block
from tests.e2e.tools import shared_dir
from tests.e2e.tools import tool_venv

pytestmark = pytest.mark.e2e

PAGE = "deployment.md"
HEADING = "Mirroring pryv with bandersnatch"
DOCS_BLOCKS = [(PAGE, HEADING)]
DOCS_DIRECTORY = "/srv/pryv-mirror"


@pytest.fixture(scope="session")
def bandersnatch_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tool_venv(shared_dir(tmp_path_factory), "bandersnatch")


def mirror_once(server: Server, workdir: Path, bandersnatch_bin: Path) -> str:
    """Run the docs' command in ``workdir`` (which holds the config); return its log output."""
    env = docs_env(workdir / "home", bandersnatch_bin)
    result = run_block(docs_block(PAGE, HEADING), server, workdir, env, timeout=300)
    return result.stdout + result.stderr


def synced_projects(output: str) -> set[str]:
    """The projects whose JSON document a bandersnatch run fetched."""
    return set(re.findall(r"Fetching metadata for package: (\S+)", output))


def test_bandersnatch_mirrors_pryv_byte_for_byte_then_only_what_changed(
    server: Server, tmp_path: Path, bandersnatch_bin: Path
) -> None:
    add_docs_user(server)
    dist = tmp_path / "dist"
    uploaded = [
        make_wheel(dist, "Alpha", "1.0", requires_python=">=3.8"),
        make_sdist(dist, "Alpha", "1.0", metadata_version="2.2"),
        make_wheel(dist, "beta.pkg", "0.1"),
    ]
    twine_upload(server, *uploaded)
    workdir = tmp_path / "work"
    workdir.mkdir()
    mirror = tmp_path / "mirror"
    config = substitute(docs_file(PAGE, HEADING, "ini"), server.url)
    config = config.replace(DOCS_DIRECTORY, str(mirror))
    (workdir / "bandersnatch.conf").write_text(config + "allow-non-https = true\n")

    first = mirror_once(server, workdir, bandersnatch_bin)

    assert synced_projects(first) == {"alpha", "beta-pkg"}, first
    web = mirror / "web"
    for path in uploaded:
        assert (web / "packages" / path.name).read_bytes() == path.read_bytes()
    alpha_page = (web / "simple" / "alpha" / "index.html").read_text()
    for path in uploaded[:2]:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"../../packages/{path.name}#sha256={digest}" in alpha_page
    index = (web / "simple" / "index.html").read_text()
    assert 'href="alpha/"' in index
    assert 'href="beta-pkg/"' in index
    serial = int((mirror / "status").read_text())
    assert serial == served_serial(server)
    assert pip_download_from(web, "beta.pkg", tmp_path / "pip1") == uploaded[2].read_bytes()

    beta_mtime = (web / "packages" / uploaded[2].name).stat().st_mtime_ns
    newer = make_wheel(dist, "Alpha", "2.0")
    twine_upload(server, newer)

    second = mirror_once(server, workdir, bandersnatch_bin)

    assert synced_projects(second) == {"alpha"}, second
    assert (web / "packages" / newer.name).read_bytes() == newer.read_bytes()
    assert newer.name in (web / "simple" / "alpha" / "index.html").read_text()
    assert (web / "packages" / uploaded[2].name).stat().st_mtime_ns == beta_mtime
    assert int((mirror / "status").read_text()) == served_serial(server) > serial
    assert pip_download_from(web, "alpha", tmp_path / "pip2") == newer.read_bytes()

    third = mirror_once(server, workdir, bandersnatch_bin)
    assert synced_projects(third) == set(), third


def served_serial(server: Server) -> int:
    """The registry's serial, as pryv's /simple/ announces it."""
    host = server.url.removeprefix("http://")
    request = urllib.request.Request(
        f"http://{host}/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    manager.add_password(None, server.url, USER, PASSWORD)
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager))
    with opener.open(request, timeout=30) as response:
        return int(response.headers["X-PyPI-Last-Serial"])


def pip_download_from(web: Path, project: str, target: Path) -> bytes:
    """Download ``project``'s best wheel from the mirror as a file:// index; return its bytes."""
    run(
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
        "--isolated", "--no-cache-dir", "--index-url", (web / "simple").as_uri() + "/",
        "-d", str(target), project,
        env=clean_env(PIP_CONFIG_FILE="/dev/null"),
    )  # fmt: skip
    (downloaded,) = target.iterdir()
    return downloaded.read_bytes()
