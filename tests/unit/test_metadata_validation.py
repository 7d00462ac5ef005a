"""Core metadata at upload: what PyPI hosts is accepted; only an unsure identity is refused.

The accepted examples are the header lines of real files PyPI serves (named in each id).
"""

from __future__ import annotations

import pytest

from pryv_server.core.core_metadata import read_core_metadata
from pryv_server.core.metadata import Metadata
from pryv_server.errors import InvalidMetadata


def text(version: str, *lines: str, name: str = "demo") -> bytes:
    head = [f"Metadata-Version: {version}", f"Name: {name}", "Version: 1.0"]
    return ("\n".join(head + list(lines)) + "\n").encode()


REQUESTS_2_32_3 = b"""Metadata-Version: 2.1
Name: requests
Version: 2.32.3
Summary: Python HTTP for Humans.
Home-page: https://requests.readthedocs.io
License: Apache-2.0
Requires-Python: >=3.8
Description-Content-Type: text/markdown
License-File: LICENSE
Requires-Dist: charset-normalizer<4,>=2
Provides-Extra: socks
Requires-Dist: PySocks!=1.5.7,>=1.5.6; extra == "socks"
"""
SOUPSIEVE_2_4_1 = b"""Metadata-Version: 2.1
Name: soupsieve
Version: 2.4.1
Summary: A modern CSS selector implementation for Beautiful Soup.
Project-URL: Homepage, https://github.com/facelessuser/soupsieve
License-Expression: MIT
License-File: LICENSE.md
Keywords: CSS,HTML,XML,filter,query,selector,soup
Requires-Python: >=3.7
"""
BOTOCORE_1_16_20 = b"""Metadata-Version: 2.0
Name: botocore
Version: 1.16.20
Summary: Low-level, data-driven core of boto 3.
Home-page: https://github.com/boto/botocore
Author-email: UNKNOWN
Platform: UNKNOWN
Requires-Dist: urllib3>=1.20,<1.25.8; python_version=='3.4'
"""
# Metadata 1.0 (distutils, 2000s): no Requires-Dist, only the basics.
METADATA_1_0 = b"""Metadata-Version: 1.0
Name: oldlib
Version: 0.3
Summary: UNKNOWN
Home-page: UNKNOWN
Author: Someone
Author-email: UNKNOWN
License: UNKNOWN
Description: UNKNOWN
Platform: UNKNOWN
"""
# Metadata 1.1 with the distutils `Requires` field (PEP 314), not Requires-Dist.
METADATA_1_1 = b"""Metadata-Version: 1.1
Name: legacy
Version: 1.2
Summary: An old package
Requires: simplejson
Provides: legacy
Classifier: Programming Language :: Python :: 2.5
"""


@pytest.mark.parametrize(
    ("content", "name", "warning"),
    [
        pytest.param(REQUESTS_2_32_3, "requests", "license-file", id="license-file-in-2.1"),
        pytest.param(SOUPSIEVE_2_4_1, "soupsieve", "license-expression", id="license-expr-in-2.1"),
        pytest.param(BOTOCORE_1_16_20, "botocore", "metadata-version", id="metadata-2.0"),
        pytest.param(METADATA_1_0, "oldlib", "", id="metadata-1.0-unknown-values"),
        pytest.param(METADATA_1_1, "legacy", "", id="metadata-1.1-requires"),
    ],
)
def test_read_core_metadata_accepts_real_world_files(
    content: bytes, name: str, warning: str
) -> None:
    read = read_core_metadata(content)
    assert read.raw["name"] == name
    assert Metadata.from_raw(read.raw).name == name
    if warning:
        assert any(item.startswith(f"{warning}:") for item in read.warnings), read.warnings
    else:
        assert read.warnings == ()


