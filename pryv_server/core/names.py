"""Project names (PEP 503) and distribution filenames (wheel and sdist rules).

Everything here wraps :mod:`packaging.utils`, so pryv agrees with pip on what a name means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from packaging.utils import InvalidSdistFilename
from packaging.utils import InvalidWheelFilename
from packaging.utils import NormalizedName
from packaging.utils import canonicalize_name
from packaging.utils import canonicalize_version
from packaging.utils import parse_sdist_filename
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion
from packaging.version import Version

from pryv_server.errors import InvalidFilename

# PEP 508: a valid project name is ASCII letters and digits, with . _ - inside.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
MAX_FILENAME_BYTES = 255
# What wheel and sdist filenames are made of (PEP 427/625 names, PEP 440 versions with ! and +).
_FILENAME_CHARS = re.compile(r"^[A-Za-z0-9._+!-]+$")
EXTENSIONS = (".whl", ".tar.gz", ".zip")

Kind = Literal["wheel", "sdist"]


def is_valid_name(name: str) -> bool:
    """Say whether ``name`` is a valid project name (PEP 508)."""
    return bool(_VALID_NAME.match(name))


def normalize(name: str) -> NormalizedName:
    """Return the PEP 503 normalized name: ``My_Project`` and ``my.project`` are ``my-project``."""
    return canonicalize_name(name)


@lru_cache(maxsize=65536)
def release_key(version: Version | str) -> str:
    """Return the identity of a release: ``1.0`` and ``1.0.0`` are one release (PEP 440).

    Cached: start-up groups every stored file by release, and a registry has far fewer distinct
    version strings than files.
    """
    return canonicalize_version(version if isinstance(version, Version) else parse_version(version))


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version:
    """Return ``text`` as a PEP 440 version: one object for every release spelled alike.

    Cached for the same reason, and for memory: a Version with its sort key weighs about 500
    bytes, and the releases of different projects share their versions' spellings.
    """
    return Version(text)


@dataclass(frozen=True, slots=True)
class DistributionFilename:
    """A validated distribution filename, with what it says about the file."""

    filename: str
    project: NormalizedName
    version: Version
    kind: Kind
    # The file's identity: two spellings of one file (case, separators, 1.0 vs 1.0.0) share it.
    identity: str


def check_basename(filename: str) -> str:
    """Refuse anything but a plain basename: no separators, control characters or leading dot."""
    if not filename:
        raise InvalidFilename("the filename is empty")
    if len(filename.encode("utf-8", "surrogatepass")) > MAX_FILENAME_BYTES:
        raise InvalidFilename(f"the filename is longer than {MAX_FILENAME_BYTES} bytes")
    if "/" in filename or "\\" in filename:
        raise InvalidFilename(f"{filename!r}: a filename cannot contain '/' or '\\'")
    if any(ord(char) < 32 or ord(char) == 127 for char in filename):
        raise InvalidFilename(f"{filename!r}: a filename cannot contain control characters")
    if filename.startswith("."):
        raise InvalidFilename(f"{filename!r}: a filename cannot start with '.'")
    if not _FILENAME_CHARS.match(filename):
        raise InvalidFilename(
            f"{filename!r}: a distribution filename has only ASCII letters, digits and . _ - + !"
        )
    return filename


def parse_filename(filename: str) -> DistributionFilename:
    """Validate a distribution filename and parse it with packaging's wheel and sdist rules.

    :raises InvalidFilename: the name is not a safe basename or not a wheel/sdist name.
    """
    check_basename(filename)
    lowered = filename.lower()
    try:
        if lowered.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            build_part = f"-{build[0]}{build[1]}" if build else ""
            interpreters = ".".join(sorted({tag.interpreter for tag in tags}))
            abis = ".".join(sorted({tag.abi for tag in tags}))
            platforms = ".".join(sorted({tag.platform for tag in tags}))
            tag_part = f"{interpreters}-{abis}-{platforms}"
            identity = f"{name.replace('-', '_')}-{release_key(version)}{build_part}-{tag_part}.whl"
            return DistributionFilename(filename, name, version, "wheel", identity)
        if lowered.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            if not is_valid_name(name):  # packaging splits at the last "-" and checks no more
                raise InvalidSdistFilename(f"{name!r} is not a valid project name")
            extension = ".tar.gz" if lowered.endswith(".tar.gz") else ".zip"
            identity = f"{name.replace('-', '_')}-{release_key(version)}{extension}"
            return DistributionFilename(filename, name, version, "sdist", identity)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as error:
        raise InvalidFilename(
            f"{filename!r} is not a valid distribution filename: {error}"
        ) from None
    raise InvalidFilename(
        f"{filename!r}: only wheels (.whl) and source distributions (.tar.gz, .zip) are accepted"
    )
