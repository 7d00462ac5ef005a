"""Who a request acts as: an :class:`Identity`, and the scope of the API token it came with.

Kept apart from the authenticator so that the access policy (``core/access.py``), the token
records (``core/tokens.py``) and the web layer can name these types without knowing how
credentials are checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# The user name twine, uv, poetry and pip send with an API token as the password (PyPI's):
# a user name, not a secret.
TOKEN_USERNAME = "__token__"  # nosec B105
# What a token may do at most, whatever its user may: read; read and upload; and yank too.
TOKEN_ROLES = ("read", "upload", "maintain")


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What one API token allows: it acts for ``user``, capped to ``role`` and to ``projects``.

    :param projects: normalized project names or ``fnmatch`` patterns (``acme-*``); empty means
        every project its user may act on.
    """

    id: str
    user: str
    role: str
    projects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as, once authenticated.

    A user (by password) or an API token acting for a user (``token`` says what it is capped
    to). What the user may do is the access policy's business, decided from this one object.
    ``name`` is empty for an anonymous reader (only when ``anonymous-read`` allows it).
    """

    name: str
    token: TokenGrant | None = None

    @property
    def anonymous(self) -> bool:
        """Say whether nobody authenticated (anonymous read)."""
        return not self.name


ANONYMOUS = Identity("")


class TokenVerifier(Protocol):
    """Look up an API token by its secret (a dict lookup and one fast hash, no storage read)."""

    def verify(self, secret: str) -> TokenGrant:
        """Return what the token allows.

        :raises AuthenticationRequired: unknown, malformed, expired or revoked, with a one-line
            reason that never repeats the secret.
        """
        ...
