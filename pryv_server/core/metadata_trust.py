"""Whether installers may trust a file's core metadata, and so whether pryv serves it (PEP 658).

A wheel's metadata always describes the wheel. An sdist's describes the wheels built from it only
as far as PEP 643 says: see :func:`serves_core_metadata`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion
from packaging.version import Version

if TYPE_CHECKING:
    from pryv_server.core.metadata import Metadata

# PEP 643: only an sdist's PKG-INFO of Metadata-Version 2.2 or later is reliable (fields not
# marked Dynamic match the wheels built from it), so only those are served as core metadata.
RELIABLE_SDIST_METADATA = Version("2.2")
# What a resolver reads from core metadata (PEP 658); none may be Dynamic in a served sdist's.
RESOLVER_FIELDS = frozenset({"requires-dist", "requires-python", "provides-extra"})


def serves_core_metadata(kind: str, metadata: Metadata) -> bool:
    """Say whether a file's core metadata is served as ``<file>.metadata`` (PEP 658 and 643).

    A wheel's always is. An sdist's only when installers may trust it to describe the wheel they
    would build: PEP 643 makes a ``PKG-INFO`` of Metadata 2.2 or later reliable except for the
    fields it marks ``Dynamic``, and a resolver reads ``Requires-Dist``, ``Requires-Python``
    and ``Provides-Extra`` from it; when any of them is dynamic, pip must build the sdist to
    learn its dependencies, so no metadata is advertised.
    """
    if kind == "wheel":
        return True
    if not _reliable_sdist_metadata(metadata.metadata_version):
        return False
    dynamic = {field.strip().lower() for field in metadata.dynamic}
    return not dynamic & RESOLVER_FIELDS


@lru_cache(maxsize=64)
def _reliable_sdist_metadata(metadata_version: str) -> bool:
    # Cached: start-up asks this of every stored sdist, and a registry holds a handful of
    # Metadata-Version strings.
    try:
        return Version(metadata_version) >= RELIABLE_SDIST_METADATA
    except InvalidVersion:
        return False
