"""Uploads accept only valid distributions: filenames, archives, metadata, form and size limits."""

from __future__ import annotations

import logging
import tarfile
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.config import Settings
from tests.configs import build_app
from tests.credentials import basic
from tests.dists import metadata_text
from tests.security_helpers import sdist_members
from tests.security_helpers import special
from tests.security_helpers import tar_bytes
from tests.security_helpers import tree
from tests.security_helpers import wheel_members
from tests.security_helpers import zip_bytes
from tests.uploads import multipart
from tests.uploads import post_multipart
from tests.uploads import upload_body
from tests.uploads import upload_fields


def send(
    client: FlaskClient,
    filename: str,
    content: bytes,
    *,
    name: str = "demo",
    version: str = "1.0",
    extra: list[tuple[str, str]] | None = None,
    drop: tuple[str, ...] = (),
    **overrides: str,
):
    body = upload_body(filename, content, name, version, extra or (), drop, **overrides)
    return post_multipart(client, *body)


def storage(settings: Settings) -> dict[str, bytes]:
    return tree(Path(settings.projects_path.path)) | {
        "blob:" + k: v for k, v in tree(Path(settings.packages_path.path)).items()
    }


def rejected(client: FlaskClient, settings: Settings, *args, status: int = 400, **kwargs) -> str:
    before = storage(settings)
    response = send(client, *args, **kwargs)
    assert response.status_code == status, response.text
    assert response.text.count("\n") == 1, response.text
    assert response.text.strip(), response.text
    assert storage(settings) == before
    return response.text


GOOD_WHEEL = zip_bytes(wheel_members())
WHEEL = "demo-1.0-py3-none-any.whl"


def test_valid_wheel_and_sdist_are_accepted(client: FlaskClient) -> None:
    assert send(client, WHEEL, GOOD_WHEEL).status_code == 200
    sdist = tar_bytes(sdist_members())
    assert send(client, "demo-1.0.tar.gz", sdist).status_code == 200
    zipped = zip_bytes(sdist_members("other", "2.0"))
    assert send(client, "other-2.0.zip", zipped, name="other", version="2.0").status_code == 200


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        pytest.param("../demo-1.0-py3-none-any.whl", "'/'", id="dotdot"),
        pytest.param("a/demo-1.0-py3-none-any.whl", "'/'", id="slash"),
        pytest.param("a\\demo-1.0-py3-none-any.whl", "cannot contain '/' or", id="backslash"),
        pytest.param("/etc/demo-1.0-py3-none-any.whl", "'/'", id="absolute"),
        pytest.param(".demo-1.0-py3-none-any.whl", "start with '.'", id="leading-dot"),
        pytest.param("demo-1.0-py3-none-any\x01.whl", "control", id="control-char"),
        pytest.param("demo-1.0-py3-none-any\x7f.whl", "control", id="del-char"),
        pytest.param("d" * 250 + "-1.0-py3-none-any.whl", "255 bytes", id="too-long"),
        pytest.param("démo-1.0-py3-none-any.whl", "ASCII", id="non-ascii"),
        pytest.param('demo-1.0-py3-none-any".whl', "ASCII", id="quote"),
        pytest.param("demo 1.0-py3-none-any.whl", "ASCII", id="space"),
        pytest.param("demo-1.0.egg", "only wheels", id="egg"),
        pytest.param("demo-1.0.tar.bz2", "only wheels", id="bz2"),
        pytest.param("demo-1.0.exe", "only wheels", id="exe"),
        pytest.param("demo-1.0-py3-none-any.WHL", "extension must be", id="upper-ext"),
        pytest.param("demo-1.0.whl", "not a valid distribution filename", id="wheel-no-tags"),
        pytest.param("demo-x.y-py3-none-any.whl", "not a valid", id="bad-version"),
        pytest.param("demo-1.0.TAR.GZ", "not a valid", id="upper-tar"),
    ],
)
def test_bad_filenames_are_refused(
    client: FlaskClient, settings: Settings, filename: str, reason: str
) -> None:
    assert reason in rejected(client, settings, filename, GOOD_WHEEL)


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        pytest.param({"name": "other"}, "form says 'other'", id="name"),
        pytest.param({"version": "2.0"}, "form says '2.0'", id="version"),
        pytest.param({"version": "not a version"}, "form says 'not a version'", id="bad-version"),
        pytest.param({"filetype": "sdist"}, "filetype 'sdist'", id="filetype"),
        pytest.param({"filetype": "bdist_egg"}, "filetype", id="filetype-egg"),
    ],
)
def test_form_must_agree_with_filename(
    client: FlaskClient, settings: Settings, form: dict[str, str], reason: str
) -> None:
    assert reason in rejected(client, settings, WHEEL, GOOD_WHEEL, **form)


