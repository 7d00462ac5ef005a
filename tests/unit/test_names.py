from __future__ import annotations

import pytest
from packaging.version import Version

from pryv_server.core.names import is_valid_name
from pryv_server.core.names import normalize
from pryv_server.core.names import parse_filename
from pryv_server.errors import InvalidFilename


@pytest.mark.parametrize(
    "name", ["My_Project", "my.project", "my-project", "MY__PROJECT", "my-._project"]
)
def test_normalize_merges_pep503_spellings(name: str) -> None:
    assert normalize(name) == "my-project"


@pytest.mark.parametrize(
    ("name", "valid"), [("a", True), ("a.b-c_d", True), ("-a", False), ("a b", False), ("", False)]
)
def test_is_valid_name(name: str, valid: bool) -> None:
    assert is_valid_name(name) is valid


@pytest.mark.parametrize(
    ("filename", "project", "version", "kind"),
    [
        ("my_project-1.0-py3-none-any.whl", "my-project", "1.0", "wheel"),
        ("My.Project-2.0rc1-py2.py3-none-any.whl", "my-project", "2.0rc1", "wheel"),
        ("my_project-1.0.tar.gz", "my-project", "1.0", "sdist"),
        ("Foo.Bar-1.0.zip", "foo-bar", "1.0", "sdist"),
        ("AIO-Mysql-Audio-1.0.post1.tar.gz", "aio-mysql-audio", "1.0.post1", "sdist"),
    ],
)
def test_parse_filename_accepts_wheels_and_sdists(
    filename: str, project: str, version: str, kind: str
) -> None:
    parsed = parse_filename(filename)
    assert (parsed.project, parsed.version, parsed.kind) == (project, Version(version), kind)


@pytest.mark.parametrize(
    "filename",
    [
        "", "../evil-1.0.tar.gz", "a/b-1.0.tar.gz", "a\\b-1.0.tar.gz", "evil\x00-1.0.tar.gz",
        ".hidden-1.0.tar.gz", "pkg-1.0.exe", "pkg-1.0.egg", "pkg-1.0.tar.bz2", "pkg.whl",
        "pkg-notaversion-py3-none-any.whl", "x" * 250 + "-1.0.tar.gz", "pkg-1.0\n.tar.gz",
    ],
)  # fmt: skip
def test_parse_filename_rejects_unsafe_or_foreign_names(filename: str) -> None:
    with pytest.raises(InvalidFilename):
        parse_filename(filename)


def test_spellings_of_one_file_share_an_identity() -> None:
    assert (
        parse_filename("My_Pkg-1.0-py3-none-any.whl").identity
        == parse_filename("my_pkg-1.0.0-py3-none-any.whl").identity
    )
    assert (
        parse_filename("My.Pkg-1.0.tar.gz").identity == parse_filename("my_pkg-1.0.tar.gz").identity
    )
    assert parse_filename("pkg-1.0.tar.gz").identity != parse_filename("pkg-1.0.zip").identity
    assert (
        parse_filename("pkg-1.0-py3-none-any.whl").identity
        != parse_filename("pkg-1.0-cp311-cp311-linux_x86_64.whl").identity
    )
