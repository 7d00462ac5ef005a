"""The first start: the pryv.ini it writes, the users-file checks, the socket bound up front."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from pryv_server.config import OPTIONS
from pryv_server.config import Settings
from pryv_server.config import load_settings
from pryv_server.config import read_ini
from pryv_server.errors import ConfigError
from pryv_server.first_start import check_users_file
from pryv_server.first_start import console_hints
from pryv_server.first_start import first_config_text
from pryv_server.first_start import write_first_config
from pryv_server.listener import bind


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PRYV_CONFIG_PATH", raising=False)
    return tmp_path


def test_the_first_config_holds_the_documented_defaults_and_the_key() -> None:
    text = first_config_text("k" * 64)
    written = Settings.from_mapping(read_ini(text, "pryv.ini"), source="x")
    assert written == Settings.from_mapping({}, source="x").replace(secret_key="k" * 64)
    for option in OPTIONS:
        assert f"{option.name} =" in text, option.name


def test_first_start_writes_the_default_file_once_for_its_owner_only(home: Path) -> None:
    path = write_first_config()
    assert path == home / ".pryv" / "pryv.ini"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_settings().secret_key
    assert key
    assert len(key) == 64
    assert write_first_config() is None  # never overwritten
    assert load_settings().secret_key == key


def test_a_named_config_file_is_never_created(home: Path, tmp_path: Path) -> None:
    assert write_first_config(str(tmp_path / "elsewhere.ini")) is None
    assert write_first_config(environ={"PRYV_CONFIG_PATH": str(tmp_path / "env.ini")}) is None
    assert not (home / ".pryv").exists()


def test_a_missing_htpasswd_file_refuses_to_start(tmp_path: Path) -> None:
    config = tmp_path / "pryv.ini"
    config.write_text(f"[user]\nhtpasswd-path = {tmp_path / '.htpasswd-typo'}\n")
    with pytest.raises(ConfigError, match=r"htpasswd-path: .*htpasswd-typo does not exist"):
        check_users_file(load_settings(str(config)))
    (tmp_path / ".htpasswd-typo").write_text("")
    assert check_users_file(load_settings(str(config))) is None


def test_a_missing_users_file_warns_unless_it_is_the_default_one(
    home: Path, tmp_path: Path
) -> None:
    assert check_users_file(load_settings()) is None  # first start: the hint says "no user"
    config = tmp_path / "pryv.ini"
    config.write_text(f"[user]\nusers-path = {tmp_path / 'usres.json'}\n")
    warning = check_users_file(load_settings(str(config)))
    assert warning
    assert "usres.json does not exist" in warning


def test_the_hint_says_what_to_do_next(settings: Settings) -> None:
    url = "http://127.0.0.1:5555"
    empty = console_hints(settings, url, has_users=False, written=None)
    assert f"{url}/setup" in empty[-1]
    assert "pryv user add NAME" in empty[-1]
    assert settings.projects_path.path in empty[1]
    ready = console_hints(settings, url, has_users=True, written=None)
    assert f"{url}/use" in ready[-1]


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            ConfigError, match=r"^cannot listen on 127.0.0.1:\d+: the port is in use"
        ):
            bind("127.0.0.1", port)


def test_an_unresolvable_host_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"the host 'no-such-host.invalid' does not resolve"):
        bind("no-such-host.invalid", 5555)


def test_bind_returns_a_listening_descriptor() -> None:
    fd = bind("127.0.0.1", 0)
    with socket.socket(fileno=fd) as listening:
        assert listening.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
