"""The failed-login limiter: per user, per address, windows, Retry-After, bounded, thread-safe."""

from __future__ import annotations

import threading

import pytest

from pryv_server.auth.ratelimit import LoginLimiter
from pryv_server.errors import TooManyLoginAttempts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(limiter: LoginLimiter, user: str, address: str, times: int) -> None:
    for _ in range(times):
        limiter.check(user, address)
        limiter.failed(user, address)


def test_limiter_locks_a_user_after_the_allowed_failures(clock: Clock) -> None:
    limiter = LoginLimiter(3, 60, clock=clock)
    fail(limiter, "alice", "10.0.0.1", 3)
    with pytest.raises(TooManyLoginAttempts) as caught:
        limiter.check("alice", "10.0.0.2")  # another address: the user is locked
    assert caught.value.retry_after == 60
    limiter.check("bob", "10.0.0.2")  # other users from other addresses are not


def test_limiter_locks_an_address_across_user_names(clock: Clock) -> None:
    limiter = LoginLimiter(3, 60, clock=clock)
    for user in ["a", "b", "c"]:
        fail(limiter, user, "10.0.0.9", 1)
    with pytest.raises(TooManyLoginAttempts):
        limiter.check("d", "10.0.0.9")
    limiter.check("d", "10.0.0.10")


def test_limiter_window_expires_and_retry_after_counts_down(clock: Clock) -> None:
    limiter = LoginLimiter(2, 100, clock=clock)
    fail(limiter, "alice", "", 2)
    clock.now += 40.5
    with pytest.raises(TooManyLoginAttempts) as caught:
        limiter.check("alice", "")
    assert caught.value.retry_after == 60
    assert "60 seconds" in str(caught.value)
    clock.now += 60
    limiter.check("alice", "")
    assert len(limiter) == 0  # the expired entry is forgotten


def test_limiter_is_off_with_zero_attempts(clock: Clock) -> None:
    limiter = LoginLimiter(0, 100, clock=clock)
    fail(limiter, "alice", "1.2.3.4", 50)
    assert len(limiter) == 0


def test_limiter_memory_is_bounded_under_a_flood(clock: Clock) -> None:
    limiter = LoginLimiter(3, 60, max_keys=100, clock=clock)
    for number in range(10_000):
        limiter.failed(f"user{number}" * 50, f"10.{number // 256 % 256}.{number % 256}.1")
    assert len(limiter) <= 100


def test_limiter_attacker_keeps_own_entry_under_a_flood(clock: Clock) -> None:
    limiter = LoginLimiter(3, 60, max_keys=50, clock=clock)
    for number in range(1000):
        limiter.failed(f"name{number}", "6.6.6.6")
    with pytest.raises(TooManyLoginAttempts):
        limiter.check("anyone", "6.6.6.6")


def test_limiter_counts_exactly_under_threads() -> None:
    limiter = LoginLimiter(10_000, 600)
    threads = [
        threading.Thread(target=lambda: [limiter.failed("alice", "1.1.1.1") for _ in range(500)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limiter._windows[("user", "alice")].failures == 4000


def test_user_and_address_locks_are_asked_apart(clock: Clock) -> None:
    limiter = LoginLimiter(2, 60, clock=clock)
    fail(limiter, "u1", "10.0.0.9", 1)
    fail(limiter, "u2", "10.0.0.9", 1)
    assert limiter.address_locked_for("10.0.0.9") == 60
    assert limiter.address_locked_for("") == 0
    limiter.check_user("alice")  # the address's lock never reaches another user
    with pytest.raises(TooManyLoginAttempts):
        limiter.check_address("10.0.0.9")
    limiter.failed("alice", "10.0.0.1")
    limiter.failed("alice", "10.0.0.2")
    with pytest.raises(TooManyLoginAttempts):
        limiter.check_user("alice")
    limiter.check_address("10.0.0.1")
