"""The one authenticator: credentials and an address in, an Identity or a refusal out."""

from __future__ import annotations

import dataclasses

import pytest

from pryv_server.auth import Authenticator
from pryv_server.auth import CachedVerifier
from pryv_server.auth import Identity
from pryv_server.auth import LoginLimiter
from pryv_server.auth.authenticator import MAX_IDENTITIES
from pryv_server.errors import AuthenticationRequired
from pryv_server.errors import TooManyLoginAttempts
from tests.credentials import basic

ADDRESS = "203.0.113.7"


class CountingStore:
    """A user store with one user that counts its (expensive, in real life) password checks."""

    def __init__(self) -> None:
        self.checks = 0

    def verify(self, username: str, password: str) -> bool:
        self.checks += 1
        return (username, password) == ("alice", "right")

    def usernames(self) -> list[str]:
        return ["alice"]

    def add(self, username: str, password: str) -> None:
        raise NotImplementedError

    def stored_hash(self, username: str) -> str | None:
        return None

    def version(self) -> str | None:
        return "1"


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def authenticator(store: CountingStore) -> Authenticator:
    return Authenticator(CachedVerifier(store), LoginLimiter(attempts=3, window=60))


def header(user: str, password: str) -> str:
    return basic(user, password)["Authorization"]


def test_right_credentials_give_an_identity(authenticator: Authenticator) -> None:
    identity = authenticator.basic(header("alice", "right"), ADDRESS)
    assert identity == Identity("alice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.name = "mallory"  # type: ignore[misc]


@pytest.mark.parametrize("value", [None, "", "Bearer abc", "Basic !!!", "Basic YWxpY2U="])
def test_no_or_malformed_credentials_are_refused_uncounted(
    authenticator: Authenticator, store: CountingStore, value: str | None
) -> None:
    with pytest.raises(AuthenticationRequired, match="send a user name and password"):
        authenticator.basic(value, ADDRESS)
    assert store.checks == 0
    assert len(authenticator.limiter) == 0


def test_wrong_credentials_are_counted_then_locked_even_for_the_right_password(
    authenticator: Authenticator,
) -> None:
    for _ in range(3):
        with pytest.raises(AuthenticationRequired, match="invalid user name or password"):
            authenticator.password("alice", "wrong", ADDRESS)
    with pytest.raises(TooManyLoginAttempts):
        authenticator.basic(header("alice", "right"), "198.51.100.1")


def test_empty_names_and_passwords_never_cost_a_check(
    authenticator: Authenticator, store: CountingStore
) -> None:
    for user, password in [("", "right"), ("alice", "")]:
        with pytest.raises(AuthenticationRequired):
            authenticator.password(user, password, ADDRESS)
    assert store.checks == 0
    assert authenticator.limiter.locked_for("alice", ADDRESS) == 0  # counted, not yet locked
    assert len(authenticator.limiter) == 3  # "", "alice" and the address


def test_cached_mode_never_checks_a_password(
    authenticator: Authenticator, store: CountingStore
) -> None:
    right = header("alice", "right")
    assert authenticator.cached_basic(right, ADDRESS) is None  # never verified yet
    assert authenticator.cached_basic(header("alice", "wrong"), ADDRESS) is None
    assert store.checks == 0
    assert len(authenticator.limiter) == 0  # and never counts a failure
    authenticator.basic(right, ADDRESS)
    assert authenticator.cached_basic(right, ADDRESS) == Identity("alice")
    assert store.checks == 1


def test_cached_mode_defers_to_the_user_lock_not_the_address(
    authenticator: Authenticator,
) -> None:
    right = header("alice", "right")
    authenticator.basic(right, ADDRESS)
    for _ in range(3):
        authenticator.limiter.failed("someone", ADDRESS)
    assert authenticator.cached_basic(right, ADDRESS) == Identity("alice")
    for _ in range(3):
        authenticator.limiter.failed("alice", "198.51.100.1")
    assert authenticator.cached_basic(right, ADDRESS) is None


def test_a_locked_address_stops_failing_guesses_only(
    authenticator: Authenticator, store: CountingStore
) -> None:
    for user in ("bob", "carol", "dave"):
        with pytest.raises(AuthenticationRequired):
            authenticator.password(user, "wrong", ADDRESS)
    with pytest.raises(TooManyLoginAttempts) as caught:
        authenticator.password("erin", "wrong", ADDRESS)
    assert caught.value.retry_after == 60
    assert authenticator.password("alice", "right", ADDRESS) == Identity("alice")
    # Failures from the locked address still count against the user names tried.
    assert authenticator.limiter.locked_for("erin", "") == 0
    for _ in range(2):
        with pytest.raises(TooManyLoginAttempts):
            authenticator.password("erin", "wrong", ADDRESS)
    with pytest.raises(TooManyLoginAttempts):
        authenticator.password("erin", "wrong", "198.51.100.1")


def test_guesses_share_the_limiter(authenticator: Authenticator) -> None:
    assert authenticator.guess(":setup", ADDRESS, lambda: True) is True
    for _ in range(3):
        assert authenticator.guess(":setup", ADDRESS, lambda: False) is False
    with pytest.raises(TooManyLoginAttempts):
        authenticator.guess(":setup", ADDRESS, lambda: True)
    with pytest.raises(TooManyLoginAttempts):  # the address is spent for failing logins too
        authenticator.password("alice", "wrong", ADDRESS)
    assert authenticator.password("alice", "right", ADDRESS) == Identity("alice")


def test_identities_are_reused_within_a_bounded_table(authenticator: Authenticator) -> None:
    right = header("alice", "right")
    assert authenticator.cached_basic(right, ADDRESS) is None
    first = authenticator.basic(right, ADDRESS)
    assert authenticator.cached_basic(right, ADDRESS) is first
    for n in range(MAX_IDENTITIES + 10):
        assert authenticator._identity(f"user{n}") == Identity(f"user{n}")
    assert len(authenticator._identities) <= MAX_IDENTITIES
    assert authenticator.basic(right, ADDRESS) == first
