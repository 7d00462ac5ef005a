"""The `pryv` command as a user types it."""

from __future__ import annotations

from pathlib import Path

import pytest
from passlib.apache import HtpasswdFile

from pryv_server import __version__
from tests.e2e.servers import run
from tests.e2e.servers import tool

pytestmark = pytest.mark.e2e


def test_version_prints_the_package_version() -> None:
    assert run(tool("pryv"), "version").stdout.strip() == __version__
    assert run(tool("pryv"), "--version").stdout == f"{__version__}\n"
    assert run(tool("pryv"), "-V").stdout == f"{__version__}\n"


@pytest.mark.parametrize(
    ("config_text", "message"),
    [
        (None, "does not exist"),
        ("[server]\nport = eighty\n", "[server] port"),
        ("[core]\nprojects-pth = /x\n", "unknown option 'projects-pth'"),
    ],
)
def test_start_with_a_bad_config_fails_with_one_clear_line(
    tmp_path: Path, config_text: str | None, message: str
) -> None:
    config = tmp_path / "pryv.ini"
    if config_text is not None:
        config.write_text(config_text)
    result = run(tool("pryv"), "start", "-c", str(config), check=False, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr
    assert str(config) in result.stderr
    assert "Traceback" not in result.stderr


def test_user_add_writes_bcrypt_into_htpasswd_when_configured(tmp_path: Path) -> None:
    htpasswd = tmp_path / ".htpasswd"
    config = tmp_path / "pryv.ini"
    config.write_text(
        f"[user]\nusers-path = {tmp_path / 'users.json'}\nhtpasswd-path = file://{htpasswd}\n"
    )
    run(
        tool("pryv"),
        "user",
        "add",
        "hank",
        "--password-stdin",
        "-c",
        str(config),
        input="pw-hank-42\n",
    )
    assert not (tmp_path / "users.json").exists()
    entries = HtpasswdFile(str(htpasswd))
    assert entries.check_password("hank", "pw-hank-42")
    assert entries.get_hash("hank").startswith(b"$2")
    again = run(
        tool("pryv"),
        "user",
        "add",
        "hank",
        "--password-stdin",
        "-c",
        str(config),
        input="another-password\n",
        check=False,
    )
    assert again.returncode != 0
    assert "already exists" in again.stderr


def test_user_add_refuses_bad_names(tmp_path: Path) -> None:
    config = tmp_path / "pryv.ini"
    config.write_text(f"[user]\nusers-path = {tmp_path / 'users.json'}\n")
    result = run(
        tool("pryv"),
        "user",
        "add",
        "a:b",
        "--password-stdin",
        "-c",
        str(config),
        input="x\n",
        check=False,
    )
    assert result.returncode != 0
    assert "cannot contain" in result.stderr
