"""Yanking from the explorer in a real headless Chromium against a real ``pryv start``.

With scripts, the "Yank…" button opens a dialog with the reason field; without scripts, it leads
to a confirmation page with the same form. Either way the state then shows on the pages, in the
projects list and in the simple API.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from tests.credentials import basic_header
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.e2e.browser_helpers import METADATA
from tests.e2e.browser_helpers import log_in
from tests.e2e.browser_helpers import shot
from tests.e2e.browser_helpers import watch_errors
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import twine_upload

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REASON = "Breaks imports on Python 3.13; use 1.0.1"


def simple_page(server: Server, project: str) -> str:
    request = urllib.request.Request(
        f"{server.url}/simple/{project}/", headers={"Authorization": basic_header(USER, PASSWORD)}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def test_yank_and_unyank_in_the_browser(browser, server: Server, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    twine_upload(
        server,
        make_wheel(dist, "demo-widgets", "0.9.0", **METADATA),
        make_wheel(dist, "demo-widgets", "1.0.0", **METADATA),
        make_sdist(dist, "demo-widgets", "1.0.0", **METADATA),
    )
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems = watch_errors(page)
    log_in(page, server, USER, PASSWORD)

    # With scripts: the button opens a dialog; Cancel closes it and nothing happens.
    releases = f"{server.url}/project/demo-widgets/1.0.0/releases"
    page.goto(releases)
    page.get_by_role("link", name="Yank demo-widgets 1.0.0").click()
    dialog = page.get_by_role("dialog", name="Yank demo-widgets 1.0.0?")
    assert dialog.is_visible()
    assert page.url == releases  # no navigation: the dialog is on the page
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible()
    page.get_by_role("link", name="Yank demo-widgets 1.0.0").click()
    dialog.get_by_label("Reason").fill(REASON)
    shot(page, "yank-01-dialog")
    dialog.get_by_role("button", name="Yank release").click()

    # Back on the same page (POST/redirect/GET), with a notice and the yanked release marked.
    page.wait_for_url(releases)
    assert page.get_by_role("status").inner_text() == (
        "Yanked demo-widgets 1.0.0: pip and uv skip it unless it is pinned with ==."
    )
    notice = page.locator(".yank-notice")
    assert "This release is yanked" in notice.inner_text()
    assert REASON in notice.inner_text()
    yanked = page.locator(".timeline__item.is-yanked")
    assert yanked.count() == 1
    assert "1.0.0" in yanked.inner_text()
    assert REASON in yanked.inner_text()
    shot(page, "yank-02-release-yanked")
    assert f'data-yanked="{REASON}"' in simple_page(server, "demo-widgets")
    # latest is now 0.9.0, the highest release that is not yanked, here and in the list.
    page.goto(f"{server.url}/project/demo-widgets/")
    assert page.locator(".banner__version").inner_text() == "0.9.0"
    page.goto(f"{server.url}/projects")
    assert "0.9.0" in page.locator(".project-card").inner_text()

    # Un-yank from the header: one button, and the release is back.
    page.goto(f"{server.url}/project/demo-widgets/1.0.0/")
    page.get_by_role("button", name="Un-yank demo-widgets 1.0.0").click()
    page.wait_for_url(re.compile(r".*/project/demo-widgets/1.0.0/$"))
    assert "Un-yanked demo-widgets 1.0.0" in page.get_by_role("status").inner_text()
    assert page.locator(".yank-notice").count() == 0
    assert page.get_by_text("Latest version").is_visible()
    assert "data-yanked" not in simple_page(server, "demo-widgets")

    # The same dialog yanks one file, from the files tab.
    wheel = "demo_widgets-1.0.0-py3-none-any.whl"
    page.goto(f"{server.url}/project/demo-widgets/1.0.0/packages")
    page.get_by_role("link", name=f"Yank {wheel}").click()
    dialog = page.get_by_role("dialog", name=f"Yank {wheel}?")
    dialog.get_by_label("Reason").fill("Built without the C extension")
    dialog.get_by_role("button", name="Yank file").click()
    page.wait_for_url(re.compile(r".*/project/demo-widgets/1.0.0/packages$"))
    assert page.locator(".file.is-yanked .file__name").all_inner_texts() == [wheel]
    assert page.locator(".yank-notice").count() == 0  # one file of two: the release is not yanked
    assert problems == []
    context.close()

    # Without scripts: the button leads to a confirmation page with the same form.
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, java_script_enabled=False
    )
    page = context.new_page()
    log_in(page, server, USER, PASSWORD)
    page.goto(f"{server.url}/project/demo-widgets/1.0.0/packages")
    sdist = "demo_widgets-1.0.0.tar.gz"
    page.get_by_role("link", name=f"Yank {sdist}").click()
    page.wait_for_url(re.compile(r".*/project/demo-widgets/1.0.0/yank\?file=.*"))
    page.get_by_label("Reason").fill("Missing the data files")
    shot(page, "yank-03-confirm-page")
    page.get_by_role("button", name="Yank file").click()
    page.wait_for_url(re.compile(r".*/project/demo-widgets/1.0.0/packages$"))
    card = page.locator(".file.is-yanked").filter(has_text=sdist)
    assert page.locator(".file.is-yanked").count() == 2
    assert "Yanked: Missing the data files · by carol" in card.inner_text()
    # Both files are yanked now, so the release is too.
    assert "This release is yanked" in page.locator(".yank-notice").inner_text()
    shot(page, "yank-04-files-yanked")
    simple = simple_page(server, "demo-widgets")
    assert 'data-yanked="Missing the data files"' in simple
    assert 'data-yanked="Built without the C extension"' in simple
    context.close()
