"""Limit failed logins per user name and per client address, so passwords cannot be brute-forced.

One :class:`LoginLimiter` serves every login path (HTTP Basic on the API, the explorer's login
form, the setup token), always through :class:`~pryv_server.auth.authenticator.Authenticator`.
The protocol is two calls around the password check::

    limiter.check(user, address)        # raises TooManyLoginAttempts while either is locked
    if not verify(user, password):
        limiter.failed(user, address)   # count the failure against both

A locked user or address is refused *before* the password is checked, even a right one: otherwise
an attacker could keep guessing and recognise the right password by its different answer.
Successes are never counted or delayed. The counters are fixed windows that start at the first
failure; they live in this process only (with several gunicorn workers, each keeps its own, so
the effective limit is ``workers * login-attempts``) and in a bounded table: under a flood of
distinct names or addresses the least recently failed keys are forgotten first, so memory stays
flat and a client that keeps failing keeps its own entry fresh.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from pryv_server.errors import TooManyLoginAttempts

DEFAULT_MAX_KEYS = 50_000
# Longer names are never valid users (validate_username allows 128 characters); they share a key,
# so a flood of huge names cannot make each table entry big.
MAX_USER_KEY = 129


@dataclass(slots=True)
class _Window:
    started: float
    failures: int


class LoginLimiter:
    """Count failed logins per user and per address in fixed windows; thread-safe and bounded.

    :param attempts: failures allowed per user and per address within ``window`` (0: no limit).
    :param window: seconds from a key's first failure until its counter resets.
    :param max_keys: how many users and addresses are remembered at most.
    """

    def __init__(
        self,
        attempts: int = 10,
        window: float = 300.0,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Say whether failures are limited at all (``login-attempts = 0`` turns it off)."""
        return self.attempts > 0 and self.window > 0

    def check(self, user: str, address: str) -> None:
        """Refuse the attempt when the user or the address has used up its failures.

        :raises TooManyLoginAttempts: with ``retry_after``, the seconds until both are free again.
        """
        wait = self.locked_for(user, address)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise TooManyLoginAttempts(
                f"too many failed logins; try again in {seconds} seconds", retry_after=seconds
            )

    def locked_for(self, user: str, address: str) -> float:
        """Return the seconds until both the user and the address may try again (0: now)."""
        if not self.enabled or not self._windows:
            return 0.0
        now = self._clock()
        with self._lock:
            return max(self._locked_for(key, now) for key in _keys(user, address))

    def failed(self, user: str, address: str) -> None:
        """Count one failed login against the user and the address."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            for key in _keys(user, address):
                current = self._windows.get(key)
                if current is None or now - current.started >= self.window:
                    current = _Window(now, 0)
                    self._windows[key] = current
                current.failures += 1
                self._windows.move_to_end(key)
            while len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)

    def __len__(self) -> int:
        return len(self._windows)

    def _locked_for(self, key: tuple[str, str], now: float) -> float:
        current = self._windows.get(key)
        if current is None:
            return 0.0
        remaining = current.started + self.window - now
        if remaining <= 0:
            del self._windows[key]  # expired: forget it, keeping the table small
            return 0.0
        return remaining if current.failures >= self.attempts else 0.0


def _keys(user: str, address: str) -> tuple[tuple[str, str], ...]:
    # An empty address (no remote_addr, as under some test clients) is not a shared bucket.
    keys = [("user", user[:MAX_USER_KEY])]
    if address:
        keys.append(("address", address))
    return tuple(keys)
