"""Read a distribution's core metadata the way installers do: leniently, except for identity.

What PyPI hosts, pryv accepts. Build tools have written metadata that later specifications call
wrong for years: setuptools put ``License-File`` into Metadata 2.1 and 2.2 long before PEP 639
introduced it in 2.4, some wheels say ``Metadata-Version: 2.0`` (a version that never existed),
old ``PKG-INFO`` files repeat fields, leave ``UNKNOWN`` in URLs or are not UTF-8. pip installs all
of them, so refusing them only stops a team from hosting what it already uses.

So only what decides *which file this is* can refuse an upload, because a wrong answer there
would put a file under another project or version, or hand installers metadata they must not
read:

- ``Name`` and ``Version`` are present and not given twice with different values (the caller
  then checks they agree with the filename);
- ``Metadata-Version`` is not of a major version above 2 (the core metadata specification says
  consumers *must* fail on a major version they do not know).

Everything else, every rule of :mod:`packaging.metadata` and the registry's own (summary length,
http(s) links), only gives a warning: the upload is logged with it, and the explorer shows links
that are not http(s) as plain text. The bytes of the metadata file are stored and served
unchanged (PEP 658) whatever these fields say; this module only extracts them for display.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
from typing import Any
from urllib.parse import urlsplit

from packaging.metadata import ExceptionGroup as MetadataErrors
from packaging.metadata import InvalidMetadata as PackagingInvalidMetadata
from packaging.metadata import Metadata as PackagingMetadata
from packaging.metadata import parse_email
from packaging.version import InvalidVersion
from packaging.version import Version

from pryv_server.core.metadata import Metadata
from pryv_server.core.record_fields import LIST_FIELDS
from pryv_server.errors import InvalidMetadata

# The core metadata specification: "MUST fail if metadata_version has a greater major version
# than the highest version they support".
HIGHEST_MAJOR = 2
MAX_SUMMARY = 512
URL_SCHEMES = frozenset({"http", "https"})
# Old setuptools wrote "UNKNOWN" for missing values; it is no link at all.
_NO_URL = frozenset({"", "UNKNOWN"})
_IDENTITY = ("metadata-version", "name", "version")
# Header name -> raw (PEP 566) name of the fields that may be given several times.
_LIST_HEADERS = {
    "platform": "platforms", "supported-platform": "supported_platforms",
    "classifier": "classifiers", "requires-dist": "requires_dist",
    "provides-dist": "provides_dist", "obsoletes-dist": "obsoletes_dist",
    "requires-external": "requires_external", "provides-extra": "provides_extra",
    "dynamic": "dynamic", "license-file": "license_files", "import-name": "import_names",
    "import-namespace": "import_namespaces", "requires": "requires", "provides": "provides",
    "obsoletes": "obsoletes",
}  # fmt: skip
_STRING_HEADERS = {
    item.name.replace("_", "-"): item.name
    for item in fields(Metadata)
    if item.name not in LIST_FIELDS and item.name != "project_urls"
}


@dataclass(frozen=True, slots=True)
class CoreMetadata:
    """The fields read from a metadata file, and what a strict reader would have said of them."""

    raw: dict[str, Any]
    warnings: tuple[str, ...]


def read_core_metadata(content: bytes) -> CoreMetadata:
    """Parse ``METADATA`` or ``PKG-INFO`` bytes; refuse only what makes the file's identity unsure.

    :returns: packaging's ``RawMetadata`` fields (JSON-ready) and the warnings.
    :raises InvalidMetadata: naming every identity problem in one message.
    """
    warnings: list[str] = []
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        # Metadata 1.x files were written in whatever encoding the author's machine used.
        text = content.decode("latin-1")
        warnings.append("the metadata is not valid UTF-8 (read as Latin-1)")
    raw, unparsed = parse_email(text)
    values: dict[str, Any] = dict(raw)
    problems = _identity_problems(values, unparsed)
    if problems:
        raise InvalidMetadata("invalid metadata: " + "; ".join(problems))
    warnings += _salvage(values, unparsed)
    warnings += _strict_findings(values)
    return CoreMetadata(values, tuple(warnings))


def _identity_problems(raw: dict[str, Any], unparsed: dict[str, list[str]]) -> list[str]:
    """Check Name, Version and Metadata-Version; take a repeated identical value once."""
    problems = []
    for header in _IDENTITY:
        key = header.replace("-", "_")
        repeated = {value.strip() for value in unparsed.pop(header, [])}
        if len(repeated) > 1:
            problems.append(f"{header}: given {len(repeated)} times with different values")
        elif repeated:
            raw[key] = repeated.pop()
    for header in ("name", "version"):
        if not str(raw.get(header, "")).strip():
            problems.append(f"{header}: the field is required")
    version = str(raw.get("version", "")).strip()
    if version:
        try:
            Version(version)
        except InvalidVersion:
            problems.append(f"version: {version[:100]!r} is not a valid PEP 440 version")
    major = str(raw.get("metadata_version", "")).strip().split(".")[0]
    if major.isdigit() and int(major) > HIGHEST_MAJOR:
        problems.append(
            f"metadata-version: {raw['metadata_version']!r} is newer than any installer reads "
            f"(the highest major version is {HIGHEST_MAJOR})"
        )
    return problems


def _salvage(raw: dict[str, Any], unparsed: dict[str, list[str]]) -> list[str]:
    """Keep what a repeated or oddly written display field says, as installers would."""
    warnings = []
    for header, values in unparsed.items():
        if header == "description" and "description" not in raw:
            # Given both as a header and as the body: the body is what every tool writes now.
            raw["description"] = values[-1]
        elif header in _STRING_HEADERS and _STRING_HEADERS[header] not in raw:
            raw[_STRING_HEADERS[header]] = values[0]
        elif header in _LIST_HEADERS:
            raw.setdefault(_LIST_HEADERS[header], values)
        else:
            continue
        warnings.append(f"{header}: given {len(values)} times or oddly formatted; kept one value")
    return warnings


def _strict_findings(raw: dict[str, Any]) -> list[str]:
    """Say what packaging's validation and the registry's display rules find (warnings only)."""
    findings = []
    try:
        PackagingMetadata.from_raw(raw, validate=True)  # type: ignore[arg-type]
    except MetadataErrors as group:
        findings += [_describe(error) for error in group.exceptions]
    summary = str(raw.get("summary", ""))
    if len(summary) > MAX_SUMMARY:
        findings.append(f"summary: longer than {MAX_SUMMARY} characters")
    urls = [("home-page", raw.get("home_page")), ("download-url", raw.get("download_url"))]
    urls += [(f"project-url {label!r}", url) for label, url in raw.get("project_urls", {}).items()]
    for field, url in urls:
        if url is not None and str(url).strip() not in _NO_URL and not is_web_url(str(url)):
            findings.append(f"{field}: {str(url)[:100]!r} is not an http(s) URL")
    return findings


def is_web_url(url: str) -> bool:
    """Say whether ``url`` is an absolute http(s) URL with a host and no spaces."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    printable = url.isprintable() and not any(char.isspace() for char in url.strip())
    return parts.scheme.lower() in URL_SCHEMES and bool(parts.netloc) and printable


def _describe(error: Exception) -> str:
    if isinstance(error, PackagingInvalidMetadata):
        return f"{error.field.replace('_', '-')}: {error}"
    return str(error)