def test_metadata_must_agree_with_filename(client: FlaskClient, settings: Settings) -> None:
    other_name = zip_bytes(wheel_members(metadata=metadata_text("other", "1.0")))
    assert "metadata names 'other'" in rejected(client, settings, WHEEL, other_name)
    other_version = zip_bytes(wheel_members(metadata=metadata_text("demo", "2.0")))
    assert "metadata says '2.0'" in rejected(client, settings, WHEEL, other_version)


def _bomb() -> bytes:
    return zip_bytes([*wheel_members(), ("demo/zeros.bin", b"\0" * (80 * 1024 * 1024))])


def _prepended() -> bytes:
    return b"#!/bin/sh\nexit 0\n" + GOOD_WHEEL


def _bzip2() -> bytes:
    return zip_bytes(wheel_members(), compression=zipfile.ZIP_BZIP2)


def _encrypted() -> bytes:
    data = bytearray(GOOD_WHEEL)
    # Set the "encrypted" flag on the first local header and its central directory entry.
    data[6] |= 1
    central = data.rfind(b"PK\x01\x02", 0, len(data))
    first_central = data.find(b"PK\x01\x02")
    assert central >= first_central >= 0
    data[first_central + 8] |= 1
    return bytes(data)


WHEEL_TRICKS = [
    pytest.param(b"not a zip at all", "not a valid zip", id="not-zip"),
    pytest.param(b"", "empty", id="empty"),
    pytest.param(GOOD_WHEEL[: len(GOOD_WHEEL) // 2], "not a valid zip", id="truncated"),
    pytest.param(_prepended(), "first byte", id="prepended-data"),
    pytest.param(b"PK\x03\x04" + b"\0" * 100 + GOOD_WHEEL, "data before", id="prepended-pk"),
    pytest.param(tar_bytes(sdist_members()), "not a valid zip", id="tar-as-wheel"),
    pytest.param(zip_bytes([("a.txt", b"x")]), "has no demo-1.0.dist-info/METADATA", id="no-meta"),
    pytest.param(
        zip_bytes([m for m in wheel_members() if not m[0].endswith("WHEEL")]),
        "has no demo-1.0.dist-info/WHEEL",
        id="no-wheel-file",
    ),
    pytest.param(
        zip_bytes([*wheel_members()[:2], ("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 2.0\n")]),
        "not 1.x",
        id="wheel-version-2",
    ),
    pytest.param(
        zip_bytes([*wheel_members(), ("../evil.py", b"x")]), "contains '..'", id="member-dotdot"
    ),
    pytest.param(
        zip_bytes([*wheel_members(), ("demo/../../evil.py", b"x")]), "'..'", id="member-dotdot-deep"
    ),
    pytest.param(
        zip_bytes([*wheel_members(), ("/etc/evil", b"x")]), "absolute", id="member-absolute"
    ),
    pytest.param(zip_bytes([*wheel_members(), ("C:/evil", b"x")]), "absolute", id="member-drive"),
    pytest.param(
        zip_bytes([*wheel_members(), ("demo\\evil.py", b"x")]), "backslash", id="member-backslash"
    ),
    pytest.param(
        zip_bytes([*wheel_members(), ("demo/e\x1bvil.py", b"x")]),
        "unprintable",
        id="member-control",
    ),
    pytest.param(
        zip_bytes([*wheel_members(), ("demo/__init__.py", b"y = 2\n")]),
        "appears twice",
        id="member-duplicate",
    ),
    pytest.param(
        zip_bytes([*wheel_members(), *wheel_members("other", "1.0")[1:]]),
        "2 .dist-info folders",
        id="two-dist-info",
    ),
    pytest.param(_bzip2(), "compression method", id="bzip2-member"),
    pytest.param(_encrypted(), "encrypted", id="encrypted-member"),
    pytest.param(_bomb(), "decompression bomb", id="zip-bomb"),
    pytest.param(zip_bytes(wheel_members(metadata="\xff")), "invalid metadata", id="meta-garbage"),
]


@pytest.mark.parametrize(("content", "reason"), WHEEL_TRICKS)
def test_wheel_tricks_are_refused(
    client: FlaskClient, settings: Settings, content: bytes, reason: str
) -> None:
    assert reason in rejected(client, settings, WHEEL, content)


def _sdist(*extra: tarfile.TarInfo | tuple[str, bytes]) -> bytes:
    return tar_bytes([*sdist_members(), *extra])


SDIST_TRICKS = [
    pytest.param(GOOD_WHEEL, "not a valid .tar.gz", id="zip-as-tar"),
    pytest.param(b"\x1f\x8b" + b"junk" * 10, "not a valid .tar.gz", id="bad-gzip"),
    pytest.param(_sdist(("demo-1.0/../../evil", b"x")), "outside", id="dotdot"),
    pytest.param(_sdist(("demo-1.0/a/../../demo-1.0/x", b"x")), "'..'", id="dotdot-inside"),
    pytest.param(_sdist(("/etc/evil", b"x")), "absolute", id="absolute"),
    pytest.param(_sdist(special("demo-1.0/dev", tarfile.CHRTYPE)), "devices", id="char-device"),
    pytest.param(_sdist(special("demo-1.0/blk", tarfile.BLKTYPE)), "devices", id="block-device"),
    pytest.param(_sdist(special("demo-1.0/fifo", tarfile.FIFOTYPE)), "devices", id="fifo"),
    pytest.param(
        _sdist(special("demo-1.0/l", tarfile.SYMTYPE, "/etc/passwd")), "unsafe", id="symlink-abs"
    ),
    pytest.param(
        _sdist(special("demo-1.0/l", tarfile.SYMTYPE, "../../x")), "unsafe", id="symlink-out"
    ),
    pytest.param(
        _sdist(special("demo-1.0/h", tarfile.LNKTYPE, "/etc/passwd")), "unsafe", id="hardlink-abs"
    ),
    pytest.param(_sdist(("other/file", b"x")), "one top-level folder", id="two-tops"),
    pytest.param(tar_bytes([("demo-1.0/setup.py", b"")]), "has no <project>", id="no-pkg-info"),
    pytest.param(tar_bytes([("PKG-INFO", b"x")]), "has no <project>", id="pkg-info-at-root"),
    pytest.param(
        _sdist(("demo-1.0/PKG-INFO", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n")),
        "more than one <project>-<version>/PKG-INFO",
        id="pkg-info-twice",
    ),
    pytest.param(_sdist(("demo-1.0/zeros", b"\0" * (80 * 1024 * 1024))), "bomb", id="gzip-bomb"),
]


@pytest.mark.parametrize(("content", "reason"), SDIST_TRICKS)
def test_sdist_tricks_are_refused(
    client: FlaskClient, settings: Settings, content: bytes, reason: str
) -> None:
    assert reason in rejected(client, settings, "demo-1.0.tar.gz", content)


def test_symlink_inside_sdist_is_accepted(client: FlaskClient) -> None:
    content = _sdist(special("demo-1.0/link", tarfile.SYMTYPE, "demo/__init__.py"))
    assert send(client, "demo-1.0.tar.gz", content).status_code == 200


def _with_metadata(*lines: str, summary: str = "A test package") -> bytes:
    return zip_bytes(
        wheel_members(metadata=metadata_text("demo", "1.0", summary=summary, extra=lines))
    )


@pytest.mark.parametrize(
    ("content", "warning"),
    [
        pytest.param(_with_metadata(summary="x" * 513), "longer than 512", id="long-summary"),
        pytest.param(
            _with_metadata("Home-page: javascript:alert(1)"), "not an http(s) URL", id="js-home"
        ),
        pytest.param(
            _with_metadata("Download-URL: file:///etc/passwd"), "download-url", id="file-url"
        ),
        pytest.param(
            _with_metadata("Project-URL: Docs, data:text/html,<b>x</b>"), "project-url", id="data"
        ),
        pytest.param(_with_metadata("Home-page: //evil.example/"), "http(s)", id="scheme-less"),
        pytest.param(_with_metadata("Home-page: http://"), "http(s)", id="no-host"),
        pytest.param(
            zip_bytes(wheel_members(metadata="Name: demo\nVersion: 1.0\n")),
            "metadata-version",
            id="no-metadata-version",
        ),
    ],
)
def test_display_only_metadata_rules_warn_and_accept(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, content: bytes, warning: str
) -> None:
    """A field pryv only displays never decides whether a file is accepted (issue 12)."""
    with caplog.at_level(logging.WARNING, logger="pryv_server.core.publish"):
        response = send(client, WHEEL, content)
    assert response.status_code == 200, response.text
    assert f"{WHEEL}: accepted despite: " in caplog.text
    assert warning in caplog.text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(_with_metadata("Metadata-Version: 9.9"), "metadata-version", id="meta-twice"),
        pytest.param(
            zip_bytes(wheel_members(metadata="Metadata-Version: 3.0\nName: demo\nVersion: 1.0\n")),
            "newer than any installer",
            id="meta-3.0",
        ),
    ],
)
def test_metadata_identity_rules_refuse(
    client: FlaskClient, settings: Settings, content: bytes, reason: str
) -> None:
    assert reason in rejected(client, settings, WHEEL, content)


def test_metadata_free_form_fields_are_accepted(client: FlaskClient) -> None:
    content = _with_metadata(
        "Classifier: Private :: Do Not Upload",
        "Classifier: Anything :: Goes Here",
        "Home-page: UNKNOWN",
        "Project-URL: Source, https://git.example/demo",
        summary="x" * 512,
    )
    response = send(client, WHEEL, content)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("algorithm", ["md5", "sha256", "blake2_256"])
def test_every_digest_sent_must_match(
    client: FlaskClient, settings: Settings, algorithm: str
) -> None:
    assert "does not match" in rejected(
        client, settings, WHEEL, GOOD_WHEEL, **{f"{algorithm}_digest": "0" * 64}
    )


def test_at_least_one_digest(client: FlaskClient, settings: Settings) -> None:
    drop = ("md5_digest", "sha256_digest", "blake2_256_digest")
    assert "no digest" in rejected(client, settings, WHEEL, GOOD_WHEEL, drop=drop)


def test_other_spellings_are_the_same_file(client: FlaskClient, settings: Settings) -> None:
    """``Demo-1.0.0-py3-none-any.whl`` is the file ``demo-1.0-py3-none-any.whl`` already is."""
    assert send(client, WHEEL, GOOD_WHEEL).status_code == 200
    for spelling in ["Demo-1.0-py3-none-any.whl", "DEMO-1.0.0-py3-none-any.whl"]:
        same = send(client, spelling, GOOD_WHEEL, name="Demo")
        assert same.status_code == 200, same.text
        assert "already stored" in same.text
        other = zip_bytes([*wheel_members(), ("demo/more.py", b"")])
        assert rejected(client, settings, spelling, other, name="Demo", status=409).startswith(
            "File already exists"
        )
    tags = zip_bytes([*wheel_members(), ("demo/tags.py", b"")])
    assert send(client, "demo-1.0-py2.py3-none-any.whl", tags).status_code == 200
    assert "File already exists" in rejected(
        client, settings, "demo-1.0-py3.py2-none-any.whl", GOOD_WHEEL, status=409
    )


# Form fuzzing: every malformed request is a 4xx with one line, never a 500.


@pytest.mark.parametrize(
    ("drop", "extra", "reason"),
    [
        pytest.param((":action",), [], "unsupported :action", id="no-action"),
        pytest.param(("name",), [], "no 'name'", id="no-name"),
        pytest.param(("version",), [], "no 'version'", id="no-version"),
        pytest.param(("filetype",), [], "no 'filetype'", id="no-filetype"),
        pytest.param((), [("name", "other")], "several different 'name'", id="two-names"),
        pytest.param((), [("version", "2.0")], "several different 'version'", id="two-versions"),
        pytest.param((), [("sha256_digest", "00")], "several different", id="two-digests"),
        pytest.param((), [(":action", "remove_pkg")], "several different", id="two-actions"),
    ],
)
def test_form_fuzz(
    client: FlaskClient, settings: Settings, drop: tuple[str, ...], extra: list, reason: str
) -> None:
    assert reason in rejected(client, settings, WHEEL, GOOD_WHEEL, drop=drop, extra=extra)


def test_duplicated_identical_fields_are_fine(client: FlaskClient) -> None:
    response = send(client, WHEEL, GOOD_WHEEL, extra=[("name", "demo"), ("classifiers", "A")])
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(b"", None, 400, id="no-body"),
        pytest.param(b":action=file_upload", "application/x-www-form-urlencoded", 400, id="urlenc"),
        pytest.param(b'{"a": 1}', "application/json", 400, id="json"),
        pytest.param(b"garbage", "multipart/form-data", 400, id="no-boundary"),
        pytest.param(b"--x\r\nbroken", "multipart/form-data; boundary=x", 400, id="broken"),
        pytest.param(b"\xff\xfe\x00", "multipart/form-data; boundary=\xff", 400, id="bad-utf8"),
        pytest.param(b"x" * 100, "text/plain", 400, id="text"),
    ],
)
def test_non_multipart_bodies(
    client: FlaskClient, settings: Settings, body: bytes, content_type: str | None, status: int
) -> None:
    before = storage(settings)
    response = post_multipart(client, body, content_type)
    assert response.status_code == status, response.text
    assert storage(settings) == before


