"""Password hashing: which hash formats pryv accepts and which it writes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

from passlib.context import CryptContext

log = logging.getLogger(__name__)

# Formats accepted in users.json. New passwords are bcrypt (the first scheme).
CONTEXT = CryptContext(
    schemes=[
        "bcrypt",
        "pbkdf2_sha256",
        "pbkdf2_sha512",
        "sha512_crypt",
        "sha256_crypt",
        "apr_md5_crypt",
        "md5_crypt",
        "ldap_salted_sha1",
        "ldap_sha1",
    ],
)

_LEGACY_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

# Checked for unknown users so that they cost as much as a wrong password (no user enumeration
# by timing). It is a bcrypt hash of a random string nobody knows.
DUMMY_HASH = "$2b$12$XxvZuavzaiLqDwXM1YatJ.m/.u86M./nTMPwpOG3iFLv9.n/sTXIa"


def hash_password(password: str) -> str:
    """Return a bcrypt hash string for a new password."""
    return str(CONTEXT.hash(password))


def verify_hash(password: str, stored: str) -> bool:
    """Check a password against a users.json entry: a passlib hash or the docs' SHA-256 hex."""
    if _LEGACY_SHA256.fullmatch(stored):
        # The original pryv stored unsalted SHA-256 hex digests; accepted, but weak.
        digest = hashlib.sha256(password.encode("utf-8")).hexdigest()
        return hmac.compare_digest(digest, stored.lower())
    try:
        return bool(CONTEXT.verify(password, stored))
    except (ValueError, TypeError):
        log.warning("a users.json entry holds a hash in an unknown format; it never matches")
        return False


def burn_dummy_check(password: str) -> None:
    """Spend the time of one bcrypt check, for users that do not exist."""
    CONTEXT.verify(password, DUMMY_HASH)


def is_legacy_hash(stored: str) -> bool:
    """Say whether an entry is the docs' unsalted SHA-256 hex format."""
    return bool(_LEGACY_SHA256.fullmatch(stored))
