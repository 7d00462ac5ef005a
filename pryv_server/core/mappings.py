"""Copy the side records' immutable mappings quickly, for the next version built from them.

Side records (:mod:`pryv_server.core.side_records`) are dicts behind ``MappingProxyType`` (the
snapshot's records are persistent maps, see :mod:`pryv_server.core.snapshot`). ``dict(proxy)``
walks such a proxy key by key: 11 ms at 60,000 entries against 0.37 ms for ``proxy.copy()``,
which copies the dict behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def copied(mapping: Mapping[K, V]) -> dict[K, V]:
    """Return a new dict with ``mapping``'s items, at C speed for a dict or a proxy of one."""
    if isinstance(mapping, dict | MappingProxyType):
        return mapping.copy()
    return dict(mapping)
