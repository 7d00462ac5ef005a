"""``pryv start`` with everything on S3 (moto's server over HTTP), driven by twine, pip and HTTP.

The server subprocesses find moto through the standard ``AWS_ENDPOINT_URL`` variable and fake
credentials, exactly as a MinIO deployment would; nothing of pryv is configured for the test.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.bigwheel import make_big_wheel
from tests.bigwheel import sha256_of
from tests.credentials import basic_header
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.docs_commands import docs_block
from tests.docs_commands import docs_file
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import clean_env
from tests.e2e.servers import free_port
from tests.e2e.servers import pip
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload
from tests.e2e.servers import wait_ready
from tests.e2e.tools import DOCS_PASSWORD
from tests.e2e.tools import DOCS_USER
from tests.e2e.tools import docs_env
from tests.s3server import FOREIGN
from tests.s3server import S3
from tests.uploads import upload_fields

pytestmark = pytest.mark.e2e

# docs/storage-s3.md's MinIO example, run against moto (see the test at the end).
DOCS_BLOCKS = [("storage-s3.md", "Point pryv at MinIO")]

MiB = 1024 * 1024


def put_config(s3: S3, key: str, index_ttl: float = 5, extra: str = "") -> str:
    """Write a pryv.ini with every path on S3 to the bucket; return its s3:// URL."""
    text = (
        f"[core]\nprojects-path = {s3.url('registry/projects')}\n"
        f"packages-path = {s3.url('registry/packages')}\nindex-ttl = {index_ttl}\n"
        f"[user]\nusers-path = {s3.url('auth/users.json')}\n"
        f"[server]\nsecret-key = e2e-secret-0123456789\n{extra}"
    )
    s3.client().put_object(Bucket=s3.bucket, Key=key, Body=text.encode())
    return s3.url(key)


def add_user(s3: S3, config_url: str, home: Path) -> None:
    subprocess.run(
        [tool("pryv"), "user", "add", USER, "--password-stdin", "-c", config_url],
        input=PASSWORD.encode(),
        check=True,
        capture_output=True,
        timeout=60,
        env=clean_env(**s3.env, HOME=str(home)),
    )