def test_content_as_plain_field_or_two_files(client: FlaskClient, settings: Settings) -> None:
    before = storage(settings)
    fields = list(upload_fields(WHEEL, GOOD_WHEEL, "demo", "1.0").items())
    body, ctype = multipart([*fields, ("content", "not a file")], [])
    assert "no 'content' file" in post_multipart(client, body, ctype).text
    body, ctype = multipart(fields, [("content", WHEEL, GOOD_WHEEL)] * 2)
    assert "several 'content'" in post_multipart(client, body, ctype).text
    body, ctype = multipart(fields, [("content", "", GOOD_WHEEL)])
    assert "no 'content' file" in post_multipart(client, body, ctype).text
    assert storage(settings) == before


def test_bad_utf8_in_fields_and_filename(client: FlaskClient, settings: Settings) -> None:
    before = storage(settings)
    fields = list(upload_fields(WHEEL, GOOD_WHEEL, "demo", "1.0").items())
    body, ctype = multipart([(k, "d\udcffmo" if k == "name" else v) for k, v in fields], [])
    body2, ctype2 = multipart(fields, [("content", "d\udcffmo-1.0-py3-none-any.whl", GOOD_WHEEL)])
    for raw, kind in [(body, ctype), (body2, ctype2)]:
        response = post_multipart(client, raw, kind)
        assert response.status_code == 400, response.text
    assert storage(settings) == before


