"""pryv start caps glibc's malloc arenas, unless the operator chose a number."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from pryv_server import malloc_arenas


def test_arenas_are_capped_here_and_in_processes_started_from_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    calls: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, parameter: int, value: int) -> int:
            calls.append((parameter, value))
            return 1

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc())
    assert malloc_arenas.limit_malloc_arenas()
    assert calls == [(-8, malloc_arenas.ARENAS)]  # M_ARENA_MAX in glibc's malloc.h
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ['MALLOC_ARENA_MAX'])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert child.stdout.strip() == str(malloc_arenas.ARENAS)


def test_the_operators_choice_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: pytest.fail("mallopt must not be called"))
    assert not malloc_arenas.limit_malloc_arenas()
    assert os.environ["MALLOC_ARENA_MAX"] == "8"


def test_glibcs_mallopt_accepts_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real call, on this glibc machine (another C library only skips it)."""
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    if getattr(ctypes.CDLL(None), "mallopt", None) is None:
        pytest.skip("not glibc")
    assert malloc_arenas.limit_malloc_arenas()
