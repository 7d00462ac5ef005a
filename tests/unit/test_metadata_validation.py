"""Core metadata validation at upload: every problem names the field and the reason."""

from __future__ import annotations

import pytest

from pryv_server.core.distributions import parse_metadata
from pryv_server.core.models import Metadata
from pryv_server.errors import InvalidMetadata


def text(version: str, *lines: str, name: str = "demo") -> bytes:
    head = [f"Metadata-Version: {version}", f"Name: {name}", "Version: 1.0"]
    return ("\n".join(head + list(lines)) + "\n").encode()


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        pytest.param(text("3.0"), "metadata-version", "not a valid metadata version", id="mv"),
        pytest.param(b"Metadata-Version: 2.1\nVersion: 1.0\n", "name", "required", id="no-name"),
        pytest.param(text("2.1", name="-bad-"), "name", "invalid", id="bad-name"),
        pytest.param(
            b"Metadata-Version: 2.1\nName: a\nVersion: one\n", "version", "invalid", id="version"
        ),
        pytest.param(
            text("2.1", "Requires-Dist: foo >=< 1"), "requires-dist", "invalid", id="requires-dist"
        ),
        pytest.param(
            text("1.2", "Requires-Python: >=3.x"), "requires-python", "invalid", id="rp-1.2"
        ),
        pytest.param(
            text("2.1", "Description-Content-Type: text/foo"),
            "description-content-type",
            "must be one of",
            id="dct",
        ),
        pytest.param(text("2.1", "Dynamic: Summary"), "dynamic", "introduced in", id="dyn-2.1"),
        pytest.param(text("2.2", "Dynamic: Name"), "dynamic", "not allowed", id="dyn-name-2.2"),
        pytest.param(
            text("2.3", "License-Expression: MIT"), "license-expression", "2.4", id="le-2.3"
        ),
        pytest.param(
            text("2.4", "License-Expression: MIT OR"), "license-expression", "invalid", id="le-2.4"
        ),
        pytest.param(
            text("2.4", "License-File: /etc/passwd"), "license-file", "relative", id="lf-2.4"
        ),
        pytest.param(text("2.4", "Import-Name: demo"), "import-name", "2.5", id="import-2.4"),
    ],
)
def test_parse_metadata_rejects_with_field_and_reason(
    content: bytes, field: str, reason: str
) -> None:
    with pytest.raises(InvalidMetadata) as raised:
        parse_metadata(content)
    assert f"{field}:" in str(raised.value)
    assert reason in str(raised.value)


def test_parse_metadata_rejects_non_utf8() -> None:
    with pytest.raises(InvalidMetadata, match="not valid UTF-8"):
        parse_metadata(b"Metadata-Version: 2.1\nName: \xff\n")


def test_parse_metadata_gathers_every_problem_in_one_message() -> None:
    content = text("2.1", "Requires-Dist: foo >=< 1", "Requires-Python: >=3.x")
    with pytest.raises(InvalidMetadata) as raised:
        parse_metadata(content)
    assert "requires-dist: " in str(raised.value)
    assert "requires-python: " in str(raised.value)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"])
def test_parse_metadata_accepts_every_metadata_version(version: str) -> None:
    assert parse_metadata(text(version))["metadata_version"] == version


def test_metadata_keeps_every_2_4_and_2_5_field() -> None:
    raw = parse_metadata(
        text(
            "2.5",
            "License-Expression: MIT OR Apache-2.0",
            "License-File: LICENSE",
            "License-File: licenses/NOTICE",
            "Dynamic: Requires-Dist",
            "Import-Name: demo",
            "Import-Namespace: demo_ns",
            "Provides-Extra: fast",
            "Requires-Dist: rich; extra == 'fast'",
            "Project-URL: Source, https://example.org/src",
        )
    )
    metadata = Metadata.from_raw(raw)
    assert metadata.license_expression == "MIT OR Apache-2.0"
    assert metadata.license_files == ("LICENSE", "licenses/NOTICE")
    assert metadata.dynamic == ("Requires-Dist",)
    assert metadata.import_names == ("demo",)
    assert metadata.import_namespaces == ("demo_ns",)
    assert metadata.provides_extra == ("fast",)
    assert metadata.project_urls == (("Source", "https://example.org/src"),)
    assert Metadata.from_raw(metadata.to_raw()) == metadata
