"""Side records: the small JSON records kept in the catalog beside packages and overlays.

API tokens, project roles and upstream controls are read on every request, and with ``uploads =
owners`` there is a role record per project, so they grow with the registry. They ride in the
catalog: a start reads them from the checkpoint, and a change costs every other process the keys
its journal entry names, as an overlay does. The catalog holds them as the raw JSON objects
stored, keyed by storage key, for each key prefix a :class:`~pryv_server.core.record_set.RecordSet`
watches; their meaning is their store's (:mod:`pryv_server.core.tokens` and the others).

A :class:`SideRecords` is immutable. A change replaces the mapping of the one prefix it touches,
so a store that caches what it parsed from its mapping compares identities, and an upload,
which touches none, changes none.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from types import MappingProxyType
from typing import Any

from pryv_server.core.layout import RECORD_SUFFIX
from pryv_server.core.mappings import copied

SideRecord = dict[str, Any]  # a record's JSON object, as stored
_EMPTY: Mapping[str, SideRecord] = MappingProxyType({})


@dataclass(frozen=True)
class SideRecords:
    """The side records of every watched prefix: ``prefix -> key -> record``."""

    by_prefix: Mapping[str, Mapping[str, SideRecord]] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def prefixes(self) -> frozenset[str]:
        """Return the watched prefixes."""
        return frozenset(self.by_prefix)

    def watching(self, prefix: str) -> SideRecords:
        """Return these records with ``prefix`` watched too (none of its records known yet)."""
        if prefix in self.by_prefix:
            return self
        return SideRecords(MappingProxyType({**self.by_prefix, prefix: _EMPTY}))

    def holds(self, key: str) -> bool:
        """Say whether ``key`` names a side record (a ``.json`` key under a watched prefix)."""
        return self._prefix_of(key) is not None

    def under(self, prefix: str) -> Mapping[str, SideRecord]:
        """Return the records under ``prefix``: the same object until one of them changes."""
        return self.by_prefix.get(prefix, _EMPTY)

    def get(self, key: str) -> SideRecord | None:
        """Return the record at ``key``, or None."""
        prefix = self._prefix_of(key)
        return None if prefix is None else self.by_prefix[prefix].get(key)

    def keys(self) -> Iterator[str]:
        """Yield every record's key."""
        for records in self.by_prefix.values():
            yield from records

    def replaced(self, records: Iterable[tuple[str, SideRecord]]) -> SideRecords:
        """Return the watched prefixes holding exactly ``records`` (others are dropped)."""
        grouped: dict[str, dict[str, SideRecord]] = {prefix: {} for prefix in self.by_prefix}
        for key, record in records:
            prefix = self._prefix_of(key)
            if prefix is not None:
                grouped[prefix][key] = record
        return SideRecords(
            MappingProxyType({p: MappingProxyType(found) for p, found in grouped.items()})
        )

    def with_changes(self, changes: Mapping[str, SideRecord | None]) -> SideRecords:
        """Return the next records with some added, replaced or removed (None).

        Only the prefixes the changes touch are copied.
        """
        touched: dict[str, dict[str, SideRecord]] = {}
        for key, record in changes.items():
            prefix = self._prefix_of(key)
            if prefix is None:
                continue
            copy = touched.setdefault(prefix, copied(self.by_prefix[prefix]))
            if record is None:
                copy.pop(key, None)
            else:
                copy[key] = record
        if not touched:
            return self
        frozen = {prefix: MappingProxyType(copy) for prefix, copy in touched.items()}
        return SideRecords(MappingProxyType({**self.by_prefix, **frozen}))

    def _prefix_of(self, key: str) -> str | None:
        if key.endswith(RECORD_SUFFIX):
            for prefix in self.by_prefix:
                if key.startswith(prefix):
                    return prefix
        return None
