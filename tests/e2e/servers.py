"""A real ``pryv start`` on a free loopback port, and helpers to run the real clients.

The fixtures built on them are in ``conftest.py``; test modules import from here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench._common import free_port

USER = "carol"
PASSWORD = "s3cret-pass"
BIN = Path(sys.executable).parent
# Run a test that uses the ``server`` fixture once under each HTTP server ``pryv start`` offers.
EVERY_HTTP_SERVER = pytest.mark.parametrize(
    "server", [(), ("--server", "granian")], ids=["gunicorn", "granian"], indirect=True
)


def tool(name: str) -> str:
    """Return the path of a console script installed beside this Python (twine, pryv, uv)."""
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; install the test extra: pip install -e '.[test]'")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without pip/uv/twine settings of this machine that would leak into tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "TWINE_"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", **extra)
    return env


@dataclass
class Server:
    """A running ``pryv start``."""

    url: str
    root: Path
    config: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def index_url(self) -> str:
        host = self.url.removeprefix("http://")
        return f"http://{USER}:{PASSWORD}@{host}/simple/"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def write_config(root: Path, port: int, extra: str = "", permissions: Path | None = None) -> Path:
    """Write the server's pryv.ini (``permissions``: its [user] permissions-path)."""
    config = root / "pryv.ini"
    permissions_line = f"permissions-path = {permissions}\n" if permissions else ""
    config.write_text(
        f"[core]\nprojects-path = {root / 'projects'}\npackages-path = file://{root / 'packages'}\n"
        f"[user]\nusers-path = {root / 'users.json'}\n{permissions_line}"
        f"[server]\nport = {port}\nsecret-key = e2e-secret-0123456789\n{extra}"
    )
    return config


def add_user(
    config: Path, user: str = USER, password: str = PASSWORD, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``pryv user add`` with the password on stdin (``check``: fail the test if it fails)."""
    return run(
        tool("pryv"), "user", "add", user, "--password-stdin", "-c", str(config),
        input=password, env=None, timeout=60, check=check,
    )  # fmt: skip


class PortTaken(Exception):
    """Another process bound the port between ``free_port()`` and ``pryv start``."""


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text()
            if "the port is in use by another program" in output:
                raise PortTaken(output)
            pytest.fail(f"pryv start exited with {process.returncode}:\n{output}")
        try:
            urllib.request.urlopen(f"{url}/simple/", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # 401: it answers
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"pryv start did not answer within {timeout}s:\n{log.read_text()}")


def start_server(
    root: Path,
    *args: str,
    config: Path | None = None,
    port: int | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``pryv start`` on ``port``, or on a free port (another one if that was taken)."""
    for _ in range(5):
        chosen = port or free_port()
        chosen_config = config or write_config(root, chosen)
        log = root / f"server-{chosen}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [tool("pryv"), "start", "-c", str(chosen_config), "--port", str(chosen), *args],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=clean_env(**(env or {})),
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{chosen}"
        try:
            wait_ready(url, process, log)
        except PortTaken as taken:
            if port:
                pytest.fail(f"pryv start could not listen on the port it was given:\n{taken}")
            continue
        return Server(url, root, chosen_config, process, log)
    pytest.fail(f"pryv start found each of five free ports taken:\n{log.read_text()}")


def start_in_home(home: Path, port: int) -> Server:
    """``pryv start`` as a newcomer types it: no -c, no $PRYV_CONFIG_PATH, a HOME of its own."""
    env = clean_env(HOME=str(home))
    env.pop("PRYV_CONFIG_PATH", None)
    log = home.parent / f"first-start-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [tool("pryv"), "start", "--port", str(port), "--workers", "1"],
            stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process, log)
    return Server(url, home, home / ".pryv" / "pryv.ini", process, log)


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def run(
    *command: str, timeout: float = 180, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a client command; on failure show its whole output."""
    result = subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=kwargs.pop("env", clean_env()),
        **kwargs,  # type: ignore[arg-type]
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def twine_upload(
    server: Server, *files: Path, check: bool = True, user: str = USER, password: str = PASSWORD
) -> subprocess.CompletedProcess[str]:
    return run(
        sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
        "--repository-url", f"{server.url}/simple/", "-u", user, "-p", password,
        *map(str, files), check=check,
    )  # fmt: skip


def pip(
    *args: str, python: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    prefix = [sys.executable, "-m", "pip"]
    if python is not None:
        prefix += ["--python", str(python)]
    return run(
        *prefix, *args, "--isolated", "--no-cache-dir", "--disable-pip-version-check", check=check
    )


# -- the proxy of an upstream index (tests/upstream_index.py) ---------------------------------

# pip and uv without this machine's configuration (its /etc/pip.conf adds local indexes).
ISOLATED = {"PIP_CONFIG_FILE": "/dev/null", "UV_NO_CONFIG": "1"}


def start_with_user(
    root: Path,
    *args: str,
    extra: str = "",
    permissions: Path | None = None,
    env: dict[str, str] | None = None,
    users: tuple[tuple[str, str], ...] = ((USER, PASSWORD),),
) -> Server:
    """Start ``pryv start`` (``args``: its options) on a fresh :func:`write_config` in ``root``
    (``extra``: more lines of it), with the test user (or ``users``) added first."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = write_config(root, port, extra, permissions)
    for user, password in users:
        add_user(config, user, password)
    return start_server(root, *args, config=config, port=port, env=env)


def proxy_server(root: Path, upstream_url: str, **options: str) -> Server:
    """Start ``pryv start`` with an ``[upstream]`` section (``options`` are its other lines)."""
    lines = "".join(f"{name} = {value}\n" for name, value in options.items())
    return start_with_user(root, extra=f"[upstream]\nurl = {upstream_url}\n{lines}")


def new_venv(path: Path) -> Path:
    """Make an empty venv (no pip) for pip or uv to install into; return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def installed(python: Path, cwd: Path) -> set[str]:
    """Return ``name==version`` of everything installed in ``python``'s environment."""
    frozen = run(tool("uv"), "pip", "freeze", "--python", str(python), cwd=cwd).stdout
    return set(frozen.split())
