"""The explorer's API tokens page, a project's roles page and the admin page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

from pryv_server.app import create_app
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import basic
from tests.credentials import write_users
from tests.dists import make_wheel
from tests.integration.explorer_helpers import csrf_token
from tests.integration.explorer_helpers import login
from tests.uploads import post_upload

SECRET = re.compile(r"pryv-([0-9a-f]{16})-[0-9a-f]{64}")
BOB = basic("bob", "bob-pass")


def _app(settings: Settings, tmp_path: Path, permissions: dict | None, **options) -> Flask:
    write_users(tmp_path / "users.json", {USER: PASSWORD, "bob": "bob-pass"})
    if permissions is not None:
        path = tmp_path / "permissions.json"
        path.write_text(json.dumps(permissions))
        options["permissions_path"] = parse_location(str(path))
    return create_app(settings.replace(**options))


def _logged_in(app: Flask, user: str = USER, password: str = PASSWORD):
    """A test client of ``app`` logged in through the real form."""
    client = app.test_client()
    login(client, user, password)
    return client


def test_the_token_page_shows_a_token_once_and_revokes_it(settings: Settings, tmp_path) -> None:
    app = _app(settings, tmp_path, None)
    client = _logged_in(app)
    form = {"role": "read", "projects": "", "expires": "30d", "description": "laptop"}
    refused = client.post("/tokens", data=form)
    assert refused.status_code == 400  # no CSRF token
    made = client.post("/tokens", data={**form, "csrf_token": csrf_token(client, "/tokens")})
    assert made.status_code == 200
    assert made.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(made.text)
    assert secret is not None
    token_id = secret.group(1)
    assert client.get("/simple/", headers=basic("__token__", secret.group(0))).status_code == 200

    listed = client.get("/tokens").text
    assert token_id in listed
    assert "laptop" in listed
    assert secret.group(0) not in listed  # shown once only
    bob = _logged_in(app, "bob", "bob-pass")
    stranger = bob.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(bob, "/tokens")}
    )
    assert stranger.status_code == 404  # not bob's token
    revoked = client.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/tokens")}
    )
    assert revoked.status_code == 302
    answer = client.get("/simple/", headers=basic("__token__", secret.group(0)))
    assert answer.status_code == 401
    assert "revoked" in answer.text
    actions = [event.action for event in app.extensions["pryv"].audit.events()]
    assert actions == ["token.create", "token.revoke"]


def test_the_token_page_refuses_a_bad_expiry_with_a_reason(settings: Settings, tmp_path) -> None:
    client = _logged_in(_app(settings, tmp_path, None))
    form = {"role": "upload", "expires": "soon", "csrf_token": csrf_token(client, "/tokens")}
    answer = client.post("/tokens", data=form)
    assert answer.status_code == 400
    assert "use a duration (30d, 12h, 2w)" in answer.text
    assert not SECRET.search(answer.text)


def test_the_admin_page_is_for_admins_only(settings: Settings, tmp_path) -> None:
    permissions = {
        "roles": {USER: "admin"},
        "groups": {"team": ["bob"]},
        "namespaces": {"acme-": ["@team"]},
        "read": {"payroll": ["bob"]},
    }
    app = _app(settings, tmp_path, permissions)
    bob = _logged_in(app, "bob", "bob-pass")
    assert bob.get("/admin").status_code == 403
    assert "Admin</a>" not in bob.get("/projects").text
    admin = _logged_in(app)
    assert "Admin</a>" in admin.get("/projects").text
    audit = app.extensions["pryv"].audit
    for number in range(60):
        audit.record("cli", "cli", "user.add", f"user{number:02d}")
    page = admin.get("/admin").text
    for expected in ("@team", "acme-", "payroll", "admin", "60 event(s)", "page 1 of 2"):
        assert expected in page
    assert page.index("user59") < page.index("user58")  # newest first
    assert "user09" not in page
    older = admin.get("/admin?page=2").text
    assert "user09" in older
    assert "user59" not in older
    assert admin.get("/admin?page=3").status_code == 404


def test_an_owner_names_a_maintainer_on_the_project_page(settings: Settings, tmp_path) -> None:
    app = _app(settings, tmp_path, {}, uploads="owners")
    client = app.test_client()
    assert post_upload(client, make_wheel(tmp_path / "a", "demo", "1.0")).status_code == 200
    second = make_wheel(tmp_path / "b", "demo", "2.0")
    assert post_upload(client, second, headers=BOB).status_code == 403
    bob = _logged_in(app, "bob", "bob-pass")
    assert bob.get("/project/demo/roles").status_code == 403
    assert "Maintainers</a>" not in bob.get("/project/demo/").text
    owner = _logged_in(app)
    assert "Maintainers</a>" in owner.get("/project/demo/").text
    page = owner.get("/project/demo/roles").text
    assert f"<td>{USER}</td><td>owner</td>" in page
    token = csrf_token(owner, "/project/demo/roles")
    form = {"project": "demo", "name": "bob", "role": "maintainer", "csrf_token": token}
    assert (
        bob.post(
            "/project-roles", data={**form, "csrf_token": csrf_token(bob, "/tokens")}
        ).status_code
        == 403
    )
    granted = owner.post("/project-roles", data={**form, "next": "/project/demo/roles"})
    assert granted.status_code == 302
    assert granted.headers["Location"] == "/project/demo/roles"
    assert post_upload(client, second, headers=BOB).status_code == 200
    revoked = owner.post("/project-roles", data={**form, "action": "revoke"})
    assert revoked.status_code == 302
    third = make_wheel(tmp_path / "c", "demo", "3.0")
    assert post_upload(client, third, headers=BOB).status_code == 403


@pytest.mark.parametrize("path", ["/tokens", "/admin", "/project/demo/roles"])
def test_the_access_pages_need_a_login(client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 302
    assert "/login" in answer.headers["Location"]


def _anonymous_app(settings: Settings, tmp_path: Path, anonymous_read: bool) -> Flask:
    app = _app(settings, tmp_path, {"read": {"secret": [USER]}}, anonymous_read=anonymous_read)
    client = app.test_client()
    for name in ("public", "secret"):
        wheel = make_wheel(tmp_path / name, name, "1.0")
        assert post_upload(client, wheel).status_code == 200
    return app


def test_the_explorer_reads_anonymously_with_anonymous_read(settings: Settings, tmp_path) -> None:
    client = _anonymous_app(settings, tmp_path, True).test_client()
    listing = client.get("/projects")
    assert listing.status_code == 200
    assert "/project/public/" in listing.text
    assert "/project/secret/" not in listing.text  # read-restricted: not listed
    assert "Log in</a>" in listing.text
    assert "API tokens" not in listing.text
    assert client.get("/project/public/").status_code == 200
    with client.get("/files/public-1.0-py3-none-any.whl") as download:
        assert download.status_code == 200
    assert client.get("/use").status_code == 200
    assert client.get("/project/secret/").status_code == 401
    assert client.get("/files/secret-1.0-py3-none-any.whl").status_code == 401
    # Writes still need a login.
    for path in ("/project/public/1.0/yank", "/project/public/manage", "/tokens", "/admin"):
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert "/login" in answer.headers["Location"]
    token = csrf_token(client, "/login")
    yank = client.post("/project/public/1.0/yank", data={"csrf_token": token, "reason": "x"})
    assert yank.status_code == 302
    assert "/login" in yank.headers["Location"]
    assert not client.get("/simple/public/", headers=basic()).text.count("data-yanked")


def test_the_explorer_asks_for_a_login_without_anonymous_read(settings: Settings, tmp_path) -> None:
    client = _anonymous_app(settings, tmp_path, False).test_client()
    for path in ("/projects", "/project/public/", "/files/public-1.0-py3-none-any.whl"):
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert "/login" in answer.headers["Location"]
