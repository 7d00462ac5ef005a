from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from passlib.hash import apr_md5_crypt
from passlib.hash import bcrypt
from passlib.hash import des_crypt
from passlib.hash import ldap_sha1
from passlib.hash import pbkdf2_sha256

from pryv_server.auth import CachedVerifier
from pryv_server.auth import HtpasswdUserStore
from pryv_server.auth import JsonUserStore
from pryv_server.auth import LocalFileSource
from pryv_server.errors import ConfigError
from pryv_server.errors import UserExists


def bump_mtime(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_users_json_accepts_legacy_sha256_and_passlib_hashes(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({
        "legacy": {"password": hashlib.sha256(b"one").hexdigest().upper()},
        "modern": {"password": pbkdf2_sha256.hash("two")},
        "crypt": {"password": bcrypt.hash("three")},
    }))  # fmt: skip
    store = JsonUserStore(LocalFileSource(path))
    assert store.verify("legacy", "one")
    assert store.verify("modern", "two")
    assert store.verify("crypt", "three")
    assert not store.verify("legacy", "two")
    assert not store.verify("nobody", "one")
    assert store.usernames() == ["crypt", "legacy", "modern"]


@pytest.mark.parametrize(
    "scheme",
    [bcrypt.using(ident="2y"), apr_md5_crypt, ldap_sha1, des_crypt],
    ids=["bcrypt", "apr1", "sha1", "crypt"],
)
def test_htpasswd_accepts_apache_formats(tmp_path: Path, scheme) -> None:
    path = tmp_path / ".htpasswd"
    path.write_text(f"bob:{scheme.hash('pw12345')}\n")
    store = HtpasswdUserStore(LocalFileSource(path))
    assert store.verify("bob", "pw12345")
    assert not store.verify("bob", "wrong")
    assert not store.verify("eve", "pw12345")


@pytest.mark.parametrize("store_class", [JsonUserStore, HtpasswdUserStore])
def test_edits_take_effect_without_restart(tmp_path: Path, store_class) -> None:
    path = tmp_path / "users"
    store = store_class(LocalFileSource(path))
    assert store.usernames() == []
    store.add("dave", "first-password")
    assert store.verify("dave", "first-password")
    assert bcrypt.identify(_stored_hash(path, "dave"))
    if store_class is JsonUserStore:
        path.write_text(json.dumps({"erin": {"password": hashlib.sha256(b"x").hexdigest()}}))
    else:
        path.write_text(f"erin:{apr_md5_crypt.hash('x')}\n")
    bump_mtime(path)
    assert store.usernames() == ["erin"]
    assert store.verify("erin", "x")
    assert not store.verify("dave", "first-password")


def _stored_hash(path: Path, user: str) -> str:
    text = path.read_text()
    if text.lstrip().startswith("{"):
        return json.loads(text)[user]["password"]
    return dict(line.split(":", 1) for line in text.splitlines())[user]


def test_add_refuses_an_existing_user_and_keeps_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    store = JsonUserStore(LocalFileSource(path))
    store.add("frank", "pw")
    with pytest.raises(UserExists):
        store.add("frank", "other")
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="cannot contain"):
        store.add("bad:name", "pw")


def test_invalid_users_json_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        JsonUserStore(LocalFileSource(path)).verify("a", "b")


class CountingStore:
    def __init__(self) -> None:
        self.checks = 0
        self.token = "v1"
        self.passwords = {"gina": "right"}

    def verify(self, username: str, password: str) -> bool:
        self.checks += 1
        return self.passwords.get(username) == password

    def usernames(self) -> list[str]:
        return list(self.passwords)

    def add(self, username: str, password: str) -> None:
        self.passwords[username] = password

    def version(self) -> str | None:
        return self.token


def test_cache_skips_repeated_checks_but_never_caches_failures() -> None:
    store = CountingStore()
    verifier = CachedVerifier(store)
    assert verifier.verify("gina", "right")
    assert verifier.verify("gina", "right")
    assert store.checks == 1
    assert not verifier.verify("gina", "wrong")
    assert not verifier.verify("gina", "wrong")
    assert store.checks == 3


def test_cache_is_dropped_when_the_users_file_changes() -> None:
    store = CountingStore()
    verifier = CachedVerifier(store)
    assert verifier.verify("gina", "right")
    store.passwords["gina"] = "changed"
    store.token = "v2"
    assert not verifier.verify("gina", "right")
    assert verifier.verify("gina", "changed")


def test_cache_entries_expire_and_are_bounded() -> None:
    now = [0.0]
    store = CountingStore()
    store.passwords.update({f"user{n}": "pw" for n in range(5)})
    verifier = CachedVerifier(store, max_entries=3, max_age=10, clock=lambda: now[0])
    assert verifier.verify("gina", "right")
    now[0] = 11
    assert verifier.verify("gina", "right")
    assert store.checks == 2
    for n in range(5):
        verifier.verify(f"user{n}", "pw")
    assert len(verifier._entries) == 3
