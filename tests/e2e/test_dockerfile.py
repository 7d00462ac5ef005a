"""Replay the Dockerfile without Docker: its install steps in fresh venvs, its command, its health check.

The build stage runs as written (a fresh venv stands for the base image's Python) and leaves the
pryv wheel and every dependency wheel in ``/dist``. The final stage then installs ``pryv[aws]``
from those wheels alone (``--no-index``) into another fresh venv, lays out ``/etc/pryv`` and the
``/data`` volume under a temp folder, and starts ENTRYPOINT + CMD with the image's ENV. The
HEALTHCHECK command must pass, and the docs' ``docker`` commands must match the image.
Only the user-account steps (groupadd, useradd, chown) are not replayed: they need root on the host.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dists import make_wheel
from tests.dockerfile import Stage
from tests.dockerfile import parse
from tests.docs_commands import docs_block
from tests.e2e.servers import Server
from tests.e2e.servers import free_port
from tests.e2e.servers import run
from tests.e2e.servers import twine_upload
from tests.e2e.tools import build_stage_wheelhouse
from tests.e2e.tools import map_paths
from tests.e2e.tools import replay_copy
from tests.e2e.tools import shared_dir

pytestmark = pytest.mark.e2e

ACCOUNT_STEPS = ("groupadd ", "useradd ", "chown ")
DOCS_BLOCKS = [("deployment.md", "Docker")]


def replay_final_stage(stage: Stage, fs: Path, wheelhouse: Path, port: int) -> Path:
    """Install the final stage into a fresh venv under ``fs``; return the venv's bin folder."""
    venv = fs / "usr" / "local"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))}
    env.update(stage.env())
    env = {key: map_paths(value, fs) for key, value in env.items()}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    env["PIP_CONFIG_FILE"] = "/dev/null"  # the final stage must need nothing but /tmp/dist
    workdir = "/"
    skipped: list[str] = []
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = instruction.text
            Path(map_paths(workdir, fs)).mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY" and instruction.text.startswith("--from=build "):
            source, target = instruction.text.split()[1:]
            assert source == "/dist"
            Path(map_paths(target, fs)).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-r", str(wheelhouse), map_paths(target, fs)], check=True)
        elif instruction.keyword == "COPY":
            _, copied = replay_copy(instruction.text, fs, workdir)
            if copied.name == "pryv.ini":  # the image's config, pointed at this test's port
                text = map_paths(copied.read_text(), fs)
                text = text.replace("port = 5555", f"port = {port}")
                copied.write_text(text.replace("host = 0.0.0.0", "host = 127.0.0.1"))
        elif instruction.keyword == "RUN":
            for step in instruction.text.split("&&"):
                if step.strip().startswith(ACCOUNT_STEPS):
                    skipped.append(step.strip())
                    continue
                result = subprocess.run(
                    ["bash", "-c", map_paths(step, fs)], cwd=map_paths(workdir, fs), env=env,
                    capture_output=True, text=True, timeout=900,
                )  # fmt: skip
                assert result.returncode == 0, f"{step}\n{result.stdout}\n{result.stderr}"
    assert [step.split()[0] for step in skipped] == ["groupadd", "useradd", "chown"]
    assert not (fs / "tmp" / "dist").exists()  # the wheels are removed from the image
    return venv / "bin"


def image_env(stage: Stage, fs: Path, bin_dir: Path) -> dict[str, str]:
    """The environment the container runs with (ENV, HOME of the pryv user), mapped under fs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PRYV_"))}
    env.update({key: map_paths(value, fs) for key, value in stage.env().items()})
    env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    env["HOME"] = str(fs / "data")  # useradd --home-dir /data
    env["PRYV_DEFAULT_CONFIG"] = str(fs / "etc" / "pryv" / "pryv.ini")
    return env


def healthcheck(stage: Stage, env: dict[str, str], port: int) -> int:
    """Run the HEALTHCHECK command as Docker would; return its exit code."""
    (instruction,) = stage.all("HEALTHCHECK")
    command = instruction.exec_form()
    assert command is not None
    command = [part.replace(":5555/", f":{port}/") for part in command]
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


def docker_commands() -> dict[str, list[str]]:
    commands = {}
    for text in docs_block(*DOCS_BLOCKS[0]):
        words = shlex.split(text)
        assert words[0] == "docker", text
        commands[words[1]] = words[2:]
    return commands


def test_docs_docker_commands_match_the_image() -> None:
    final = parse()[-1]
    commands = docker_commands()
    assert commands["build"][:2] == ["-t", "pryv"]
    assert commands["build"][-1] == "."  # the Dockerfile at the repository root
    run_args = commands["run"]
    published = run_args[run_args.index("-p") + 1].split(":")[-1]
    assert published == final.all("EXPOSE")[0].text
    volume = run_args[run_args.index("-v") + 1].split(":")[-1]
    assert [volume] == final.all("VOLUME")[0].exec_form()
    assert run_args[-1] == "pryv"  # the image built above
    name = run_args[run_args.index("--name") + 1]
    exec_args = commands["exec"]
    assert exec_args[exec_args.index(name) + 1 :] == ["pryv", "user", "add", "alice"]


def test_dockerfile_install_steps_replayed_in_fresh_venvs_serve_health(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    wheelhouse = build_stage_wheelhouse(shared_dir(tmp_path_factory))
    wheels = sorted(path.name for path in wheelhouse.glob("*.whl"))
    assert any(name.startswith("pryv-") for name in wheels)
    assert any(name.startswith("boto3-") for name in wheels)  # the aws extra

    final = parse()[-1]
    fs = tmp_path / "image"
    port = free_port()
    bin_dir = replay_final_stage(final, fs, wheelhouse, port)
    env = image_env(final, fs, bin_dir)
    entrypoint = final.all("ENTRYPOINT")[0].exec_form()
    cmd = final.all("CMD")[0].exec_form()
    assert entrypoint is not None
    assert cmd is not None
    command = [map_paths(part, fs) for part in entrypoint] + [
        "127.0.0.1" if part == "0.0.0.0" else part for part in cmd
    ]
    log = tmp_path / "container.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=fs / "data", env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while healthcheck(final, env, port) != 0:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"never healthy:\n{log.read_text()}"
            time.sleep(0.5)
        # The entrypoint seeded the configuration on the volume, and the data went there too.
        assert (fs / "data" / "pryv.ini").exists()
        assert (fs / "data" / "projects").is_dir()

        # `docker exec -it pryv pryv user add alice`, then publish through the container.
        commands = docker_commands()
        name = commands["run"][commands["run"].index("--name") + 1]
        program, *arguments = commands["exec"][commands["exec"].index(name) + 1 :]
        run(str(bin_dir / program), *arguments, input="wonderland\nwonderland\n", env=env)
        assert "alice" in (fs / "data" / "users.json").read_text()
        server = Server(f"http://127.0.0.1:{port}", fs, fs / "data" / "pryv.ini", process, log)
        twine_upload(server, make_wheel(tmp_path / "dist", "in-docker", "1.0"),
                     user="alice", password="wonderland")  # fmt: skip
        assert list((fs / "data" / "packages").rglob("in_docker-1.0-py3-none-any.whl"))
    finally:
        process.send_signal(signal.SIGTERM)  # docker stop
        process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()
