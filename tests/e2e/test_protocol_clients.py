"""The modern index protocol with real clients: pip, uv and pypi-simple against `pryv start`.

One server per module (with the access log on) serves a dependency chain
``chain-app -> chain-lib -> chain-base`` and a project ``yanky`` whose 2.0 is yanked.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pypi_simple import ACCEPT_HTML_ONLY
from pypi_simple import ACCEPT_JSON_ONLY
from pypi_simple import PyPISimple

from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import clean_env
from tests.e2e.servers import pip
from tests.e2e.servers import run
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload

pytestmark = pytest.mark.e2e

# pryv's access log line (pryv.access): ... method=GET path=/packages/x.whl status=200 ...
REQUEST_LINE = re.compile(r"pryv\.access: method=GET path=(/\S*) status=(\d{3})")


@dataclass
class Registry:
    server: Server
    dists: dict[str, Path]

    def requests_since(self, offset: int) -> list[tuple[str, str]]:
        """The (path, status) of every GET the server logged after ``offset`` bytes of log."""
        text = self.server.log.read_bytes()[offset:].decode(errors="replace")
        return REQUEST_LINE.findall(text)

    def log_size(self) -> int:
        return self.server.log.stat().st_size


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    root = tmp_path_factory.mktemp("protocol-server")
    dist = root / "dist"
    dists = {
        "app": make_wheel(dist, "chain-app", "1.0", requires_dist=["chain-lib>=1"]),
        "lib1": make_wheel(dist, "chain-lib", "1.0", requires_dist=["chain-base"]),
        "lib2": make_wheel(
            dist, "chain-lib", "2.0", requires_dist=["chain-base>=1"], requires_python=">=3.8"
        ),
        "lib2-sdist": make_sdist(dist, "chain-lib", "2.0", metadata_version="2.2"),
        "base": make_wheel(dist, "chain-base", "1.0"),
        "yanky1": make_wheel(dist, "yanky", "1.0"),
        "yanky2": make_wheel(dist, "yanky", "2.0"),
    }
    server = start_with_user(root, extra="debug = true\n")
    try:
        twine_upload(server, *dists.values())
        run(
            tool("pryv"),
            "yank",
            "yanky",
            "2.0",
            "--reason",
            "broken build",
            "-c",
            str(server.config),
        )
        yield Registry(server, dists)
    finally:
        stop_server(server)


def test_pip_resolves_a_dependency_chain_from_core_metadata_without_downloading_wheels(
    registry: Registry, tmp_path: Path
) -> None:
    """PEP 658/714: pip reads `<file>.metadata`, never the wheels, to resolve a dry run."""
    report = tmp_path / "report.json"
    offset = registry.log_size()
    result = pip(
        "install", "--dry-run", "--ignore-installed", "-v", "--report", str(report),
        "--index-url", registry.server.index_url, "chain-app",
    )  # fmt: skip
    installed = {
        item["metadata"]["name"]: item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert installed == {"chain-app": "1.0", "chain-lib": "2.0", "chain-base": "1.0"}
    requests = registry.requests_since(offset)
    metadata_fetches = [path for path, status in requests if path.endswith(".metadata")]
    assert len(metadata_fetches) == 3, requests
    assert all(status == "200" for _, status in requests)
    downloads = [path for path, _ in requests if path.endswith((".whl", ".tar.gz"))]
    assert downloads == [], f"pip downloaded distributions to resolve: {downloads}"
    # pip's own log agrees: every "Downloading" line is a .metadata file.
    fetched = [line for line in result.stdout.splitlines() if "Downloading " in line]
    assert len(fetched) == 3, result.stdout
    assert all(".whl.metadata" in line for line in fetched), fetched


def test_pip_download_fetches_metadata_then_only_the_chosen_files(
    registry: Registry, tmp_path: Path
) -> None:
    target = tmp_path / "downloads"
    offset = registry.log_size()
    pip("download", "--index-url", registry.server.index_url, "-d", str(target), "chain-app")
    got = sorted(path.name for path in target.iterdir())
    wanted = sorted(registry.dists[key].name for key in ("app", "lib2", "base"))
    assert got == wanted
    requests = registry.requests_since(offset)
    downloads = sorted(
        path.rsplit("/", 1)[1] for path, _ in requests if path.endswith((".whl", ".tar.gz"))
    )
    assert downloads == wanted  # each chosen wheel once, nothing else (no lib 1.0, no sdist)
    assert sum(path.endswith(".metadata") for path, _ in requests) == 3


def test_pip_skips_a_yanked_release_unless_pinned(registry: Registry, tmp_path: Path) -> None:
    """PEP 592: `yanky` 2.0 is yanked, so pip picks 1.0, and takes 2.0 only for ==2.0."""
    index = registry.server.index_url

    def chosen(requirement: str) -> tuple[str, str]:
        report = tmp_path / "report.json"
        result = pip(
            "install", "--dry-run", "--ignore-installed", "--report", str(report),
            "--index-url", index, requirement,
        )  # fmt: skip
        return json.loads(report.read_text())["install"][0]["metadata"]["version"], result.stderr

    version, _ = chosen("yanky")
    assert version == "1.0"
    version, warnings = chosen("yanky==2.0")
    assert version == "2.0"
    assert "yanked" in warnings
    assert "broken build" in warnings


def uv(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("uv"), *args, "--no-cache", cwd=cwd, env=clean_env())


def test_uv_pip_install_and_compile(registry: Registry, tmp_path: Path, venv: Path) -> None:
    index = registry.server.index_url
    python = str(venv / "bin" / "python")
    uv(
        "pip",
        "install",
        "--python",
        python,
        "--index-url",
        index,
        "chain-app",
        "yanky",
        cwd=tmp_path,
    )
    frozen = uv("pip", "freeze", "--python", python, cwd=tmp_path).stdout
    assert set(frozen.split()) == {
        "chain-app==1.0", "chain-lib==2.0", "chain-base==1.0", "yanky==1.0",
    }  # fmt: skip

    (tmp_path / "requirements.in").write_text("chain-app\nyanky\n")
    compiled = uv(
        "pip", "compile", "requirements.in", "--index-url", index, "--python", python,
        "--no-header", "--no-annotate", cwd=tmp_path,
    ).stdout  # fmt: skip
    pins = [line.strip() for line in compiled.splitlines() if "==" in line]
    assert pins == ["chain-app==1.0", "chain-base==1.0", "chain-lib==2.0", "yanky==1.0"]


@pytest.mark.parametrize("accept", [ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY], ids=["html", "json"])
def test_pypi_simple_parses_our_pages(registry: Registry, accept: str) -> None:
    with PyPISimple(
        f"{registry.server.url}/simple/", auth=(USER, PASSWORD), accept=accept
    ) as client:
        index = client.get_index_page()
        assert {"chain-app", "chain-lib", "chain-base", "yanky"} <= set(index.projects)
        assert index.repository_version == "1.4"
        page = client.get_project_page("chain-lib")
        assert page.repository_version == "1.4"
        packages = {package.filename: package for package in page.packages}
        assert set(packages) == {registry.dists[k].name for k in ("lib1", "lib2", "lib2-sdist")}
        wheel = packages[registry.dists["lib2"].name]
        assert wheel.requires_python == ">=3.8"
        assert set(wheel.digests) == {"sha256"}
        assert wheel.has_metadata is True
        assert wheel.metadata_digests is not None
        metadata = client.get_package_metadata(wheel)  # checks the digest
        assert "Requires-Dist: chain-base>=1" in metadata
        sdist = packages[registry.dists["lib2-sdist"].name]
        assert sdist.has_metadata is True  # Metadata-Version 2.2 (PEP 643)
        if accept == ACCEPT_JSON_ONLY:
            assert page.versions == ["1.0", "2.0"]
            assert wheel.size == registry.dists["lib2"].stat().st_size
            assert wheel.upload_time is not None
        yanky = {p.filename: p for p in client.get_project_page("yanky").packages}
        assert yanky[registry.dists["yanky2"].name].is_yanked
        assert yanky[registry.dists["yanky2"].name].yanked_reason == "broken build"
        assert not yanky[registry.dists["yanky1"].name].is_yanked
