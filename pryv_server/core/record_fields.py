"""How each core-metadata field of a record is read into memory and written back as JSON.

A registry's files repeat the same authors, licenses, classifiers and content types, and a
release's wheels and sdist the same description, so every value read is shared with the equal
ones already in memory: a loaded catalog holds each once (at 6,000 files, the in-memory records
went from 3.0 to 1.7 KB each; see :mod:`pryv_server.core.models` for the records themselves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Iterable
from functools import lru_cache
from sys import intern
from typing import Any

# The fields that hold several values (a tuple in memory, a JSON list in a record).
LIST_FIELDS = frozenset(
    {
        "platforms", "supported_platforms", "keywords", "classifiers", "requires", "provides",
        "obsoletes", "requires_dist", "provides_dist", "obsoletes_dist", "requires_external",
        "provides_extra", "dynamic", "license_files", "import_names", "import_namespaces",
    }
)  # fmt: skip
# A field's (decode, encode): from a record's JSON value to memory, and back.
Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def codecs(names: Iterable[str]) -> dict[str, Codec]:
    """Return each field's codec, in the order given (records keep their field order)."""
    return {name: _codec(name) for name in names}


def shared_text(value: Any) -> str:
    """Return ``value`` as a string, the one already in memory when an equal one is."""
    return intern(str(value))


def _codec(name: str) -> Codec:
    if name == "project_urls":
        return (_urls, dict)
    if name in LIST_FIELDS:
        return (lambda value: _shared(tuple(map(shared_text, value))), list)
    return (shared_text, lambda value: value)


def _urls(value: Any) -> tuple[tuple[str, str], ...]:
    return _shared(tuple((str(label), str(url)) for label, url in dict(value).items()))


@lru_cache(maxsize=4096)
def _shared(value: tuple[Any, ...]) -> tuple[Any, ...]:
    """Return the first tuple equal to ``value`` seen lately (classifiers repeat across files)."""
    return value


def description_digest(text: str) -> str:
    """Return the sha256 of a long description ("" for none): what names its rendering.

    A loaded record keeps this instead of the text (see ``Package.from_json``), so that what a
    release's rendering is stored under stays known without the text in memory.
    """
    if not text.strip():
        return ""
    return shared_text(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
