"""The explorer in a real headless Chromium against a real ``pryv start``.

First-run setup, the empty state, a twine upload, the projects list, search, every project tab, a
download, the copy button, logout and login, and a phone-sized viewport. Screenshots of every page
go to ``test-artifacts/screenshots/`` for people to look at.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.e2e.browser_helpers import METADATA
from tests.e2e.browser_helpers import set_up_first_user
from tests.e2e.browser_helpers import shot
from tests.e2e.browser_helpers import watch_errors
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import start_server
from tests.e2e.servers import stop_server
from tests.e2e.servers import twine_upload

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A real ``pryv start`` with no user at all: the first visit leads to setup."""
    root = tmp_path / "server"
    root.mkdir()
    running = start_server(root)
    yield running
    stop_server(running)


def build_dists(folder: Path) -> list[Path]:
    return [
        make_wheel(folder, "demo-widgets", "1.0.0", **METADATA),
        make_sdist(folder, "demo-widgets", "1.0.0", **METADATA),
        make_wheel(folder, "demo-widgets", "0.9.0", **METADATA),
        make_wheel(folder, "demo-widgets", "1.1.0rc1", **METADATA),
        make_wheel(folder, "gizmo-tools", "2.3.1", summary="Gizmos for every occasion"),
        make_wheel(folder, "acme.core", "0.1.0", summary="The core of ACME, in pure Python"),
    ]


def test_first_run_upload_browse_and_logout(browser, fresh_server: Server, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    page = context.new_page()
    problems = watch_errors(page)

    # First visit: every page leads to the setup form.
    page.goto(f"{fresh_server.url}/projects")
    assert page.url.endswith("/setup")
    assert page.get_by_role("heading", name="Welcome to pryv").is_visible()
    shot(page, "01-setup")
    set_up_first_user(page, USER, PASSWORD)

    # Logged in at once, on the empty projects list that tells how to upload.
    page.wait_for_url(re.compile(r".*/projects$"))
    assert page.get_by_role("heading", name="No projects yet").is_visible()
    assert f"twine upload --repository-url {fresh_server.url}/simple/" in page.content()
    shot(page, "02-projects-empty")
    # Setup is gone for good.
    assert page.goto(f"{fresh_server.url}/setup").status == 404
    shot(page, "03-not-found")
    problems.clear()  # the browser logs that 404 as a console error

    # The user created in the browser publishes with twine.
    twine_upload(fresh_server, *build_dists(tmp_path / "dist"))

    page.goto(f"{fresh_server.url}/")
    page.wait_for_url(re.compile(r".*/projects$"))
    cards = page.locator(".project-card")
    assert cards.count() == 3
    assert "demo-widgets" in cards.nth(1).inner_text()
    assert "1.0.0" in cards.nth(1).inner_text()  # the latest final release, not 1.1.0rc1
    shot(page, "04-projects")

    # Search from the header box, case- and separator-insensitive.
    page.get_by_label("Search projects").fill("Demo_Widgets")
    page.get_by_label("Search projects").press("Enter")
    page.wait_for_url(re.compile(r".*/projects\?q=Demo_Widgets$"))
    assert page.locator(".project-card").count() == 1
    shot(page, "05-search")
    page.get_by_role("link", name=re.compile("demo-widgets")).click()

    # Description: the Markdown README, rendered and sanitized.
    page.wait_for_url(re.compile(r".*/project/demo-widgets/$"))
    assert page.get_by_role("heading", name="Demo Widgets").is_visible()
    assert page.locator(".readme table").is_visible()
    assert page.locator(".readme script").count() == 0
    assert page.title() != "pwned"
    sidebar = page.locator(".sidebar").inner_text()
    for expected in ["MIT", "Ada Lovelace", ">=3.10", "packaging>=24", "pretty", "OS Independent"]:
        assert expected in sidebar
    assert page.get_by_role("link", name="Homepage").get_attribute("href") == (
        "https://example.org/widgets"
    )
    assert page.locator('a[href^="javascript:"]').count() == 0
    install = page.locator("#cmd-install").inner_text()
    assert install == f"pip install --index-url {fresh_server.url}/simple/ demo-widgets"
    shot(page, "06-project-description")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy the pip install command").click()
    page.get_by_text("Copied!").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == install

    # Release history: every version, newest first, the pre-release marked.
    page.get_by_role("link", name=re.compile("Release history")).click()
    page.wait_for_url(re.compile(r".*/project/demo-widgets/latest/releases$"))
    versions = page.locator(".timeline__version").all_inner_texts()
    assert versions == ["1.1.0rc1", "1.0.0", "0.9.0"]
    assert "Pre-release" in page.locator(".timeline__item").first.inner_text()
    shot(page, "07-project-releases")

    # Download files: both files of 1.0.0, and a download in this browser session.
    page.get_by_role("link", name=re.compile("Download files")).click()
    page.wait_for_url(re.compile(r".*/project/demo-widgets/latest/packages$"))
    names = page.locator(".file__name").all_inner_texts()
    assert names == ["demo_widgets-1.0.0-py3-none-any.whl", "demo_widgets-1.0.0.tar.gz"]
    shot(page, "08-project-packages")
    wheel = tmp_path / "dist" / "demo_widgets-1.0.0-py3-none-any.whl"
    with page.expect_download() as download_info:
        page.get_by_role("link", name=f"Download {wheel.name}").click()
    downloaded = Path(download_info.value.path())
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == (
        hashlib.sha256(wheel.read_bytes()).hexdigest()
    )
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() in page.content()

    # An older release says so and links to the latest.
    page.goto(f"{fresh_server.url}/project/demo-widgets/0.9.0/")
    assert page.get_by_text("This is not the latest version.").is_visible()
    shot(page, "09-project-old-release")

    # Log out: the session is gone, pages lead to the login form again.
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login$"))
    page.goto(f"{fresh_server.url}/project/demo-widgets/latest/packages")
    assert "/login?next=" in page.url
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Invalid username or password."
    shot(page, "10-login-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/project/demo-widgets/latest/packages$"))

    assert problems == []
    context.close()


def test_phone_viewport(browser, fresh_server: Server, tmp_path: Path) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
        has_touch=True,
    )  # fmt: skip
    page = context.new_page()
    problems = watch_errors(page)
    page.goto(f"{fresh_server.url}/setup")
    shot(page, "phone-01-setup")
    set_up_first_user(page, USER, PASSWORD)
    page.wait_for_url(re.compile(r".*/projects$"))
    twine_upload(fresh_server, *build_dists(tmp_path / "dist"))

    for name, path in [
        ("phone-02-projects", "/projects"),
        ("phone-03-description", "/project/demo-widgets/"),
        ("phone-04-releases", "/project/demo-widgets/latest/releases"),
        ("phone-05-packages", "/project/demo-widgets/latest/packages"),
    ]:
        page.goto(f"{fresh_server.url}{path}")
        # Nothing sticks out sideways: the page fits the phone's width.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (path, overflow)
        assert page.get_by_label("Search projects").is_visible()
        shot(page, name)
    # The side panel comes after the content on a phone.
    content_top = page.locator(".project-content").bounding_box()["y"]
    assert page.locator(".sidebar").bounding_box()["y"] > content_top
    assert problems == []
    context.close()
