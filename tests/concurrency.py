"""Run contenders at the same instant, for the races that storage and the setup page must survive."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def all_at_once(count: int, contender: Callable[[int], T]) -> list[T]:
    """Call ``contender(0)`` … ``contender(count - 1)`` in threads released together by a
    barrier; return their results in that order (the first exception is raised)."""
    barrier = threading.Barrier(count)

    def released(n: int) -> T:
        barrier.wait()
        return contender(n)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(released, range(count)))
