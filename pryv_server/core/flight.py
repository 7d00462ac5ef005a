"""Single flight: of many concurrent requests for one thing, one does the work, the others wait.

Fifty ``pip install`` runs asking for one upstream file at once must cost one upstream download.
The first caller of :meth:`SingleFlight.claim` for a key leads and must :meth:`Flight.finish` it
(its work may go on after it returned, as a download streamed to its client does); the others
wait for that and then read what the leader stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Hashable
from typing import Generic
from typing import TypeVar

T = TypeVar("T")


class Flight(Generic[T]):
    """One piece of work under way: its result or error once finished."""

    def __init__(self, owner: SingleFlight[T], key: Hashable) -> None:
        self._owner = owner
        self._key = key
        self._done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def finish(self, result: T | None = None, error: BaseException | None = None) -> None:
        """Publish the outcome and let the next caller start afresh (idempotent)."""
        if self._done.is_set():
            return
        self.result, self.error = result, error
        self._owner._forget(self._key, self)
        self._done.set()

    def wait(self, timeout: float) -> bool:
        """Wait for the leader; False when it did not finish within ``timeout`` seconds."""
        return self._done.wait(timeout)


class SingleFlight(Generic[T]):
    """The flights under way in this process, by key."""

    def __init__(self) -> None:
        self._flights: dict[Hashable, Flight[T]] = {}
        self._lock = threading.Lock()

    def claim(self, key: Hashable) -> tuple[Flight[T], bool]:
        """Return the flight for ``key`` and whether the caller leads it (and must finish it)."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False
            flight = self._flights[key] = Flight(self, key)
            return flight, True

    def run(self, key: Hashable, work: Callable[[], T], timeout: float) -> T:
        """Do ``work`` once for all concurrent callers of ``key``; they share its result or error.

        :raises TimeoutError: a follower waited ``timeout`` seconds for the leader.
        """
        flight, leader = self.claim(key)
        if leader:
            try:
                result = work()
            except BaseException as error:
                flight.finish(error=error)
                raise
            flight.finish(result)
            return result
        if not flight.wait(timeout):
            raise TimeoutError(f"waited {timeout:.0f} s for another request to fetch it")
        if flight.error is not None:
            raise copy_error(flight.error)
        return flight.result  # type: ignore[return-value]

    def _forget(self, key: Hashable, flight: Flight[T]) -> None:
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]


def copy_error(error: BaseException) -> BaseException:
    """Return a fresh exception like ``error``: each waiting thread raises its own object."""
    try:
        copied = type(error)(*error.args)
    except Exception:  # an exception class with another constructor: share it then
        return error
    copied.__cause__ = error
    return copied
