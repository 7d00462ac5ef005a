"""How many connections each gunicorn worker of one server holds, shared between the workers.

A worker that holds far more connections than another lets the listening socket wait, so that the
other takes the next one (see :mod:`pryv_server.worker`). To compare, every worker writes its
load into a slot of an anonymous shared memory map made when this module is imported, which
gunicorn's master does before it forks the workers: each worker then sees every other's slot.
A slot not written for :data:`LIVE` seconds belongs to no running worker (one that exited, or a
predecessor in the same slot); a worker writes its own at least once per event-loop turn (at
least every second).
"""

from __future__ import annotations

import mmap
import struct

SLOTS = 64  # pryv start allows 64 workers at most
LIVE = 3.0  # seconds
_SLOT = struct.Struct("qd")  # connections held, and when that was written (time.monotonic())


class WorkerLoads:
    """The shared table of every worker's load; slots are chosen by the worker's ``age``."""

    def __init__(self, slots: int = SLOTS) -> None:
        self.slots = slots
        self._map = mmap.mmap(-1, _SLOT.size * slots)
        self._table = struct.Struct(_SLOT.format * slots)  # every slot in one unpack

    def publish(self, slot: int, load: int, now: float) -> None:
        """Write a worker's load (a torn read by another worker only misjudges one accept)."""
        _SLOT.pack_into(self._map, (slot % self.slots) * _SLOT.size, load, now)

    def least_other(self, slot: int, now: float) -> int | None:
        """Return the smallest load of the other running workers (None when there is none)."""
        own = slot % self.slots
        values = self._table.unpack_from(self._map)
        live = [
            values[2 * index]
            for index in range(self.slots)
            if index != own and now - values[2 * index + 1] < LIVE and values[2 * index + 1]
        ]
        return min(live, default=None)


SHARED = WorkerLoads()
