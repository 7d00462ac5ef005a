"""User stores: ``users.json`` (the docs' format) and Apache ``.htpasswd``.

Both reload their file when its version token changes, so edits take effect without a restart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from passlib.apache import HtpasswdFile

from pryv_server.auth import hashing
from pryv_server.auth.source import FileSource
from pryv_server.auth.source import json_object
from pryv_server.errors import ConfigError
from pryv_server.errors import ObjectChanged
from pryv_server.errors import StorageError
from pryv_server.errors import UserExists
from pryv_server.errors import UserNotFound

log = logging.getLogger(__name__)

# Conditional writes a user change tries before giving up (each loser re-reads the file).
ADD_ATTEMPTS = 50
# The one password policy, for `pryv user add|passwd` and the setup page.
MIN_PASSWORD_LENGTH = 8


def check_password(password: str) -> str:
    """Return ``password`` if the policy accepts it.

    :raises ValueError: shorter than :data:`MIN_PASSWORD_LENGTH` characters, with the reason.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    return password


class UserStore(Protocol):
    """Checks and adds users."""

    def verify(self, username: str, password: str) -> bool:
        """Say whether the password is right; unknown users cost as much as wrong passwords."""
        ...

    def usernames(self) -> list[str]:
        """Return the configured user names."""
        ...

    def add(self, username: str, password: str) -> None:
        """Add a user with a bcrypt hash; raises UserExists."""
        ...

    def set_password(self, username: str, password: str) -> None:
        """Replace an existing user's password; raises UserNotFound."""
        ...

    def remove(self, username: str) -> None:
        """Remove a user; raises UserNotFound."""
        ...

    def stored_hash(self, username: str) -> str | None:
        """Return the user's stored hash (None when unknown); it changes with the password."""
        ...

    def version(self) -> str | None:
        """Return the backing file's change token (None when it is absent)."""
        ...


def validate_username(username: str) -> str:
    """Refuse names that would break either file format (``:`` in .htpasswd, blanks, controls)."""
    if not username or len(username) > 128:
        raise ValueError("a user name has 1 to 128 characters")
    if ":" in username or any(char.isspace() or ord(char) < 32 for char in username):
        raise ValueError("a user name cannot contain ':', spaces or control characters")
    return username


