"""API tokens, project roles and upstream controls ride in the catalog (issue 20).

With ``uploads = owners`` every project has an owner record, so these records grow with the
registry: a start must read them from the checkpoint, and a grant anywhere must cost every other
instance the keys its journal entry names, never a relisting of every record. Counted in
requests, as S3 bills them (see tests/stores.py).
"""

from __future__ import annotations

import io
import json
from unittest.mock import patch

import pytest

from pryv_server.core import Catalog
from pryv_server.core import checkpoints
from pryv_server.core import layout
from pryv_server.core.layout import CHECKPOINT_PREFIX
from pryv_server.core.project_roles import ProjectRoleStore
from pryv_server.core.tokens import TokenStore
from pryv_server.errors import AuthenticationRequired
from pryv_server.storage import MemoryStorage
from tests.stores import Clock
from tests.stores import CountingStorage
from tests.stores import s3_catalog


def roles_of(records: MemoryStorage, catalog: Catalog) -> ProjectRoleStore:
    return ProjectRoleStore(records, catalog)


def tokens_of(records: MemoryStorage, catalog: Catalog) -> TokenStore:
    return TokenStore(records, catalog)


def seed_roles(records: MemoryStorage, projects: int) -> None:
    """Write one owner record per project straight into the store, as first uploads leave."""
    for n in range(projects):
        project = f"p{n}"
        record = {"project": project, "grantee": f"u{n}", "role": "owner", "by": f"u{n}"}
        key = layout.project_role_key(project, f"u{n}")  # type: ignore[arg-type]
        MemoryStorage.write(records, key, io.BytesIO(json.dumps(record).encode()))


def test_a_cold_start_reads_project_roles_from_the_checkpoint_not_one_by_one() -> None:
    records = CountingStorage()
    seed_roles(records, 5_000)
    first = Catalog(records, marker=False, checkpoint_every=1)
    roles = roles_of(records, first)
    first.snapshot()  # no checkpoint yet: lists and reads every record, once
    roles.grant("late", "carol", "owner", by="admin")
    first.snapshot()  # catching up takes a checkpoint
    assert any(info.key.startswith(CHECKPOINT_PREFIX) for info in records.list_objects())

    records.requests = 0
    second = Catalog(records, marker=False)
    found = roles_of(records, second).current()
    assert len(found) == 5_001
    assert found["late"] == {"carol": "owner"}
    assert records.requests <= 20


def test_a_grant_on_one_instance_costs_another_a_few_requests_to_see() -> None:
    records, clock = CountingStorage(), Clock()
    seed_roles(records, 5_000)
    here, there = s3_catalog(records, clock), s3_catalog(records, clock)
    granting, reading = roles_of(records, here), roles_of(records, there)
    here.snapshot(), there.snapshot()
    assert len(reading.current()) == 5_000

    granting.grant("p7", "dave", "maintainer", by="admin")
    records.requests = 0
    clock.now += 5.0
    there.snapshot()  # the check every request makes, once per index-ttl
    assert reading.current()["p7"] == {"u7": "owner", "dave": "maintainer"}
    assert records.requests <= 4  # a journal listing, the entry, the record it names


def test_an_upload_elsewhere_makes_the_roles_read_nothing() -> None:
    records, clock = CountingStorage(), Clock()
    seed_roles(records, 100)
    here, there = s3_catalog(records, clock), s3_catalog(records, clock)
    reading = roles_of(records, there)
    here.snapshot()
    before = reading.current()
    status = layout.project_status_key("p1")  # type: ignore[arg-type]
    here.changed(status)  # a change of the catalog's own records
    records.requests = 0
    clock.now += 5.0
    there.snapshot()
    assert reading.current() is before
    assert records.requests <= 3  # a journal listing, the entry, the key it names


def test_a_revoked_token_is_refused_by_another_instance_after_its_catch_up() -> None:
    records, clock = CountingStorage(), Clock()
    here, there = s3_catalog(records, clock), s3_catalog(records, clock)
    issuing, checking = tokens_of(records, here), tokens_of(records, there)
    for n in range(2_000):  # many other tokens: the revocation must not re-read them all
        issuing.create(f"user{n}", "read")
    token, secret = issuing.create("alice", "upload")
    clock.now += 5.0
    assert checking.verify(secret).user == "alice"

    issuing.revoke(token.id)
    with pytest.raises(AuthenticationRequired, match="was revoked"):
        issuing.verify(secret)  # at once where it was revoked
    records.requests = 0
    assert checking.verify(secret).user == "alice"  # until the other's next check
    clock.now += 5.0
    with pytest.raises(AuthenticationRequired, match="was revoked"):
        checking.verify(secret)
    assert records.requests <= 5


def test_a_checkpoint_of_the_old_schema_is_ignored_and_replaced() -> None:
    records = CountingStorage()
    seed_roles(records, 3_000)
    with patch.object(checkpoints, "SCHEMA", min(checkpoints.READABLE) - 1):  # one none reads
        old = Catalog(records, marker=False, checkpoint_every=1)
        roles_of(records, old).grant("late", "carol", "owner", by="admin")
        old.snapshot()
        old.snapshot()
    assert any(info.key.startswith(CHECKPOINT_PREFIX) for info in records.list_objects())

    middle = Catalog(records, marker=False, checkpoint_every=1)
    assert len(roles_of(records, middle).current()) == 3_001  # listed once, whole
    roles_of(records, Catalog(records)).grant("later", "erin", "owner", by="admin")
    middle.snapshot()  # takes a checkpoint of today's schema, with the roles in it

    records.requests = 0
    found = roles_of(records, Catalog(records, marker=False)).current()
    assert len(found) == 3_002
    assert records.requests <= 20
