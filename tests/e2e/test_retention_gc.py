"""``pryv prune`` and ``pryv gc`` as docs/lifecycle.md shows them, on local storage and on S3,
while two ``pryv start`` instances share the storage and keep serving."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pryv_server.core import layout
from tests.credentials import basic_header
from tests.dists import make_wheel
from tests.docs_commands import docs_file
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import add_user
from tests.e2e.servers import free_port
from tests.e2e.servers import pip
from tests.e2e.servers import run
from tests.e2e.servers import start_server
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload
from tests.e2e.tools import home_with_config
from tests.e2e.tools import run_shown
from tests.s3server import S3

pytestmark = pytest.mark.e2e

PAGE = "lifecycle.md"
PRUNE = "Retention rules"
GC = "Collecting garbage"
DOCS_BLOCKS = [(PAGE, PRUNE), (PAGE, GC)]
VERSIONS = ("1.0", "1.1.dev1", "1.1.dev2", "1.1.dev3")
ORPHAN = layout.blob_key("cd" * 32, "lost-1.0-py3-none-any.whl")


class Storage:
    """Where the two instances keep everything: a folder, or a bucket on moto."""

    def __init__(self, root: Path, s3: S3 | None) -> None:
        self.root, self.s3 = root, s3
        self.env = s3.env if s3 else {}

    def path(self, name: str) -> str:
        return self.s3.url(f"registry/{name}") if self.s3 else str(self.root / name)

    def plant(self, key: str, content: bytes) -> None:
        if self.s3:
            self.s3.client().put_object(
                Bucket=self.s3.bucket, Key=f"registry/packages/{key}", Body=content
            )
        else:
            target = self.root / "packages" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)

    def holds(self, key: str) -> bool:
        if self.s3:
            found = self.s3.client().list_objects_v2(
                Bucket=self.s3.bucket, Prefix=f"registry/packages/{key}"
            )
            return found.get("KeyCount", 0) > 0
        return (self.root / "packages" / key).exists()


def write_config(storage: Storage, root: Path, extra: str = "") -> Path:
    retention = docs_file(PAGE, PRUNE, "ini")  # the docs' [lifecycle] section, as shown
    config = root / "pryv.ini"
    config.write_text(
        f"[core]\nprojects-path = {storage.path('projects')}\n"
        f"packages-path = {storage.path('packages')}\nindex-ttl = 1\n"
        f"[user]\nusers-path = {root / 'users.json'}\n"
        f"[server]\nsecret-key = e2e-secret-0123456789\n{retention}{extra}"
    )
    return config


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "s3":
        return Storage(tmp_path, request.getfixturevalue("s3"))
    return Storage(tmp_path, None)


@pytest.fixture
def instances(storage: Storage, tmp_path: Path) -> Iterator[list[Server]]:
    root = tmp_path / "server"
    root.mkdir()
    config = write_config(storage, root)
    add_user(config)
    started = [
        start_server(root, config=config, port=free_port(), env=storage.env) for _ in range(2)
    ]
    yield started
    for server in started:
        stop_server(server)


def listed(server: Server) -> set[str]:
    request = urllib.request.Request(
        f"{server.url}/simple/myproject/",
        headers={
            "Accept": "application/vnd.pypi.simple.v1+json",
            "Authorization": basic_header(USER, PASSWORD),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return {file["filename"] for file in json.load(response)["files"]}
    except urllib.error.HTTPError as error:
        error.close()
        return set()


def eventually(check: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_prune_and_gc_as_shown_with_two_instances_serving(
    storage: Storage, instances: list[Server], tmp_path: Path, venv: Path
) -> None:
    first, second = instances
    wheels = {v: make_wheel(tmp_path / "dist", "myproject", v) for v in VERSIONS}
    twine_upload(first, *wheels.values())
    everything = {wheel.name for wheel in wheels.values()}
    assert eventually(lambda: listed(second) == everything)

    env = {**home_with_config(first, tmp_path), **storage.env}
    run_shown(PAGE, PRUNE, first, tmp_path, env)
    kept = everything - {wheels["1.1.dev1"].name}
    for server in instances:
        assert eventually(lambda server=server: listed(server) == kept), server.url
    assert not twine_upload(second, wheels["1.1.dev1"], check=False).returncode == 0

    run_shown(PAGE, GC, first, tmp_path, env)  # nothing is left over after prune

    storage.plant(ORPHAN, b"an upload that crashed before its record")
    eager = write_config(storage, tmp_path / "home", "gc-margin = 0\n")
    result = run(tool("pryv"), "gc", "-c", str(eager), env=env)
    assert f"freed packages:{ORPHAN} (40 bytes)\n" in result.stdout
    assert result.stdout.endswith(
        "freed 1 object(s), 40 bytes; spared 0 younger than gc-margin (0 s)\n"
    )
    assert not storage.holds(ORPHAN)
    for server in instances:
        assert listed(server) == kept
    pip(
        "install", "--index-url", second.index_url, "myproject==1.0", python=venv / "bin" / "python"
    )
