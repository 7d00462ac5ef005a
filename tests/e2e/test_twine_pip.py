"""The first-run story with the real clients: twine uploads, pip installs, against `pryv start`."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from tests.concurrency import all_at_once
from tests.credentials import basic_header
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.e2e.servers import EVERY_HTTP_SERVER
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import pip
from tests.e2e.servers import twine_upload
from tests.uploads import upload_body

pytestmark = pytest.mark.e2e


def get(server: Server, path: str, auth: bool = True) -> tuple[int, bytes, Message]:
    """GET ``path``: status, body and headers (looked up in any case, as HTTP names are)."""
    request = urllib.request.Request(server.url + path)
    if auth:
        request.add_header("Authorization", basic_header(USER, PASSWORD))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


@EVERY_HTTP_SERVER
def test_twine_upload_then_pip_install_in_fresh_venv(
    server: Server, tmp_path: Path, venv: Path
) -> None:
    dist = tmp_path / "dist"
    wheel = make_wheel(dist, "My_Project", "1.0.0", requires_python=">=3.8")
    sdist = make_sdist(dist, "My_Project", "1.0.0", requires_python=">=3.8")
    twine_upload(server, wheel, sdist)

    python = venv / "bin" / "python"
    pip("install", "--index-url", server.index_url, "my.project", python=python)
    result = pip("list", "--format=freeze", python=python)
    assert "my.project==1.0.0" in result.stdout.lower().replace("_", ".").replace("-", ".")

    downloads = tmp_path / "downloads"
    pip(
        "download", "--no-deps", "--index-url", server.index_url, "-d", str(downloads), "MY_PROJECT"
    )
    assert (downloads / wheel.name).read_bytes() == wheel.read_bytes()
    # pip would build an sdist to read it; fetch it by its listed URL instead.
    status, body, _ = get(server, f"/packages/{sdist.name}")
    assert (status, body) == (200, sdist.read_bytes())


def test_pip_picks_latest_final_release_and_honours_requires_python(
    server: Server, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    files = [
        make_wheel(dist, "chooser", "1.0"),
        make_wheel(dist, "chooser", "1.1"),
        make_wheel(dist, "chooser", "2.0rc1"),
        make_wheel(dist, "chooser", "3.0", requires_python="<3"),
    ]
    twine_upload(server, *files)
    downloads = tmp_path / "downloads"
    pip("download", "--no-deps", "--index-url", server.index_url, "-d", str(downloads), "chooser")
    assert [path.name for path in downloads.iterdir()] == ["chooser-1.1-py3-none-any.whl"]


def test_reupload_identical_is_ok_and_different_bytes_conflict(
    server: Server, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "a", "dupe", "1.0")
    twine_upload(server, wheel)
    twine_upload(server, wheel)  # identical bytes: silent success
    other = make_wheel(tmp_path / "b", "dupe", "1.0", payload="CHANGED = True\n")
    result = twine_upload(server, other, check=False)
    assert result.returncode != 0
    assert re.search(r"\b409\b", result.stdout + result.stderr)
    assert "File already exists" in result.stdout + result.stderr
    status, body, _ = get(server, f"/packages/{wheel.name}")
    assert status == 200
    assert body == wheel.read_bytes()


@EVERY_HTTP_SERVER
def test_requests_without_credentials_get_401_with_basic_challenge(server: Server) -> None:
    status, _, headers = get(server, "/simple/", auth=False)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('Basic realm="pryv"')


def _post_upload(server: Server, path: Path) -> int:
    """Post one file the way twine does, with a multipart body built by hand."""
    body, content_type = upload_body(path.name, path.read_bytes())
    request = urllib.request.Request(f"{server.url}/legacy/", data=body, method="POST")
    request.add_header("Content-Type", content_type)
    request.add_header("Authorization", basic_header(USER, PASSWORD))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_twenty_concurrent_uploads_to_one_new_project_are_all_listed(
    server: Server, tmp_path: Path
) -> None:
    wheels = [make_wheel(tmp_path / "dist", "crowd", f"1.{n}") for n in range(20)]
    statuses = all_at_once(20, lambda n: _post_upload(server, wheels[n]))
    assert statuses == [200] * 20
    status, body, _ = get(server, "/simple/crowd/")
    assert status == 200
    listed = set(re.findall(r">(crowd-[^<]+\.whl)<", body.decode()))
    assert listed == {wheel.name for wheel in wheels}


@EVERY_HTTP_SERVER
def test_racing_uploads_of_one_filename_exactly_one_wins(server: Server, tmp_path: Path) -> None:
    contenders = [
        make_wheel(tmp_path / f"c{n}", "racer", "1.0", payload=f"CONTENDER = {n}\n")
        for n in range(8)
    ]
    statuses = all_at_once(8, lambda n: _post_upload(server, contenders[n]))
    assert sorted(statuses) == [200] + [409] * 7
    winner = contenders[statuses.index(200)]
    status, body, _ = get(server, f"/packages/{winner.name}")
    assert status == 200
    assert body == winner.read_bytes()


@EVERY_HTTP_SERVER
def test_metadata_is_served_like_a_download_by_the_real_server(
    server: Server, tmp_path: Path
) -> None:
    """Under gunicorn (sendfile): Content-Length, a logged size, Range answered with 206."""
    wheel = make_wheel(tmp_path / "dist", "meta-demo", "1.0")
    twine_upload(server, wheel)
    path = f"/packages/{wheel.name}.metadata"
    status, body, headers = get(server, path)
    assert status == 200
    assert b"Name: meta-demo" in body
    assert headers["Content-Length"] == str(len(body))
    request = urllib.request.Request(server.url + path, headers={"Range": "bytes=0-9"})
    request.add_header("Authorization", basic_header(USER, PASSWORD))
    with urllib.request.urlopen(request, timeout=30) as partial:
        assert partial.status == 206
        assert partial.read() == body[:10]
        assert partial.headers["Content-Range"] == f"bytes 0-9/{len(body)}"
    deadline = time.monotonic() + 10
    line = f"path={path} status=200"
    while line not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = next(entry for entry in server.log_text().splitlines() if line in entry)
    assert f"bytes={len(body)} " in logged