@pytest.fixture
def small_app(settings: Settings) -> Flask:
    app = build_app(settings.replace(max_upload_size=64 * 1024))
    return app


def test_file_over_max_upload_size_is_413(small_app: Flask, settings: Settings) -> None:
    client = small_app.test_client()
    big = zip_bytes([*wheel_members(), ("demo/blob", bytes(range(256)) * 300)], compression=0)
    text = rejected(client, settings, WHEEL, big, status=413)
    assert "max-upload-size (64K)" in text


def test_content_length_over_limit_is_413_before_reading(small_app: Flask) -> None:
    client = small_app.test_client()
    limit = small_app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        "/legacy/",
        data=b"x" * (limit + 1),
        headers={**basic(), "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 413
    assert "max-upload-size (64K)" in response.text


def test_too_many_parts_is_413(client: FlaskClient, settings: Settings) -> None:
    """No real client sends more than a few dozen parts; 1,001 is junk, refused unparsed."""
    before = storage(settings)
    fields = list(upload_fields(WHEEL, GOOD_WHEEL, "demo", "1.0").items())
    padding = [("classifiers", "x")] * (1001 - len(fields) - 1)
    body, ctype = multipart([*fields, *padding], [("content", WHEEL, GOOD_WHEEL)])
    response = post_multipart(client, body, ctype)
    assert response.status_code == 413
    assert "a form 1000 parts" in response.text
    assert storage(settings) == before


def test_a_thousand_parts_are_accepted(client: FlaskClient) -> None:
    fields = list(upload_fields(WHEEL, GOOD_WHEEL, "demo", "1.0").items())
    padding = [("classifiers", "x")] * (1000 - len(fields) - 1)
    body, ctype = multipart([*fields, *padding], [("content", WHEEL, GOOD_WHEEL)])
    assert post_multipart(client, body, ctype).status_code == 200


def test_huge_form_field_is_413(client: FlaskClient, settings: Settings) -> None:
    before = storage(settings)
    fields = list(upload_fields(WHEEL, GOOD_WHEEL, "demo", "1.0").items())
    body, ctype = multipart(
        [*fields, ("description", "x" * (1024 * 1024 + 1))], [("content", WHEEL, GOOD_WHEEL)]
    )
    response = post_multipart(client, body, ctype)
    assert response.status_code == 413
    assert "any other field 1M" in response.text
    assert storage(settings) == before


def test_a_one_mib_description_field_is_accepted(client: FlaskClient) -> None:
    fields = list(upload_fields(WHEEL, GOOD_WHEEL, "demo", "1.0").items())
    body, ctype = multipart(
        [*fields, ("description", "x" * (1024 * 1024))], [("content", WHEEL, GOOD_WHEEL)]
    )
    assert post_multipart(client, body, ctype).status_code == 200


@pytest.mark.parametrize("protocol", ["2", "0", ""])
def test_protocol_version_other_than_1_is_400(
    client: FlaskClient, settings: Settings, protocol: str
) -> None:
    text = rejected(client, settings, WHEEL, GOOD_WHEEL, protocol_version=protocol)
    assert "only '1' is supported" in text


def test_form_fields_other_than_identity_never_reach_the_record(client: FlaskClient) -> None:
    """The archive is the truth: a form's summary or requires_python is not what is served."""
    response = send(
        client, WHEEL, GOOD_WHEEL, summary="FORM SUMMARY", requires_python=">=9", author="form"
    )
    assert response.status_code == 200, response.text
    page = client.get("/pypi/demo/json", headers=basic()).json
    assert page["info"]["summary"] != "FORM SUMMARY"
    assert page["info"]["author"] != "form"
    assert page["info"]["requires_python"] != ">=9"


def test_sdist_repeating_a_member_name_is_accepted(client: FlaskClient) -> None:
    """pyarrow 26.0.1's sdist holds LICENSE.txt twice; tar readers all take the last one."""
    content = _sdist(("demo-1.0/LICENSE.txt", b"first"), ("demo-1.0/LICENSE.txt", b"second"))
    assert send(client, "demo-1.0.tar.gz", content).status_code == 200
