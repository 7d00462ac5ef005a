"""Descriptions in Chromium: badges from another host, notes, literals and tables, dark mode.

The badge host (img.shields.io) is answered by Playwright, standing in for the real host this
machine cannot reach; the page's Content-Security-Policy decides whether Chromium asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dists import make_wheel
from tests.e2e import showcase
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

STYLES = """() => {
  const style = (selector) => getComputedStyle(document.querySelector(selector));
  const cell = document.querySelector('.readme td');
  return {
    note: style('.readme .admonition.note').borderLeftColor,
    warning: style('.readme .admonition.warning').borderLeftColor,
    noteTitle: style('.readme .admonition.note .admonition-title').fontWeight,
    literal: style('.readme .docutils.literal').backgroundColor,
    literalFont: style('.readme .docutils.literal').fontFamily,
    cellMargin: getComputedStyle(cell.querySelector('p')).marginBottom,
    rowHeight: cell.getBoundingClientRect().height,
    body: getComputedStyle(document.body).backgroundColor,
    badges: [...document.querySelectorAll('.readme img')].map((img) => img.naturalWidth),
  };
}"""


def _serve(root: Path, extra: str = "") -> Server:
    return start_with_user(root, extra=extra)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """One server with the default policy, one with ``external-images = false``."""
    wheel = make_wheel(tmp_path / "dist", "acme-cli", "1.4.0", **showcase.METADATA)
    running: list[Server] = []
    try:
        for name, extra in (("open", ""), ("closed", "external-images = false\n")):
            server = _serve(tmp_path / name, extra)
            running.append(server)
            twine_upload(server, wheel)
        yield running[0], running[1]
    finally:
        for server in running:
            stop_server(server)


def _description(browser, server: Server, color_scheme: str = "light") -> tuple[dict, list[str]]:
    context = browser.new_context(
        viewport={"width": 1200, "height": 900}, color_scheme=color_scheme
    )
    requested: list[str] = []

    def badge(route) -> None:
        requested.append(route.request.url)
        route.fulfill(
            status=200, content_type="image/svg+xml", body=showcase.badge_svg(route.request.url)
        )

    context.route(f"{showcase.BADGE_HOST}/**", badge)
    page = context.new_page()
    problems = watch_errors(page)
    log_in(page, server, USER, PASSWORD)
    page.goto(f"{server.url}/project/acme-cli/")
    page.wait_for_load_state("networkidle")
    styles = page.evaluate(STYLES)
    shot(page, f"description-{color_scheme}-{server.url.rsplit(':', 1)[1]}")
    context.close()
    return styles, problems + requested


def test_descriptions_render_as_on_pypi(browser, servers: tuple[Server, Server]) -> None:
    open_server, closed_server = servers
    styles, events = _description(browser, open_server)
    # Badges from another https host load, with no policy violation.
    assert styles["badges"] == [showcase.BADGE_WIDTH] * 2
    assert not [event for event in events if "Content Security Policy" in event]
    assert sum(event.startswith(showcase.BADGE_HOST) for event in events) == 2
    # Notes are blue, warnings amber, titles bold; literals look like code; rows are compact.
    assert styles["note"] == "rgb(59, 130, 246)"
    assert styles["warning"] == "rgb(217, 119, 6)"
    assert styles["noteTitle"] == "700"
    assert styles["literal"] not in {"rgba(0, 0, 0, 0)", "transparent"}
    assert "monospace" in styles["literalFont"]
    assert styles["cellMargin"] == "0px"
    assert styles["rowHeight"] < 36
    assert styles["body"] == "rgb(246, 248, 251)"

    # The off switch: the browser never asks the other host, the policy refuses the badges.
    styles, events = _description(browser, closed_server)
    assert styles["badges"] == [0, 0]
    assert not [event for event in events if event.startswith(showcase.BADGE_HOST)]
    assert any("Content Security Policy" in event for event in events)


def test_dark_mode_follows_the_system_setting(browser, servers: tuple[Server, Server]) -> None:
    styles, _ = _description(browser, servers[0], color_scheme="dark")
    assert styles["body"] == "rgb(11, 18, 32)"
    assert styles["note"] == "rgb(96, 165, 250)"
