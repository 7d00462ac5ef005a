"""An unknown user costs the same password check as a wrong password, in both user stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from pryv_server.auth import HtpasswdUserStore
from pryv_server.auth import JsonUserStore
from pryv_server.auth import LocalFileSource
from pryv_server.auth import hashing


@pytest.fixture(params=["users.json", ".htpasswd"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    kind = HtpasswdUserStore if request.param == ".htpasswd" else JsonUserStore
    users = kind(LocalFileSource(tmp_path / request.param))
    users.add("alice", "right")
    users.add("bob", "other")
    return users


def test_unknown_user_pays_a_real_users_check(store, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    original = type(store)._check

    def counting(self, password: str, stored: str) -> bool:
        checked.append(stored)
        return original(self, password, stored)

    monkeypatch.setattr(type(store), "_check", counting)
    assert store.verify("alice", "wrong") is False
    assert store.verify("nobody", "wrong") is False
    assert store.verify("mallory", "right") is False  # alice's password, another name
    entries = store._current()
    assert checked[0] == entries["alice"]
    assert all(stored in entries.values() for stored in checked)
    assert len(checked) == 3


def test_unknown_user_in_an_empty_store_burns_the_dummy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    burned: list[str] = []
    monkeypatch.setattr(hashing, "burn_dummy_check", burned.append)
    store = JsonUserStore(LocalFileSource(tmp_path / "users.json"))
    assert store.verify("nobody", "pw") is False
    assert burned == ["pw"]
