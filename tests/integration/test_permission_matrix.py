"""Every role x action x own/other/namespaced project, through the HTTP API (issue 14).

The team: ``root`` (admin), ``alice`` (member, owner of her projects and holder of the ``acme-``
namespace through the group ``acme``), ``bob`` (member), ``rita`` (reader), two API tokens of
alice's (``read`` and ``upload``) and an anonymous reader; ``[permissions] uploads = owners`` and
``anonymous-read = true``. Each first upload made its uploader the owner.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.credentials import basic
from tests.credentials import write_users
from tests.dists import make_wheel
from tests.uploads import post_upload

PASSWORDS = {"root": "root-pass", "alice": "alice-pass", "bob": "bob-pass", "rita": "rita-pass"}
PERMISSIONS = {
    "roles": {"root": "admin", "rita": "reader"},
    "groups": {"acme": ["alice"]},
    "namespaces": {"acme-": ["@acme"]},
}
# identity -> (own project, other project); the namespaced project is acme-core (alice's).
TARGETS = {
    "root": ("root-lib", "alice-lib"),
    "alice": ("alice-lib", "bob-lib"),
    "bob": ("bob-lib", "alice-lib"),
    "rita": (None, "alice-lib"),
    "alice-read-token": ("alice-lib", "bob-lib"),
    "alice-upload-token": ("alice-lib", "bob-lib"),
    "anonymous": (None, "alice-lib"),
}
ACTIONS = ("read", "download", "upload-existing", "upload-new", "yank")
OK, DENIED, CONFLICT, LOGIN = 200, 403, 409, 401
ALL_OK = dict.fromkeys(ACTIONS, OK)
READ_ONLY = {"read": OK, "download": OK, "upload-existing": DENIED, "upload-new": DENIED,
             "yank": DENIED}  # fmt: skip
NOT_HERS = {**ALL_OK, "upload-existing": DENIED, "yank": DENIED}
# (identity, target) -> action -> status
EXPECTED = {
    ("root", "own"): ALL_OK,
    ("root", "other"): ALL_OK,
    ("root", "namespaced"): ALL_OK,
    ("alice", "own"): ALL_OK,
    ("alice", "other"): NOT_HERS,
    ("alice", "namespaced"): ALL_OK,
    ("bob", "own"): ALL_OK,
    ("bob", "other"): NOT_HERS,
    ("bob", "namespaced"): {**NOT_HERS, "upload-new": CONFLICT},
    ("rita", "other"): READ_ONLY,
    ("rita", "namespaced"): READ_ONLY,
    ("alice-read-token", "own"): READ_ONLY,
    ("alice-read-token", "other"): READ_ONLY,
    ("alice-read-token", "namespaced"): READ_ONLY,
    ("alice-upload-token", "own"): {**ALL_OK, "yank": DENIED},
    ("alice-upload-token", "other"): NOT_HERS,
    ("alice-upload-token", "namespaced"): {**ALL_OK, "yank": DENIED},
    ("anonymous", "other"): {
        **READ_ONLY,
        "upload-existing": LOGIN,
        "upload-new": LOGIN,
        "yank": LOGIN,
    },
    ("anonymous", "namespaced"): {
        **READ_ONLY,
        "upload-existing": LOGIN,
        "upload-new": LOGIN,
        "yank": LOGIN,
    },
}


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> tuple[Flask, dict[str, dict[str, str]]]:
    root = tmp_path_factory.mktemp("team")
    write_users(root / "users.json", PASSWORDS)
    (root / "permissions.json").write_text(json.dumps(PERMISSIONS))
    settings = Settings(
        projects_path=parse_location(str(root / "projects")),
        packages_path=parse_location(str(root / "packages")),
        users_path=parse_location(str(root / "users.json")),
        permissions_path=parse_location(str(root / "permissions.json")),
        uploads="owners",
        anonymous_read=True,
        secret_key="test-secret-0123456789",
    )
    app = create_app(settings)
    client = app.test_client()
    for user, project in [("root", "root-lib"), ("alice", "alice-lib"), ("alice", "acme-core"),
                          ("bob", "bob-lib")]:  # fmt: skip
        wheel = make_wheel(root / "seed" / project, project, "1.0")
        assert post_upload(client, wheel, headers=basic(user, PASSWORDS[user])).status_code == 200
    tokens = app.extensions["pryv"].tokens
    headers = {user: basic(user, password) for user, password in PASSWORDS.items()}
    headers["alice-read-token"] = basic("__token__", tokens.create("alice", "read")[1])
    headers["alice-upload-token"] = basic("__token__", tokens.create("alice", "upload")[1])
    headers["anonymous"] = {}
    return app, headers


COUNTER = itertools.count(2)


def attempt(
    client: FlaskClient, headers: dict[str, str], action: str, project: str, tmp_path: Path
) -> int:
    if action == "read":
        return client.get(f"/simple/{project}/", headers=headers).status_code
    if action == "download":
        with client.get(f"/packages/{project.replace('-', '_')}-1.0-py3-none-any.whl",
                        headers=headers) as answer:  # fmt: skip
            return answer.status_code
    if action == "yank":
        body = {"project": project, "version": "1.0", "undo": True}
        return client.post("/api/yank", json=body, headers=headers).status_code
    version = f"1.{next(COUNTER)}"
    if action == "upload-new":
        project = f"{project.split('-')[0]}-new{next(COUNTER)}"
    wheel = make_wheel(tmp_path / version, project, version)
    return post_upload(client, wheel, headers=headers).status_code


@pytest.mark.parametrize(("who", "target"), list(EXPECTED), ids="-".join)
def test_matrix(
    team: tuple[Flask, dict[str, dict[str, str]]], who: str, target: str, tmp_path: Path
) -> None:
    app, headers = team
    client = app.test_client()
    own, other = TARGETS[who]
    project = {"own": own, "other": other, "namespaced": "acme-core"}[target]
    assert project is not None
    got = {action: attempt(client, headers[who], action, project, tmp_path) for action in ACTIONS}
    assert got == EXPECTED[(who, target)]


def test_refusals_say_why_in_one_line(
    team: tuple[Flask, dict[str, dict[str, str]]], tmp_path: Path
) -> None:
    app, headers = team
    client = app.test_client()
    conflict = post_upload(client, make_wheel(tmp_path, "acme-bob", "1.0"), headers=headers["bob"])
    assert conflict.status_code == 409
    assert conflict.text.strip() == (
        "the name prefix 'acme-' is reserved (PEP 752); ask an admin for a grant or pick "
        "another name"
    )
    refused = post_upload(
        client, make_wheel(tmp_path / "b", "alice-lib", "9.0"), headers=headers["bob"]
    )
    assert refused.text.strip() == "only the owners and maintainers of 'alice-lib' may upload there"
    reader = post_upload(
        client, make_wheel(tmp_path / "c", "rita-x", "1.0"), headers=headers["rita"]
    )
    assert reader.text.strip() == "'rita' may only read (role reader)"
    anonymous = client.post("/api/yank", json={"project": "alice-lib", "version": "1.0"})
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
