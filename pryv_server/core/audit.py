"""The audit log: one object per write (upload, yank, token, grant or user change).

Each event is its own object, written once under a key made of its time and a random suffix, so
instances never contend and nothing is rewritten; reading the log lists and reads them, which
only ``pryv audit`` (and an admin page) does. Events live in the packages store, which the
catalog never lists, so the log's growth costs the index nothing.

An event says who (a user, ``__token__:<id>`` for a token, ``cli`` for the command line), from
where (the client's address, or ``cli``), what (an action and its target, with details) and
when (UTC, to the microsecond). Writing one never fails the change it records: a store that
refuses is logged.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from typing import Any

from pryv_server.core import layout
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """One audited change."""

    time: str
    who: str
    where: str
    action: str
    target: str
    details: dict[str, Any] = field(default_factory=dict)


class AuditLog:
    """Append events to, and read them from, ``store``."""

    def __init__(
        self, store: Storage, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self._now = now

    def record(self, who: str, where: str, action: str, target: str, **details: Any) -> None:
        """Write one event (create-if-absent under a fresh key); log, never raise, on failure."""
        moment = self._now()
        event = Event(moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), who, where, action, target, details)
        key = layout.audit_key(moment, secrets.token_hex(4))
        try:
            content = json.dumps(asdict(event), sort_keys=True).encode()
            self.store.write(key, io.BytesIO(content), overwrite=False)
        except (StorageError, TypeError, ValueError):
            log.exception("could not write the audit event %s %s by %s", action, target, who)

    def newest(self, start: int, count: int) -> tuple[list[Event], int]:
        """Return ``count`` events from the ``start``-th newest on, and how many there are.

        The admin page's pages: one listing, then only the shown events are read.
        """
        keys = sorted((info.key for info in self.store.list_objects(layout.AUDIT_PREFIX)),
                      reverse=True)  # fmt: skip
        return self._read(keys[start : start + count]), len(keys)

    def events(self, since: datetime | None = None) -> list[Event]:
        """Return the events (from ``since`` on), oldest first."""
        keys = sorted(info.key for info in self.store.list_objects(layout.AUDIT_PREFIX))
        if since is not None:
            first = layout.audit_key(since, "")
            keys = [key for key in keys if key >= first]
        return self._read(keys)

    def _read(self, keys: list[str]) -> list[Event]:
        found = []
        for key in keys:
            try:
                found.append(Event(**json.loads(self.store.read(key))))
            except ObjectNotFound:
                continue
            except (TypeError, ValueError):
                log.warning("skipping the unreadable audit event %s", key)
        return found
