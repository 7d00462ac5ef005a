"""API tokens: created for a user, capped to a role, stored only as a hash, revocable.

A token is ``pryv-<id>-<secret>``: the id names its record (``core/layout.py``) and is shown in
listings; the secret (256 random bits) is shown once, at creation, and stored only as its
SHA-256. A slow password hash would buy nothing against a secret with that much entropy and would
cost every pip request a bcrypt check; a SHA-256 costs about a microsecond.

Every token is one record, written once (create-if-absent); revoking it is a conditional replace
of that record; when it was last used is a separate object each process overwrites at most once
a minute (last writer wins, which is all a "last used" time needs). The records ride in
the catalog (:class:`~pryv_server.core.record_set.RecordSet`), so checking a token reads no storage:
a token revoked here is refused at once, on another instance within ``index-ttl``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from fnmatch import fnmatchcase

from packaging.utils import NormalizedName

from pryv_server.auth.identity import TOKEN_ROLES
from pryv_server.auth.identity import TokenGrant
from pryv_server.core import layout
from pryv_server.core.catalog import Catalog
from pryv_server.core.record_set import Record
from pryv_server.core.record_set import RecordSet
from pryv_server.errors import AuthenticationRequired
from pryv_server.errors import InvalidRequest
from pryv_server.errors import NotFound
from pryv_server.errors import ObjectChanged
from pryv_server.errors import StorageError
from pryv_server.storage import Storage

log = logging.getLogger(__name__)

PREFIX = "pryv-"
_TOKEN = re.compile(r"pryv-([0-9a-f]{16})-([0-9a-f]{64})")
_PATTERN = re.compile(r"[a-z0-9*?._-]{1,200}")
# A token's "last used" time is written at most this often per process.
LAST_USED_EVERY = 60.0
MAX_DESCRIPTION = 200
INVALID = "invalid API token"
_DURATION = re.compile(r"(\d+)([dhw])")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_expiry(value: str | None, now: datetime | None = None) -> datetime | None:
    """Parse an expiry as people write it: ``30d``, ``12h``, ``2w``, ``2027-01-31`` or ``never``.

    The CLI's ``--expires`` and the explorer's token form take the same words.

    :raises InvalidRequest: anything else, with what to write instead.
    """
    if value is None or value.strip().lower() in ("never", ""):
        return None
    now = now or datetime.now(UTC)
    text = value.strip().lower()
    matched = _DURATION.fullmatch(text)
    if matched:
        return now + int(matched.group(1)) * _UNITS[matched.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"{value!r}: use a duration (30d, 12h, 2w), a date (2027-01-31) or never"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Token:
    """One token's record (never its secret)."""

    id: str
    user: str
    role: str
    projects: tuple[str, ...]
    description: str
    created: str
    expires: str | None
    digest: str
    revoked: str | None = None
    # The expiry as a POSIX timestamp (infinity: never), parsed once, compared per request.
    expires_at: float = field(default=float("inf"), compare=False)

    @property
    def grant(self) -> TokenGrant:
        """What the token allows (the identity's part)."""
        return TokenGrant(self.id, self.user, self.role, self.projects)

    def to_json(self) -> Record:
        """Return the stored form."""
        return {
            "id": self.id,
            "user": self.user,
            "role": self.role,
            "projects": list(self.projects),
            "description": self.description,
            "created": self.created,
            "expires": self.expires,
            "sha256": self.digest,
            "revoked": self.revoked,
        }

    @classmethod
    def from_json(cls, record: Record) -> Token:
        """Read the stored form."""
        return cls(
            id=str(record["id"]),
            user=str(record["user"]),
            role=str(record["role"]),
            projects=tuple(str(p) for p in record.get("projects") or ()),
            description=str(record.get("description") or ""),
            created=str(record["created"]),
            expires=record.get("expires"),
            digest=str(record["sha256"]),
            revoked=record.get("revoked"),
            expires_at=(
                datetime.fromisoformat(record["expires"]).timestamp()
                if record.get("expires")
                else float("inf")
            ),
        )


