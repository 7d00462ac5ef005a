"""Faults during uploads against a real ``pryv start``: broken clients, kill -9, a full disk.

After each fault: no partial file is listed or served, every acknowledged upload is intact byte
for byte, the interrupted filename can be uploaded again, the server starts and works, and
temporary files are gone (Werkzeug's spool files are unnamed; stale ``.tmp-*`` files are swept
at start once they are old enough).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pryv_server.storage.local import TEMP_FOLDER
from tests.e2e.servers import Server
from tests.e2e.servers import add_user
from tests.e2e.servers import free_port
from tests.e2e.servers import start_server
from tests.e2e.servers import stop_server
from tests.e2e.servers import write_config
from tests.security_helpers import AUTH
from tests.security_helpers import get
from tests.security_helpers import read_response
from tests.security_helpers import upload
from tests.security_helpers import wheel_members
from tests.security_helpers import zip_bytes
from tests.uploads import upload_body

pytestmark = pytest.mark.e2e

ACKED = "acked-1.0-py3-none-any.whl"
ACKED_BYTES = zip_bytes(wheel_members("acked", "1.0"))


def big_wheel(name: str, megabytes: int) -> bytes:
    """A wheel with an incompressible stored member, so its size is what goes to disk."""
    payload = os.urandom(megabytes * 1024 * 1024)
    return zip_bytes([*wheel_members(name, "1.0"), (f"{name}/blob.bin", payload)], compression=0)


class Deployment:
    """A pryv data folder and config that survive server restarts."""

    def __init__(self, root: Path, extra: str = "", **env: str) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.tmpdir = root / "tmp"
        self.tmpdir.mkdir()
        self.env = {"TMPDIR": str(self.tmpdir), **env}
        self.config = write_config(root, free_port(), extra)
        add_user(self.config)
        self.server: Server | None = None

    def start(self) -> Server:
        self.server = start_server(self.root, config=self.config, port=free_port(), env=self.env)
        return self.server

    def kill(self) -> None:
        """SIGKILL the master and its workers at once, as a crash or the OOM killer would."""
        assert self.server is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.process.pid, signal.SIGKILL)
        self.server.process.wait(timeout=20)
        deadline = time.monotonic() + 10
        while _group_alive(self.server.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None:
            stop_server(self.server)

    def temp_files(self) -> list[Path]:
        found = [p for p in (self.root / "packages").rglob(".tmp-*")]
        found += [p for p in (self.root / "projects").rglob(".tmp-*")]
        return found


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployed = Deployment(tmp_path / "server")
    server = deployed.start()
    status, answer = upload(server, ACKED, ACKED_BYTES, name="acked")
    assert status == 200, answer
    yield deployed
    deployed.stop()


def check_invariants(server: Server, filename: str, content: bytes, name: str) -> None:
    """The acknowledged file is intact, the interrupted one absent, then uploadable again."""
    status, answer = get(server, f"/packages/{ACKED}".encode())
    assert status == 200
    assert answer.split(b"\r\n\r\n", 1)[1] == ACKED_BYTES
    status, page = get(server, f"/simple/{name}/".encode())
    assert status == 404, page[:300]  # the only file of the project never became visible
    assert get(server, f"/packages/{filename}".encode())[0] == 404
    status, answer = upload(server, filename, content, name=name)
    assert status == 200, answer[:300]
    status, answer = get(server, f"/packages/{filename}".encode())
    assert status == 200
    body = answer.split(b"\r\n\r\n", 1)[1]
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(content).hexdigest()


def open_upload(
    server: Server, filename: str, content: bytes, name: str
) -> tuple[socket.socket, bytes, bytes]:
    """Connect and send the request head; return the socket and the body to send."""
    body, content_type = upload_body(filename, content, name, "1.0")
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    head = (
        (
            f"POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
        ).encode()
        + b"Authorization: "
        + AUTH
        + b"\r\n\r\n"
    )
    sock.sendall(head)
    return sock, body, head


def test_client_disconnecting_mid_body(deployment: Deployment) -> None:
    server = deployment.server
    assert server is not None
    content = big_wheel("cut", 4)
    filename = "cut-1.0-py3-none-any.whl"
    sock, body, _ = open_upload(server, filename, content, "cut")
    sock.sendall(body[: len(body) // 2])
    sock.close()
    time.sleep(0.5)
    assert deployment.temp_files() == []
    assert spooled(deployment, server) == []
    check_invariants(server, filename, content, "cut")


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.99])
def test_truncated_body_is_400(deployment: Deployment, fraction: float) -> None:
    """The client says N bytes, sends fewer, then ends its side: a 400, nothing stored."""
    server = deployment.server
    assert server is not None
    content = big_wheel("short", 1)
    filename = "short-1.0-py3-none-any.whl"
    sock, body, _ = open_upload(server, filename, content, "short")
    with sock:
        sock.sendall(body[: int(len(body) * fraction)])
        sock.shutdown(socket.SHUT_WR)
        status, answer = read_response(sock)
    assert status == 400, answer[:300]
    assert answer.split(b"\r\n\r\n", 1)[1].count(b"\n") == 1
    assert b"not a complete multipart/form-data form" in answer
    assert deployment.temp_files() == []
    check_invariants(server, filename, content, "short")


def spooled(deployment: Deployment, server: Server) -> list[Path]:
    """What is left in the server's TMPDIR besides the running server's metrics folder.

    A killed server's metrics folder is removed by the next start (its name holds its pid). A
    file seen there for an instant is not left over: gunicorn's master makes each worker's
    heartbeat file there and unlinks it at once (CI once listed one while a worker started), so
    only what is still there a second later counts.
    """
    own = f"pryv-metrics-{server.process.pid}-"

    def listing() -> set[Path]:
        return {path for path in deployment.tmpdir.iterdir() if not path.name.startswith(own)}

    seen = listing()
    if seen:
        time.sleep(1)
        seen &= listing()
    return sorted(seen)


def _wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.0005)  # leave the CPU to the server
    return False


def _send_in_background(sock: socket.socket, body: bytes) -> threading.Thread:
    def send() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(body)
            read_response(sock)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _blob_path(root: Path, content: bytes, filename: str) -> Path:
    sha = hashlib.sha256(content).hexdigest()
    return root / "packages" / sha[:2] / sha[2:4] / sha / filename


def _record_exists(root: Path, name: str) -> bool:
    return any((root / "projects").rglob(f"*{name}*.json"))


def _restart_and_sweep(deployment: Deployment) -> Server:
    """Restart on the same data; leftover temp files are swept once they are old enough."""
    leftovers = deployment.temp_files()
    server = deployment.start()
    for path in leftovers:  # young: a live writer elsewhere could own them, so they stay
        assert path.exists()
    deployment.stop()
    long_ago = time.time() - 2 * 3600
    for path in leftovers:
        os.utime(path, (long_ago, long_ago))
    server = deployment.start()
    assert deployment.temp_files() == []
    assert spooled(deployment, server) == []  # Werkzeug's spool files have no name
    return server


@pytest.mark.parametrize("moment", ["receiving-body", "writing-blob", "blob-before-record"])
def test_kill_9_during_upload(deployment: Deployment, moment: str) -> None:
    server = deployment.server
    assert server is not None
    name = "crash"
    filename = f"{name}-1.0-py3-none-any.whl"
    content = big_wheel(name, 8 if moment == "receiving-body" else 48)
    blob = _blob_path(deployment.root, content, filename)
    sock, body, _ = open_upload(server, filename, content, name)
    with sock:
        if moment == "receiving-body":
            sock.sendall(body[: len(body) // 3])
            time.sleep(0.5)  # the server is waiting for the rest
            deployment.kill()
            hit = True
        elif moment == "writing-blob":
            _send_in_background(sock, body)
            temp_folder = deployment.root / "packages" / TEMP_FOLDER
            hit = _wait_for(lambda: any(temp_folder.glob(".tmp-*")))
            os.killpg(server.process.pid, signal.SIGSTOP)
            hit = hit and not blob.exists()
            deployment.kill()
        else:
            _send_in_background(sock, body)
            hit = _wait_for(blob.exists)
            os.killpg(server.process.pid, signal.SIGSTOP)
            hit = hit and not _record_exists(deployment.root, name)
            deployment.kill()
    assert hit, f"the kill did not land while {moment}"
    assert not _record_exists(deployment.root, name)
    server = _restart_and_sweep(deployment)
    check_invariants(server, filename, zip_bytes(wheel_members(name, "1.0")), name)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs (needs root and CAP_SYS_ADMIN; otherwise the unit tests inject ENOSPC)."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.decode().strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("full", ["packages", "spool"])
def test_disk_full_mid_write(tmp_path: Path, small_disk: Path, full: str) -> None:
    """Fill the packages folder or the upload spool folder: a 507 and nothing half-written."""
    packages = small_disk / "packages" if full == "packages" else tmp_path / "packages"
    deployed = Deployment(
        tmp_path / "server",
        TMPDIR=str(small_disk) if full == "spool" else str(tmp_path / "spool"),
    )
    (tmp_path / "spool").mkdir()
    deployed.config.write_text(
        deployed.config.read_text().replace(
            f"packages-path = file://{deployed.root / 'packages'}", f"packages-path = {packages}"
        )
    )
    server = deployed.start()
    try:
        assert upload(server, ACKED, ACKED_BYTES, name="acked")[0] == 200
        content = big_wheel("huge", 30)
        filename = "huge-1.0-py3-none-any.whl"
        status, answer = upload(server, filename, content, name="huge")
        assert status == 507, answer[:300]
        assert b"storage is full" in answer
        assert not any(packages.rglob(".tmp-*"))
        assert not any(small_disk.rglob("tmp*"))
        assert not _record_exists(deployed.root, "huge")
        # The disk frees up (here: a smaller file fits); the same name can be published.
        smaller = big_wheel("huge", 2)
        check_invariants(server, filename, smaller, "huge")
    finally:
        deployed.stop()
