"""The first hour with pryv, in Chromium, from an empty home directory; and the docs' screenshots.

``pryv start`` with no configuration, its console hint, the setup page it names, "Use this index",
an upload with the CI snippet shown there, an install with the CI command the project page shows,
and the README's badges rendered. Every screenshot in ``docs/images/`` is taken on the way, from
the showcase data only (tests/e2e/showcase.py), and stamped with its fingerprint: they go to
``test-artifacts/docs-images/``, and to ``docs/images/`` with ``PRYV_DOCS_IMAGES=write``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.e2e import showcase
from tests.e2e.browser_helpers import set_up_first_user
from tests.e2e.browser_helpers import watch_errors
from tests.e2e.servers import clean_env
from tests.e2e.servers import free_port
from tests.e2e.servers import start_in_home
from tests.e2e.servers import stop_server
from tests.e2e.tools import install_venv
from tests.e2e.tools import venv_env

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "docs-images"
USER = "alice"
PASSWORD = "correct-horse-42"


def _port() -> int:
    """The documented port when it is free (the screenshots then show it), else any."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 5555))
        except OSError:
            return free_port()
    return 5555


def _shot(page, name: str, *, full_page: bool = True) -> None:
    assert name in showcase.DOCS_SHOTS
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    showcase.stamp_png(target)
    if os.environ.get("PRYV_DOCS_IMAGES") == "write":
        (REPO / "docs" / "images" / f"{name}.png").write_bytes(target.read_bytes())


def _snippet(page, snippet_id: str) -> str:
    return str(page.locator(f"#{snippet_id}-text").inner_text())


def _run(script: str, cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run(["bash", "-c", f"set -euo pipefail\n{script}"], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"


def _badges(context) -> None:
    context.route(
        f"{showcase.BADGE_HOST}/**",
        lambda route: route.fulfill(
            status=200, content_type="image/svg+xml", body=showcase.badge_svg(route.request.url)
        ),
    )


def _shot_elsewhere(browser, logged_in, url: str, name: str, **options: object) -> None:
    """Shoot ``url`` in another browser (a phone, dark mode) with the same login."""
    other = browser.new_context(storage_state=logged_in.storage_state(), **options)
    _badges(other)
    page = other.new_page()
    page.goto(url)
    page.wait_for_load_state("networkidle")
    _shot(page, name)
    other.close()


def _dists(folder: Path) -> Path:
    for version in ("1.2.0", "1.3.0", "1.4.0"):
        make_wheel(folder / "dist", "acme-cli", version, **showcase.METADATA)
    make_sdist(folder / "dist", "acme-cli", "1.4.0", **showcase.METADATA)
    return folder


def test_the_first_hour_from_an_empty_home(browser, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    server = start_in_home(home, _port())
    try:
        _walk(browser, server, home, tmp_path)
    finally:
        stop_server(server)


def _walk(browser, server, home: Path, tmp_path: Path) -> None:
    # The console names the setup page and the command-line alternative.
    console = server.log_text()
    hint = re.search(r"next: no user exists yet: open (\S+) in a browser", console)
    assert hint, console
    assert "or run: pryv user add NAME" in console
    assert f"configuration: {home}/.pryv/pryv.ini (written now" in console

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    _badges(context)
    page = context.new_page()
    problems = watch_errors(page)
    page.goto(hint.group(1))
    assert page.get_by_role("heading", name="Welcome to pryv").is_visible()
    _shot(page, "setup")
    set_up_first_user(page, USER, PASSWORD)
    page.wait_for_url(re.compile(r".*/projects$"))
    _shot(page, "projects-empty")

    # "Use this index", from the header: upload with the CI snippet it shows.
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Use this index").click()
    page.wait_for_url(re.compile(r".*/use$"))
    assert f"index-url = {server.url}/simple/" in _snippet(page, "pip-conf")
    upload = _snippet(page, "twine-upload-ci")
    secrets = {"PRYV_USERNAME": USER, "PRYV_PASSWORD": PASSWORD}
    env = clean_env(PIP_CONFIG_FILE="/dev/null", **secrets)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    _run(upload, _dists(tmp_path / "acme-cli"), env)
    for name, summary in showcase.NEIGHBOURS.items():
        folder = tmp_path / name
        make_wheel(folder / "dist", name, "2.0.1", summary=summary,
                   extra=["Author: ACME Platform Team"])  # fmt: skip
        _run(upload, folder, env)

    page.reload()  # the snippets now name the newest project
    assert "acme-core" in _snippet(page, "uv-project")
    _shot(page, "use-this-index", full_page=False)  # the page is long: its first screen

    page.get_by_role("link", name="Projects", exact=True).click()
    page.wait_for_url(re.compile(r".*/projects$"))
    assert page.locator(".project-card").count() == 1 + len(showcase.NEIGHBOURS)
    _shot(page, "projects")

    # The project page: the README with its badges, and the CI install command, run as shown.
    page.get_by_role("link", name=re.compile("^acme-cli")).click()
    page.wait_for_load_state("networkidle")
    widths = page.eval_on_selector_all(".readme img", "images => images.map(i => i.naturalWidth)")
    assert widths == [showcase.BADGE_WIDTH] * 2
    assert page.locator(".readme .admonition.warning").is_visible()
    _shot(page, "project-description")
    install = page.locator("#cmd-install-ci").inner_text()
    assert install.startswith('pip install --index-url "http://${PRYV_USERNAME}:${PRYV_PASSWORD}@')
    venv = install_venv(tmp_path / "ci-venv", env)
    _run(install, tmp_path, venv_env(venv, env))
    version = subprocess.run([str(venv / "python"), "-c", "import acme_cli; print(acme_cli.VERSION)"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert version == "1.4.0"

    page.get_by_role("link", name=re.compile("Download files")).click()
    _shot(page, "project-packages")

    _shot_elsewhere(browser, context, f"{server.url}/project/acme-cli/", "project-description-dark",
                    viewport={"width": 1280, "height": 860}, color_scheme="dark")  # fmt: skip

    # Yank 1.4.0 from the command line (the explorer's dialog has its own test).
    yank_env = clean_env(HOME=str(home))
    yank_env.pop("PRYV_CONFIG_PATH", None)
    pryv = str(Path(sys.executable).parent / "pryv")
    subprocess.run([pryv, "yank", "acme-cli", "1.4.0", "--reason", "Breaks deploys to eu-west; use 1.3.0"],
                   env=yank_env, check=True, capture_output=True, timeout=60)  # fmt: skip
    page.goto(f"{server.url}/project/acme-cli/1.4.0/releases")
    assert page.get_by_text("This release is yanked").is_visible()
    _shot(page, "project-yanked")

    _shot_elsewhere(browser, context, f"{server.url}/project/acme-cli/1.3.0/", "phone-project",
                    viewport={"width": 390, "height": 844}, is_mobile=True)  # fmt: skip
    context.close()
    assert problems == []