def allows_project(projects: tuple[str, ...], project: NormalizedName) -> bool:
    """Say whether a token limited to ``projects`` (names or patterns) may act on ``project``."""
    return not projects or any(fnmatchcase(project, pattern) for pattern in projects)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TokenStore:
    """Create, list, revoke and check API tokens kept in the records store."""

    def __init__(
        self,
        records: Storage,
        catalog: Catalog,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.records = records
        self._set = RecordSet(records, layout.TOKENS_PREFIX, catalog, fresh=True)
        self._now = now
        self._clock = clock
        self._parsed_from: Mapping[str, Record] | None = None
        self._parsed: dict[str, Token] = {}
        self._used: dict[str, float] = {}
        self._used_lock = threading.Lock()

    # -- checking (every authenticated request with a token) ----------------------------------

    def verify(self, secret: str) -> TokenGrant:
        """Return what a presented token allows; see :class:`~pryv_server.auth.TokenVerifier`."""
        matched = _TOKEN.fullmatch(secret)
        if matched is None:
            raise AuthenticationRequired(INVALID)
        token = self._tokens().get(matched.group(1))
        if token is None or not hmac.compare_digest(_digest(matched.group(2)), token.digest):
            raise AuthenticationRequired(INVALID)
        if token.revoked:
            raise AuthenticationRequired(f"the API token {token.id} was revoked")
        if token.expires_at <= self._now().timestamp():
            raise AuthenticationRequired(f"the API token {token.id} expired on {token.expires}")
        self._mark_used(token.id)
        return token.grant

    def _tokens(self) -> dict[str, Token]:
        records = self._set.current()
        if records is self._parsed_from:  # parsed once per reload, not per request
            return self._parsed
        parsed = {}
        for key, record in records.items():
            try:
                token = Token.from_json(record)
            except (KeyError, TypeError, ValueError):
                log.warning("skipping the unreadable token record %s", key)
                continue
            parsed[token.id] = token
        self._parsed, self._parsed_from = parsed, records
        return parsed

    def _mark_used(self, token_id: str) -> None:
        now = self._clock()
        last = self._used.get(token_id)
        if last is not None and now - last < LAST_USED_EVERY:
            return
        with self._used_lock:
            self._used[token_id] = now
        try:
            self.records.write(
                layout.token_used_key(token_id),
                io.BytesIO(_iso(self._now()).encode()),
                overwrite=True,
            )
        except StorageError:
            log.exception("could not record when API token %s was used", token_id)

    # -- managing (CLI, explorer) -------------------------------------------------------------

    def create(
        self,
        user: str,
        role: str,
        *,
        projects: tuple[str, ...] = (),
        expires: datetime | None = None,
        description: str = "",
    ) -> tuple[Token, str]:
        """Create a token; return its record and the whole token, which is never shown again.

        :raises InvalidRequest: an unknown role, a bad project pattern, a past expiry, or a
            description that is not one short line.
        """
        if role not in TOKEN_ROLES:
            raise InvalidRequest(f"unknown token role {role!r}: use {', '.join(TOKEN_ROLES)}")
        for pattern in projects:
            if not _PATTERN.fullmatch(pattern):
                raise InvalidRequest(
                    f"{pattern!r} is not a project name or pattern (lower case, digits, "
                    "'-', '_', '.', '*' and '?')"
                )
        if expires is not None and expires <= self._now():
            raise InvalidRequest("the expiry is in the past")
        if len(description) > MAX_DESCRIPTION or not description.isprintable():
            raise InvalidRequest(
                f"the description is one line of at most {MAX_DESCRIPTION} characters"
            )
        token_id, secret = secrets.token_hex(8), secrets.token_hex(32)
        token = Token(
            id=token_id,
            user=user,
            role=role,
            projects=tuple(projects),
            description=description,
            created=_iso(self._now()),
            expires=_iso(expires) if expires else None,
            digest=_digest(secret),
            expires_at=expires.timestamp() if expires else float("inf"),
        )
        self._set.create(layout.token_key(token_id), token.to_json())
        log.info("created API token %s for %s (%s)", token_id, user, role)
        return token, f"{PREFIX}{token_id}-{secret}"

    def list(self, user: str | None = None) -> list[Token]:
        """Return the tokens (of ``user``, or everyone's), oldest first, read from storage now."""
        self._set.refresh()
        tokens = [t for t in self._tokens().values() if user is None or t.user == user]
        return sorted(tokens, key=lambda token: (token.created, token.id))

    def last_used(self, token_id: str) -> str | None:
        """Return when the token was last used (to within a minute), or None; reads storage."""
        try:
            return self.records.read(layout.token_used_key(token_id)).decode()
        except (StorageError, UnicodeDecodeError):
            return None

    def revoke(self, token_id: str, *, user: str | None = None) -> Token:
        """Revoke a token at once (here) and within ``index-ttl`` on other instances.

        :param user: when given, only a token of this user may be revoked.
        :raises NotFound: no such token (of that user).
        """
        if not re.fullmatch(r"[0-9a-f]{16}", token_id):
            raise NotFound(f"no API token {token_id!r}")
        key = layout.token_key(token_id)
        for _ in range(10):
            found = self._set.read(key)
            if found is None or (user is not None and found[0].get("user") != user):
                raise NotFound(f"no API token {token_id!r}")
            record, version = found
            token = Token.from_json(record)
            if token.revoked:
                return token
            revoked = Token.from_json({**record, "revoked": _iso(self._now())})
            try:
                self._set.replace(key, revoked.to_json(), version=version)
            except ObjectChanged:
                continue
            log.info("revoked API token %s of %s", token_id, token.user)
            return revoked
        raise StorageError(f"API token {token_id}: changed too often while revoking; try again")