def start_on_s3(s3: S3, root: Path, config_url: str, *args: str, via_env: bool = False) -> Server:
    """Start ``pryv start`` whose configuration file itself is on S3 (-c or PRYV_CONFIG_PATH)."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    log = root / f"server-{port}.log"
    env = clean_env(**s3.env, HOME=str(root / "home"))
    command = [tool("pryv"), "start", "--port", str(port), *args]
    if via_env:
        env["PRYV_CONFIG_PATH"] = config_url
    else:
        command += ["-c", config_url]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process, log)
    return Server(url, root, root / "config-is-on-s3", process, log)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        stop_server(server)


def get(server: Server, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(server.url + path)
    request.add_header("Authorization", basic_header(USER, PASSWORD))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_upload(server: Server, path: Path) -> None:
    """Upload one wheel the way twine does, but from this process (no start-up delay)."""
    import requests

    content = path.read_bytes()
    with requests.post(
        f"{server.url}/legacy/",
        data=upload_fields(path.name, content),
        files={"content": (path.name, content, "application/octet-stream")},
        auth=(USER, PASSWORD),
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.text


def listed_files(server: Server, project: str) -> set[str]:
    status, body = get(server, f"/simple/{project}/")
    return set(re.findall(r">([^<]+\.(?:whl|tar\.gz))<", body.decode())) if status == 200 else set()


def wait_listed(server: Server, project: str, files: set[str], timeout: float = 60) -> float:
    """Poll until ``server`` lists every file; return how long it took (seconds)."""
    started = time.monotonic()
    while not files <= listed_files(server, project):
        if time.monotonic() - started > timeout:
            pytest.fail(
                f"{server.url} still lists {listed_files(server, project)} after {timeout}s"
            )
        time.sleep(0.02)
    return time.monotonic() - started


def test_s3_everything_on_s3_twine_upload_then_pip_install(
    s3: S3, tmp_path: Path, venv: Path, servers: list[Server]
) -> None:
    home = tmp_path / "server" / "home"
    config_url = put_config(s3, "conf/pryv.ini")
    add_user(s3, config_url, home)
    server = start_on_s3(s3, tmp_path / "server", config_url, via_env=True)
    servers.append(server)
    dist = tmp_path / "dist"
    wheel = make_wheel(dist, "Cloud_Project", "2.0", requires_python=">=3.8")
    sdist = make_sdist(dist, "Cloud_Project", "2.0")
    twine_upload(server, wheel, sdist)

    python = venv / "bin" / "python"
    pip("install", "--index-url", server.index_url, "cloud-project", python=python)
    assert "cloud_project==2.0" in pip("list", "--format=freeze", python=python).stdout.lower()
    downloads = tmp_path / "downloads"
    pip(
        "download",
        "--no-deps",
        "--index-url",
        server.index_url,
        "-d",
        str(downloads),
        "cloud_project",
    )
    assert (downloads / wheel.name).read_bytes() == wheel.read_bytes()
    assert get(server, f"/packages/{sdist.name}") == (200, sdist.read_bytes())

    keys = [item["Key"] for item in s3.client().list_objects_v2(Bucket=s3.bucket)["Contents"]]
    assert any(key.startswith("registry/projects/cloud-project/") for key in keys)
    assert any(key.endswith(wheel.name) for key in keys)
    assert "auth/users.json" in keys
    assert not (home / ".pryv").exists()  # nothing went to the local default paths


def test_s3_pip_follows_a_redirect_to_a_presigned_url(
    s3: S3, tmp_path: Path, servers: list[Server]
) -> None:
    config_url = put_config(s3, "pryv.ini", extra="[aws]\ndownload = redirect\n")
    add_user(s3, config_url, tmp_path / "home")
    server = start_on_s3(s3, tmp_path / "server", config_url)
    servers.append(server)
    wheel = make_wheel(tmp_path / "dist", "redirected", "1.0")
    twine_upload(server, wheel)
    downloads = tmp_path / "downloads"
    pip(
        "download", "--no-deps", "--index-url", server.index_url, "-d", str(downloads), "redirected"
    )
    assert (downloads / wheel.name).read_bytes() == wheel.read_bytes()


def test_s3_two_instances_on_one_bucket_see_each_others_uploads(
    s3: S3, tmp_path: Path, servers: list[Server]
) -> None:
    config_url = put_config(s3, "pryv.ini", index_ttl=1)
    add_user(s3, config_url, tmp_path / "home")
    first = start_on_s3(s3, tmp_path / "a", config_url)
    servers.append(first)
    second = start_on_s3(s3, tmp_path / "b", config_url)
    servers.append(second)

    dist = tmp_path / "dist"
    tags = ["py3-none-any", "cp311-cp311-manylinux_2_17_x86_64", "cp312-cp312-win_amd64",
            "cp311-cp311-macosx_11_0_arm64", "cp313-cp313-musllinux_1_2_aarch64"]  # fmt: skip
    files = [make_wheel(dist, "twin", "1.0", tag=tag) for tag in tags]
    files.append(make_sdist(dist, "twin", "1.0"))
    # Every file of the one release, half through each instance, all at the same time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(files)) as pool:
        jobs = [
            pool.submit(twine_upload, (first, second)[n % 2], path) for n, path in enumerate(files)
        ]
        for job in jobs:
            job.result()
    names = {path.name for path in files}
    wait_listed(first, "twin", names)
    wait_listed(second, "twin", names)
    assert listed_files(first, "twin") == listed_files(second, "twin") == names

    # How long after the first instance answers an upload does the second list it?
    delays = []
    for n in range(5):
        late = make_wheel(dist, "twin", f"1.{n + 1}")
        post_upload(first, late)
        delays.append(wait_listed(second, "twin", {late.name}))
    print(
        f"\nsecond instance saw an upload after {', '.join(f'{d:.2f}' for d in delays)} s "
        f"(index-ttl = 1 s; max {max(delays):.2f} s)"
    )


class MemorySampler:
    """Sample the resident memory of a process tree (gunicorn master + workers)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def total(self) -> int:
        total = 0
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.total())
            self._stop.wait(0.05)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def test_s3_large_upload_and_download_keep_server_memory_flat(
    s3: S3, tmp_path: Path, servers: list[Server]
) -> None:
    size = 100 * MiB
    config_url = put_config(s3, "pryv.ini", extra="max-upload-size = 1G\n")
    add_user(s3, config_url, tmp_path / "home")
    server = start_on_s3(s3, tmp_path / "server", config_url)
    servers.append(server)
    wheel = make_big_wheel(tmp_path / "dist", "bigpkg", "1.0", size=size)
    expected = sha256_of(wheel)

    sampler = MemorySampler(server.process.pid)
    get(server, "/simple/")  # let the workers settle before the baseline
    baseline = sampler.total()
    with sampler:
        twine_upload(server, wheel)
        request = urllib.request.Request(f"{server.url}/packages/{wheel.name}")
        request.add_header("Authorization", basic_header(USER, PASSWORD))
        digest, received = hashlib.sha256(), 0
        with urllib.request.urlopen(request, timeout=300) as response:
            while chunk := response.read(MiB):
                digest.update(chunk)
                received += len(chunk)
    assert (received, digest.hexdigest()) == (wheel.stat().st_size, expected)
    print(
        f"\n{wheel.stat().st_size / MiB:.0f} MiB upload + download: server RSS (master + workers) "
        f"baseline {baseline / MiB:.0f} MiB, peak {sampler.peak / MiB:.0f} MiB "
        f"(+{(sampler.peak - baseline) / MiB:.0f} MiB)"
    )
    assert sampler.peak < 400 * MiB, "the server buffered the file in memory"


