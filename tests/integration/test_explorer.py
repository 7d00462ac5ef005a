"""The explorer's pages through Flask's test client: login, projects, search, project tabs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.credentials import basic
from tests.credentials import write_users
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.integration.explorer_helpers import csrf_token
from tests.integration.explorer_helpers import login
from tests.integration.explorer_helpers import readme_html
from tests.uploads import post_upload


def upload(client: FlaskClient, path: Path) -> None:
    response = post_upload(client, path)
    assert response.status_code == 200, response.text


PAGES = [
    "/",
    "/projects",
    "/projects?q=demo",
    "/project/demo/",
    "/project/demo/latest/",
    "/project/demo/1.0/packages",
    "/files/demo-1.0-py3-none-any.whl",
    "/logout",
]


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_login_with_next(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/login?next=")
    # After logging in, the visitor lands where they wanted to go.
    target = re.sub(r"\?$", "", path)
    landed = login(client, next=target)
    assert landed.headers["Location"] == target


def test_root_redirects_to_projects(user: FlaskClient) -> None:
    response = user.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/projects"


def test_login_page_and_wrong_password(client: FlaskClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    assert 'autocomplete="current-password"' in page.text
    wrong_password = login(client, password="nope")
    unknown_user = login(client, user="mallory", password="wonderland")
    for response in (wrong_password, unknown_user):
        assert response.status_code == 200
        assert "Invalid username or password." in response.text

    # One message, whichever part was wrong: the pages differ only in the echoed user name.
    def without_token(text: str) -> str:
        return re.sub(r'name="csrf_token" value="[^"]+"', "", text)

    assert without_token(wrong_password.text.replace('value="alice"', 'value="mallory"')) == (
        without_token(unknown_user.text)
    )
    assert client.get("/projects").status_code == 302


def test_login_then_logout_clears_the_session(client: FlaskClient) -> None:
    response = login(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/projects"
    assert "alice" in client.get("/projects").text
    # A logged-in user who opens /login goes on to the projects.
    assert client.get("/login").headers["Location"] == "/projects"
    assert "Log out?" in client.get("/logout").text
    token = csrf_token(client, "/logout")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/projects").status_code == 302
    with client.session_transaction() as session:
        assert "user" not in session


def test_a_user_removed_from_the_users_file_is_logged_out(user: FlaskClient, settings) -> None:
    write_users(Path(settings.users_path.path), {"bob": "builder1"})
    response = user.get("/projects")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    Path(settings.users_path.path).write_text("{}")
    assert user.get("/projects").status_code == 503  # no user left: setup never reopens


def test_empty_state_tells_how_to_upload_to_this_server(client: FlaskClient) -> None:
    base = "http://pryv.example:8080"
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/login", base_url=base).text
    )
    client.post(
        "/login",
        data={"username": "alice", "password": "wonderland", "csrf_token": token.group(1)},
        base_url=base,
    )
    page = client.get("/projects", base_url=base).text
    assert "No projects yet" in page
    assert "twine upload --repository-url http://pryv.example:8080/simple/ -u alice dist/*" in page
    assert "repository = http://pryv.example:8080/simple/" in page
    assert "username = alice" in page
    assert "pip install --index-url http://pryv.example:8080/simple/ PROJECT" in page


def test_projects_list_latest_version_summary_and_time(user: FlaskClient, dist: Path) -> None:
    for version in ["1.0", "1.10", "1.9", "2.0b1"]:
        upload(user, make_wheel(dist, "Demo_Pkg", version, summary=f"Demo {version}"))
    upload(user, make_wheel(dist, "other", "0.1", summary="Another thing"))
    page = user.get("/projects").text
    card = page[page.index("Demo_Pkg") : page.index("</li>", page.index("Demo_Pkg"))]
    assert '<span class="badge">1.10</span>' in card  # PEP 440: 1.10 > 1.9, finals before 2.0b1
    assert "Demo 1.10" in card
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+Z"', card)
    assert re.search(r">\d{1,2} \w{3} \d{4}, \d\d:\d\d UTC</time>", card)  # date and time
    assert page.index("Demo_Pkg") < page.index("other")
    assert "2 projects on this server" in page
    # Recently updated first: "other" was uploaded last.
    recent = user.get("/projects?sort=recent").text
    assert recent.index(">other<") < recent.index(">Demo_Pkg<")


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("demo", ["Demo_Pkg"]),
        ("DEMO_pkg", ["Demo_Pkg"]),
        ("demo.PKG", ["Demo_Pkg"]),
        ("frobnicate", ["Demo_Pkg"]),  # in the summary only
        ("WIDGETS", ["widget-tools"]),
        ("tools demo", []),
        ("zzz", []),
    ],
)
def test_search_by_name_and_summary(
    user: FlaskClient, dist: Path, query: str, found: list[str]
) -> None:
    upload(user, make_wheel(dist, "Demo_Pkg", "1.0", summary="It can Frobnicate things"))
    upload(user, make_wheel(dist, "widget-tools", "1.0", summary="Widgets for all"))
    page = user.get("/projects", query_string={"q": query}).text
    names = re.findall(r'class="project-card__name">([^<]+)<', page)
    assert names == found
    assert f'value="{query}"' in page  # the search box keeps the query
    if not found:
        assert "No project matches" in page


def test_projects_are_paginated(user: FlaskClient, dist: Path) -> None:
    for number in range(53):
        upload(user, make_wheel(dist, f"pkg{number:03d}", "1.0"))
    first = user.get("/projects").text
    assert first.count('class="project-card"') == 50
    assert "Page 1 of 2" in first
    assert 'href="/projects?page=2"' in first
    second = user.get("/projects?page=2").text
    assert re.findall(r'class="project-card__name">([^<]+)<', second) == [
        "pkg050",
        "pkg051",
        "pkg052",
    ]
    assert 'href="/projects?page=1"' in second
    searched = user.get("/projects?q=pkg0&page=2").text
    assert 'href="/projects?page=1&amp;q=pkg0"' in searched
    for bad in ["3", "0", "x", "-1"]:
        response = user.get(f"/projects?page={bad}")
        assert response.status_code == 404
        assert response.mimetype == "text/html"


def test_project_header_and_pip_command(user: FlaskClient, dist: Path) -> None:
    upload(user, make_wheel(dist, "Demo_Pkg", "1.0", summary="A demo <b>package</b>"))
    upload(user, make_wheel(dist, "Demo_Pkg", "2.0"))
    page = user.get("/project/demo-pkg/").text
    assert '<span class="banner__name">Demo_Pkg</span>' in page
    assert '<span class="banner__version">2.0</span>' in page
    assert "pip install --index-url http://localhost/simple/ demo-pkg</code>" in page
    assert 'data-copy-target="cmd-install"' in page
    old = user.get("/project/demo-pkg/1.0/").text
    assert "pip install --index-url http://localhost/simple/ demo-pkg==1.0</code>" in old
    assert "This is not the latest version." in old
    assert "A demo &lt;b&gt;package&lt;/b&gt;" in old


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/project/Demo_Pkg/", "/project/demo-pkg/"),
        ("/project/DEMO.pkg/latest/", "/project/demo-pkg/latest/"),
        ("/project/demo_pkg/1.0/releases", "/project/demo-pkg/1.0/releases"),
        ("/project/demo-pkg/1.0.0/packages", "/project/demo-pkg/1.0/packages"),
        ("/project/demo-pkg/1.0.0/", "/project/demo-pkg/1.0/"),
    ],
)
def test_other_spellings_redirect_to_the_canonical_url(
    user: FlaskClient, dist: Path, path: str, location: str
) -> None:
    upload(user, make_wheel(dist, "Demo_Pkg", "1.0"))
    response = user.get(path)
    assert response.status_code == 301
    assert response.headers["Location"] == location


@pytest.mark.parametrize(
    "path",
    [
        "/project/nothing/",
        "/project/nothing/latest/packages",
        "/project/demo-pkg/9.9/",
        "/project/demo-pkg/not-a-version/",
        "/project/demo-pkg/latest/secrets",
        "/files/nothing-1.0.tar.gz",
    ],
)
def test_unknown_project_release_tab_or_file_is_an_html_404(
    user: FlaskClient, dist: Path, path: str
) -> None:
    upload(user, make_wheel(dist, "Demo_Pkg", "1.0"))
    response = user.get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Page not found" in response.text
    assert 'class="site-header"' in response.text  # the explorer's look
    assert response.headers["X-Frame-Options"] == "DENY"


def test_api_errors_stay_plain_text(user: FlaskClient) -> None:
    response = user.get("/simple/nothing/", headers=basic())
    assert response.status_code == 404
    assert response.mimetype == "text/plain"


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("path", ["/projects/acme-cli", "/nothing", "/project"])
def test_unknown_routes_are_html_for_browsers_and_plain_for_clients(
    user: FlaskClient, path: str
) -> None:
    page = user.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert 'class="site-header"' in page.text
    for accept in ("*/*", "application/vnd.pypi.simple.v1+json", None):
        plain = user.get(path, headers={"Accept": accept} if accept else {})
        assert plain.status_code == 404
        assert plain.mimetype == "text/plain"


DESCRIPTIONS = [
    ("text/x-rst", "Title\n=====\n\nSome *emphasis* and ``code``.\n", "<em>emphasis</em>"),
    ("", "Title\n=====\n\nDefault is *rst*.\n", "<em>rst</em>"),
    ("text/markdown", "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "<table>"),
    ("text/markdown; variant=GFM", "~~gone~~ and https://example.org", "<del>gone</del>"),
    ("text/markdown; variant=CommonMark", "Some **bold** text", "<strong>bold</strong>"),
    ("text/plain", "Plain *text* <b>here</b>", "Plain *text* &lt;b&gt;here&lt;/b&gt;"),
    ("text/x-rst", "Broken\n===\n\n.. unknown-directive::\n", "Broken"),
]


@pytest.mark.parametrize(("content_type", "text", "expected"), DESCRIPTIONS)
def test_description_rendered_by_content_type(
    user: FlaskClient, dist: Path, content_type: str, text: str, expected: str
) -> None:
    upload(
        user,
        make_wheel(dist, "described", "1.0", description=text, content_type=content_type or None),
    )
    page = user.get("/project/described/latest/description").text
    assert expected in readme_html(page)


def test_empty_description_says_so(user: FlaskClient, dist: Path) -> None:
    upload(user, make_wheel(dist, "bare", "1.0"))
    assert "has not provided a project description" in user.get("/project/bare/").text


def test_releases_tab_lists_every_version_in_pep440_order(user: FlaskClient, dist: Path) -> None:
    for version in ["1.0", "1.10", "1.9", "2.0rc1", "0.1.dev3"]:
        upload(user, make_wheel(dist, "demo", version))
    page = user.get("/project/demo/latest/releases").text
    versions = re.findall(r'class="timeline__version"[^>]*>([^<]+)<', page)
    assert versions == ["2.0rc1", "1.10", "1.9", "1.0", "0.1.dev3"]
    items = page.split('class="timeline__item')[1:]
    assert "Pre-release" in items[0]
    assert "Pre-release" in items[4]
    assert "Pre-release" not in items[1]
    assert "Latest" in items[1]
    assert all(re.search(r"<time datetime=", item) for item in items)


def test_packages_tab_lists_the_release_files(user: FlaskClient, dist: Path) -> None:
    wheel = make_wheel(dist, "demo", "1.0", tag="cp312-cp312-manylinux_2_17_x86_64")
    sdist = make_sdist(dist, "demo", "1.0", requires_python=">=3.9")
    upload(user, wheel)
    upload(user, sdist)
    page = user.get("/project/demo/1.0/packages").text
    for path, python in [(wheel, "cp312"), (sdist, "source")]:
        assert f'href="/files/{path.name}"' in page
        assert hashlib.sha256(path.read_bytes()).hexdigest() in page
        assert f"<code>{python}</code>" in page
    assert "manylinux_2_17_x86_64" in page
    assert "Wheel" in page
    assert "Source" in page
    assert re.search(r"\d+(\.\d)? (bytes|kB)", page)
    assert "by alice" in page


def test_download_with_the_browser_session(user: FlaskClient, dist: Path) -> None:
    wheel = make_wheel(dist, "demo", "1.0")
    upload(user, wheel)
    response = user.get(f"/files/{wheel.name}")
    assert response.status_code == 200
    assert response.data == wheel.read_bytes()
    assert response.headers["Content-Disposition"] == f'attachment; filename="{wheel.name}"'
    assert response.headers["ETag"] == f'"{hashlib.sha256(wheel.read_bytes()).hexdigest()}"'
    response.close()
    partial = user.get(f"/files/{wheel.name}", headers={"Range": "bytes=0-9"})
    assert partial.status_code == 206
    assert partial.data == wheel.read_bytes()[:10]
    partial.close()


def test_side_panel_shows_the_metadata(user: FlaskClient, dist: Path) -> None:
    extra = [
        "Author: Ada Lovelace",
        "Author-email: ada@example.org",
        "Maintainer: Grace Hopper",
        "Maintainer-email: grace@example.org",
        "License-Expression: Apache-2.0",
        "Provides-Extra: fast",
        "Project-URL: Documentation, https://docs.example.org",
        "Home-page: https://example.org",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Topic :: Software Development",
    ]
    upload(
        user,
        make_wheel(
            dist, "demo", "1.0", metadata_version="2.4", requires_python=">=3.11",
            requires_dist=["packaging>=24", 'orjson; extra == "fast"'], extra=extra,
        ),
    )  # fmt: skip
    page = user.get("/project/demo/").text
    side = page[page.index('<aside class="sidebar"') :]
    for expected in [
        "Ada Lovelace",
        "ada@example.org",
        "Grace Hopper",
        "grace@example.org",
        "Apache-2.0",
        "<code>&gt;=3.11</code>",
        "<code>packaging&gt;=24</code>",
        '<code class="extra">fast</code>',
        "<code>orjson</code>",
        'href="https://docs.example.org"',
        'href="https://example.org"',
        "<dt>Programming Language</dt>",
        "<dd>Python :: 3</dd>",
        "<dt>Topic</dt>",
    ]:
        assert expected in side, expected


def test_long_license_text_is_folded(user: FlaskClient, dist: Path) -> None:
    license_text = "MIT License\n        Copyright (c) 2024 Someone\n        " + "x " * 80
    upload(user, make_wheel(dist, "demo", "1.0", extra=[f"License: {license_text}"]))
    page = user.get("/project/demo/").text
    assert "<details><summary>MIT License…</summary>" in page


def test_the_search_box_is_on_every_page(user: FlaskClient, dist: Path) -> None:
    upload(user, make_wheel(dist, "demo", "1.0"))
    for path in ["/projects", "/project/demo/", "/project/demo/latest/packages", "/project/x/"]:
        page = user.get(path).text
        assert '<form class="search" role="search" action="/projects" method="get">' in page
        assert '<label for="site-search"' in page
