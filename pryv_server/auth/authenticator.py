"""Turn a request's credentials and client address into an :class:`Identity`, or refuse them.

This is the one place that parses credentials and talks to the login limiter. The API (HTTP
Basic), the explorer's login form, the explorer's setup token and the simple-page fast path all
call it, so a new kind of credential (an API token, a session) or a new fact about the caller
(roles, a token's scope) is added here and reaches every path at once. The protocol every check
follows::

    limiter.check_user(user)            # TooManyLoginAttempts while the user is locked
    if verify(user, password):
        return identity                 # never refused because others failed from the address
    limiter.failed(user, address)       # count the failure against both
    raise TooManyLoginAttempts if the address was locked, else AuthenticationRequired

A locked user is refused before the password is checked, even a right one, so an attacker cannot
recognise the right password by a different answer. A locked address only stops failing guesses
(see :mod:`pryv_server.auth.ratelimit` for why). An unknown user and a wrong password get the
same answer and cost the same time (the user store checks a real hash for unknown users).
Successes are never counted.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from pryv_server.auth.cache import CachedVerifier
from pryv_server.auth.identity import TOKEN_USERNAME
from pryv_server.auth.identity import Identity
from pryv_server.auth.identity import TokenVerifier
from pryv_server.auth.ratelimit import LoginLimiter
from pryv_server.errors import AuthenticationRequired

__all__ = ["Authenticator", "Identity", "parse_basic"]

INVALID_CREDENTIALS = "invalid user name or password"
NO_CREDENTIALS = "authentication required: send a user name and password"
NO_TOKENS = "API tokens are not enabled on this server"
USER_GONE = "the API token's user no longer exists"
# Identities kept for reuse (building a frozen dataclass costs a tenth of the fast path's check).
MAX_IDENTITIES = 1024


class Authenticator:
    """Check credentials against the users (through the verification cache) and the limiter.

    The user name ``__token__`` (PyPI's convention, which twine, uv, poetry and pip follow) makes
    the password an API token: it is looked up in ``tokens`` (microseconds, no storage read) and
    acts for its user, capped to its role. A wrong token counts against the address only: a
    shared ``__token__`` user count would let anyone lock every token out.
    """

    def __init__(
        self,
        verifier: CachedVerifier,
        limiter: LoginLimiter,
        tokens: TokenVerifier | None = None,
    ) -> None:
        self.verifier = verifier
        self.limiter = limiter
        self.tokens = tokens
        self._identities: dict[object, Identity] = {}

    def basic(self, header: str | None, address: str) -> Identity:
        """Authenticate an ``Authorization: Basic`` header sent from ``address``.

        A malformed header (bad base64, not UTF-8, another scheme) is the same as no header.

        :raises AuthenticationRequired: no credentials, or wrong ones (the failure is counted).
        :raises TooManyLoginAttempts: the user or the address used up its failed logins.
        """
        credentials = parse_basic(header)
        if credentials is None:
            raise AuthenticationRequired(NO_CREDENTIALS)
        return self.password(*credentials, address)

    def password(self, username: str, password: str, address: str) -> Identity:
        """Authenticate a user name and password sent from ``address``.

        An empty user name or password never verifies (and costs no hash check).

        :raises AuthenticationRequired: wrong credentials; the failure is counted.
        :raises TooManyLoginAttempts: the user is locked (checked before the password, so a
            locked account answers the same whatever is guessed), or the password is wrong and
            the address used up its failures.
        """
        if username == TOKEN_USERNAME:
            return self.token(password, address)
        self.limiter.check_user(username)
        if username and password and self.verifier.verify(username, password):
            return self._identity(username)
        self._failed(username, address)
        raise AuthenticationRequired(INVALID_CREDENTIALS)

    def token(self, secret: str, address: str) -> Identity:
        """Authenticate an API token sent from ``address``.

        :raises AuthenticationRequired: unknown, expired or revoked (counted against the address).
        :raises TooManyLoginAttempts: a wrong token from an address that used up its failures.
        """
        try:
            return self._token_identity(secret)
        except AuthenticationRequired:
            self._failed(None, address)
            raise

    def _token_identity(self, secret: str) -> Identity:
        if self.tokens is None:
            raise AuthenticationRequired(NO_TOKENS)
        grant = self.tokens.verify(secret)
        if self.verifier.store.stored_hash(grant.user) is None:
            raise AuthenticationRequired(USER_GONE)
        identity = self._identities.get(grant)
        if identity is None:
            if len(self._identities) >= MAX_IDENTITIES:
                self._identities.clear()
            identity = self._identities[grant] = Identity(grant.user, grant)
        return identity

    def _failed(self, key: str | None, address: str) -> None:
        """Count a failure of ``key`` from ``address``; 429 when the address had used up its own.

        The address is read before this failure is counted, so the ``login-attempts``-th failure
        still answers 401 and only the ones after it 429.
        """
        locked = self.limiter.address_locked_for(address)
        self.limiter.failed(key, address)
        if locked:
            self.limiter.check_address(address)

    def cached_basic(self, header: str | None, address: str) -> Identity | None:
        """Return the identity of a Basic header only when that needs no password check.

        For the fast path in front of Flask: None unless the same credentials passed the full
        check before (they are in the verification cache) and the limiter does not hold the user
        back (a locked address never refuses a credential that verifies). It never pays a hash
        check, never raises and never counts a failure; on None the caller hands the request to
        :meth:`basic`, which decides.
        """
        credentials = parse_basic(header)
        if credentials is None or not credentials[0]:
            return None
        username, password = credentials
        if username == TOKEN_USERNAME:
            try:
                return self._token_identity(password)
            except AuthenticationRequired:
                return None
        if self.limiter.locked_for(username, ""):
            return None
        if not password or not self.verifier.is_cached(username, password):
            return None
        return self._identity(username)

    def _identity(self, username: str) -> Identity:
        """Return the identity of a verified user, reusing the one built before.

        Sharing is safe because an identity is immutable and, today, depends on the name alone;
        once it carries roles, this table is dropped whenever the users or permissions change.
        """
        identity = self._identities.get(username)
        if identity is None:
            if len(self._identities) >= MAX_IDENTITIES:
                self._identities.clear()
            identity = self._identities[username] = Identity(username)
        return identity

    def guess(self, key: str, address: str, matches: Callable[[], bool]) -> bool:
        """Check a secret other than a password (the setup token) under the same limiter.

        ``key`` names what is guessed (it shares the user table, so pick a name no user can
        have); a wrong guess counts against it and against ``address``.

        :raises TooManyLoginAttempts: too many wrong guesses for ``key`` in all, or a wrong guess
            from an address that used up its failures.
        """
        self.limiter.check_user(key)
        if matches():
            return True
        self._failed(key, address)
        return False


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return the user and password of a ``Basic`` header, or None when it is not one.

    Stricter than Werkzeug's parser, which fails with a ValueError on non-ASCII tokens: anything
    but ``Basic <base64 of UTF-8 "user:password">`` (RFC 7617) is simply no credentials.
    """
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip().encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        return None
    username, colon, password = decoded.partition(":")
    if not colon:
        return None
    return username, password
