"""Yanking from the explorer (PEP 592): the forms, their checks, and the state on every page."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.credentials import basic
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.integration.explorer_helpers import csrf_token
from tests.integration.explorer_helpers import login
from tests.uploads import post_upload

WHEEL_1 = "demo-1.0-py3-none-any.whl"
SDIST_1 = "demo-1.0.tar.gz"
WHEEL_2 = "demo-2.0-py3-none-any.whl"
SIMPLE_JSON = {"Accept": "application/vnd.pypi.simple.v1+json", **basic()}


@pytest.fixture
def user(client: FlaskClient, tmp_path: Path) -> FlaskClient:
    """A client logged in as alice, with demo 1.0 (wheel and sdist) and demo 2.0 (wheel)."""
    dist = tmp_path / "dist"
    for path in (
        make_wheel(dist, "demo", "1.0", summary="Demo one"),
        make_sdist(dist, "demo", "1.0", summary="Demo one"),
        make_wheel(dist, "demo", "2.0", summary="Demo two"),
    ):
        response = post_upload(client, path)
        assert response.status_code == 200, response.text
    assert login(client).status_code == 302
    return client


def yank(client: FlaskClient, version: str, *, token: str | None = None, **fields: str):
    """Post the yank form of demo ``version`` as the explorer's page does."""
    data = {"csrf_token": token or csrf_token(client, "/project/demo/"), **fields}
    return client.post(f"/project/demo/{version}/yank", data=data)


def simple_files(client: FlaskClient) -> dict[str, object]:
    document = client.get("/simple/demo/", headers=SIMPLE_JSON).json
    return {entry["filename"]: entry["yanked"] for entry in document["files"]}


def flashes(page: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<p class="flash[^"]*">([^<]*)</p>', page)]


def test_yank_release_through_the_form_redirects_back_with_a_notice(user: FlaskClient) -> None:
    response = yank(user, "1.0", reason="broken <build>", next="/project/demo/1.0/releases")
    assert response.status_code == 302
    assert response.headers["Location"] == "/project/demo/1.0/releases"

    page = user.get("/project/demo/1.0/releases").text
    assert flashes(page) == ["Yanked demo 1.0: pip and uv skip it unless it is pinned with ==."]
    assert "This release is yanked" in page
    assert "broken &lt;build&gt;" in page  # escaped, shown in the header and the history
    assert page.count('class="badge badge--danger">Yanked') == 2
    assert 'is-yanked"' in page
    # The notice is shown once: the next page has none.
    assert flashes(user.get("/project/demo/1.0/releases").text) == []

    assert simple_files(user) == {
        WHEEL_1: "broken <build>",
        SDIST_1: "broken <build>",
        WHEEL_2: False,
    }
    simple_html = user.get("/simple/demo/", headers=basic()).text
    assert simple_html.count('data-yanked="broken &lt;build&gt;"') == 2
    legacy = user.get("/pypi/demo/1.0/json", headers=basic()).json
    assert legacy["info"]["yanked"] is True
    assert legacy["info"]["yanked_reason"] == "broken <build>"


def test_unyank_release_through_the_form(user: FlaskClient) -> None:
    assert yank(user, "1.0", reason="oops").status_code == 302
    response = yank(user, "1.0", action="unyank")
    assert response.status_code == 302
    assert response.headers["Location"] == "/project/demo/1.0/releases"  # the default target
    page = user.get("/project/demo/1.0/releases").text
    assert flashes(page) == ["Un-yanked demo 1.0: installers use it again."]
    assert "This release is yanked" not in page
    assert "badge--danger" not in page
    assert simple_files(user) == {WHEEL_1: False, SDIST_1: False, WHEEL_2: False}
    assert user.get("/pypi/demo/1.0/json", headers=basic()).json["info"]["yanked"] is False


def test_yank_and_unyank_one_file(user: FlaskClient) -> None:
    response = yank(user, "1.0", file=SDIST_1, reason="missing files")
    assert response.status_code == 302
    assert response.headers["Location"] == "/project/demo/1.0/packages"
    page = user.get("/project/demo/1.0/packages").text
    assert flashes(page) == [f"Yanked {SDIST_1}: pip and uv skip it unless it is pinned with ==."]
    assert page.count('class="badge badge--danger">Yanked') == 1
    assert (
        'class="file__yanked">Yanked: <q class="yank-reason">missing files</q> · by alice' in page
    )
    # The release itself is not yanked: one of its two files is.
    assert "This release is yanked" not in page
    assert "1 of them yanked" in user.get("/project/demo/1.0/releases").text
    assert simple_files(user) == {WHEEL_1: False, SDIST_1: "missing files", WHEEL_2: False}
    assert 'data-yanked="missing files"' in user.get("/simple/demo/", headers=basic()).text

    assert yank(user, "1.0", file=SDIST_1, action="unyank").status_code == 302
    assert simple_files(user) == {WHEEL_1: False, SDIST_1: False, WHEEL_2: False}
    assert "file__yanked" not in user.get("/project/demo/1.0/packages").text


def test_yanked_release_is_no_longer_the_latest_anywhere(user: FlaskClient) -> None:
    assert yank(user, "2.0", reason="bad").status_code == 302
    listing = user.get("/projects").text
    assert re.search(r'project-card__name">demo</span>\s*<span class="badge">1.0</span>', listing)
    latest = user.get("/project/demo/").text
    assert '<span class="banner__version">1.0</span>' in latest
    assert "Latest version" in latest
    assert "This release is yanked" not in latest
    yanked = user.get("/project/demo/2.0/").text
    assert "This release is yanked" in yanked
    assert 'The current version is <a href="/project/demo/1.0/description">1.0</a>.' in yanked
    assert "This is not the latest version." not in yanked  # one notice says it all
    assert user.get("/pypi/demo/json", headers=basic()).json["info"]["version"] == "1.0"


