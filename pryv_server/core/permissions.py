"""The permissions file: global roles, groups, namespaces and read restrictions, as a Policy.

It is JSON, like ``users.json``, so pryv can edit it as safely as it edits users (read, change,
conditional write, retry)::

    {
      "default-role": "member",
      "roles": {"alice": "admin", "dave": "reader"},
      "groups": {"ci": ["ci-bot", "bob"]},
      "namespaces": {"acme-": ["alice", "@ci"]},
      "read": {"secret-*": ["alice", "@ci"], "internal-tool": ["bob"]}
    }

Every key is optional. It lives where ``[user] permissions-path`` says (local or S3) and is
re-read when it changes, like the users file. Without the option there is no file and the policy
is "everyone is a member, uploads per ``[permissions] uploads``": the behaviour before roles.
A file that cannot be parsed keeps the last good policy (and logs why); at start it is an error.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pryv_server.auth.source import FileSource
from pryv_server.auth.source import json_object
from pryv_server.core.access import ROLES
from pryv_server.core.access import Policy
from pryv_server.errors import ConfigError
from pryv_server.errors import ObjectChanged
from pryv_server.errors import StorageError

log = logging.getLogger(__name__)

EDIT_ATTEMPTS = 50
# Edits are picked up within this many seconds (the users file: on the next request).
CHECK_INTERVAL = 1.0


def parse_policy(
    content: bytes | None, source: str, *, uploads: str = "open", anonymous_read: bool = False
) -> Policy:
    """Parse a permissions file (None or empty: no grants, every user a member).

    :raises ConfigError: not JSON, or a value of the wrong kind, named with the file.
    """
    document = json_object(content, source)

    def names(value: object, where: str) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(n, str) and n for n in value):
            raise ConfigError(f"{source}: {where} must be a list of user or @group names")
        return frozenset(value)

    roles = document.get("roles", {})
    if not isinstance(roles, dict) or any(r not in ROLES for r in roles.values()):
        raise ConfigError(f'{source}: "roles" maps user names to one of {", ".join(ROLES)}')
    default = document.get("default-role", "member")
    if default not in ROLES:
        raise ConfigError(f'{source}: "default-role" must be one of {", ".join(ROLES)}')
    return Policy(
        configured=True,
        roles=dict(roles),
        default_role=default,
        groups={g: names(m, f'group "{g}"') for g, m in _table(document, "groups", source)},
        namespaces=tuple(
            (prefix, names(holders, f'namespace "{prefix}"'))
            for prefix, holders in _table(document, "namespaces", source)
        ),
        restrictions=tuple(
            (pattern, names(readers, f'read restriction "{pattern}"'))
            for pattern, readers in _table(document, "read", source)
        ),
        anonymous_read=anonymous_read,
        uploads=uploads,
    )


def _table(document: dict[str, Any], key: str, source: str) -> list[tuple[str, object]]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f'{source}: "{key}" must be an object')
    return sorted(value.items())


class PermissionsFile:
    """The current :class:`Policy`, re-parsed when the file's version changes.

    :param source: the file (None: no permissions file, the default policy for ever).
    :param check_interval: seconds between two looks at the file's version (a ``stat``
        locally; a remote source throttles its own HEADs by ``index-ttl`` too): every request
        decides with the policy, and one ``stat`` costs a fifth of a cached page's answer.
    """

    def __init__(
        self,
        source: FileSource | None,
        *,
        uploads: str = "open",
        anonymous_read: bool = False,
        check_interval: float = CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.check_interval = check_interval
        self._clock = clock
        self._checked_at = float("-inf")
        self.uploads = uploads
        self.anonymous_read = anonymous_read
        self._lock = threading.Lock()
        self._policy = Policy(uploads=uploads, anonymous_read=anonymous_read)
        self._version: str | None = "\0never"
        if source is not None:
            self._load(source.version(), strict=True)

    def current(self) -> Policy:
        """Return the policy; a file change is picked up on the next call (a stat locally)."""
        if self.source is not None:
            now = self._clock()
            if now - self._checked_at >= self.check_interval:
                self._checked_at = now
                version = self.source.version()
                if version != self._version:
                    self._load(version, strict=False)
        return self._policy

    def _load(self, version: str | None, *, strict: bool) -> None:
        if self.source is None:
            return  # no permissions file: the default policy stays
        with self._lock:
            try:
                self._policy = parse_policy(
                    self.source.read(),
                    self.source.describe(),
                    uploads=self.uploads,
                    anonymous_read=self.anonymous_read,
                )
            except ConfigError as error:
                if strict:
                    raise
                log.error("%s; keeping the previous permissions", error)
            self._version = version

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Apply ``change`` to the file's document with a conditional write, retried on a race.

        :raises ConfigError: no permissions file is configured, or the change makes it invalid.
        """
        if self.source is None:
            raise ConfigError("no [user] permissions-path is configured")
        for _ in range(EDIT_ATTEMPTS):
            content, version = self.source.snapshot()
            document = json_object(content, self.source.describe())
            change(document)
            rendered = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
            parse_policy(rendered, self.source.describe())  # never write an invalid file
            try:
                self.source.write(rendered, version=version)
            except ObjectChanged:
                continue
            self._load(self.source.version(), strict=False)
            return
        raise StorageError(f"{self.source.describe()}: changed too often while editing; retry")


def set_role(user: str, role: str | None) -> Callable[[dict[str, Any]], None]:
    """Return an edit that gives ``user`` a global role (None: back to the default role)."""

    def change(document: dict[str, Any]) -> None:
        roles = document.setdefault("roles", {})
        if role is None:
            roles.pop(user, None)
        else:
            roles[user] = role

    return change
