"""Core metadata as pryv holds it in memory: every field of Metadata 2.1 to 2.5, PEP 566 names.

A package keeps it as one JSON text and decodes it when asked (see ``Package.metadata``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields
from typing import Any

from pryv_server.core.record_fields import codecs


@dataclass(frozen=True, slots=True)
class Metadata:
    """Core metadata of a distribution (every field of Metadata 2.1 to 2.5, PEP 566 names)."""

    metadata_version: str = ""
    name: str = ""
    version: str = ""
    summary: str = ""
    description: str = ""
    description_content_type: str = ""
    keywords: tuple[str, ...] = ()
    home_page: str = ""
    download_url: str = ""
    author: str = ""
    author_email: str = ""
    maintainer: str = ""
    maintainer_email: str = ""
    license: str = ""
    license_expression: str = ""
    license_files: tuple[str, ...] = ()
    classifiers: tuple[str, ...] = ()
    requires_dist: tuple[str, ...] = ()
    requires_python: str = ""
    requires_external: tuple[str, ...] = ()
    project_urls: tuple[tuple[str, str], ...] = ()
    provides_extra: tuple[str, ...] = ()
    provides_dist: tuple[str, ...] = ()
    obsoletes_dist: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    supported_platforms: tuple[str, ...] = ()
    dynamic: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    import_names: tuple[str, ...] = ()
    import_namespaces: tuple[str, ...] = ()

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any], *, with_description: bool = True) -> Metadata:
        """Build from packaging's ``RawMetadata`` (or a stored record); unknown keys are ignored.

        ``with_description=False`` leaves the long description out (see :meth:`Package.from_json`).
        """
        codecs = _CODECS if with_description else _HELD_CODECS
        return cls(
            **{
                name: codecs[name][0](value)
                for name, value in raw.items()
                if value is not None and name in codecs
            }
        )

    def to_raw(self) -> dict[str, Any]:
        """Return the non-empty fields as JSON-ready values (the inverse of :meth:`from_raw`)."""
        raw: dict[str, Any] = {}
        for name, (_, encode) in _CODECS.items():
            value = getattr(self, name)
            if value:
                raw[name] = encode(value)
        return raw


# Field name -> (decode, encode), in declaration order so records keep their field order.
_CODECS = codecs(item.name for item in fields(Metadata))
_HELD_CODECS = {name: codec for name, codec in _CODECS.items() if name != "description"}
