"""API token records: hashing, expiry, revocation across instances with their next catalog check."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from unittest.mock import patch

import pytest

from pryv_server.core.tokens import Token
from pryv_server.core.tokens import TokenStore
from pryv_server.errors import AuthenticationRequired
from pryv_server.errors import InvalidRequest
from pryv_server.errors import NotFound
from pryv_server.storage import MemoryStorage
from tests.stores import Clock
from tests.stores import CountingStorage
from tests.stores import s3_catalog


def stores(storage: MemoryStorage, clock: Clock, **options: object) -> TokenStore:
    """A token store on its own catalog, as one instance on S3 (a check per index-ttl)."""
    return TokenStore(storage, s3_catalog(storage, clock), **options)  # type: ignore[arg-type]


def test_a_revocation_reaches_another_instance_with_its_next_marker_check() -> None:
    storage, clock = MemoryStorage(), Clock()
    here, there = stores(storage, clock), stores(storage, clock)
    record, secret = here.create("alice", "upload", projects=("demo",))
    clock.now += 5.0
    grant = there.verify(secret)
    assert (grant.user, grant.role, grant.projects) == ("alice", "upload", ("demo",))
    here.revoke(record.id)
    with pytest.raises(AuthenticationRequired, match="was revoked"):
        here.verify(secret)  # at once where it was revoked
    assert there.verify(secret).id == record.id  # until its catalog's next check
    clock.now += 5.0
    with pytest.raises(AuthenticationRequired, match="was revoked"):
        there.verify(secret)


@pytest.mark.parametrize(
    "presented", ["", "pryv-", "pryv-zz-zz", "x" * 100, "pryv-0123456789abcdef-" + "0" * 64]
)
def test_malformed_or_unknown_tokens_are_invalid(presented: str) -> None:
    with pytest.raises(AuthenticationRequired, match=r"^invalid API token$"):
        stores(MemoryStorage(), Clock()).verify(presented)


def test_expiry_and_validation() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    tokens = stores(MemoryStorage(), Clock(), now=lambda: now)
    _, secret = tokens.create("alice", "read", expires=now + timedelta(days=1))
    assert tokens.verify(secret).role == "read"
    tokens._now = lambda: now + timedelta(days=1)
    with pytest.raises(AuthenticationRequired, match="expired on 2026-12-02T00:00:00Z"):
        tokens.verify(secret)
    for bad in [
        {"role": "admin"},
        {"role": "read", "projects": ("../x",)},
        {"role": "read", "expires": now - timedelta(seconds=1)},
        {"role": "read", "description": "two\nlines"},
    ]:
        with pytest.raises(InvalidRequest):
            tokens.create("alice", **bad)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        tokens.revoke("../../etc")
    with pytest.raises(NotFound):
        tokens.revoke("0123456789abcdef")


def test_checking_a_token_costs_no_request_and_no_parsing() -> None:
    """A check is a regex, a digest and a dict lookup: no storage request, no record parsed.

    (It asserted under 50 µs per check, a time the shared CI machine once missed at 84 µs: what
    it protected, no per-check I/O or parsing, is counted here instead.)
    """
    storage = CountingStorage()
    tokens = stores(storage, Clock())
    secrets = [tokens.create(f"user{n}", "read")[1] for n in range(200)]
    for secret in secrets:
        tokens.verify(secret)  # parses the records once, and notes each token's first use
    requests = storage.requests
    with patch.object(Token, "from_json", side_effect=AssertionError("parsed per check")):
        for _ in range(20):
            for secret in secrets:
                tokens.verify(secret)
    assert storage.requests == requests