def test_s3_docs_minio_example_runs_as_shown_against_moto(
    moto_endpoint: str, moto_admin: Any, tmp_path: Path, servers: list[Server]
) -> None:
    """Every command of the MinIO example, in one shell, with moto's URL for MinIO's.

    The test changes two things only: ``AWS_ENDPOINT_URL`` points at moto, and the docs'
    ``pryv.ini`` gets a free ``[server] port`` so that tests can run in parallel. The shell
    ``exec``s the final ``pryv start`` so that stopping the server stops pryv itself.
    """
    commands = docs_block("storage-s3.md", "Point pryv at MinIO")
    assert commands[-1] == "pryv start -c pryv.ini"
    script = "\n".join([*commands[:-1], "exec " + commands[-1]])
    assert script.count("http://localhost:9000") == 1
    script = "set -euo pipefail\n" + script.replace("http://localhost:9000", moto_endpoint)
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    ini = docs_file("storage-s3.md", "Point pryv at MinIO", "ini")
    (work / "pryv.ini").write_text(f"{ini}\n[server]\nport = {port}\n")
    env = docs_env(
        tmp_path / "home",
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    for name in (*FOREIGN, "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    passwords = work / "passwords"
    passwords.write_text(f"{DOCS_PASSWORD}\n{DOCS_PASSWORD}\n")  # pryv user add asks twice
    log = work / "shell.log"
    with log.open("wb") as output, passwords.open("rb") as stdin:
        process = subprocess.Popen(
            ["bash", "-c", script], cwd=work, env=env, stdin=stdin, stdout=output,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = Server(url, work, work / "pryv.ini", process, log)
    servers.append(server)
    wait_ready(url, process, log, timeout=60)

    wheel = make_wheel(tmp_path / "dist", "minio-demo", "1.0")
    twine_upload(server, wheel, user=DOCS_USER, password=DOCS_PASSWORD)
    keys = {item["Key"] for item in moto_admin.list_objects_v2(Bucket="pryv")["Contents"]}
    assert "users.json" in keys
    assert any(key.startswith("projects/minio-demo/") for key in keys)
    assert any(key.startswith("packages/") and key.endswith(wheel.name) for key in keys)
