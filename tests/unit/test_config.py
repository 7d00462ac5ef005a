from __future__ import annotations

from pathlib import Path

import pytest

from pryv_server.config import Location
from pryv_server.config import Settings
from pryv_server.config import load_settings
from pryv_server.config import parse_location
from pryv_server.config_values import parse_size
from pryv_server.errors import ConfigError


def test_parse_location_forms(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", "/home/someone")
    assert parse_location("/abs/path") == Location("file", "/abs/path")
    assert parse_location("file:///abs/path") == Location("file", "/abs/path")
    assert parse_location("some/relative") == Location("file", str(tmp_path / "some/relative"))
    assert parse_location("file://some/relative") == Location(
        "file", str(tmp_path / "some/relative")
    )
    assert parse_location("file://~/.pryv/projects") == Location(
        "file", "/home/someone/.pryv/projects"
    )
    assert parse_location("s3://bucket/key/to/dir/") == Location("s3", "key/to/dir", "bucket")


@pytest.mark.parametrize("value", ["", "s3:///nobucket", "http://example.com/x"])
def test_parse_location_rejects(value: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_location(value)


def test_defaults_match_the_docs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("PRYV_CONFIG_PATH", raising=False)
    settings = load_settings()
    assert settings.projects_path.path == str(tmp_path / ".pryv/projects")
    assert settings.packages_path.path == str(tmp_path / ".pryv/packages")
    assert settings.users_path.path == str(tmp_path / ".pryv/users.json")
    assert settings.htpasswd_path is None
    assert (settings.host, settings.port, settings.secret_key, settings.debug) == (
        "127.0.0.1",
        5555,
        None,
        False,
    )


def test_config_file_from_env_and_explicit_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "env.ini"
    env_file.write_text("[server]\nport = 1234\n")
    cli_file = tmp_path / "cli.ini"
    cli_file.write_text("[server]\nport = 4321\nhost = 0.0.0.0\ndebug = true\nsecret-key = k-0123456789abcdef\n"
                        "[user]\nhtpasswd-path = file:///etc/pryv/.htpasswd\n")  # fmt: skip
    monkeypatch.setenv("PRYV_CONFIG_PATH", str(env_file))
    assert load_settings().port == 1234
    settings = load_settings(str(cli_file))
    assert (settings.port, settings.host, settings.debug, settings.secret_key) == (
        4321,
        "0.0.0.0",
        True,
        "k-0123456789abcdef",
    )
    assert settings.htpasswd_path == Location("file", "/etc/pryv/.htpasswd")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nport = many\n", "[server] port"),
        ("[server]\nport = 70000\n", "[server] port"),
        ("[server]\ndebug = maybe\n", "[server] debug"),
        ("[server]\nprot = 1\n", "unknown option 'prot'"),
        ("[serveur]\nport = 1\n", "unknown section [serveur]"),
        ("port = 1\n", "not a valid ini file"),
        ("[core]\nprojects-path = ftp://x/y\n", "[core] projects-path"),
        ("[server]\nmax-upload-size = lots\n", "[server] max-upload-size"),
    ],
)
def test_bad_config_names_file_section_and_option(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.ini"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(str(path))
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(str(tmp_path / "nope.ini"))


@pytest.mark.parametrize(
    ("text", "size"), [("100", 100), ("500M", 500 * 1024**2), ("2G", 2 * 1024**3), ("1k", 1024)]
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_settings_replace_keeps_other_fields(settings: Settings) -> None:
    changed = settings.replace(port=9999)
    assert changed.port == 9999
    assert changed.projects_path == settings.projects_path


def test_readme_config_example_is_valid_and_shows_the_defaults() -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```ini\n(.*?)```", readme, re.S).group(1)
    from pryv_server.config import read_ini

    shown = Settings.from_mapping(read_ini(block, "README.md"), source="x")
    assert shown == Settings.from_mapping({}, source="x")


# Every option that is not a path or free text, with a value it must refuse.
_MALFORMED = {
    "index-ttl": "soon",
    "port": "abc",
    "debug": "maybe",
    "max-upload-size": "5X",
    "login-attempts": "many",
    "login-window": "nan",
    "external-images": "sometimes",
    "trusted-proxies": "nginx",
    "uploads": "everyone",
    "anonymous-read": "perhaps",
    "conditional-writes": "perhaps",
    "download": "teleport",
    "presign-expiry": "1.5",
    "url": "ftp://mirror/simple/",
    "timeout": "soon",
    "ttl": "often",
    "min-age": "a while",
    "urls": "ftp://hooks.example/pryv",
    "queue-size": "0",
    "retries": "-1",
    "gc-margin": "a day",
    "retention": "nightly-* keep-dev=all",
    "address": "9100",
    "verify": "gpg",
}


@pytest.mark.parametrize(("name", "value"), sorted(_MALFORMED.items()))
def test_every_malformed_option_is_one_line_in_our_words(name: str, value: str) -> None:
    from pryv_server.config import OPTIONS

    option = next(option for option in OPTIONS if option.name == name)
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping({option.section: {name: value}}, source="pryv.ini")
    message = str(caught.value)
    assert message.startswith(f"pryv.ini: [{option.section}] {name}: ")
    assert repr(value) in message
    assert "\n" not in message
    # Python's own wording ("invalid literal for int() with base 10") helps nobody.
    assert "literal" not in message
    assert "could not convert" not in message


def test_every_checked_option_has_a_malformed_example() -> None:
    from pryv_server.config import OPTIONS

    # Secrets are never echoed in an error, so they cannot be checked like the others.
    free_text = {"host", "endpoint-url", "region", "secret-key", "allow", "deny", "secret", "token"}
    paths = {option.name for option in OPTIONS if option.name.endswith("-path")}
    assert {option.name for option in OPTIONS} - free_text - paths == set(_MALFORMED)


def test_the_size_error_lists_every_suffix_the_docs_list() -> None:
    with pytest.raises(ValueError, match=r"K, M, G or T suffix"):
        parse_size("5X")


def test_sigstore_verification_needs_its_library(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    assert Settings.from_mapping({"provenance": {"verify": "Sigstore"}}).provenance_verify == (
        "sigstore"
    )
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping({"provenance": {"verify": "sigstore"}}, source="pryv.ini")
    assert str(caught.value) == (
        "pryv.ini: [provenance] verify: 'sigstore' needs the pypi-attestations library: "
        'pip install "pryv[sigstore]"'
    )