def test_confirmation_pages_work_without_javascript(user: FlaskClient) -> None:
    page = user.get("/project/demo/1.0/yank?file=" + WHEEL_1 + "&next=/project/demo/1.0/packages")
    assert page.status_code == 200
    assert f'Yank <span class="yank-title__what">{WHEEL_1}</span>?' in page.text
    assert 'name="reason"' in page.text
    assert 'maxlength="500"' in page.text
    assert f'name="file" value="{WHEEL_1}"' in page.text
    assert 'name="next" value="/project/demo/1.0/packages"' in page.text
    # The project page links there (and carries the same form in a dialog for scripts).
    packages = user.get("/project/demo/1.0/packages").text
    assert "/project/demo/1.0/yank?file=" + WHEEL_1 in html.unescape(packages)
    # One dialog per page, whatever the number of files or releases.
    assert packages.count("<dialog") == 1
    assert packages.count("data-yank-dialog=") == 2
    assert f'data-yank-file="{WHEEL_1}"' in packages
    assert 'data-yank-action="/project/demo/1.0/yank"' in packages
    # Un-yank asks for a click too, when the thing is yanked.
    assert yank(user, "1.0", reason="x").status_code == 302
    undo = user.get("/project/demo/1.0/yank?undo=1").text
    assert "Un-yank <span" in undo
    assert 'value="unyank"' in undo
    assert 'name="reason"' not in undo


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("x" * 501, "Reason: use at most 500 characters (this one has 501)."),
        ("first line\nsecond line", "Reason: keep it to one line"),
        ("tab\tinside", "Reason: keep it to one line"),
        ("unicode\u2028line separator", "Reason: keep it to one line"),
        ("c1\x85control", "Reason: keep it to one line"),
    ],
)
def test_reason_is_checked_and_the_form_shown_again(
    user: FlaskClient, reason: str, message: str
) -> None:
    response = yank(user, "1.0", reason=reason)
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    assert 'aria-invalid="true"' in response.text
    assert simple_files(user)[WHEEL_1] is False  # nothing was yanked


def test_reason_of_500_characters_is_fine(user: FlaskClient) -> None:
    assert yank(user, "1.0", reason="y" * 500).status_code == 302
    assert simple_files(user)[WHEEL_1] == "y" * 500


def test_missing_or_wrong_csrf_token_is_400(user: FlaskClient) -> None:
    missing = user.post("/project/demo/1.0/yank", data={"reason": "x"})
    wrong = yank(user, "1.0", token="not-a-token", reason="x")
    for response in (missing, wrong):
        assert response.status_code == 400
        assert "CSRF" in response.text
    assert simple_files(user)[WHEEL_1] is False


def test_anonymous_visitors_are_sent_to_login(client: FlaskClient, tmp_path: Path) -> None:
    assert post_upload(client, make_wheel(tmp_path, "demo", "1.0")).status_code == 200
    token = csrf_token(client)  # a session exists, but nobody logged in
    response = client.post("/project/demo/1.0/yank", data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/project/demo/1.0/yank")
    page = client.get("/project/demo/1.0/yank")
    assert page.status_code == 302
    assert simple_files(client)[WHEEL_1] is False


@pytest.mark.parametrize(
    ("path", "fields", "reason"),
    [
        ("/project/nothing/1.0/yank", {}, "nothing"),
        ("/project/demo/9.9/yank", {}, "9.9"),
        ("/project/demo/1.0/yank", {"file": "demo-9.9.tar.gz"}, "demo-9.9.tar.gz"),
        ("/project/demo/1.0/yank", {"file": WHEEL_2}, WHEEL_2),  # a file of another release
    ],
)
def test_unknown_project_release_or_file_is_the_html_404(
    user: FlaskClient, path: str, fields: dict[str, str], reason: str
) -> None:
    token = csrf_token(user, "/project/demo/")
    for response in (
        user.post(path, data={"csrf_token": token, "reason": "x", **fields}),
        user.get(path, query_string=fields),
    ):
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "Page not found" in response.text
        assert reason in html.unescape(response.text)
    assert set(simple_files(user).values()) == {False}


def test_unknown_action_is_400(user: FlaskClient) -> None:
    response = yank(user, "1.0", action="delete")
    assert response.status_code == 400
    assert "Unknown action 'delete': use yank or unyank" in html.unescape(response.text)


def test_next_must_be_a_local_path(user: FlaskClient) -> None:
    response = yank(user, "1.0", next="https://evil.example/")
    assert response.headers["Location"] == "/project/demo/1.0/releases"


def test_yank_records_the_logged_in_user(user: FlaskClient, app) -> None:
    assert yank(user, "1.0", file=WHEEL_1, reason="by hand").status_code == 302
    package = app.extensions["pryv"].registry.get_package(WHEEL_1)
    assert package.yank.user == "alice"
    assert package.yanked_reason == "by hand"


def test_when_every_release_is_yanked_the_list_says_so(user: FlaskClient) -> None:
    assert yank(user, "1.0").status_code == 302
    assert "badge--danger" not in user.get("/projects").text
    assert yank(user, "2.0").status_code == 302
    listing = user.get("/projects").text
    assert re.search(
        r'<span class="badge">2.0</span>\s*<span class="badge badge--danger">Yanked</span>', listing
    )
    page = user.get("/project/demo/").text
    assert "This release is yanked</strong> (no reason given)" in page
