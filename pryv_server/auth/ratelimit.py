"""Limit failed logins per user name and per client address, so passwords cannot be brute-forced.

One :class:`LoginLimiter` serves every login path (HTTP Basic on the API, the explorer's login
form, the setup token), always through :class:`~pryv_server.auth.authenticator.Authenticator`.
The two kinds of key are enforced differently::

    limiter.check_user(user)              # raises TooManyLoginAttempts while the user is locked
    if verify(user, password):
        return                            # a verifying credential passes, whatever the address did
    locked = limiter.address_locked_for(address)
    limiter.failed(user, address)         # count the failure against both
    raise TooManyLoginAttempts if locked else AuthenticationRequired

A locked *user* is refused before the password is checked, even a right one: otherwise an
attacker could keep guessing one account and recognise the right password by its different
answer. A locked *address* only stops further failing guesses: behind a reverse proxy (or a
company's NAT) every client shares one address, and a broken CI job must not lock out the whole
team. The price is that a locked address still pays a password check per guess and that password
spraying from one address is bounded by the per-user limits alone; ``[server] trusted-proxies``
gives each client behind a proxy its own address again.

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
        """Refuse when the user or the address has used up its failures (diagnostics, tests).

        Login paths call :meth:`check_user` instead: a locked address never refuses a
        credential that verifies.

        :raises TooManyLoginAttempts: with ``retry_after``, the seconds until both are free again.
        """
        _refuse(self.locked_for(user, address))

    def check_user(self, user: str) -> None:
        """Refuse the attempt while ``user`` has used up its failures (from any address).

        :raises TooManyLoginAttempts: with ``retry_after``, the seconds until the user is free.
        """
        _refuse(self.locked_for(user, ""))

    def check_address(self, address: str) -> None:
        """Refuse a *failed* attempt while ``address`` has used up its failures.

        :raises TooManyLoginAttempts: with ``retry_after``, the seconds until the address is free.
        """
        _refuse(self.address_locked_for(address))

    def locked_for(self, user: str, address: str) -> float:
        """Return the seconds until both the user and the address may try again (0: now).

        An empty ``address`` asks about the user alone.
        """
        if not self.enabled or not self._windows:
            return 0.0
        now = self._clock()
        with self._lock:
            return max(self._locked_for(key, now) for key in _keys(user, address))

    def address_locked_for(self, address: str) -> float:
        """Return the seconds until ``address`` may fail again (0: now, or no address)."""
        if not self.enabled or not self._windows or not address:
            return 0.0
        now = self._clock()
        with self._lock:
            return self._locked_for(("address", address), now)

    def failed(self, user: str | None, address: str) -> None:
        """Count one failed login against the user (None: no user, an API token) and address."""
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


def _refuse(wait: float) -> None:
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyLoginAttempts(
            f"too many failed logins; try again in {seconds} seconds", retry_after=seconds
        )


def _keys(user: str | None, address: str) -> tuple[tuple[str, str], ...]:
    # An empty address (no remote_addr, as under some test clients) is not a shared bucket.
    keys = [] if user is None else [("user", user[:MAX_USER_KEY])]
    if address:
        keys.append(("address", address))
    return tuple(keys)