class _ReloadingStore:
    """Keep a parsed copy of a file and re-parse it when its version changes."""

    def __init__(self, source: FileSource) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._loaded_version: str | None = "\0never"
        self._entries: dict[str, str] = {}

    def version(self) -> str | None:
        return self.source.version()

    def _current(self) -> dict[str, str]:
        version = self.source.version()
        if version != self._loaded_version:
            with self._lock:
                content = self.source.read()
                self._entries = self._parse(content or b"")
                self._loaded_version = version
        return self._entries

    def _parse(self, content: bytes) -> dict[str, str]:
        raise NotImplementedError

    def _render(self, entries: dict[str, str]) -> bytes:
        raise NotImplementedError

    def usernames(self) -> list[str]:
        return sorted(self._current())

    def stored_hash(self, username: str) -> str | None:
        return self._current().get(username)

    def verify(self, username: str, password: str) -> bool:
        entries = self._current()
        stored = entries.get(username)
        if stored is None:
            self._burn_like_a_user(username, password, entries)
            return False
        return self._check(password, stored)

    def _burn_like_a_user(self, username: str, password: str, entries: dict[str, str]) -> None:
        """Spend on an unknown user what a wrong password costs for some real user.

        A fixed dummy hash would betray users whose hashes are cheaper or dearer (``htpasswd -B``
        uses bcrypt cost 5, the dummy cost 12; SHA-1 and apr1 cost nothing), so the check runs
        against the entry of a real user picked by the name; its outcome is ignored.
        """
        if not entries:
            hashing.burn_dummy_check(password)
            return
        names = sorted(entries)
        digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).digest()
        self._check(password, entries[names[int.from_bytes(digest[:8], "big") % len(names)]])

    def _check(self, password: str, stored: str) -> bool:
        return hashing.verify_hash(password, stored)

    def add(self, username: str, password: str) -> None:
        """Add a user by read, change, conditional write; retried when another writer won.

        Two writers (two setups, two ``pryv user add``, a worker and the CLI) that read the same
        version cannot both write: the loser reads again and adds its user to the winner's file.
        """
        validate_username(username)
        stored = hashing.hash_password(password)

        def change(entries: dict[str, str]) -> None:
            if username in entries:
                raise UserExists(
                    f"the user {username!r} already exists in {self.source.describe()}"
                )
            entries[username] = stored

        self._update(change)

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password hash (bcrypt), by the same conditional write as ``add``."""
        stored = hashing.hash_password(password)

        def change(entries: dict[str, str]) -> None:
            self._known(username, entries)
            entries[username] = stored

        self._update(change)

    def remove(self, username: str) -> None:
        """Remove a user, by the same conditional write as ``add``."""

        def change(entries: dict[str, str]) -> None:
            self._known(username, entries)
            del entries[username]

        self._update(change)

    def _known(self, username: str, entries: dict[str, str]) -> None:
        if username not in entries:
            raise UserNotFound(f"no user {username!r} in {self.source.describe()}")

    def _update(self, change: Callable[[dict[str, str]], None]) -> None:
        """Read, change, write only if unchanged meanwhile; retried when another writer won."""
        for _ in range(ADD_ATTEMPTS):
            content, version = self.source.snapshot()
            entries = self._parse(content or b"")
            change(entries)
            try:
                self.source.write(self._render(entries), version=version)
            except ObjectChanged:
                continue
            with self._lock:
                self._loaded_version = "\0stale"
            return
        raise StorageError(
            f"{self.source.describe()}: changed {ADD_ATTEMPTS} times while changing a user; retry"
        )


class JsonUserStore(_ReloadingStore):
    """``users.json``: ``{"name": {"password": "<hash>"}}`` with passlib hashes or SHA-256 hex."""

    def _parse(self, content: bytes) -> dict[str, str]:
        document = json_object(content, self.source.describe(), "a JSON object of users")
        entries = {}
        for name, entry in document.items():
            password = entry.get("password") if isinstance(entry, dict) else None
            if not isinstance(password, str):
                raise ConfigError(
                    f'{self.source.describe()}: user {name!r} has no "password" string'
                )
            if hashing.is_legacy_hash(password):
                log.warning(
                    "user %r has an unsalted SHA-256 password hash; re-add it with bcrypt", name
                )
            entries[name] = password
        return entries

    def _render(self, entries: dict[str, str]) -> bytes:
        document = {name: {"password": stored} for name, stored in sorted(entries.items())}
        return (json.dumps(document, indent=2) + "\n").encode("utf-8")


class HtpasswdUserStore(_ReloadingStore):
    """Apache ``.htpasswd``: bcrypt, apr1-md5, SHA-1 and crypt entries, checked by passlib."""

    def _parse(self, content: bytes) -> dict[str, str]:
        try:
            parsed = HtpasswdFile.from_string(content)
        except ValueError as error:
            raise ConfigError(
                f"{self.source.describe()}: not a valid .htpasswd file: {error}"
            ) from None
        return {str(name): str(parsed.get_hash(name).decode("ascii")) for name in parsed.users()}

    def _render(self, entries: dict[str, str]) -> bytes:
        return b"".join(f"{name}:{stored}\n".encode() for name, stored in entries.items())

    def _check(self, password: str, stored: str) -> bool:
        checker = HtpasswdFile()
        checker.set_hash("user", stored)
        try:
            return bool(checker.check_password("user", password))
        except ValueError:
            log.warning("an .htpasswd entry uses a hash format passlib cannot check")
            return False
