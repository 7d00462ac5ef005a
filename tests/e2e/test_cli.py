"""The `pryv` command as a user types it."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
from passlib.apache import HtpasswdFile

from pryv_server import __version__
from tests.e2e.servers import add_user
from tests.e2e.servers import free_port
from tests.e2e.servers import run
from tests.e2e.servers import start_in_home
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import write_config

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
    add_user(config, "hank", "pw-hank-42")
    assert not (tmp_path / "users.json").exists()
    entries = HtpasswdFile(str(htpasswd))
    assert entries.check_password("hank", "pw-hank-42")
    assert entries.get_hash("hank").startswith(b"$2")
    again = add_user(config, "hank", "another-password", check=False)
    assert again.returncode != 0
    assert "already exists" in again.stderr


def test_user_add_refuses_bad_names(tmp_path: Path) -> None:
    config = tmp_path / "pryv.ini"
    config.write_text(f"[user]\nusers-path = {tmp_path / 'users.json'}\n")
    result = add_user(config, "a:b", "x", check=False)
    assert result.returncode != 0
    assert "cannot contain" in result.stderr


def test_first_start_writes_the_config_and_says_what_next(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    first = start_in_home(home, port)
    stop_server(first)
    config = home / ".pryv" / "pryv.ini"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    key = next(line for line in config.read_text().splitlines() if line.startswith("secret-key"))
    console = first.log_text()
    assert f"listening on http://127.0.0.1:{port}" in console
    assert f"configuration: {config} (written now, with a new secret key)" in console
    assert f"data: records in {home}/.pryv/projects, files in {home}/.pryv/packages" in console
    assert (
        f"next: no user exists yet: open http://127.0.0.1:{port}/setup in a browser to create "
        "the first one, or run: pryv user add NAME"
    ) in console

    second = start_in_home(home, port)
    stop_server(second)
    assert "written now" not in second.log_text()
    assert key in config.read_text()  # the same key: sessions survive a restart


def _one_line_failure(*args: str, expected: str) -> None:
    """Exit 1 with one line: no "listening on", no gunicorn start, no retry ("Retrying")."""
    result = run(tool("pryv"), "start", *args, check=False, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"Error: {expected}"], result.stderr


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("server", "port = abc", "[server] port: 'abc' is not a port number (1-65535)"),
        ("server", "max-upload-size = 5X",
         "[server] max-upload-size: '5X' is not a size (use bytes or a K, M, G or T suffix, "
         "e.g. 500M)"),
        ("server", "login-attempts = many",
         "[server] login-attempts: 'many' is not a whole number (0 or more)"),
        ("core", "index-ttl = soon",
         "[core] index-ttl: 'soon' is not a number of seconds (e.g. 5 or 0.5)"),
        ("server", "debug = maybe", "[server] debug: 'maybe' is not a boolean (use true or false)"),
    ],
)  # fmt: skip
def test_a_malformed_option_is_one_line(
    tmp_path: Path, option: str, value: str, expected: str
) -> None:
    config = tmp_path / "pryv.ini"
    config.write_text(f"[{option}]\n{value}\n")
    _one_line_failure("-c", str(config), expected=f"{config}: {expected}")


def test_a_busy_port_is_one_line_and_nothing_claims_to_listen(tmp_path: Path) -> None:
    config = write_config(tmp_path, free_port())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        _one_line_failure(
            "-c", str(config), "--port", str(port),
            expected=f"cannot listen on 127.0.0.1:{port}: the port is in use by another program "
            "(stop it, or choose another port with --port or [server] port)",
        )  # fmt: skip


def test_an_unresolvable_host_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port)
    _one_line_failure(
        "-c", str(config), "--host", "no-such-host.invalid",
        expected=f"cannot listen on no-such-host.invalid:{port}: the host 'no-such-host.invalid' "
        "does not resolve (Name or service not known); use an IP address or a name of this "
        "machine with --host or [server] host",
    )  # fmt: skip


def test_a_missing_htpasswd_file_refuses_to_start(tmp_path: Path) -> None:
    typo = tmp_path / ".htpaswd"
    config = write_config(tmp_path, free_port())
    config.write_text(config.read_text().replace("[user]\n", f"[user]\nhtpasswd-path = {typo}\n"))
    _one_line_failure(
        "-c", str(config),
        expected=f"{config}: [user] htpasswd-path: {typo} does not exist (fix the path, or create "
        "it with pryv user add NAME or htpasswd -B -c)",
    )  # fmt: skip
