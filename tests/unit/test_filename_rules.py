"""More filename cases: what pryv accepts, refuses, and treats as one file."""

from __future__ import annotations

import pytest

from pryv_server.config import Settings
from pryv_server.core.names import parse_filename
from pryv_server.errors import ConfigError
from pryv_server.errors import InvalidFilename


@pytest.mark.parametrize(
    "filename",
    [
        "pkg-1!2.0-py3-none-any.whl",  # epoch
        "pkg-1.0+local.7-py3-none-any.whl",  # local version
        "pkg-1.0-1-py3-none-any.whl",  # build tag
        "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "pkg-1.0.post1.dev2-py3-none-any.whl",
        "pkg-1.0.tar.gz",
        "pkg-1.0.zip",
        "p" * 230 + "-1.0.tar.gz",  # long but under 255 bytes
    ],
)
def test_valid_filenames_are_accepted(filename: str) -> None:
    assert parse_filename(filename).filename == filename


@pytest.mark.parametrize(
    "filename",
    [
        "pkg-1.0-py3-none-any.whl/", "pkg-1.0-py3-none-any.whl\\", "C:pkg-1.0.tar.gz",
        "pkg-1.0-py3-none-any.whl\r", "pkg-1.0-py3-none-any.whl\t", "pkg-1.0\x1b.tar.gz",
        "pkg-1.0-py3-none-any.whl\x00.txt", "pk\u00e9-1.0.tar.gz", "pkg-1.0-py3-none-\u0430ny.whl",
        "pkg-1.0-py3-none-any.whl ", " pkg-1.0.tar.gz", "pkg-1.0;.tar.gz", "pkg-1.0%2f.tar.gz",
        'pkg-1.0".tar.gz', "pkg-1.0'.tar.gz", "pkg-1.0<.tar.gz", "pkg-1.0.tar", "pkg-1.0.tgz",
        "pkg-1.0.tar.xz", "pkg-1.0.rpm", "pkg-1.0.whl.exe", "pkg-1.0-py3-none-any.WHL",
        "pkg-1.0.Tar.Gz", ".pkg-1.0.tar.gz", "..", ".", "pkg-1.0-py3-any.whl",
        "-1.0-py3-none-any.whl", "pkg--1.0.tar.gz", "pkg-1.0-x-py3-none-any.whl",
        "p" * 300 + ".whl",
    ],
)  # fmt: skip
def test_invalid_filenames_are_refused(filename: str) -> None:
    with pytest.raises(InvalidFilename):
        parse_filename(filename)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("My_Pkg-1.0-py3-none-any.whl", "my_pkg-1.0-py3-none-any.whl"),
        ("my_pkg-1.0-py3-none-any.whl", "MY_PKG-1.0.0-py3-none-any.whl"),
        ("pkg-1.0-py2.py3-none-any.whl", "pkg-1.0-py3.py2-none-any.whl"),
        ("pkg-1.0-py3-none-any.whl", "pkg-1.0.0.0-py3-none-any.whl"),
        ("pkg-1.0rc1-py3-none-any.whl", "pkg-1.0c1-py3-none-any.whl"),
        ("My.Pkg-1.0.tar.gz", "my_pkg-1.0.tar.gz"),
        ("my_pkg-1.0.tar.gz", "my_pkg-1.0.0.tar.gz"),
    ],
)
def test_spellings_are_one_file(first: str, second: str) -> None:
    assert parse_filename(first).identity == parse_filename(second).identity


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("pkg-1.0-py3-none-any.whl", "pkg-1.0-1-py3-none-any.whl"),
        ("pkg-1.0-py3-none-any.whl", "pkg-1.0.post1-py3-none-any.whl"),
        ("pkg-1.0-py3-none-any.whl", "pkg-1.0+local-py3-none-any.whl"),
        ("pkg-1.0.tar.gz", "pkg-1.0.zip"),
        ("pkg-1.0-py3-none-any.whl", "pkg2-1.0-py3-none-any.whl"),
    ],
)
def test_different_files_stay_different(first: str, second: str) -> None:
    assert parse_filename(first).identity != parse_filename(second).identity


def test_login_options_defaults_and_validation() -> None:
    defaults = Settings.from_mapping({})
    assert (defaults.login_attempts, defaults.login_window) == (10, 300.0)
    custom = Settings.from_mapping({"server": {"login-attempts": "0", "login-window": "60"}})
    assert (custom.login_attempts, custom.login_window) == (0, 60.0)
    for option, value in [
        ("login-attempts", "-1"),
        ("login-attempts", "x"),
        ("login-window", "-5"),
    ]:
        with pytest.raises(ConfigError, match=f"\\[server\\] {option}"):
            Settings.from_mapping({"server": {option: value}}, source="pryv.ini")
