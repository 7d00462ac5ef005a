"""Helpers for the e2e tests that run the docs' commands: cached tool venvs, shell blocks, projects.

Each publishing tool (poetry, hatch, flit, pdm) is installed with pip in a virtual
environment of its own, once per test run and shared by the xdist workers (a file lock guards the
install). Set ``PRYV_TEST_TOOLS`` to a directory to keep those environments between runs.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.credentials import basic_header
from tests.docs_commands import docs_block
from tests.docs_commands import docs_outputs
from tests.docs_commands import substitute
from tests.e2e.servers import BIN
from tests.e2e.servers import Server
from tests.e2e.servers import add_user
from tests.e2e.servers import clean_env

DOCS_USER = "alice"
DOCS_PASSWORD = "wonderland"

# What `pip install` gets for each tool (pdm[locked] pins pdm's own tested dependencies: a plain
# `pip install pdm` may pick a newer hishel that pdm 2.29 cannot use).
TOOL_REQUIREMENTS: dict[str, list[str]] = {
    "poetry": ["poetry"],
    "hatch": ["hatch"],
    "flit": ["flit"],
    "pdm": ["pdm[locked]"],
    # The last twine before its own strict metadata checks (twine 6 refuses, before sending them,
    # files that PyPI hosts: Metadata-Version 2.0, License-Expression under 2.1, non-normalized
    # names); the real-corpus test sends those files with it.
    "twine-5": ["twine==5.1.1"],
    # 6.8 is the last release for Python 3.11 (7.0 needs 3.12).
    "bandersnatch": ["bandersnatch>=6.8,<7"],
}

# The build backend each tool's own project uses.
BUILD_SYSTEMS: dict[str, tuple[str, str]] = {
    "poetry": ("poetry-core>=2.0", "poetry.core.masonry.api"),
    "hatch": ("hatchling", "hatchling.build"),
    "flit": ("flit_core>=3.4", "flit_core.buildapi"),
    "pdm": ("pdm-backend", "pdm.backend"),
    "twine": ("hatchling", "hatchling.build"),
    "uv": ("hatchling", "hatchling.build"),
}


# A keyring backend that keeps passwords in a JSON file beside it, for headless keyring tests.
FILE_KEYRING = """
import json
import pathlib

from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    \"\"\"A plain JSON file: a headless stand-in for the desktop keyring, for this test only.\"\"\"

    priority = 1
    path = pathlib.Path(__file__).with_name("keyring.json")

    def _load(self):
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service, username):
        return self._load().get(f"{service} {username}")

    def set_password(self, service, username, password):
        data = self._load()
        data[f"{service} {username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service, username):
        data = self._load()
        data.pop(f"{service} {username}", None)
        self.path.write_text(json.dumps(data))
"""


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every xdist worker of this run (or ``$PRYV_TEST_TOOLS``)."""
    configured = os.environ.get("PRYV_TEST_TOOLS")
    if configured:
        return Path(configured)
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def tool_venv(root: Path, name: str) -> Path:
    """Return the ``bin`` folder of a venv with ``name`` installed, installing it the first time."""
    venv = root / "tools" / name
    done = venv / ".installed"
    with _locked(root / "tools" / f"{name}.lock"):
        if not done.exists():
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300
            )
            # The machine's own pip configuration stays in force here: tools come from PyPI.
            env = {k: v for k, v in os.environ.items() if k not in {"PIP_REQUIRE_VIRTUALENV"}}
            result = subprocess.run(
                [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                 "--disable-pip-version-check", *TOOL_REQUIREMENTS[name]],
                capture_output=True, text=True, timeout=900, env=env,
            )  # fmt: skip
            if result.returncode != 0:
                pytest.fail(f"pip install {name} failed:\n{result.stdout}\n{result.stderr}")
            done.write_text(f"{time.monotonic() - started:.1f}\n")
    return venv / "bin"


