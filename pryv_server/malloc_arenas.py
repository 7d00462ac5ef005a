"""Cap glibc's malloc arenas, so memory one thread frees is reused by the others.

glibc gives threads that allocate at the same time arenas of their own, up to eight per core, and
memory freed in one arena is reused only by allocations made from it. A worker's threads each
build the catalog's next snapshot after an upload (dicts of hundreds of KB), so under a stream of
uploads every thread's arena kept copies of its own: after the benchmark's bulk load of 6,001
files, ``pryv start`` held 415 MB (PSS, all processes) with glibc's default and 234 MB with two
arenas. Python threads take turns holding the GIL, so more arenas bought no speed.

An operator's own ``MALLOC_ARENA_MAX`` wins. Other C libraries (musl, macOS) are left alone.
"""

from __future__ import annotations

import ctypes
import os

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap this process's arenas (forked workers inherit it) and its children's; True if capped.

    Call it before the app is built, so the index loaded in the master is in the shared arenas.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False  # glibc read the operator's value when this process started
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)  # processes started from this one (exec)
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, arenas))
