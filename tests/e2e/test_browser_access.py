"""The API tokens page and the admin page in a real headless Chromium against ``pryv start``.

A token made in the page publishes with twine (``__token__``) against the same server; revoked in
the page, the next twine upload with it is refused. The admin page is an admin's only; on it an
admin names a project's maintainer, who can then publish, and reads the audit log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dists import make_wheel
from tests.e2e.browser_helpers import log_in
from tests.e2e.browser_helpers import shot
from tests.e2e.browser_helpers import watch_errors
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server
from tests.e2e.servers import twine_upload

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

TOKEN = re.compile(r"pryv-([0-9a-f]{16})-[0-9a-f]{64}")
BOB, BOB_PASSWORD = "bob", "bob-password"


@pytest.fixture
def team_server(tmp_path: Path) -> Iterator[Server]:
    """A server with a permissions file (carol is the admin) and owner-only uploads."""
    root = tmp_path / "server"
    root.mkdir()
    permissions = root / "permissions.json"
    permissions.write_text(json.dumps({"roles": {USER: "admin"}, "groups": {"team": [BOB]}}))
    running = start_with_user(
        root,
        extra="[permissions]\nuploads = owners\n",
        permissions=permissions,
        users=((USER, PASSWORD), (BOB, BOB_PASSWORD)),
    )
    yield running
    stop_server(running)


def test_a_token_made_in_the_page_publishes_until_revoked_there(
    browser, server: Server, tmp_path: Path
) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    problems = watch_errors(page)
    log_in(page, server, USER, PASSWORD)
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url(f"{server.url}/tokens")
    page.get_by_label("Role", exact=True).select_option("upload")
    page.get_by_label("Projects (optional)").fill("browser-token")
    page.get_by_label("Expires").fill("7d")
    page.get_by_label("Description").fill("made in Chromium")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token").inner_text().strip()
    matched = TOKEN.fullmatch(secret)
    assert matched, secret
    token_id = matched.group(1)
    row = page.locator(f"#token-{token_id}")
    assert "made in Chromium" in row.inner_text()
    assert "browser-token" in row.inner_text()
    shot(page, "tokens-01-created")

    first = make_wheel(tmp_path / "a", "browser-token", "1.0")
    twine_upload(server, first, user="__token__", password=secret)
    page.goto(f"{server.url}/tokens")
    assert secret not in page.content()  # shown once, never again
    assert "never" not in row.locator("td").nth(5).inner_text()  # last used: just now

    row.get_by_role("button", name=f"Revoke {token_id}").click()
    page.wait_for_url(f"{server.url}/tokens")
    assert "Revoked the token" in page.get_by_role("status").inner_text()
    assert "revoked" in row.inner_text()
    shot(page, "tokens-02-revoked")
    refused = twine_upload(
        server, make_wheel(tmp_path / "b", "browser-token", "2.0"), check=False,
        user="__token__", password=secret,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "revoked" in refused.stdout + refused.stderr
    assert problems == []


def test_the_admin_page_names_a_maintainer_and_shows_the_audit_log(
    browser, team_server: Server, tmp_path: Path
) -> None:
    server = team_server
    twine_upload(server, make_wheel(tmp_path / "a", "team-tool", "1.0"))  # carol owns it
    second = make_wheel(tmp_path / "b", "team-tool", "2.0")
    assert twine_upload(server, second, check=False, user=BOB, password=BOB_PASSWORD).returncode

    bob = browser.new_context().new_page()
    log_in(bob, server, BOB, BOB_PASSWORD)
    assert bob.get_by_role("link", name="Admin").count() == 0
    assert bob.goto(f"{server.url}/admin").status == 403

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    problems = watch_errors(page)
    log_in(page, server, USER, PASSWORD)
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url(f"{server.url}/admin")
    users = page.locator(".users-table").inner_text()
    assert re.search(rf"{USER}\s+admin", users)
    assert re.search(rf"{BOB}\s+member\s+team", users)
    assert "@team" in page.locator(".groups-table").inner_text()
    assert re.search(rf"team-tool\s+{USER}\s+owner", page.locator(".roles-table").inner_text())

    page.get_by_label("Project", exact=True).fill("team-tool")
    page.get_by_label("User or @group").fill(BOB)
    page.get_by_label("Role", exact=True).select_option("maintainer")
    page.get_by_role("button", name="Grant").click()
    page.wait_for_url(f"{server.url}/admin")
    assert f"{BOB} is now maintainer of team-tool" in page.get_by_role("status").inner_text()
    twine_upload(server, second, user=BOB, password=BOB_PASSWORD)

    page.reload()
    log = page.locator(".audit-table tbody tr")
    newest = log.nth(0).inner_text()
    assert "upload" in newest
    assert BOB in newest
    assert "project-role.grant" in log.nth(1).inner_text()
    shot(page, "admin-01-page")
    assert problems == []