def write_project(folder: Path, name: str, tool: str, value: str) -> Path:
    """Write a tiny real project ``name`` 1.0.0 built by ``tool``'s own build backend."""
    requirement, backend = BUILD_SYSTEMS[tool]
    module = name.replace("-", "_")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / module).mkdir(exist_ok=True)
    (folder / module / "__init__.py").write_text(
        f'"""A tiny test project."""\n\nVALUE = {value!r}\n'
    )
    (folder / "README.md").write_text(f"# {name}\n\nPublished by the pryv tests with {tool}.\n")
    (folder / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{name}"
            version = "1.0.0"
            description = "A tiny project published by the pryv tests"
            readme = "README.md"
            requires-python = ">=3.8"

            [build-system]
            requires = ["{requirement}"]
            build-backend = "{backend}"
            """
        )
    )
    return folder


def docs_env(home: Path, *paths: Path, **extra: str) -> dict[str, str]:
    """A clean environment with a private HOME and ``paths`` first on PATH."""
    home.mkdir(parents=True, exist_ok=True)
    env = clean_env(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PDM_CHECK_UPDATE="false",
        PATH=os.pathsep.join([*map(str, paths), str(BIN), os.environ.get("PATH", "")]),
    )
    env.pop("VIRTUAL_ENV", None)
    env.update(extra)
    return env


def home_with_config(server: Server, tmp_path: Path) -> dict[str, str]:
    """An environment whose default ``~/.pryv/pryv.ini`` is the running server's configuration."""
    home = tmp_path / "home"
    (home / ".pryv").mkdir(parents=True)
    shutil.copy(server.config, home / ".pryv" / "pryv.ini")
    return docs_env(home)


def run_block(
    commands: list[str],
    server: Server | str,
    cwd: Path,
    env: dict[str, str],
    stdin: str | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run docs commands as one bash script, pointed at ``server``; fail with the whole output."""
    url = server if isinstance(server, str) else server.url
    script = "set -euo pipefail\n" + "\n".join(substitute(line, url) for line in commands)
    result = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, input=stdin, capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(
            f"docs commands failed (exit {result.returncode}):\n{script}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
            f"--- server log\n{'' if isinstance(server, str) else server.log_text()[-4000:]}"
        )
    return result


def docs_get(server: Server, path: str, accept: str = "text/html") -> tuple[int, str]:
    """GET ``path`` as the docs' user; return the status and the body, errors included."""
    request = urllib.request.Request(server.url + path, headers={"Accept": accept})
    request.add_header("Authorization", basic_header(DOCS_USER, DOCS_PASSWORD))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


def run_shown(page: str, heading: str, server: Server, cwd: Path, env: dict[str, str]) -> None:
    """Run the console commands under ``heading`` and compare what each prints with the docs."""
    shown = docs_outputs(page, heading)
    assert [command for command, _ in shown] == docs_block(page, heading)
    for command, output in shown:
        result = run_block([command], server, cwd, env)
        assert result.stdout == output, (
            f"{command}: printed {result.stdout!r}, docs show {output!r}"
        )


def add_docs_user(server: Server) -> None:
    """Add the docs' user (alice / wonderland) to a running server; users files reload live."""
    add_user(server.config, DOCS_USER, DOCS_PASSWORD)


def install_venv(folder: Path, env: dict[str, str]) -> Path:
    """A fresh venv with pip, for the docs' install commands; returns its bin folder."""
    subprocess.run(
        [sys.executable, "-m", "venv", str(folder)], check=True, timeout=300, env=env,
        capture_output=True,
    )  # fmt: skip
    return folder / "bin"


def venv_env(bin_dir: Path, env: dict[str, str], **extra: str) -> dict[str, str]:
    """``env`` with the venv activated (PATH and VIRTUAL_ENV), as a user's shell would have it."""
    activated = dict(env)
    activated["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    activated["VIRTUAL_ENV"] = str(bin_dir.parent)
    activated.update(extra)
    return activated


def imported_value(bin_dir: Path, module: str) -> str:
    """Import ``module`` in the venv and return its VALUE (proves the install is usable)."""
    result = subprocess.run(
        [str(bin_dir / "python"), "-c", f"import {module}; print({module}.VALUE)"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.strip()


# --- Replaying the Dockerfile (docker itself cannot run here) -----------------------------------

REPO = Path(__file__).resolve().parent.parent.parent
CONTAINER_PATHS = (
    "/usr/local/bin/pryv-entrypoint",
    "/etc/pryv",
    "/tmp/dist",
    "/dist",
    "/src",
    "/data",
)


def map_paths(text: str, fs: Path) -> str:
    """Rewrite the image's absolute paths (``/data``, ``/dist``…) to the same paths under ``fs``."""
    pattern = "|".join(re.escape(path) for path in CONTAINER_PATHS)
    return re.sub(rf"(?<![\w./:-])({pattern})(?=[/\s\"'*]|$)", lambda m: f"{fs}{m.group(1)}", text)


def replay_copy(text: str, fs: Path, workdir: str) -> tuple[Path, Path]:
    """Do a ``COPY src... dest`` from the repository into ``fs``; return the last (source, target)."""
    *sources, dest = shlex.split(text)
    target_dir = dest if dest.startswith("/") else f"{workdir}/{dest}"
    target = (
        Path(map_paths(target_dir.rstrip("/") or "/", fs))
        if dest not in {"./", "."}
        else Path(map_paths(workdir, fs))
    )
    pair = (REPO, target)
    for source in sources:
        origin = REPO / source
        destination = target / origin.name if dest.endswith("/") else target
        destination.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(
                origin,
                destination,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        else:
            shutil.copy2(origin, destination)
        pair = (origin, destination)
    return pair


def build_stage_wheelhouse(root: Path) -> Path:
    """Replay the Dockerfile's build stage once per run; return its /dist (pryv + dependency wheels)."""
    from tests.dockerfile import parse

    fs = root / "docker-build"
    dist = fs / "dist"
    with _locked(root / "docker-build.lock"):
        if (fs / ".done").exists():
            return dist
        if fs.exists():
            shutil.rmtree(fs)
        build = parse()[0]
        venv = fs / "base-python"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        workdir = "/"
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
        for instruction in build.instructions:
            if instruction.keyword == "WORKDIR":
                workdir = instruction.text
                Path(map_paths(workdir, fs)).mkdir(parents=True, exist_ok=True)
            elif instruction.keyword == "COPY":
                replay_copy(instruction.text, fs, workdir)
            elif instruction.keyword == "RUN":
                result = subprocess.run(
                    ["bash", "-c", "set -euo pipefail\n" + map_paths(instruction.text, fs)],
                    cwd=map_paths(workdir, fs), env=env, capture_output=True, text=True, timeout=900,
                )  # fmt: skip
                if result.returncode != 0:
                    pytest.fail(
                        f"Dockerfile RUN (line {instruction.line}) failed:\n{result.stdout}\n{result.stderr}"
                    )
        (fs / ".done").write_text("ok\n")
    return dist