@pytest.mark.parametrize(
    ("line", "field"),
    [
        pytest.param("Requires-Dist: foo >=< 1", "requires-dist", id="requires-dist"),
        pytest.param("Requires-Python: >=3.x", "requires-python", id="requires-python"),
        pytest.param("Description-Content-Type: text/foo", "description-content-type", id="dct"),
        pytest.param("Dynamic: Summary", "dynamic", id="dynamic-in-2.1"),
        pytest.param("Import-Name: demo", "import-name", id="import-name-in-2.1"),
        pytest.param("Home-page: javascript:alert(1)", "home-page", id="non-web-url"),
        pytest.param("Summary: " + "x" * 600, "summary", id="long-summary"),
        pytest.param("Unknown-Field: value", "", id="unknown-field"),
    ],
)
def test_read_core_metadata_only_warns_for_display_fields(line: str, field: str) -> None:
    """A field pryv only displays never decides whether a file is accepted."""
    read = read_core_metadata(text("2.1", line))
    assert read.raw["name"] == "demo"
    if field:
        assert any(item.startswith(f"{field}:") for item in read.warnings), read.warnings


def test_read_core_metadata_reads_latin1_with_a_warning() -> None:
    read = read_core_metadata(text("1.0", "Author: Fran\xe7ois").replace(b"\xc3\xa7", b"\xe7"))
    assert read.raw["author"] == "François"
    assert any("UTF-8" in item for item in read.warnings)


def test_read_core_metadata_keeps_one_value_of_a_repeated_display_field() -> None:
    read = read_core_metadata(text("1.1", "Summary: first", "Summary: second"))
    assert read.raw["summary"] == "first"
    assert any(item.startswith("summary:") for item in read.warnings)


def test_read_core_metadata_takes_the_body_when_description_is_given_twice() -> None:
    read = read_core_metadata(text("2.1", "Description: header") + b"\nthe body\n")
    assert read.raw["description"].strip() == "the body"


def test_read_core_metadata_takes_a_repeated_identical_name_once() -> None:
    assert read_core_metadata(text("1.0", "Name: demo")).raw["name"] == "demo"


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        pytest.param(text("3.0"), "metadata-version", "newer than any installer", id="mv-3"),
        pytest.param(b"Metadata-Version: 2.1\nVersion: 1.0\n", "name", "required", id="no-name"),
        pytest.param(b"Metadata-Version: 2.1\nName: a\n", "version", "required", id="no-version"),
        pytest.param(
            b"Metadata-Version: 2.1\nName: a\nVersion: one\n", "version", "PEP 440", id="version"
        ),
        pytest.param(text("2.1", "Name: other"), "name", "different values", id="two-names"),
        pytest.param(text("2.1", "Version: 2.0"), "version", "different values", id="two-vers"),
    ],
)
def test_read_core_metadata_refuses_an_unsure_identity(
    content: bytes, field: str, reason: str
) -> None:
    with pytest.raises(InvalidMetadata) as raised:
        read_core_metadata(content)
    assert f"{field}:" in str(raised.value)
    assert reason in str(raised.value)


def test_read_core_metadata_gathers_every_problem_in_one_message() -> None:
    with pytest.raises(InvalidMetadata) as raised:
        read_core_metadata(b"Metadata-Version: 4.0\n")
    assert "name: " in str(raised.value)
    assert "version: " in str(raised.value)
    assert "metadata-version: " in str(raised.value)


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "2.0", "2.1", "2.2", "2.3", "2.4", "2.5"])
def test_read_core_metadata_accepts_every_metadata_version(version: str) -> None:
    assert read_core_metadata(text(version)).raw["metadata_version"] == version


def test_metadata_keeps_every_2_4_and_2_5_field() -> None:
    read = read_core_metadata(
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
    assert read.warnings == ()
    metadata = Metadata.from_raw(read.raw)
    assert metadata.license_expression == "MIT OR Apache-2.0"
    assert metadata.license_files == ("LICENSE", "licenses/NOTICE")
    assert metadata.dynamic == ("Requires-Dist",)
    assert metadata.import_names == ("demo",)
    assert metadata.import_namespaces == ("demo_ns",)
    assert metadata.provides_extra == ("fast",)
    assert metadata.project_urls == (("Source", "https://example.org/src"),)
    assert Metadata.from_raw(metadata.to_raw()) == metadata
